"""Parse, denoise and normalize a raw dataset into the array store of results/data/<dataset>/.

The store holds poses.npy, index.parquet, rejected.csv, denoise.csv and manifest.json.

Files are processed in parallel (chunks of files per worker process, which end with this process even when it is
killed) with a progress bar. Kinect bodies (NTU, PKU-MMD) are denoised first (ghosts and flat noise dropped,
switched body ids merged; each decision in denoise.csv). Each frame keeps at most 2 bodies (by motion energy); empty
frames are dropped; coordinates are centred (2D: also scaled), as recorded in manifest.json. Every raw file ends up
either in index.parquet (via its samples) or in rejected.csv with its reason. Each sample keeps its file's frame
rate (index column fps; manifest "fps" when all samples share one). The store is built beside the output folder
and swapped in whole, so an interrupted run leaves the previous store intact.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import itertools
import multiprocessing
import os
import signal
import sys
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from skeletonllm import __version__
from skeletonllm.data.canonical import summarize_rotations
from skeletonllm.data.datasets import DATASETS, DatasetSpec, find_files, get_dataset
from skeletonllm.data.denoise import describe_denoising
from skeletonllm.data.normalize import describe_normalization
from skeletonllm.data.samples import MAX_BODIES, DenoisedBody, FileResult, Rejection, SampleRules, process_chunk
from skeletonllm.data.store import (
    PoseWriter, StoreBuild, combined_sha256, write_denoised, write_index, write_manifest, write_rejected,
)
from skeletonllm.errors import CommandError
from skeletonllm.formats import READERS
from skeletonllm.formats.topology import get_topology
from skeletonllm.progress import progress

BASE_COLUMNS = ["sample_id", "label", "label_name", "subject", "camera", "setup", "replication", "partition",
                "offset", "length", "fps", "bodies", "rotation", "source"]
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent ends


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm prepare`."""
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS), help="which dataset the raw tree holds")
    parser.add_argument("--raw", required=True, type=Path, help="raw dataset directory (as extracted by download)")
    parser.add_argument("--out", required=True, type=Path, help="output directory of the array store")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: the number of CPUs)")
    parser.add_argument("--no-canonical-frame", dest="canonical", action="store_false",
                        help="keep 3D poses in their captured axes instead of rotating each clip into the canonical "
                        "body frame (spine up, the first body facing the camera); 2D poses are never rotated")


def _end_with_parent(parent: int) -> None:
    """Worker initializer: on Linux, have the kernel SIGKILL this worker when its parent (prepare's main process)
    ends, however it ends (prctl PR_SET_PDEATHSIG); exit at once when the parent ended before that took effect."""
    if sys.platform != "linux":
        return
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os._exit(1)


def _worker_pool(workers: int) -> ProcessPoolExecutor:
    """workers processes forked from this one (they inherit its imports) that end with it."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_end_with_parent, initargs=(os.getpid(),))


def _ordered_results(pool: ProcessPoolExecutor | None, workers: int, chunks: list[list[str]], dataset: str, raw: Path,
                     rules: SampleRules) -> Iterator[list[FileResult]]:
    """Results of process_chunk over chunks, in order. With a pool, the first 4 chunks per worker are submitted
    right away (so the workers fork before any progress-bar thread exists) and one more as each one is taken."""
    arguments = (dataset, str(raw), rules)
    if pool is None:
        return (process_chunk(*arguments, chunk) for chunk in chunks)
    queued = iter(chunks)
    pending = deque(pool.submit(process_chunk, *arguments, chunk)
                    for chunk in itertools.islice(queued, 4 * workers))

    def in_order() -> Iterator[list[FileResult]]:
        while pending:
            done = pending.popleft().result()
            following = next(queued, None)
            if following is not None:
                pending.append(pool.submit(process_chunk, *arguments, following))
            yield done

    return in_order()


def class_names_of(spec: DatasetSpec, raw: Path) -> tuple[str, ...] | None:
    """The dataset's class names by label, or None when they are only known from the files (Kinetics)."""
    return spec.classes(raw) if callable(spec.classes) else spec.classes


@dataclass
class _Collected:
    """Everything gathered from the workers' results, in file order."""

    rows: list[dict] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    denoised: list[DenoisedBody] = field(default_factory=list)  # of the kept samples
    checksums: dict[str, str] = field(default_factory=dict)
    names_in_files: dict[int, str] = field(default_factory=dict)  # label -> name read from the files (Kinetics)
    kept_files: int = 0
    rejected_files: int = 0


def _collect(result: FileResult, writer: PoseWriter, collected: _Collected, first_source: dict[str, str]) -> None:
    """Append one file's samples to the store (rejecting repeated sample ids) and account for the file."""
    collected.checksums.update(result.checksums)
    kept_ids = set()
    for sample in result.samples:
        sample_id = sample["sample_id"]
        if sample_id in first_source:
            result.rejections.append(Rejection(result.source, None, f"duplicate sample id {sample_id} "
                                               f"(kept from {first_source[sample_id]})", "duplicate sample id"))
            continue
        first_source[sample_id] = result.source
        joints = sample.pop("joints")  # [T, 2, J, C]
        if sample["file_label_name"] is not None:
            collected.names_in_files.setdefault(sample["label"], sample["file_label_name"])
        collected.rows.append({**sample, "offset": writer.append(joints), "length": int(joints.shape[0])})
        kept_ids.add(sample_id)
    collected.rejections.extend(result.rejections)
    collected.denoised.extend(body for body in result.denoised if body.sample_id in kept_ids)
    if kept_ids:
        collected.kept_files += 1
    elif any(rejection.source == result.source for rejection in result.rejections):
        collected.rejected_files += 1
    else:
        raise RuntimeError(f"{result.source} produced neither a sample nor a rejection")


def _manifest(spec: DatasetSpec, raw: Path, files: list[Path], classes: tuple[str, ...], collected: _Collected,
              writer: PoseWriter, canonical: bool) -> dict:
    """manifest.json: dataset, build id, topology, denoising and normalization rules, classes, frame rate, store
    shape, counts and source checksums."""
    topology = get_topology(spec.topology)
    by_reason = Counter(rejection.category for rejection in collected.rejections)
    denoised_by_reason = dict(sorted(Counter(body.decision.reason for body in collected.denoised).items()))
    rates = {row["fps"] for row in collected.rows}
    return {
        "dataset": spec.name,
        "format": spec.format,
        "raw": str(raw),
        "skeletonllm_version": __version__,
        "build_id": writer.build_id,
        "topology": {"name": topology.name, "num_joints": topology.num_joints, "dims": topology.dims,
                     "root": topology.root, "joint_names": list(topology.joint_names)},
        "denoise": {**describe_denoising(spec.format), "bodies_by_reason": denoised_by_reason},
        "normalization": {**describe_normalization(topology, MAX_BODIES, canonical),
                          "rotations": summarize_rotations([row["rotation"] for row in collected.rows])},
        "classes": list(classes),
        "fps": rates.pop() if len(rates) == 1 else None,  # None: samples differ (see the index's fps column)
        "poses": {"file": "poses.npy", "shape": [writer.frames, *writer.frame_shape], "dtype": "float32",
                  "axes": "[frame, body, joint, coordinate]; sample i is poses[offset:offset+length]"},
        "counts": {
            "files_seen": len(files),
            "files_kept": collected.kept_files,
            "files_rejected": collected.rejected_files,
            "samples_kept": len(collected.rows),
            "rejections": len(collected.rejections),
            "rejected_by_reason": dict(sorted(by_reason.items())),
            "denoised_by_reason": denoised_by_reason,
            "frames": writer.frames,
        },
        "sources": {"count": len(collected.checksums), "combined_sha256": combined_sha256(collected.checksums),
                    "sha256": dict(sorted(collected.checksums.items()))},
    }


def prepare(dataset: str, raw: Path, out: Path, workers: int | None = None, canonical: bool = True) -> dict:
    """Prepare raw into the array store under out (3D poses in the canonical body frame unless canonical is False);
    returns the manifest. CommandError when raw holds no file of the dataset."""
    import pandas  # noqa: F401  (imported before the workers fork, which then start with it: readers use it)

    spec, raw = get_dataset(dataset), Path(raw)
    importlib.import_module(READERS[spec.format][0])  # the reader module too, before forking
    files = find_files(spec, raw)
    if not files:
        raise CommandError(f"no {spec.name} files under {raw} (looked for {', '.join(spec.patterns)})")
    workers = max(1, workers or os.cpu_count() or 1)
    classes = class_names_of(spec, raw)
    topology = get_topology(spec.topology)
    chunk = max(1, min(64, len(files) // (workers * 8)))
    chunks = [[str(path) for path in files[i : i + chunk]] for i in range(0, len(files), chunk)]
    collected, first_source = _Collected(), {}
    with StoreBuild(out) as build:
        pool = _worker_pool(workers) if workers > 1 else contextlib.nullcontext()
        frame_shape = (MAX_BODIES, topology.num_joints, topology.dims)
        with pool, PoseWriter(build.folder / "poses.npy", frame_shape) as writer:
            rules = SampleRules(len(classes) if classes else None, canonical)
            results = _ordered_results(pool if workers > 1 else None, workers, chunks, spec.name, raw, rules)
            with progress(total=len(files), desc=f"prepare {spec.name}", unit="file") as bar:
                for chunk_results in results:
                    for result in chunk_results:
                        _collect(result, writer, collected, first_source)
                    bar.update(len(chunk_results))

        if classes is None:
            names = collected.names_in_files
            classes = tuple(names.get(i, "") for i in range(max(names, default=-1) + 1))
        for row in collected.rows:
            row["label_name"] = classes[row["label"]] if 0 <= row["label"] < len(classes) else ""
        present = collected.rows[0] if collected.rows else {}
        extra = [column for column in ("caption", "captions", "frame_start", "frame_end") if column in present]
        write_index(build.folder / "index.parquet", collected.rows, BASE_COLUMNS + extra, writer.build_id,
                    writer.frames)
        write_rejected(build.folder / "rejected.csv", collected.rejections)
        write_denoised(build.folder / "denoise.csv", collected.denoised)
        manifest = _manifest(spec, raw, files, classes, collected, writer, canonical)
        write_manifest(build.folder / "manifest.json", manifest)
    return manifest


def run(args: argparse.Namespace) -> int:
    """Entry point of `skeletonllm prepare`; CommandError when there is nothing to prepare or the store cannot be
    written."""
    try:
        manifest = prepare(args.dataset, args.raw, args.out, args.workers, args.canonical)
    except OSError as error:  # e.g. the output folder cannot be created or written
        raise CommandError(str(error)) from None
    counts = manifest["counts"]
    print(f"{manifest['dataset']}: {counts['samples_kept']} samples ({counts['frames']} frames) from "
          f"{counts['files_kept']} of {counts['files_seen']} files -> {args.out}")
    if counts["rejections"]:
        reasons = ", ".join(f"{reason}: {n}" for reason, n in counts["rejected_by_reason"].items())
        print(f"rejected {counts['rejections']} ({reasons}); see {args.out / 'rejected.csv'}")
    if counts["denoised_by_reason"]:
        reasons = ", ".join(f"{reason}: {n}" for reason, n in counts["denoised_by_reason"].items())
        print(f"denoising dropped or merged bodies ({reasons}); see {args.out / 'denoise.csv'}")
    return 0
