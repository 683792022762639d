"""gsplat backend: gsplat.rasterization on CUDA, one camera per frame (gsplat is imported lazily; CUDA only)."""

from __future__ import annotations

import torch

from skeletonllm.render.splat_math import LOW_PASS, NEAR_PLANE


def rasterize_gsplat(means, covs, colors, opacities, K, viewmat, height: int, width: int, background: torch.Tensor):
    """World Gaussians of B frames on CUDA -> rgb [B, H, W, 3], alpha [B, H, W] via gsplat's classic 3DGS mode."""
    if not means.is_cuda:
        raise ValueError("the gsplat backend needs CUDA tensors; use backend='torch' on CPU")
    try:
        from gsplat import rasterization
    except ImportError as error:
        raise ImportError("the gsplat backend needs the gsplat package (pip install gsplat) with CUDA") from error
    rgbs, alphas = [], []
    for b in range(means.shape[0]):
        rgb, alpha, _ = rasterization(
            means=means[b], quats=None, scales=None, covars=covs[b], opacities=opacities[b], colors=colors[b],
            viewmats=viewmat[b:b + 1], Ks=K[b:b + 1], width=width, height=height, near_plane=NEAR_PLANE,
            eps2d=LOW_PASS, packed=False, rasterize_mode="classic", backgrounds=background[None])
        rgbs.append(rgb[0])  # [H, W, 3]
        alphas.append(alpha[0, ..., 0])  # [H, W]
    return torch.stack(rgbs), torch.stack(alphas)
