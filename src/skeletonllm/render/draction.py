"""DrAction: the learnable Gaussian skeleton renderer (an nn.Module) that serves every topology, and its weight files.

Appearance: each Gaussian's descriptors (body part, side, position along the bone, rest-pose height and lateral
offset; render/descriptors.py) are encoded to features, a per-body-slot embedding is added, and a small MLP head
turns them into RGB and alpha logits. No parameter depends on the joint layout, so one `draction.safetensors`
renders NTU, NW-UCLA, HumanML3D, 2D pose and any BVH rig. The optional Neural Feature Modulator (NFM) is an MLP
over each Gaussian's skinned position and velocity (relative to the framed clip) and its base appearance; it
outputs colour and alpha logit deltas, applied through a saliency gate. A learnable mix then blends in a colour
coded by camera depth (warm near, cool far), over the framed sphere of the clip or over each body in each frame
(config.depth_range). Absent bodies (all-zero) get opacity 0, so they contribute nothing.
The output is normalized with the vision tower's mean and std inside torch, so gradients reach every parameter.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from skeletonllm.formats.topology import Topology
from skeletonllm.render.base import DrActionConfig, SkeletonRenderer, as_topology
from skeletonllm.render.camera import Clip, camera_depth
from skeletonllm.render.descriptors import DESCRIPTOR_DIM, gaussian_descriptors
from skeletonllm.render.gaussians import pose_gaussians

WEIGHTS_FILE = "draction.safetensors"
CONFIG_FILE = "draction.json"
NEAR_COLOR = (1.0, 0.85, 0.2)  # depth-coded colour at the front of the depth range
FAR_COLOR = (0.15, 0.3, 1.0)  # ... and at its back
MIN_DEPTH_SPAN = 1e-6  # a body shallower than this in a frame (a 2D pose) sits midway between near and far


def logit(p: float) -> float:
    """The inverse of the logistic function, for a Python float p in (0, 1)."""
    return math.log(p) - math.log1p(-p)


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    """A two-layer MLP with a SiLU in between."""
    return nn.Sequential(nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, outputs))


def frame_velocity(means: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """float [B, F, M, N, 3]: half the difference between the next and previous sampled frame of each Gaussian.

    means: [B, F, M, N, 3]; present: bool [B, F, M]. A frame stands in for a neighbour that is missing (clip ends)
    or where the body is absent; absent bodies have zero velocity.
    """
    def neighbour(shift: int):
        moved, moved_present = torch.roll(means, shift, 1), torch.roll(present, shift, 1)  # [B, F, M, N, 3]
        edge = 0 if shift > 0 else means.shape[1] - 1
        moved_present[:, edge] = False
        return torch.where(moved_present[..., None, None], moved, means)

    return 0.5 * (neighbour(-1) - neighbour(1)) * present[..., None, None]


def depth_fraction(clip: Clip, means: torch.Tensor, depth_range: str) -> torch.Tensor:
    """float [B, F, M, N] in [0, 1]: camera depth of the means [B, F, M, N, 3], 0 at the near end of the range and
    1 at the far end. "clip": the front and back of the clip's framed sphere. "body_frame": the nearest and farthest
    Gaussian of each body in each frame (0.5 for a body without depth, such as a 2D pose)."""
    depth = camera_depth(means, clip.viewmat)  # [B, F, M, N]
    if depth_range == "clip":
        near, span = clip.distance - clip.radius, 2.0 * clip.radius  # [B]
        return ((depth - near[:, None, None, None]) / span[:, None, None, None]).clamp(0.0, 1.0)
    near, far = depth.amin(-1, keepdim=True), depth.amax(-1, keepdim=True)  # [B, F, M, 1]
    span = far - near  # [B, F, M, 1]
    fraction = (depth - near) / span.clamp_min(MIN_DEPTH_SPAN)  # [B, F, M, N]
    return torch.where(span > MIN_DEPTH_SPAN, fraction, torch.full_like(fraction, 0.5))


class DrAction(SkeletonRenderer):
    """Differentiable renderer: poses [B, T, M, J, C] of any topology -> normalized images [B, F, 3, H, W]."""

    def __init__(self, config: DrActionConfig | None = None):
        super().__init__(config if config is not None else DrActionConfig())
        dim, hidden = self.config.feature_dim, self.config.hidden_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            self.encoder = nn.Linear(DESCRIPTOR_DIM, dim)  # descriptors -> appearance features
            self.body_embedding = nn.Parameter(0.1 * torch.randn(self.config.max_bodies, dim))  # [M_max, D]
            self.head = mlp(dim, hidden, 4)  # -> RGB logits, alpha logit
            self.nfm = mlp(3 + 3 + 4, hidden, 5) if self.config.use_nfm else None  # -> deltas (RGB, alpha), gate
            with torch.no_grad():
                self.encoder.weight.normal_(0.0, 0.5)  # distinct colours per part and side from the start
                self.head[-1].bias[3] = logit(self.config.opacity)  # the starting opacity
                if self.nfm is not None:  # start close to the base appearance
                    self.nfm[-1].weight.mul_(0.1)
                    self.nfm[-1].bias.zero_()
        self.depth_mix = nn.Parameter(torch.tensor(logit(self.config.depth_share)))  # logit of the depth-colour share

    def appearance(self, clip: Clip, means: torch.Tensor,
                   descriptors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(colors float [B, F, M, N, 3] in [0, 1], alpha float [B, F, M, N]) of the skinned means [B, F, M, N, 3]
        with Gaussian descriptors [B, M, N, K]."""
        features = self.encoder(descriptors) + self.body_embedding[: means.shape[2], None]  # [B, M, N, D]
        logits = self.head(features)[:, None].expand(-1, means.shape[1], -1, -1, -1)  # [B, F, M, N, 4]
        if self.nfm is not None:
            scale = clip.radius[:, None, None, None, None]  # [B, 1, 1, 1, 1]
            position = (means - clip.centre[:, None, None, None]) / scale  # [B, F, M, N, 3]
            velocity = frame_velocity(means, clip.present) / scale  # [B, F, M, N, 3]
            modulation = self.nfm(torch.cat([position, velocity, torch.sigmoid(logits)], -1))  # [B, F, M, N, 5]
            logits = logits + torch.sigmoid(modulation[..., 4:]) * modulation[..., :4]
        rgb, alpha = torch.sigmoid(logits[..., :3]), torch.sigmoid(logits[..., 3])
        depth01 = depth_fraction(clip, means, self.config.depth_range)[..., None]  # [B, F, M, N, 1]
        near_color, far_color = (torch.tensor(c, dtype=rgb.dtype, device=rgb.device) for c in (NEAR_COLOR, FAR_COLOR))
        mix = torch.sigmoid(self.depth_mix)
        colors = (1.0 - mix) * rgb + mix * torch.lerp(near_color, far_color, depth01)  # [B, F, M, N, 3]
        return colors, alpha

    def render(self, joints: torch.Tensor, topology: str | Topology) -> tuple[torch.Tensor, torch.Tensor]:
        """Unnormalized rendering of joints [B, T, M, J, C] of `topology`: (rgb float [B, F, 3, H, W] in [0, 1]
        over black, alpha float [B, F, H, W])."""
        topology = as_topology(topology)
        layout = self.layout(topology)
        clip = self.sample(joints, topology)
        means, covs = pose_gaussians(layout, clip.points, clip.canonical)  # [B, F, M, N, 3], [..., 3, 3]
        descriptors = gaussian_descriptors(layout, clip.canonical, topology.dims == 2)  # [B, M, N, K]
        colors, alpha = self.appearance(clip, means, descriptors)
        opacities = alpha * clip.present[..., None]  # [B, F, M, N]: absent bodies contribute nothing
        return self.splat(means.flatten(2, 3), covs.flatten(2, 3), colors.flatten(2, 3), opacities.flatten(2, 3),
                          clip.viewmat)

    def save(self, directory: str | Path) -> Path:
        """Write directory/draction.safetensors (weights) and directory/draction.json (name and config) with
        storage.save_renderer."""
        from skeletonllm.render.storage import draction_name, save_renderer  # storage imports this module

        return save_renderer(self, draction_name(self.config), directory)

    @classmethod
    def load(cls, directory: str | Path) -> DrAction:
        """A DrAction from the files `save` wrote (storage.load_renderer); raises FileNotFoundError or ValueError
        naming what is wrong, also when the files hold a renderer without weights."""
        from skeletonllm.render.storage import load_renderer  # storage imports this module

        name, renderer = load_renderer(directory)
        if not isinstance(renderer, cls):
            raise ValueError(f"{Path(directory) / CONFIG_FILE}: holds renderer {name!r}, not DrAction weights")
        return renderer
