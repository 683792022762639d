"""Pooled visual features of clips: the projector's output (the image tokens the LLM reads), averaged over the
tokens of each frame and over the frames, for t-SNE plots and feature studies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from skeletonllm.eval.recognition import clip_frames
from skeletonllm.model.skeleton_llm import SkeletonLLM, language_model_head
from skeletonllm.progress import progress


@torch.no_grad()
def clip_features(model: SkeletonLLM, dataset, sample_ids: Sequence[str], batch_size: int = 8,
                  device: str = "cpu") -> np.ndarray:
    """float32 [N, D]: each clip's projector output averaged over image tokens and frames (D: the LLM width)."""
    head = language_model_head(model.mllm)
    frames, pooled = model.frames, []
    for start in progress(range(0, len(sample_ids), batch_size), desc="features", unit="batch"):
        ids = list(sample_ids[start : start + batch_size])
        pixel_values = model.pixel_values(clip_frames(dataset, ids, frames).to(device),
                                          dataset.topology.name)  # [B*F, 3, H, W]
        output = head.model.get_image_features(pixel_values=pixel_values)
        tokens = getattr(output, "pooler_output", output)  # [B*F, N, D]
        pooled.append(tokens.float().mean(1).unflatten(0, (len(ids), frames)).mean(1).cpu().numpy())  # [B, D]
    return np.concatenate(pooled)
