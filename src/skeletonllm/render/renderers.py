"""All renderers behind one factory: DrAction (with and without NFM) and the fixed ablation baselines.

Every renderer maps joints float [B, T, M, J, C] of any topology to normalized images float [B, F, 3, H, W] with the same
temporal sampling and clip framing (camera.sample_clip). The fixed baselines have no parameters:
- 3d_velocity: the skeleton Gaussians of DrAction, coloured by joint speed (blue slow -> red fast, per clip).
- 2d_projection: the skeleton projected onto the image plane (flat Gaussians at one depth), one colour per limb.
- jtm: joint trajectory maps; each frame accumulates every joint's trajectory up to that frame, hue coding time.
"""

from __future__ import annotations

import torch

from skeletonllm.formats.sequence import body_presence
from skeletonllm.formats.topology import Topology
from skeletonllm.render.base import DrActionConfig, SkeletonRenderer, as_topology
from skeletonllm.render.camera import frame_indices, gather_frames, lift_to_3d
from skeletonllm.render.draction import DrAction, frame_velocity
from skeletonllm.render.gaussians import canonical_scales, pose_gaussians

RENDERERS = ("draction", "draction_no_nfm", "3d_velocity", "2d_projection", "jtm")
FIXED_OPACITY = 0.95
TRAJECTORY_OPACITY = 0.8
TRAJECTORY_STEPS = 4  # trajectory samples per output frame interval (jtm)
SLOW_HUE, FAST_HUE = 2.0 / 3.0, 0.0  # blue .. red
LAST_TIME_HUE = 0.8  # jtm hue runs from 0 (red, start) to this (violet, end)


def hue_to_rgb(hue: torch.Tensor) -> torch.Tensor:
    """float [..., 3]: fully saturated, full-value colours of hues [...] in [0, 1) (0 red, 1/3 green, 2/3 blue)."""
    n = torch.tensor([5.0, 3.0, 1.0], dtype=hue.dtype, device=hue.device)
    k = (n + 6.0 * hue[..., None]) % 6.0  # [..., 3]
    return 1.0 - torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def limb_ids(topology: Topology) -> list[int]:
    """Limb index of each joint: a limb is a chain of bones between branching joints (or the root and an end).

    A joint takes the limb of the bone ending at it; the root takes the limb of its first child bone.
    """
    parents = topology.parents
    children = topology.children

    def limb_top(joint: int) -> int:  # walk up while the parent is a plain link of one chain
        while parents[joint] != topology.root and len(children[parents[joint]]) == 1:
            joint = parents[joint]
        return joint

    tops = [limb_top(j) if j != topology.root else limb_top(children[j][0]) for j in range(topology.num_joints)]
    order = sorted(set(tops))
    return [order.index(top) for top in tops]


class FixedRenderer(SkeletonRenderer):
    """The parameter-free baselines: DrAction's settings (DrActionConfig) without its learned appearance."""

    def __init__(self, frames: int = 12, size: int = 448, backend: str = "auto", num_line_samples: int = 10,
                 fov_deg: float = 60.0, max_bodies: int = 2, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
        super().__init__(DrActionConfig(num_line_samples=num_line_samples, frames=frames, size=size, fov_deg=fov_deg,
                                        use_nfm=False, backend=backend, max_bodies=max_bodies, mean=mean, std=std))


class VelocityRenderer(FixedRenderer):
    """3d_velocity: skeleton Gaussians coloured by joint speed, normalized by the clip's fastest joint."""

    def render(self, joints, topology):
        topology = as_topology(topology)
        layout, clip = self.layout(topology), self.sample(joints, topology)
        means, covs = pose_gaussians(layout, clip.points, clip.canonical)  # [B, F, M, N, 3], [..., 3, 3]
        speed = frame_velocity(clip.points, clip.present).norm(dim=-1)  # [B, F, M, J]
        speed = speed / speed.flatten(1).amax(1).clamp_min(1e-8)[:, None, None, None]
        layout = layout.to(speed.device)
        gaussian_speed = torch.lerp(speed[..., layout.start], speed[..., layout.end], layout.t.to(speed))  # [B, F, M, N]
        colors = hue_to_rgb(SLOW_HUE + (FAST_HUE - SLOW_HUE) * gaussian_speed)  # [B, F, M, N, 3]
        opacities = FIXED_OPACITY * clip.present[..., None].expand(gaussian_speed.shape).to(means)
        return self.splat(means.flatten(2, 3), covs.flatten(2, 3), colors.flatten(2, 3), opacities.flatten(2, 3),
                          clip.viewmat)


class ProjectionRenderer(FixedRenderer):
    """2d_projection: the skeleton's perspective projection laid flat at the camera distance, a colour per limb."""

    def limb_colors(self, topology: Topology) -> torch.Tensor:
        """float [N, 3]: each Gaussian in the colour of its bone's child joint's limb."""
        limbs = torch.tensor(limb_ids(topology))  # [J]
        return hue_to_rgb(limbs.float() / (int(limbs.max()) + 1))[self.layout(topology).end]

    def render(self, joints, topology):
        topology = as_topology(topology)
        layout, clip = self.layout(topology), self.sample(joints, topology)
        rotation, translation = clip.viewmat[:, :3, :3], clip.viewmat[:, :3, 3]  # [B, 3, 3], [B, 3]
        depth = clip.distance[:, None, None, None, None]  # [B, 1, 1, 1, 1]

        def flatten(points):  # world [B, ..., J, 3] -> camera space, pushed along its ray onto z = distance
            shape = points.shape
            cam = points.reshape(shape[0], -1, 3) @ rotation.transpose(1, 2) + translation[:, None]  # [B, P, 3]
            flat = cam[..., :2] / cam[..., 2:].clamp_min(1e-6)  # [B, P, 2]
            return torch.cat([flat, torch.ones_like(flat[..., :1])], -1).reshape(shape)

        flat_points = flatten(clip.points) * depth  # [B, F, M, J, 3]
        flat_canonical = flatten(clip.canonical) * depth[:, 0]  # [B, M, J, 3]
        means, covs = pose_gaussians(layout, flat_points, flat_canonical)  # camera space
        colors = self.limb_colors(topology).to(means).expand(*means.shape[:-1], 3)  # [B, F, M, N, 3]
        opacities = FIXED_OPACITY * clip.present[..., None].expand(means.shape[:-1]).to(means)
        identity = torch.eye(4, dtype=means.dtype, device=means.device).expand(means.shape[0], 4, 4)
        return self.splat(means.flatten(2, 3), covs.flatten(2, 3), colors.flatten(2, 3), opacities.flatten(2, 3),
                          identity)


class TrajectoryRenderer(FixedRenderer):
    """jtm: frame f shows the joints at every trajectory sample up to f, coloured by the hue of their time."""

    def render(self, joints, topology):
        topology = as_topology(topology)
        layout, clip = self.layout(topology), self.sample(joints, topology)
        frames = self.config.frames
        steps = (frames - 1) * TRAJECTORY_STEPS + 1  # output frame f is trajectory sample f * TRAJECTORY_STEPS
        points_all, present_all = lift_to_3d(joints), body_presence(joints)  # [B, T, M, J, 3], [B, T, M]
        indices = frame_indices(present_all, steps)  # [B, S]
        track = gather_frames(points_all, indices)  # [B, S, M, J, 3]
        track_present = gather_frames(present_all, indices)  # [B, S, M]
        num_joints = topology.num_joints
        covs = canonical_scales(layout, clip.canonical)[:, None, :, :num_joints]  # [B, 1, M, J, 3, 3]
        covs = covs.expand(*track.shape, 3)  # [B, S, M, J, 3, 3]
        time = torch.linspace(0.0, 1.0, steps, dtype=track.dtype, device=track.device)  # [S]
        colors = hue_to_rgb(LAST_TIME_HUE * time)[None, :, None, None].expand(*track.shape)  # [B, S, M, J, 3]
        shown = torch.arange(steps, device=track.device)[None] <= \
            TRAJECTORY_STEPS * torch.arange(frames, device=track.device)[:, None]  # [F, S]
        opacities = TRAJECTORY_OPACITY * (track_present[:, None] & shown[None, :, :, None])  # [B, F, S, M]
        opacities = opacities[..., None].expand(-1, -1, -1, -1, num_joints).to(track)  # [B, F, S, M, J]

        def per_frame(values):  # [B, S, M, J, ...] -> [B, F, S*M*J, ...]
            return values[:, None].expand(-1, frames, *values.shape[1:]).flatten(2, 4)

        return self.splat(per_frame(track), per_frame(covs), per_frame(colors), opacities.flatten(2, 4),
                          clip.viewmat)


FIXED_RENDERERS = {"3d_velocity": VelocityRenderer, "2d_projection": ProjectionRenderer, "jtm": TrajectoryRenderer}


def make_renderer(name: str, frames: int = 12, size: int = 448, backend: str = "auto", **kwargs) -> SkeletonRenderer:
    """The renderer `name` (one of RENDERERS), for poses of any topology; kwargs go to its config (e.g.
    num_line_samples, fov_deg, mean, std; for DrAction also feature_dim, hidden_dim, seed)."""
    if name in ("draction", "draction_no_nfm"):
        return DrAction(DrActionConfig(frames=frames, size=size, backend=backend, use_nfm=name == "draction", **kwargs))
    if name not in FIXED_RENDERERS:
        raise ValueError(f"unknown renderer {name!r}; choose one of {', '.join(RENDERERS)}")
    return FIXED_RENDERERS[name](frames=frames, size=size, backend=backend, **kwargs)
