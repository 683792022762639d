"""What every renderer shares: its settings, a Gaussian layout per topology, clip sampling and image normalization.

No renderer is tied to a joint layout: `renderer(joints, topology)` draws poses of any topology, and the Gaussian
layout of each topology is built on first use and kept. DRACTION_PRESETS names sets of settings that config files
can ask for: "ours" (the defaults) and "official" (the starting point of the paper's released code).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import nn

from skeletonllm.formats.topology import Topology, get_topology
from skeletonllm.render.camera import Clip, intrinsics, sample_clip
from skeletonllm.render.gaussians import ISOTROPIC_STD, SHAPES, GaussianLayout, make_layout, splat

DEPTH_RANGES = ("clip", "body_frame")


def sigmoid(x: float) -> float:
    """The logistic function of a Python float."""
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class DrActionConfig:
    """Everything that defines a renderer except its learned weights; no topology, since every renderer draws every
    format. The fixed renderers use the shared settings and ignore use_nfm, feature_dim, hidden_dim, seed,
    depth_share, depth_range and opacity.

    gaussian_shape: "bone" (Gaussians shaped by their bone: elongated along it, thickness a fraction of its length;
    gaussians.py) or "isotropic" (every Gaussian a sphere of std gaussian_size that keeps its shape when posed).
    gaussian_size: that std, in metres, the unit of normalized 3D poses (prepare keeps them as captured); 2D poses
    are normalized to a unit torso, so there it is read as gaussian_size / TORSO_METRES torso lengths
    (gaussians.py); unused by "bone".
    depth_share: DrAction's initial share of the depth-coded colour (its depth_mix starts at logit(depth_share)).
    depth_range: what the depth colour spans from near to far: "clip" (the front to the back of the sphere the
    camera frames, the same for the whole clip) or "body_frame" (the nearest to the farthest Gaussian of each body
    in each frame).
    opacity: DrAction's initial opacity (the appearance head's alpha bias is logit(opacity)).
    """

    num_line_samples: int = 10
    frames: int = 12
    size: int = 448
    fov_deg: float = 60.0
    use_nfm: bool = True
    backend: str = "auto"
    feature_dim: int = 16
    hidden_dim: int = 32
    max_bodies: int = 2
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    seed: int = 0  # initialisation of the parameters
    gaussian_shape: str = "bone"
    gaussian_size: float = ISOTROPIC_STD
    depth_share: float = sigmoid(-2.0)
    depth_range: str = "clip"
    opacity: float = sigmoid(2.0)

    def __post_init__(self) -> None:
        self.mean, self.std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean and std need 3 values each (std > 0), got {self.mean} and {self.std}")
        if self.frames < 1 or self.size < 1 or self.feature_dim < 1 or self.hidden_dim < 1 or self.max_bodies < 1:
            raise ValueError(f"frames, size, feature_dim, hidden_dim and max_bodies must be >= 1: {self}")
        if self.num_line_samples < 0:
            raise ValueError(f"num_line_samples must be >= 0, got {self.num_line_samples}")
        if self.gaussian_shape not in SHAPES:
            raise ValueError(f"unknown gaussian_shape {self.gaussian_shape!r}; choose one of {', '.join(SHAPES)}")
        if self.depth_range not in DEPTH_RANGES:
            raise ValueError(f"unknown depth_range {self.depth_range!r}; choose one of {', '.join(DEPTH_RANGES)}")
        if not (self.gaussian_size > 0 and math.isfinite(self.gaussian_size)):
            raise ValueError(f"gaussian_size must be a finite std > 0, got {self.gaussian_size}")
        for name in ("depth_share", "opacity"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must lie strictly between 0 and 1, got {getattr(self, name)}")


DRACTION_PRESETS: dict[str, dict] = {
    "ours": {},
    "official": {"gaussian_shape": "isotropic", "gaussian_size": ISOTROPIC_STD, "depth_share": sigmoid(-0.5),
                 "depth_range": "body_frame", "opacity": 0.5},
}


def draction_preset(name: str) -> dict:
    """The DrActionConfig overrides of preset `name` (a fresh dict); ValueError naming the presets otherwise."""
    if name not in DRACTION_PRESETS:
        raise ValueError(f"unknown DrAction preset {name!r}; choose one of {', '.join(DRACTION_PRESETS)}")
    return dict(DRACTION_PRESETS[name])


def as_topology(topology: str | Topology) -> Topology:
    """A Topology from itself or its registered name."""
    return topology if isinstance(topology, Topology) else get_topology(topology)


def normalize_images(rgb: torch.Tensor, mean, std) -> torch.Tensor:
    """(rgb [B, F, 3, H, W] - mean) / std per channel, in torch."""
    mean = torch.as_tensor(mean, dtype=rgb.dtype, device=rgb.device).reshape(3, 1, 1)
    std = torch.as_tensor(std, dtype=rgb.dtype, device=rgb.device).reshape(3, 1, 1)
    return (rgb - mean) / std


class SkeletonRenderer(nn.Module, ABC):
    """Poses [B, T, M, J, C] of any topology -> normalized images [B, F, 3, H, W]."""

    def __init__(self, config: DrActionConfig):
        super().__init__()
        self.config = config
        self._layouts: dict[Topology, GaussianLayout] = {}

    def layout(self, topology: Topology) -> GaussianLayout:
        """The Gaussian layout of a topology (built on first use)."""
        if topology not in self._layouts:
            self._layouts[topology] = make_layout(topology, self.config.num_line_samples, self.config.gaussian_shape,
                                                  self.config.gaussian_size)
        return self._layouts[topology]

    def sample(self, joints: torch.Tensor, topology: Topology) -> Clip:
        """The clip checked against its topology, sampled to F frames and framed (camera.sample_clip)."""
        return sample_clip(joints, topology, self.config.frames, self.config.fov_deg, self.config.max_bodies)

    def splat(self, means, covs, colors, opacities, viewmat):
        """Rasterize [B, F, G, ...] Gaussians -> (rgb [B, F, 3, H, W], alpha [B, F, H, W])."""
        K = intrinsics(self.config.size, self.config.fov_deg, means.shape[0], means.dtype, means.device)
        return splat(means, covs, colors, opacities, K, viewmat, self.config.size, self.config.backend)

    @abstractmethod
    def render(self, joints: torch.Tensor, topology: str | Topology) -> tuple[torch.Tensor, torch.Tensor]:
        """(rgb float [B, F, 3, H, W] in [0, 1] over black, alpha float [B, F, H, W])."""

    def forward(self, joints: torch.Tensor, topology: str | Topology) -> torch.Tensor:
        """joints float [B, T, M, J, C] (normalized poses of `topology`, absent body = zeros) -> images float
        [B, F, 3, H, W], normalized with the vision tower's mean and std."""
        return normalize_images(self.render(joints, topology)[0], self.config.mean, self.config.std)
