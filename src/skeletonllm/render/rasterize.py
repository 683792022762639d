"""One rasterizer interface over three backends: it checks the inputs and dispatches.

The shared 3DGS maths (projection, alpha, compositing, constants) lives in render/splat_math.py; the backends
(dense reference, tile-culled torch, gsplat CUDA) live in render/backends/.
"""

from __future__ import annotations

import torch

from skeletonllm.render.splat_math import project

BACKENDS = ("auto", "dense", "torch", "gsplat")


def check_inputs(means, covs, colors, opacities, K, viewmat, height: int, width: int) -> None:
    """Raise ValueError naming the first argument whose shape or dtype breaks the rasterize contract."""
    if means.ndim != 3 or means.shape[-1] != 3:
        raise ValueError(f"means must be [B, N, 3], got {tuple(means.shape)}")
    batch, count = means.shape[:2]
    expected = {"covs": (covs, (batch, count, 3, 3)), "colors": (colors, (batch, count, 3)),
                "opacities": (opacities, (batch, count)), "K": (K, (batch, 3, 3)), "viewmat": (viewmat, (batch, 4, 4))}
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must be {list(shape)} (B={batch}, N={count}), got {list(tensor.shape)}")
        if not tensor.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got {tensor.dtype}")
    if int(height) <= 0 or int(width) <= 0:
        raise ValueError(f"height and width must be positive, got {height}x{width}")


def rasterize(means, covs, colors, opacities, K, viewmat, height: int, width: int, backend: str = "auto",
              background=None):
    """Render B frames of N world-space Gaussians; returns rgb [B, H, W, 3] over `background` [3] (or black) and
    alpha [B, H, W]. backend: "dense" (reference), "torch" (culled, CPU), "gsplat" (CUDA), "auto"."""
    check_inputs(means, covs, colors, opacities, K, viewmat, height, width)
    if backend not in BACKENDS:
        raise ValueError(f"unknown rasterizer backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        backend = "gsplat" if means.is_cuda else "torch"
    if background is None:
        background = torch.zeros(3, dtype=means.dtype, device=means.device)
    background = torch.as_tensor(background, dtype=means.dtype, device=means.device)
    if background.shape != (3,):
        raise ValueError(f"background must be [3], got {list(background.shape)}")
    height, width = int(height), int(width)
    if backend == "gsplat":
        from skeletonllm.render.backends.gsplat_cuda import rasterize_gsplat
        return rasterize_gsplat(means, covs, colors, opacities, K, viewmat, height, width, background)
    projected = project(means, covs, colors, opacities, K, viewmat, height, width)
    if backend == "dense":
        from skeletonllm.render.backends.dense import rasterize_dense
        return rasterize_dense(projected, height, width, background)
    from skeletonllm.render.backends.torch_tiles import rasterize_tiles
    return rasterize_tiles(projected, height, width, background)
