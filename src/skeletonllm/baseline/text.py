"""Class-name embeddings: the texts of mining.embedding (TEMPLATE, "a person {name}") embedded by the offline
all-MiniLM-L6-v2, unit length, 384 dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

TEXT_MODEL = "all-MiniLM-L6-v2"
TEXT_DIMS = 384


@lru_cache(maxsize=1)
def _model():
    """The sentence embedder, loaded once per process."""
    from skeletonllm.mining.embedding import load_model

    return load_model()


def name_embeddings(names: Sequence[str]) -> np.ndarray:
    """float32 [K, 384]: unit embeddings of the class names' texts, in the order given."""
    from skeletonllm.mining.embedding import describe

    if not names:
        return np.zeros((0, TEXT_DIMS), dtype=np.float32)
    vectors = _model().encode(describe(list(names)), convert_to_numpy=True, normalize_embeddings=True,
                              show_progress_bar=False)  # [K, 384]
    return np.asarray(vectors, dtype=np.float32)
