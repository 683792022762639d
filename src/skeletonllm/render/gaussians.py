"""Skeleton Gaussians: the template of a topology, its bone-length-adaptive scales and linear blend skinning.

A body of J joints becomes N = J + num_line_samples * (J - 1) Gaussians: one per joint and num_line_samples
evenly inside each bone (child, parent). The canonical template is the body's first present frame (frame 0 of a
clip whose bodies are all there from the start). "bone" Gaussians take scales that adapt to the canonical bone
lengths within bounds set relative to the body's median bone length, so they work in metres (3D) and in torso units
(2D) alike; "isotropic" Gaussians are spheres of one std given in metres (2D: converted with TORSO_METRES).

Posing is linear blend skinning: every bone b has a transform whose linear part A_b rotates the canonical bone
direction onto the current one (the shortest-arc rotation, or a rotation supplied by a format that carries joint
orientations) and stretches along the bone by the length ratio; its translation anchors it at a joint. A bone
sample at fraction s is blended from the parent's anchor (weight 1 - s) and the child's (weight s), a joint
Gaussian follows its joint's translation. "bone" covariances are posed as A_b Sigma_0 A_b^T; spheres stay spheres.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from skeletonllm.formats.topology import Topology
from skeletonllm.render.rasterize import rasterize

ACROSS = 0.12  # bone thickness (std) as a fraction of the bone length
ALONG = 0.6  # std along a bone as a fraction of the spacing of its samples
JOINT = 0.15  # joint std as a fraction of the mean length of the joint's bones
SCALE_BOUNDS = (0.04, 0.3)  # every std stays within these fractions of the body's median bone length
MAX_STRETCH = 4.0  # a bone's along-axis stretch (current / canonical length) is clamped to [1/4, 4]
EPS = 1e-8
SHAPES = ("bone", "isotropic")
ISOTROPIC_STD = 0.02  # metres: the std of the official release's spherical Gaussians
TORSO_METRES = 0.5  # an adult's mid-shoulders to mid-hips: the unit of normalized 2D poses, in metres


@dataclass(frozen=True)
class GaussianLayout:
    """Which joints each of a body's N Gaussians hangs from: Gaussian g sits at fraction t[g] from joint
    start[g] (the parent) to joint end[g] (the child) of bone[g]; joint Gaussians have start = end, t = 0,
    bone = -1. Joint Gaussians come first, in joint order, then each bone's samples. shape (one of SHAPES) and
    size (the isotropic std in metres) say how their covariances are made (canonical_scales)."""

    topology: Topology
    num_line_samples: int
    start: torch.Tensor  # long [N]
    end: torch.Tensor  # long [N]
    t: torch.Tensor  # float [N]
    bone: torch.Tensor  # long [N]

    children: torch.Tensor  # long [nb] child joint of each bone
    parents: torch.Tensor  # long [nb] parent joint of each bone
    shape: str
    size: float

    @property
    def num_gaussians(self) -> int:
        return int(self.start.shape[0])

    def to(self, device) -> GaussianLayout:
        """The layout with its index tensors on `device` (itself when they are there already)."""
        if self.start.device == torch.device(device):
            return self
        moved = {name: getattr(self, name).to(device) for name in ("start", "end", "t", "bone", "children", "parents")}
        return replace(self, **moved)


def make_layout(topology: Topology, num_line_samples: int = 10, shape: str = "bone",
                size: float = ISOTROPIC_STD) -> GaussianLayout:
    """The Gaussian layout of a topology with num_line_samples (>= 0) samples inside each bone, Gaussians of
    `shape` (one of SHAPES) and, for "isotropic", std `size` (metres)."""
    if num_line_samples < 0:
        raise ValueError(f"num_line_samples must be >= 0, got {num_line_samples}")
    if shape not in SHAPES:
        raise ValueError(f"unknown Gaussian shape {shape!r}; choose one of {', '.join(SHAPES)}")
    if not topology.bones:
        raise ValueError(f"topology {topology.name} has no bones to render")
    joints = list(range(topology.num_joints))
    start, end, t, bone = list(joints), list(joints), [0.0] * len(joints), [-1] * len(joints)
    for index, (child, parent) in enumerate(topology.bones):
        for k in range(1, num_line_samples + 1):
            start.append(parent)
            end.append(child)
            t.append(k / (num_line_samples + 1))
            bone.append(index)
    return GaussianLayout(topology, num_line_samples, torch.tensor(start), torch.tensor(end),
                          torch.tensor(t, dtype=torch.float32), torch.tensor(bone),
                          torch.tensor([child for child, _ in topology.bones]),
                          torch.tensor([parent for _, parent in topology.bones]), shape, float(size))


def align_rotation(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """float [..., 3, 3]: the shortest-arc rotation taking unit vectors source [..., 3] onto target [..., 3].

    Opposite vectors get a half turn about an axis perpendicular to source; a zero vector gives the identity.
    """
    cross = torch.linalg.cross(source, target)  # [..., 3]
    cos = (source * target).sum(-1)  # [...]
    zero = torch.zeros_like(cos)
    skew = torch.stack([torch.stack([zero, -cross[..., 2], cross[..., 1]], -1),
                        torch.stack([cross[..., 2], zero, -cross[..., 0]], -1),
                        torch.stack([-cross[..., 1], cross[..., 0], zero], -1)], -2)  # [..., 3, 3]
    eye = torch.eye(3, dtype=source.dtype, device=source.device).expand_as(skew)
    rodrigues = eye + skew + skew @ skew / (1.0 + cos).clamp_min(1e-6)[..., None, None]
    # half turn for (nearly) opposite vectors: R = 2 a a^T - I with a perpendicular to source
    helper = torch.zeros_like(source)
    helper[..., 0] = 1.0
    helper = torch.where((source[..., :1].abs() > 0.9), torch.roll(helper, 1, -1), helper)
    axis = torch.linalg.cross(source, helper)
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(EPS)
    half_turn = 2.0 * axis[..., :, None] * axis[..., None, :] - eye
    return torch.where((cos < -1.0 + 1e-6)[..., None, None], half_turn, rodrigues)


def _bone_vectors(layout: GaussianLayout, points: torch.Tensor) -> torch.Tensor:
    """float [..., nb, 3]: child minus parent of each bone, for joints [..., J, 3]."""
    return points[..., layout.children, :] - points[..., layout.parents, :]


def isotropic_std(layout: GaussianLayout) -> float:
    """The std of an isotropic layout's spheres in pose units: layout.size metres, or torso lengths for 2D poses."""
    return layout.size / TORSO_METRES if layout.topology.dims == 2 else layout.size


def canonical_scales(layout: GaussianLayout, canonical: torch.Tensor) -> torch.Tensor:
    """float [..., N, 3, 3]: canonical covariances from canonical joints [..., J, 3].

    Isotropic layouts: std**2 * I for every Gaussian (std = isotropic_std). Bone layouts: bone samples are
    elongated along their bone (std ALONG * spacing) with thickness ACROSS * length; joints are round (std
    JOINT * mean length of their bones); all stds are clamped to SCALE_BOUNDS * median bone length.
    """
    if layout.shape == "isotropic":
        eye = torch.eye(3, dtype=canonical.dtype, device=canonical.device)
        return (isotropic_std(layout) ** 2 * eye).expand(*canonical.shape[:-2], layout.num_gaussians, 3, 3)
    layout = layout.to(canonical.device)
    vectors = _bone_vectors(layout, canonical)  # [..., nb, 3]
    lengths = vectors.norm(dim=-1)  # [..., nb]
    reference = lengths.median(-1, keepdim=True).values.clamp_min(EPS)  # [..., 1]
    low, high = SCALE_BOUNDS[0] * reference, SCALE_BOUNDS[1] * reference  # [..., 1]
    num_joints = layout.topology.num_joints
    total = torch.zeros_like(canonical[..., 0])  # [..., J] summed length of each joint's bones
    total = total.index_add(-1, layout.children, lengths).index_add(-1, layout.parents, lengths)
    degree = torch.bincount(torch.cat([layout.children, layout.parents]), minlength=num_joints)  # [J]
    mean_length = total / degree.clamp_min(1).to(canonical)  # [..., J]
    joint_std = torch.minimum(torch.maximum(JOINT * mean_length, low), high)  # [..., J]
    across = torch.minimum(torch.maximum(ACROSS * lengths, low), high)  # [..., nb]
    along = torch.minimum(torch.maximum(ALONG * lengths / (layout.num_line_samples + 1), low), high)  # [..., nb]
    direction = vectors / lengths[..., None].clamp_min(EPS)  # [..., nb, 3]

    is_joint = layout.bone < 0  # [N]
    bone = layout.bone.clamp_min(0)  # [N]
    std_across = torch.where(is_joint, joint_std[..., layout.start], across[..., bone])  # [..., N]
    std_along = torch.where(is_joint, joint_std[..., layout.start], along[..., bone])  # [..., N]
    u = direction[..., bone, :]  # [..., N, 3]
    eye = torch.eye(3, dtype=canonical.dtype, device=canonical.device)
    return (std_across[..., None, None] ** 2 * eye
            + (std_along**2 - std_across**2)[..., None, None] * u[..., :, None] * u[..., None, :])


def bone_transforms(layout: GaussianLayout, points: torch.Tensor, canonical: torch.Tensor,
                    bone_rotations: torch.Tensor | None = None) -> torch.Tensor:
    """float [B, F, M, nb, 3, 3]: linear part A_b = R_b (I + (stretch - 1) u0 u0^T) of each bone's transform.

    points: [B, F, M, J, 3] current joints; canonical: [B, M, J, 3]; bone_rotations [B, F, M, nb, 3, 3] (from
    joint orientations) replace the shortest-arc rotations R_b when given.
    """
    layout = layout.to(points.device)
    before = _bone_vectors(layout, canonical)[:, None]  # [B, 1, M, nb, 3]
    after = _bone_vectors(layout, points)  # [B, F, M, nb, 3]
    length_before = before.norm(dim=-1, keepdim=True)  # [B, 1, M, nb, 1]
    length_after = after.norm(dim=-1, keepdim=True)  # [B, F, M, nb, 1]
    u0 = before / length_before.clamp_min(EPS)  # [B, 1, M, nb, 3]
    rotation = align_rotation(u0.expand_as(after), after / length_after.clamp_min(EPS)) \
        if bone_rotations is None else bone_rotations  # [B, F, M, nb, 3, 3]
    stretch = (length_after / length_before.clamp_min(EPS)).clamp(1.0 / MAX_STRETCH, MAX_STRETCH)  # [B, F, M, nb, 1]
    eye = torch.eye(3, dtype=points.dtype, device=points.device)
    scaling = eye + (stretch - 1.0)[..., None] * u0[..., :, None] * u0[..., None, :]  # [B, F, M, nb, 3, 3]
    return rotation @ scaling


def pose_gaussians(layout: GaussianLayout, points: torch.Tensor, canonical: torch.Tensor,
                   bone_rotations: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Skin the template: (means float [B, F, M, N, 3], covs float [B, F, M, N, 3, 3]).

    points: [B, F, M, J, 3] current joints; canonical: [B, M, J, 3] template joints. Isotropic Gaussians keep their
    canonical spheres (neither turned nor stretched).
    """
    layout = layout.to(points.device)
    transforms = bone_transforms(layout, points, canonical, bone_rotations)  # [B, F, M, nb, 3, 3]
    eye = torch.eye(3, dtype=points.dtype, device=points.device).expand(*transforms.shape[:3], 1, 3, 3)
    per_gaussian = torch.cat([eye, transforms], 3)[:, :, :, layout.bone + 1]  # [B, F, M, N, 3, 3]
    t = layout.t.to(points)[:, None]  # [N, 1]
    start0, end0 = canonical[:, None, :, layout.start], canonical[:, None, :, layout.end]  # [B, 1, M, N, 3]
    template = (1.0 - t) * start0 + t * end0  # [B, 1, M, N, 3]
    start, end = points[..., layout.start, :], points[..., layout.end, :]  # [B, F, M, N, 3]

    def anchored(origin0, origin):  # A_g (x0 - origin0) + origin
        return (per_gaussian @ (template - origin0)[..., None])[..., 0] + origin

    means = (1.0 - t) * anchored(start0, start) + t * anchored(end0, end)  # [B, F, M, N, 3]
    scales = canonical_scales(layout, canonical)[:, None]  # [B, 1, M, N, 3, 3]
    if layout.shape == "isotropic":
        return means, scales.expand(*means.shape, 3)
    return means, per_gaussian @ scales @ per_gaussian.transpose(-1, -2)


def splat(means, covs, colors, opacities, K, viewmat, size: int, backend: str):
    """Rasterize F frames per clip: means [B, F, G, 3], covs [B, F, G, 3, 3], colors [B, F, G, 3], opacities
    [B, F, G], K and viewmat [B, ...] shared by a clip's frames -> (rgb [B, F, 3, H, W], alpha [B, F, H, W])."""
    batch, frames = means.shape[:2]
    rgb, alpha = rasterize(means.flatten(0, 1), covs.flatten(0, 1), colors.flatten(0, 1), opacities.flatten(0, 1),
                           K.repeat_interleave(frames, 0), viewmat.repeat_interleave(frames, 0), size, size,
                           backend=backend)  # [B*F, H, W, 3], [B*F, H, W]
    return (rgb.reshape(batch, frames, size, size, 3).permute(0, 1, 4, 2, 3),
            alpha.reshape(batch, frames, size, size))
