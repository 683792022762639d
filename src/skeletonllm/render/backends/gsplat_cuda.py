"""gsplat backend: gsplat.rasterization on CUDA, one camera per frame.

gsplat is the optional `gpu` extra: rasterize.py imports this module only after `resolve_backend` found that gsplat
imports and the tensors are on CUDA.
"""

from __future__ import annotations

import torch
from gsplat import rasterization

from skeletonllm.render.splat_math import LOW_PASS, NEAR_PLANE


def rasterize_gsplat(means, covs, colors, opacities, K, viewmat, height: int, width: int, background: torch.Tensor):
    """World Gaussians of B frames on CUDA -> rgb [B, H, W, 3], alpha [B, H, W] via gsplat's classic 3DGS mode."""
    rgbs, alphas = [], []
    for b in range(means.shape[0]):
        rgb, alpha, _ = rasterization(
            means=means[b], quats=None, scales=None, covars=covs[b], opacities=opacities[b], colors=colors[b],
            viewmats=viewmat[b:b + 1], Ks=K[b:b + 1], width=width, height=height, near_plane=NEAR_PLANE,
            eps2d=LOW_PASS, packed=False, rasterize_mode="classic", backgrounds=background[None])
        rgbs.append(rgb[0])  # [H, W, 3]
        alphas.append(alpha[0, ..., 0])  # [H, W]
    return torch.stack(rgbs), torch.stack(alphas)
