"""DrAction: the learnable Gaussian skeleton renderer (an nn.Module), its config and its weight files.

Appearance: learnable per-Gaussian features (plus a per-body-slot embedding) go through a small MLP head to RGB
and alpha logits. The optional Neural Feature Modulator (NFM) is an MLP over each Gaussian's skinned position and
velocity (relative to the framed clip) and its base appearance; it outputs colour and alpha logit deltas, applied
through a saliency gate. A learnable mix then blends in a colour coded by camera depth (warm near, cool far).
Absent bodies (all-zero) get opacity 0, so they contribute nothing. The output is normalized with the vision
tower's mean and std inside torch, so gradients reach every parameter.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from skeletonllm.formats.topology import TOPOLOGIES, from_hierarchy, get_topology
from skeletonllm.render.camera import Clip, camera_depth, intrinsics, sample_clip
from skeletonllm.render.gaussians import make_layout, pose_gaussians, splat

WEIGHTS_FILE = "draction.safetensors"
CONFIG_FILE = "draction.json"
NEAR_COLOR = (1.0, 0.85, 0.2)  # depth-coded colour at the front of the framed sphere
FAR_COLOR = (0.15, 0.3, 1.0)  # ... and at its back


@dataclass
class DrActionConfig:
    """Everything that defines a DrAction renderer except its learned weights."""

    topology: str
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

    def __post_init__(self) -> None:
        self.mean, self.std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean and std need 3 values each (std > 0), got {self.mean} and {self.std}")
        if self.frames < 1 or self.size < 1 or self.feature_dim < 1 or self.hidden_dim < 1 or self.max_bodies < 1:
            raise ValueError(f"frames, size, feature_dim, hidden_dim and max_bodies must be >= 1: {self}")


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


def normalize_images(rgb: torch.Tensor, mean, std) -> torch.Tensor:
    """(rgb [B, F, 3, H, W] - mean) / std per channel, in torch."""
    mean = torch.as_tensor(mean, dtype=rgb.dtype, device=rgb.device).reshape(3, 1, 1)
    std = torch.as_tensor(std, dtype=rgb.dtype, device=rgb.device).reshape(3, 1, 1)
    return (rgb - mean) / std


class DrAction(nn.Module):
    """Differentiable renderer: poses [B, T, M, J, C] -> normalized images [B, F, 3, H, W]."""

    def __init__(self, config: DrActionConfig):
        super().__init__()
        self.config = config
        self.topology = get_topology(config.topology)
        self.layout = make_layout(self.topology, config.num_line_samples)
        count, dim, hidden = self.layout.num_gaussians, config.feature_dim, config.hidden_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.features = nn.Parameter(0.5 * torch.randn(count, dim))  # [N, D]
            self.body_embedding = nn.Parameter(0.1 * torch.randn(config.max_bodies, dim))  # [M_max, D]
            self.head = mlp(dim, hidden, 4)  # -> RGB logits, alpha logit
            self.nfm = mlp(3 + 3 + 4, hidden, 5) if config.use_nfm else None  # -> deltas (RGB, alpha), gate
            with torch.no_grad():
                self.head[-1].bias[3] = 2.0  # start nearly opaque
                if self.nfm is not None:  # start close to the base appearance
                    self.nfm[-1].weight.mul_(0.1)
                    self.nfm[-1].bias.zero_()
        self.depth_mix = nn.Parameter(torch.tensor(-2.0))  # logit of the depth-colour share

    def appearance(self, clip: Clip, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(colors float [B, F, M, N, 3] in [0, 1], alpha float [B, F, M, N]) of the skinned means [B, F, M, N, 3]."""
        features = self.features + self.body_embedding[: means.shape[2], None]  # [M, N, D]
        logits = self.head(features).expand(*means.shape[:2], -1, -1, -1)  # [B, F, M, N, 4]
        if self.nfm is not None:
            scale = clip.radius[:, None, None, None, None]  # [B, 1, 1, 1, 1]
            position = (means - clip.centre[:, None, None, None]) / scale  # [B, F, M, N, 3]
            velocity = frame_velocity(means, clip.present) / scale  # [B, F, M, N, 3]
            modulation = self.nfm(torch.cat([position, velocity, torch.sigmoid(logits)], -1))  # [B, F, M, N, 5]
            logits = logits + torch.sigmoid(modulation[..., 4:]) * modulation[..., :4]
        rgb, alpha = torch.sigmoid(logits[..., :3]), torch.sigmoid(logits[..., 3])
        depth = camera_depth(means, clip.viewmat)  # [B, F, M, N]
        near, span = clip.distance - clip.radius, 2.0 * clip.radius  # [B]
        depth01 = ((depth - near[:, None, None, None]) / span[:, None, None, None]).clamp(0.0, 1.0)[..., None]
        near_color, far_color = (torch.tensor(c, dtype=rgb.dtype, device=rgb.device) for c in (NEAR_COLOR, FAR_COLOR))
        mix = torch.sigmoid(self.depth_mix)
        colors = (1.0 - mix) * rgb + mix * torch.lerp(near_color, far_color, depth01)  # [B, F, M, N, 3]
        return colors, alpha

    def render(self, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unnormalized rendering: (rgb float [B, F, 3, H, W] in [0, 1] over black, alpha float [B, F, H, W])."""
        config = self.config
        clip = sample_clip(joints, self.topology, config.frames, config.fov_deg, config.max_bodies)
        means, covs = pose_gaussians(self.layout, clip.points, clip.canonical)  # [B, F, M, N, 3], [..., 3, 3]
        colors, alpha = self.appearance(clip, means)
        opacities = alpha * clip.present[..., None]  # [B, F, M, N]: absent bodies contribute nothing
        K = intrinsics(config.size, config.fov_deg, joints.shape[0], joints.dtype, joints.device)  # [B, 3, 3]
        return splat(means.flatten(2, 3), covs.flatten(2, 3), colors.flatten(2, 3),
                     opacities.flatten(2, 3), K, clip.viewmat, config.size, config.backend)

    def forward(self, joints: torch.Tensor) -> torch.Tensor:
        """joints float [B, T, M, J, C] (normalized poses, absent body = zeros) -> images float [B, F, 3, H, W]."""
        return normalize_images(self.render(joints)[0], self.config.mean, self.config.std)

    def save(self, directory: str | Path) -> Path:
        """Write directory/draction.safetensors (weights) and directory/draction.json (config and topology)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, directory / WEIGHTS_FILE)
        topology = {"joint_names": list(self.topology.joint_names), "parents": list(self.topology.parents),
                    "dims": self.topology.dims}
        (directory / CONFIG_FILE).write_text(json.dumps({"config": asdict(self.config), "topology": topology},
                                                        indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> DrAction:
        """A DrAction from the files `save` wrote; an unregistered 3D (BVH) topology is registered from the json."""
        from safetensors.torch import load_file

        directory = Path(directory)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"{directory / name}: missing (DrAction.save writes it)")
        stored = json.loads((directory / CONFIG_FILE).read_text())
        config, topology = DrActionConfig(**stored["config"]), stored["topology"]
        if config.topology not in TOPOLOGIES and topology["dims"] == 3:
            from_hierarchy(config.topology, topology["joint_names"], topology["parents"])
        known = get_topology(config.topology)
        if list(known.joint_names) != topology["joint_names"] or list(known.parents) != topology["parents"]:
            raise ValueError(f"{directory / CONFIG_FILE}: topology {config.topology!r} differs from the registered one")
        model = cls(config)
        model.load_state_dict(load_file(directory / WEIGHTS_FILE))
        return model
