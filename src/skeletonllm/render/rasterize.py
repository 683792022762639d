"""One rasterizer interface over three backends: it checks the inputs and dispatches.

The shared 3DGS maths (projection, alpha, compositing, constants) lives in render/splat_math.py; the backends
(dense reference, tile-culled torch, gsplat CUDA) live in render/backends/. gsplat is the optional `gpu` extra:
`resolve_backend` decides which backend renders, falling back from "auto" to torch where gsplat does not import.
"""

from __future__ import annotations

import warnings

import torch

from skeletonllm.render.splat_math import project

BACKENDS = ("auto", "dense", "torch", "gsplat")
GSPLAT_INSTALL = "pip install 'skeletonllm[gpu]'"


def gsplat_missing() -> str | None:
    """Why the gsplat package cannot be used here (it does not import), or None when it imports."""
    try:
        import gsplat  # noqa: F401
    except ImportError as error:
        return f"gsplat does not import ({error}); install it with {GSPLAT_INSTALL}"
    return None


def resolve_backend(backend: str, cuda: bool) -> str:
    """The backend that renders tensors on CUDA (cuda=True) or on the CPU: "auto" is gsplat on CUDA where gsplat
    imports, else torch; on CUDA without gsplat it warns (RuntimeWarning) and falls back to torch.

    Raises ValueError for an unknown name or "gsplat" off CUDA, and ImportError for "gsplat" without gsplat.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown rasterizer backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend in ("dense", "torch"):
        return backend
    if not cuda:
        if backend == "gsplat":
            raise ValueError("the gsplat backend needs CUDA tensors; use backend='torch' on CPU")
        return "torch"
    missing = gsplat_missing()
    if missing is None:
        return "gsplat"
    if backend == "gsplat":
        raise ImportError(f"the gsplat backend cannot run: {missing}")
    warnings.warn(f"rasterizer backend 'auto' falls back to the torch backend on CUDA: {missing}", RuntimeWarning)
    return "torch"


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
    alpha [B, H, W]. backend: "dense" (reference), "torch" (culled; CPU or CUDA), "gsplat" (CUDA), "auto" (see
    `resolve_backend`)."""
    check_inputs(means, covs, colors, opacities, K, viewmat, height, width)
    backend = resolve_backend(backend, means.is_cuda)
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
