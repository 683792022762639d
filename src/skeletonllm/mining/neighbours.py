"""Turn a class-by-class similarity matrix into the hard-negative mapping {class: [top-k neighbours]}."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_k(names: Sequence[str], similarity: np.ndarray, k: int) -> dict[str, list[str]]:
    """Each class's k most similar other classes, most similar first (ties broken by class id).

    similarity: [N, N], higher = more similar; the diagonal is ignored.
    """
    n = len(names)
    if similarity.shape != (n, n):
        raise ValueError(f"similarity matrix has shape {similarity.shape}, expected ({n}, {n})")
    check_k(k, n)
    scores = np.array(similarity, dtype=np.float64)  # [N, N]
    np.fill_diagonal(scores, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # [N, k]
    return {names[i]: [names[j] for j in order[i]] for i in range(n)}


def check_k(k: int, num_classes: int) -> None:
    """Raise ValueError unless 1 <= k < num_classes."""
    if not 1 <= k < num_classes:
        raise ValueError(f"--top-k must be between 1 and {num_classes - 1} for {num_classes} classes, got {k}")
