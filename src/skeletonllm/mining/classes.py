"""Resolve the class list to mine: built-in dataset classes (ntu60, ntu120, synth, ...) or a prepared dataset."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ClassList:
    """Class names in id order (index = 0-based label) and the dataset name used for the output folder."""

    dataset: str
    names: tuple[str, ...]


def from_prepared(directory: str | Path) -> ClassList:
    """The classes recorded in a prepared dataset's manifest.json (output of `skeletonllm prepare`)."""
    manifest_path = Path(directory) / "manifest.json"
    if not manifest_path.is_file():
        raise ValueError(f"{directory} is not a prepared dataset: {manifest_path} does not exist")
    manifest = json.loads(manifest_path.read_text())
    names = manifest.get("classes")
    if not names:
        raise ValueError(f"{manifest_path} lists no classes; mining needs the class names")
    return ClassList(manifest.get("dataset", Path(directory).name), tuple(str(name) for name in names))


def resolve_classes(spec: str) -> ClassList:
    """A class list from a dataset name with built-in classes (ntu60, ntu120, nwucla, pkummd, synth) or from a
    prepared dataset folder (its manifest.json); raises ValueError naming the accepted forms."""
    from skeletonllm.data.datasets import DATASETS

    if Path(spec).is_dir():
        return from_prepared(spec)
    dataset = DATASETS.get(spec)
    if dataset is not None:
        classes = dataset.classes
        if callable(classes):  # synth: the built-in SYNTH_CLASSES when no raw tree is given
            classes = classes(Path("/nonexistent"))
        if classes:
            return ClassList(spec, tuple(classes))
    built_in = sorted(name for name, d in DATASETS.items() if d.classes)
    raise ValueError(f"--classes {spec!r}: not a dataset with built-in classes ({', '.join(built_in)}) "
                     "nor a prepared dataset folder (results/data/<dataset> with manifest.json)")
