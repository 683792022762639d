"""One spec per dataset name: reader format, file globs, metadata from file names, classes, splits and protocols.

Every sample gets the index fields label (0-based, -1 when the dataset has none), subject, camera (the view for
NW-UCLA and PKU-MMD: L/M/R = 1/2/3), setup, replication (-1 when not recorded) and partition ("" when none).
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from skeletonllm.data import protocols as P
from skeletonllm.data.classes import (
    NTU60_UNSEEN_SPLITS, NTU120_CLASSES, NTU120_UNSEEN_SPLITS, NWUCLA_CLASSES, NWUCLA_UNSEEN_SPLITS, PKU51_CLASSES,
    PKU51_UNSEEN_SPLITS,
)

UNKNOWN = P.UNKNOWN
NAME_FIELDS = ("label", "subject", "camera", "setup", "replication")

# The synthetic set's default unseen classes (5 of 24, about 20%), by name. Each is the confusable twin of a seen
# class (the other hand or leg, the reverse motion, the reverse interaction), so coarse motion does not suffice.
SYNTH_UNSEEN = ("stand up", "wave left hand", "kick with right leg", "take off hat", "walk apart from each other")


def _fields(**known: int | str) -> dict:
    out: dict = {name: UNKNOWN for name in NAME_FIELDS}
    out["partition"] = ""
    out.update(known)
    return out


_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
_UCLA_NAME = re.compile(r"a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})")
_PKU_NAME = re.compile(r"(\d{4})-([LMR])")
_PKU_VIEWS = {"L": 1, "M": 2, "R": 3}


def _match(pattern: re.Pattern, path: Path, layout: str) -> re.Match:
    match = pattern.fullmatch(path.stem)
    if match is None:
        raise ValueError(f"file name {path.name!r} does not follow the {layout} naming")
    return match


def ntu_fields(path: Path, raw: Path) -> dict:
    """Fields from an NTU name S{setup}C{camera}P{subject}R{replication}A{action}; label = action - 1."""
    setup, camera, subject, rep, action = map(int, _match(_NTU_NAME, path, "S###C###P###R###A###").groups())
    return _fields(label=action - 1, subject=subject, camera=camera, setup=setup, replication=rep)


def ucla_fields(path: Path, raw: Path) -> dict:
    """Subject, replication and view (as camera) from a NW-UCLA name a##_s##_e##_v##; the label is in the file."""
    _, subject, rep, view = map(int, _match(_UCLA_NAME, path, "a##_s##_e##_v##").groups())
    return _fields(subject=subject, camera=view, replication=rep)


def pku_fields(path: Path, raw: Path) -> dict:
    """View (L/M/R -> camera 1/2/3) from a PKU-MMD name ####-V; labels come per segment from the label file."""
    _, view = _match(_PKU_NAME, path, "####-L|M|R").groups()
    return _fields(camera=_PKU_VIEWS[view])


def kinetics_fields(path: Path, raw: Path) -> dict:
    """Partition from the directory (kinetics_train / kinetics_val); the label is in the file."""
    folder = path.parent.name.lower()
    partition = "train" if "train" in folder else "val" if "val" in folder else ""
    return _fields(partition=partition)


@functools.lru_cache(maxsize=8)
def _humanml3d_partitions(root: str) -> dict[str, str]:
    """sample id -> train/val/test from HumanML3D's train.txt, val.txt and test.txt (empty when absent)."""
    partitions = {}
    for name in ("train", "val", "test"):
        listing = Path(root) / f"{name}.txt"
        if listing.is_file():
            partitions.update({line.strip(): name for line in listing.read_text().splitlines() if line.strip()})
    return partitions


def humanml3d_fields(path: Path, raw: Path) -> dict:
    """Partition from the official train/val/test lists next to new_joints/; HumanML3D has no action labels."""
    return _fields(partition=_humanml3d_partitions(str(path.parent.parent)).get(path.stem, ""))


@functools.lru_cache(maxsize=8)
def _synth_humanml3d_index(csv_path: str) -> dict[str, dict]:
    with open(csv_path, newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def synth_humanml3d_fields(path: Path, raw: Path) -> dict:
    """Action (label = action - 1), subject and repetition from the synthetic set's humanml3d/index.csv."""
    index_csv = path.parent.parent / "index.csv"
    if not index_csv.is_file():
        raise ValueError(f"{index_csv} is missing; it maps each synthetic HumanML3D sample to its action")
    row = _synth_humanml3d_index(str(index_csv)).get(path.stem)
    if row is None:
        raise ValueError(f"sample {path.stem!r} is not listed in {index_csv}")
    return _fields(label=int(row["action"]) - 1, subject=int(row["subject"]), replication=int(row["rep"]))


def synth_kinetics_fields(path: Path, raw: Path) -> dict:
    """Fields of a synthetic Kinetics sample, named after the NTU sample it projects; the label is in the file."""
    fields = ntu_fields(path, raw)
    fields["label"] = UNKNOWN
    return fields


def label_from_file_minus_one(meta: dict) -> tuple[int, str | None]:
    """NW-UCLA json `label` is 1-based."""
    if meta.get("label") is None:
        raise ValueError("the file has no label")
    return int(meta["label"]) - 1, None


def label_index_from_file(meta: dict) -> tuple[int, str | None]:
    """Kinetics-skeleton json carries a 0-based `label_index` and the label's name."""
    if meta.get("label_index") is None:
        raise ValueError("the file has no label_index")
    return int(meta["label_index"]), meta.get("label")


def synth_classes(raw: Path) -> tuple[str, ...]:
    """The synthetic set's class names: its classes.json when present in the raw tree, else SYNTH_CLASSES."""
    found = sorted(raw.glob("**/classes.json"))
    if found:
        data = json.loads(found[0].read_text())
        entries = data["classes"] if isinstance(data, dict) else data
        return tuple(entry["name"] if isinstance(entry, dict) else str(entry) for entry in entries)
    from skeletonllm.data.synth.actions import SYNTH_CLASSES

    return tuple(SYNTH_CLASSES)


@functools.lru_cache(maxsize=4)
def missing_samples(resource: str) -> frozenset[str]:
    """Sample ids of an official NTU missing-skeleton list shipped in skeletonllm/resources."""
    text = resources.files("skeletonllm").joinpath("resources", resource).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if _NTU_NAME.fullmatch(line.strip()))


@dataclass(frozen=True)
class DatasetSpec:
    """How to find, read and label one dataset's raw files.

    patterns: globs relative to the raw root; fields(path, raw) -> index fields from the file name;
    content_label(meta) -> (0-based label, label name or None) when the label lives inside the file;
    classes: class names by label, or a function of the raw root, or None when they come from the files;
    select/select_rule: which matched files belong to the dataset; label_dirs: PKU-MMD label folders;
    companions(path): other files the reader takes in for this sample (checksummed with it).
    """

    name: str
    format: str
    patterns: tuple[str, ...]
    topology: str
    fields: Callable[[Path, Path], dict]
    classes: tuple[str, ...] | Callable[[Path], tuple[str, ...]] | None
    protocols: tuple[P.Protocol, ...]
    unseen_splits: Mapping[str, tuple[int | str, ...]] = field(default_factory=dict)
    content_label: Callable[[dict], tuple[int, str | None]] | None = None
    missing_list: str | None = None
    select: Callable[[dict], bool] | None = None
    select_rule: str = ""
    label_dirs: tuple[str, ...] = ()
    companions: Callable[[Path], tuple[Path, ...]] | None = None


def humanml3d_texts(path: Path) -> tuple[Path, ...]:
    """The captions file the HumanML3D reader takes in with new_joints/<id>.npy."""
    from skeletonllm.formats.humanml3d import texts_path

    return (texts_path(path),)


def _in_ntu60(fields: dict) -> bool:
    return fields["setup"] <= 17 and fields["label"] < 60


_SYNTH_SPLITS = {"default": SYNTH_UNSEEN}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("synth", "ntu", ("**/ntu/*.skeleton",), "ntu25", ntu_fields, synth_classes,
                    (P.SYNTH_XSUB, P.NTU_XVIEW), _SYNTH_SPLITS),
        DatasetSpec("synth_ucla", "ucla", ("**/ucla/*.json",), "ucla20", ucla_fields, synth_classes,
                    (P.SYNTH_XSUB, P.NWUCLA_XVIEW), _SYNTH_SPLITS, content_label=label_from_file_minus_one),
        DatasetSpec("synth_kinetics", "kinetics", ("**/kinetics/*.json",), "openpose18", synth_kinetics_fields,
                    synth_classes, (P.SYNTH_XSUB,), _SYNTH_SPLITS, content_label=label_index_from_file),
        DatasetSpec("synth_humanml3d", "humanml3d", ("**/humanml3d/new_joints/*.npy",), "smpl22",
                    synth_humanml3d_fields, synth_classes, (P.SYNTH_XSUB,), _SYNTH_SPLITS,
                    companions=humanml3d_texts),
        DatasetSpec("ntu60", "ntu", ("**/*.skeleton",), "ntu25", ntu_fields, NTU120_CLASSES[:60],
                    (P.NTU60_XSUB, P.NTU_XVIEW), NTU60_UNSEEN_SPLITS,
                    missing_list="NTU_RGBD_samples_with_missing_skeletons.txt",
                    select=_in_ntu60, select_rule="NTU-60 is actions A001-A060 of setups S001-S017"),
        DatasetSpec("ntu120", "ntu", ("**/*.skeleton",), "ntu25", ntu_fields, NTU120_CLASSES,
                    (P.NTU120_XSUB, P.NTU120_XSET), NTU120_UNSEEN_SPLITS,
                    missing_list="NTU_RGBD120_samples_with_missing_skeletons.txt"),
        DatasetSpec("nwucla", "ucla", ("**/*.json",), "ucla20", ucla_fields, NWUCLA_CLASSES, (P.NWUCLA_XVIEW,),
                    NWUCLA_UNSEEN_SPLITS, content_label=label_from_file_minus_one),
        DatasetSpec("pkummd", "pku", ("**/PKU_Skeleton_Renew/*.txt", "**/skeleton/*.txt"), "ntu25", pku_fields,
                    PKU51_CLASSES, (P.PKU_XVIEW,), PKU51_UNSEEN_SPLITS,
                    label_dirs=("Train_Label_PKU_final", "label")),
        DatasetSpec("humanml3d", "humanml3d", ("**/new_joints/*.npy",), "smpl22", humanml3d_fields, (),
                    (P.HUMANML3D_OFFICIAL,), companions=humanml3d_texts),
        DatasetSpec("kinetics", "kinetics", ("**/kinetics_train/*.json", "**/kinetics_val/*.json"), "openpose18",
                    kinetics_fields, None, (P.OFFICIAL,), content_label=label_index_from_file),
    )
}


def get_dataset(name: str) -> DatasetSpec:
    """Look a dataset spec up by name; raises KeyError listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}") from None


def find_files(spec: DatasetSpec, raw: Path) -> list[Path]:
    """Every raw file of the dataset under raw (sorted, each once)."""
    found = {path for pattern in spec.patterns for path in raw.glob(pattern) if path.is_file()}
    return sorted(found)
