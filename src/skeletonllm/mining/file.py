"""`file` backend: hard negatives read from a given JSON, matched to our classes by id (key order)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from skeletonllm.mining.compare import load_reference, to_ids
from skeletonllm.mining.neighbours import check_k


def from_file(path: str | Path, names: Sequence[str], k: int) -> dict[str, list[str]]:
    """The file's lists renamed to our class names by id, each cut to its first k (all must have k)."""
    data = load_reference(path)
    if len(data) != len(names):
        raise ValueError(f"{path} lists {len(data)} classes, the class list has {len(names)}")
    check_k(k, len(names))
    ids = to_ids(data, list(data), str(path))
    short = [list(data)[i] for i, row in enumerate(ids) if len(row) < k]
    if short:
        raise ValueError(f"{path}: fewer than {k} neighbours for {short}")
    return {names[i]: [names[j] for j in row[:k]] for i, row in enumerate(ids)}
