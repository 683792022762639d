"""Dense reference rasterizer: every Gaussian against every pixel, composited front to back.

Only for tests and benchmarks. Memory stays bounded by evaluating pixel chunks under activation checkpointing
(each chunk's [N, P] intermediates are recomputed in backward instead of being kept).
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

from skeletonllm.render.splat_math import Projected, composite, gaussian_alpha

CHUNK_ELEMENTS = 1 << 21  # Gaussians x pixels evaluated at once (~8 MB per float32 intermediate)


def _render_chunk(pixels, means2d, conics, colors, opacities):
    """pixels [P, 2] centres, means2d [N, 2], conics [N, 3], colors [N, 3], opacities [N] -> rgb [P, 3], T [P]."""
    dx = means2d[:, None, 0] - pixels[None, :, 0]  # [N, P]
    dy = means2d[:, None, 1] - pixels[None, :, 1]  # [N, P]
    alpha = gaussian_alpha(dx, dy, conics[:, None, 0], conics[:, None, 1], conics[:, None, 2], opacities[:, None])
    return composite(alpha, colors[:, None, :], dim=0)


def rasterize_dense(projected: Projected, height: int, width: int, background: torch.Tensor):
    """Projected Gaussians of B frames -> rgb [B, H, W, 3], alpha [B, H, W]."""
    batch, count = projected.opacities.shape
    dtype, device = projected.means2d.dtype, projected.means2d.device
    ys, xs = torch.meshgrid(torch.arange(height, dtype=dtype, device=device),
                            torch.arange(width, dtype=dtype, device=device), indexing="ij")
    pixels = torch.stack([xs, ys], -1).reshape(-1, 2) + 0.5  # [H*W, 2]
    chunk = max(1, CHUNK_ELEMENTS // max(count, 1))
    grad = torch.is_grad_enabled() and any(tensor.requires_grad for tensor in (
        projected.means2d, projected.conics, projected.colors, projected.opacities))
    rgb_frames, t_frames = [], []
    for b in range(batch):
        inputs = (projected.means2d[b], projected.conics[b], projected.colors[b], projected.opacities[b])
        parts = [checkpoint(_render_chunk, pixels[start:start + chunk], *inputs, use_reentrant=True) if grad
                 else _render_chunk(pixels[start:start + chunk], *inputs)
                 for start in range(0, pixels.shape[0], chunk)]
        rgb_frames.append(torch.cat([p[0] for p in parts]))  # [H*W, 3]
        t_frames.append(torch.cat([p[1] for p in parts]))  # [H*W]
    transmittance = torch.stack(t_frames).reshape(batch, height, width)  # [B, H, W]
    rgb = torch.stack(rgb_frames).reshape(batch, height, width, 3) + transmittance[..., None] * background
    return rgb, 1.0 - transmittance
