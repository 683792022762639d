"""Resolve the class list to mine: built-in dataset classes (ntu60, ntu120, synth, ...) or a prepared dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ClassList:
    """Class names in id order (index = 0-based label) and the dataset name used for the output folder."""

    dataset: str
    names: tuple[str, ...]


def from_prepared(directory: str | Path) -> ClassList:
    """The class names of a prepared dataset (output of `skeletonllm prepare`), from its manifest through
    PreparedDataset; DatasetError (a ValueError) when the folder holds no store, ValueError when it names no class."""
    from skeletonllm.data.prepared import PreparedDataset

    dataset = PreparedDataset(directory)
    names = dataset.class_names()
    if not names:
        raise ValueError(f"{directory}: the prepared dataset {dataset.name!r} names no classes; mining needs them")
    return ClassList(dataset.name, tuple(names))


def resolve_classes(spec: str) -> ClassList:
    """A class list from a dataset name with built-in classes (ntu60, ntu120, nwucla, pkummd, synth) or from a
    prepared dataset folder; raises ValueError naming the accepted forms."""
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
                     "nor a prepared dataset folder (results/data/<dataset>)")
