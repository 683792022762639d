"""The 3DGS primitives every rasterizer backend shares: constants, EWA projection, per-pixel alpha, compositing.

Conventions follow gsplat's classic 3DGS: EWA projection of world covariances (J W Sigma W^T J^T) plus a 0.3 px
low-pass on the 2D diagonal, alpha = min(0.99, opacity * exp(-0.5 d^T Sigma2D^-1 d)), alphas below 1/255 skipped,
compositing front to back stops before the Gaussian that would take the transmittance to 1e-4 or below, pixel
centres at (x + 0.5, y + 0.5), and Gaussians nearer than 0.01 along the optical axis contribute nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

NEAR_PLANE = 0.01
LOW_PASS = 0.3
ALPHA_MAX = 0.99
ALPHA_MIN = 1.0 / 255.0
TRANSMITTANCE_MIN = 1e-4


@dataclass
class Projected:
    """Screen-space Gaussians of B frames, each frame's N Gaussians sorted front to back."""

    means2d: torch.Tensor  # [B, N, 2] pixel coordinates
    conics: torch.Tensor  # [B, N, 3] (a, b, c) of the inverse 2D covariance [[a, b], [b, c]]
    colors: torch.Tensor  # [B, N, 3]
    opacities: torch.Tensor  # [B, N], zero for Gaussians behind the near plane
    depths: torch.Tensor  # [B, N] camera z
    extents: torch.Tensor  # [B, N, 2] half-widths (x, y) in px beyond which alpha < 1/255 (no grad); 0 = culled


def project(means, covs, colors, opacities, K, viewmat, height: int, width: int) -> Projected:
    """World Gaussians -> depth-sorted screen-space Gaussians (EWA projection, gsplat's pinhole clamping)."""
    rotation, translation = viewmat[:, None, :3, :3], viewmat[:, None, :3, 3]  # [B, 1, 3, 3], [B, 1, 3]
    cam = (rotation @ means[..., None])[..., 0] + translation  # [B, N, 3]
    cam_covs = rotation @ covs @ rotation.transpose(-1, -2)  # [B, N, 3, 3]
    fx, fy = K[:, None, 0, 0], K[:, None, 1, 1]  # [B, 1]
    cx, cy = K[:, None, 0, 2], K[:, None, 1, 2]  # [B, 1]
    z = cam[..., 2]  # [B, N]
    visible = z >= NEAR_PLANE  # [B, N]
    z_safe = torch.where(visible, z, torch.ones_like(z))  # [B, N]
    # gsplat clamps the Jacobian's x/z, y/z to 1.3x the field of view so off-screen Gaussians stay bounded.
    tx = z_safe * torch.minimum((width - cx) / fx + 0.3 * (0.5 * width / fx),
                                torch.maximum(-(cx / fx + 0.3 * (0.5 * width / fx)), cam[..., 0] / z_safe))
    ty = z_safe * torch.minimum((height - cy) / fy + 0.3 * (0.5 * height / fy),
                                torch.maximum(-(cy / fy + 0.3 * (0.5 * height / fy)), cam[..., 1] / z_safe))
    zeros = torch.zeros_like(z_safe)
    jacobian = torch.stack([torch.stack([fx / z_safe, zeros, -fx * tx / z_safe**2], -1),
                            torch.stack([zeros, fy / z_safe, -fy * ty / z_safe**2], -1)], -2)  # [B, N, 2, 3]
    cov2d = jacobian @ cam_covs @ jacobian.transpose(-1, -2)  # [B, N, 2, 2]
    cxx, cxy, cyy = cov2d[..., 0, 0] + LOW_PASS, cov2d[..., 0, 1], cov2d[..., 1, 1] + LOW_PASS  # [B, N] each
    det = (cxx * cyy - cxy * cxy).clamp_min(1e-12)  # [B, N]
    conics = torch.stack([cyy / det, -cxy / det, cxx / det], -1)  # [B, N, 3]
    means2d = torch.stack([fx * cam[..., 0] / z_safe + cx, fy * cam[..., 1] / z_safe + cy], -1)  # [B, N, 2]
    opacities = torch.where(visible, opacities, torch.zeros_like(opacities))  # [B, N]
    with torch.no_grad():  # opacity-aware extent (as gsplat): beyond it alpha < 1/255 for any pixel
        reach = torch.sqrt(2.0 * torch.log((opacities / ALPHA_MIN).clamp_min(1.0)))  # [B, N]
        extents = reach[..., None] * torch.stack([cxx, cyy], -1).sqrt() + 0.5  # [B, N, 2]
        extents = torch.where((reach > 0)[..., None], extents, torch.zeros_like(extents))
        order = torch.argsort(torch.where(visible, z, torch.full_like(z, math.inf)), dim=1, stable=True)  # [B, N]

    def take(tensor):  # sort the N axis of [B, N, ...] front to back
        index = order.reshape(*order.shape, *([1] * (tensor.ndim - 2))).expand_as(tensor)
        return torch.gather(tensor, 1, index)

    return Projected(take(means2d), take(conics), take(colors), take(opacities), take(z), take(extents))


def gaussian_alpha(dx, dy, conics_a, conics_b, conics_c, opacities):
    """3DGS alpha of Gaussians at pixel offsets d = mean - pixel; zero where skipped (alpha < 1/255)."""
    sigma = 0.5 * (conics_a * dx * dx + conics_c * dy * dy) + conics_b * dx * dy
    alpha = (opacities * torch.exp(-sigma)).clamp_max(ALPHA_MAX)
    return torch.where((alpha >= ALPHA_MIN) & (sigma >= 0), alpha, torch.zeros_like(alpha))


def composite(alpha, colors, dim: int):
    """Front-to-back compositing along `dim` (sorted front first) with 3DGS early stop.

    alpha [..., K, ...] with K at `dim`; colors broadcastable to alpha[..., None]. Returns (rgb [..., 3] summed
    over K, transmittance left after the last Gaussian [...]).
    """
    log_keep = torch.log1p(-alpha)  # [..., K, ...]
    with torch.no_grad():  # stop before the Gaussian that takes transmittance to <= 1e-4 (and all behind it)
        alive = torch.cumsum(log_keep, dim) > math.log(TRANSMITTANCE_MIN)
    alpha = torch.where(alive, alpha, torch.zeros_like(alpha))
    log_keep = torch.where(alive, log_keep, torch.zeros_like(log_keep))
    log_t = torch.cumsum(log_keep, dim)  # inclusive log transmittance
    weights = alpha * torch.exp(log_t - log_keep)  # alpha_i * T before i
    rgb = (weights.unsqueeze(-1) * colors).sum(dim if dim >= 0 else dim - 1)
    return rgb, torch.exp(log_t.select(dim, -1))
