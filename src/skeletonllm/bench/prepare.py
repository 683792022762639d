"""Parse + normalize throughput on realistic NTU .skeleton files, against the token-by-token baseline parser.

Writes N files (about 100 frames, 1-2 bodies, about 300 KB each, written by skeletonllm.formats.write) into a
temporary directory, then times read + normalize_sequence and parse_ntu_baseline + normalize_sequence over the same
files with the same worker processes (default: one per CPU, as prepare uses), reporting medians over repeats.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from skeletonllm.errors import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm bench prepare`."""
    parser.add_argument("--files", type=int, default=200, help="number of NTU files to write and parse (default 200)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: the number of CPUs)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per parser; the median is reported")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated motions")
    parser.add_argument("--json", action="store_true",
                        help='print {"files_per_s", "mb_per_s", "baseline_files_per_s", "speedup"} as JSON')


def realistic_sequence(rng: np.random.Generator, frames: int, bodies: int):
    """A Kinect-v2-like NTU sequence: moving 25-joint bodies about 3 m from the camera, ~10% inferred joints,
    and non-trivial depth/colour/orientation fields, so each written line has the length of a real one."""
    from skeletonllm.formats import SkeletonSequence, get_topology

    topology = get_topology("ntu25")
    joints_count = topology.num_joints
    bone = rng.normal(0.0, 0.12, size=(bodies, joints_count, 3))  # [M, J, 3] offsets from the parent
    rest = np.zeros((bodies, joints_count, 3))  # [M, J, 3]
    for _ in range(joints_count):  # relax until every joint sits at parent + bone (tree depth < J)
        for joint, parent in topology.bones:
            rest[:, joint] = rest[:, parent] + bone[:, joint]
    time_axis = np.linspace(0, 2 * np.pi, frames)[:, None, None, None]  # [T, 1, 1, 1]
    phase = rng.uniform(0, 2 * np.pi, size=(1, bodies, joints_count, 3))
    motion = 0.15 * np.sin(time_axis * rng.uniform(0.5, 2.0) + phase)  # [T, M, J, 3]
    place = np.array([0.0, 0.0, 3.0]) + rng.normal(0, 0.4, size=(1, bodies, 1, 3))
    joints = (rest[None] + motion + place + rng.normal(0, 0.005, size=motion.shape)).astype(np.float32)
    scores = np.where(rng.random((frames, bodies, joints_count)) < 0.1, 0.5, 1.0).astype(np.float32)
    extra = np.concatenate([
        rng.uniform(100, 400, size=(frames, bodies, joints_count, 2)),  # depth x, y
        rng.uniform(300, 1600, size=(frames, bodies, joints_count, 2)),  # colour x, y
        rng.normal(0, 0.5, size=(frames, bodies, joints_count, 4)),  # orientation quaternion
    ], axis=-1).astype(np.float32)
    body_info = np.tile(np.array([0, 1, 1, 1, 1, 0, 0.05, -0.1, 2], dtype=np.float32), (frames, bodies, 1))
    body_info[..., 6:8] += rng.normal(0, 0.05, size=(frames, bodies, 2)).astype(np.float32)
    first_id = 72057594037927936 + 10 * int(rng.integers(1, 10**9))  # 17-digit Kinect v2 body ids
    body_ids = [str(first_id + m) for m in range(bodies)]
    meta = {"body_ids": body_ids, "body_present": np.ones((frames, bodies), dtype=bool),
            "body_info": body_info, "joint_extra": extra}
    return SkeletonSequence(joints, scores, topology, 30.0, meta)


def write_files(folder: Path, count: int, seed: int) -> list[Path]:
    """Write count NTU files of 80-120 frames; every fifth file has two bodies."""
    from skeletonllm.formats import write

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        seq = realistic_sequence(rng, int(rng.integers(80, 121)), 2 if i % 5 == 0 else 1)
        path = folder / f"S001C001P{i % 40 + 1:03d}R001A{i % 60 + 1:03d}_{i:05d}.skeleton"
        write(path, seq, "ntu")
        paths.append(path)
    return paths


def parse_and_normalize(path: str) -> np.ndarray:
    """What prepare does per file: read + normalize; returns the normalized joints [T, 2, J, C]."""
    from skeletonllm.data.normalize import normalize_sequence
    from skeletonllm.formats import read

    return normalize_sequence(read(path, "ntu")).joints


def baseline_parse_and_normalize(path: str) -> np.ndarray:
    """The same with the token-by-token baseline parser."""
    from skeletonllm.data.normalize import normalize_sequence
    from skeletonllm.formats.ntu import parse_ntu_baseline

    return normalize_sequence(parse_ntu_baseline(path)).joints


def time_passes(pool: ProcessPoolExecutor, function, paths: list[str], workers: int, repeats: int) -> float:
    """Median wall time of repeats full passes of function over paths in the pool."""
    chunk = max(1, math.ceil(len(paths) / (workers * 4)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in pool.map(function, paths, chunksize=chunk):
            pass
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(files: int, workers: int, repeats: int, seed: int) -> dict:
    """Write the files, time both parsers on them and return the figures."""
    import pandas  # noqa: F401  (imported before the workers fork, as prepare's workers have it)

    with tempfile.TemporaryDirectory(prefix="skeletonllm-bench-") as folder:
        paths = [str(path) for path in write_files(Path(folder), files, seed)]
        megabytes = sum(os.path.getsize(path) for path in paths) / 1e6
        with ProcessPoolExecutor(max_workers=workers) as pool:
            time_passes(pool, parse_and_normalize, paths, workers, 1)  # warm-up: workers started, files cached
            fast = time_passes(pool, parse_and_normalize, paths, workers, repeats)
            baseline = time_passes(pool, baseline_parse_and_normalize, paths, workers, repeats)
    return {
        "files": files, "workers": workers, "megabytes": megabytes,
        "files_per_s": files / fast, "mb_per_s": megabytes / fast,
        "baseline_files_per_s": files / baseline, "baseline_mb_per_s": megabytes / baseline,
        "speedup": baseline / fast,
    }


def run(args: argparse.Namespace) -> int:
    """Entry point of `skeletonllm bench prepare`."""
    if args.files < 1 or args.workers < 1 or args.repeats < 1:
        raise CommandError("--files, --workers and --repeats must be at least 1")
    figures = measure(args.files, args.workers, args.repeats, args.seed)
    if args.json:
        print(json.dumps({key: figures[key] for key in ("files_per_s", "mb_per_s", "baseline_files_per_s", "speedup")}))
        return 0
    print(f"bench prepare: {figures['files']} NTU files, {figures['megabytes']:.1f} MB "
          f"({1000 * figures['megabytes'] / figures['files']:.0f} KB each), {figures['workers']} workers, "
          f"median of {args.repeats}")
    print(f"  read + normalize:               {figures['files_per_s']:8.1f} files/s {figures['mb_per_s']:8.1f} MB/s")
    print(f"  parse_ntu_baseline + normalize: {figures['baseline_files_per_s']:8.1f} files/s "
          f"{figures['baseline_mb_per_s']:8.1f} MB/s")
    print(f"  speedup: {figures['speedup']:.1f}x")
    return 0
