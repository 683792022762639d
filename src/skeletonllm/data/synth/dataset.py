"""The synthetic dataset ``synth``: writes the raw tree in the real file formats and packs it like a download.

Tree (under ``out_dir/synth``)::

    classes.json                                  every class (id, name, interaction) and the generator settings
    ntu/S001C###P###R###A###.skeleton             all classes, one file per camera
    ucla/a##_s##_e##_v##.json                     single-person classes, view = camera, label = action id
    kinetics/S001C###P###R###A###.json            all classes, 2D, label and label_index inside
    humanml3d/new_joints/######.npy + texts/######.txt + index.csv (id, action, subject, rep)

Everything is a function of the seed: the same arguments give byte-identical files and archive.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import tarfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


from skeletonllm.data.download import sha256_file
from skeletonllm.data.synth.actions import ACTION_CLASSES, CONFUSABLE_PAIRS, action_class
from skeletonllm.data.synth.formats import (
    HUMANML3D_FPS, NTU_FPS, humanml3d_sequence, kinetics_sequence, ntu_sequence, ucla_sequence,
)
from skeletonllm.data.synth.scene import Sample, camera_for, perform
from skeletonllm.progress import progress

FORMATS = ("ntu", "ucla", "kinetics", "humanml3d")
ARCHIVE_NAME = "synth.tar.gz"


def _class_ids(classes) -> list[int]:
    """1-based ids of the requested classes (names or ids), in id order; all classes when None."""
    if classes is None:
        return list(range(1, len(ACTION_CLASSES) + 1))
    ids = sorted({ACTION_CLASSES.index(action_class(c)) + 1 for c in classes})
    if not ids:
        raise ValueError("no classes requested")
    return ids


def _write_sample(root: Path, seed: int, sample: Sample, subjects: int, cameras: int, formats: tuple[str, ...],
                  humanml3d_id: str | None) -> None:
    """Write every file of one performance (all cameras, all requested formats)."""
    from skeletonllm.formats import write

    people = perform(seed, sample, subjects, NTU_FPS)
    single = len(people) == 1
    for camera_index in range(1, cameras + 1):
        camera = camera_for(seed, sample, camera_index)
        name = sample.ntu_name(camera_index)
        if "ntu" in formats:
            write(root / "ntu" / f"{name}.skeleton", ntu_sequence(seed, sample, camera_index, camera, people), "ntu")
        if "ucla" in formats and single:
            seq = ucla_sequence(seed, sample, camera_index, camera, people[0])
            write(root / "ucla" / f"{sample.ucla_name(camera_index)}.json", seq, "ucla")
        if "kinetics" in formats:
            seq = kinetics_sequence(seed, sample, camera_index, camera, people)
            write(root / "kinetics" / f"{name}.json", seq, "kinetics")
    if humanml3d_id is not None:
        person = perform(seed, sample, subjects, HUMANML3D_FPS)[0]
        write(root / "humanml3d" / "new_joints" / f"{humanml3d_id}.npy", humanml3d_sequence(seed, sample, person),
              "humanml3d")


def _write_sample_job(job: tuple) -> None:
    _write_sample(*job)


def generate_dataset(out_dir: str | Path, seed: int = 0, subjects: int = 10, repetitions: int = 2, cameras: int = 3,
                     classes=None, formats=FORMATS, workers: int = 1) -> Path:
    """Write the raw synthetic tree to ``out_dir/synth`` and return that path.

    classes: names or 1-based ids (default: all); formats: any of ntu, ucla, kinetics, humanml3d. A previous
    synthetic tree at that place is replaced; any other existing directory there is an error.
    """
    for what, value in (("subjects", subjects), ("repetitions", repetitions), ("cameras", cameras),
                        ("workers", workers)):
        if int(value) < 1:
            raise ValueError(f"{what} must be at least 1, got {value}")
    formats = tuple(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"unknown or no formats {unknown or formats}; choose from {FORMATS}")
    root = Path(out_dir) / "synth"
    if root.exists():
        if not (root / "classes.json").is_file():
            raise FileExistsError(f"{root} exists and is not a synthetic dataset tree; remove it or choose another --out")
        shutil.rmtree(root)
    for folder in ("ntu", "ucla", "kinetics", "humanml3d/new_joints", "humanml3d/texts"):
        if folder.split("/")[0] in formats:
            (root / folder).mkdir(parents=True, exist_ok=True)

    ids = _class_ids(classes)
    samples = [Sample(a, s, r) for a in ids for s in range(1, subjects + 1) for r in range(1, repetitions + 1)]
    index_rows, jobs = [], []
    for sample in samples:
        humanml3d_id = None
        if "humanml3d" in formats and action_class(sample.action).actors == 1:
            humanml3d_id = f"{len(index_rows):06d}"
            index_rows.append((humanml3d_id, sample.action, sample.subject, sample.rep))
        jobs.append((root, seed, sample, subjects, cameras, formats, humanml3d_id))
    shown = dict(total=len(jobs), unit="sample")
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for _ in progress(pool.map(_write_sample_job, jobs, chunksize=4), "synth samples", **shown):
                pass
    else:
        for job in progress(jobs, "synth samples", **shown):
            _write_sample_job(job)

    if "humanml3d" in formats:
        with open(root / "humanml3d" / "index.csv", "w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(("id", "action", "subject", "rep"))
            writer.writerows(index_rows)
    info = {
        "dataset": "synth",
        "classes": [{"id": i, "name": c.name, "interaction": c.actors > 1} for i, c in enumerate(ACTION_CLASSES, 1)],
        "confusable_pairs": [list(pair) for pair in CONFUSABLE_PAIRS],
        "generated": {"seed": seed, "subjects": subjects, "repetitions": repetitions, "cameras": cameras,
                      "actions": ids, "formats": list(formats)},
    }
    (root / "classes.json").write_text(json.dumps(info, indent=1) + "\n")
    return root


def write_archive(out_dir: str | Path) -> tuple[Path, str]:
    """Pack ``out_dir/synth`` into ``out_dir/synth.tar.gz`` (sorted entries, zero times and owners, so the bytes
    depend on the content only) and write ``synth.tar.gz.sha256`` in sha256sum format. Returns (archive, sha256)."""
    out_dir = Path(out_dir)
    root = out_dir / "synth"
    if not (root / "classes.json").is_file():
        raise FileNotFoundError(f"{root} is not a synthetic dataset tree (no classes.json); run generate_dataset first")
    archive = out_dir / ARCHIVE_NAME
    entries = sorted([root, *root.rglob("*")], key=lambda p: p.relative_to(out_dir).as_posix())
    with open(archive, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1) as packed, \
            tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in progress(entries, "pack synth", unit="file"):
            info = tarfile.TarInfo(path.relative_to(out_dir).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = path.read_bytes()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    sha256 = sha256_file(archive)
    (out_dir / f"{ARCHIVE_NAME}.sha256").write_text(f"{sha256}  {ARCHIVE_NAME}\n")
    return archive, sha256
