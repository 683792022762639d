"""Clip framing for the renderers: body presence, uniform temporal sampling, 2D->3D lifting and a pinhole camera.

World coordinates are the prepared poses. 3D poses are in the canonical body frame (y up, the body facing the
camera at its first frame, its right at +x; data/canonical.py); the camera looks along world +z with image
x = -world x and image y = -world y, which is a proper rotation. 2D topologies are image coordinates (x right,
y down): they are lifted to z = 0 (a constant depth) and viewed with the identity rotation. The camera (OpenCV:
x right, y down, z forward) looks at the centre of the bounding box of the clip's framed joints (all but hands and
feet, so that every format of one motion gets the same camera) from the distance at which a sphere holding them
fills the 60-degree field of view (with a margin), so the same camera serves every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from skeletonllm.formats.sequence import body_presence, joint_presence
from skeletonllm.formats.topology import Topology

FRAME_MARGIN = 1.25  # the framed sphere is this much larger than the farthest framed joint
MIN_RADIUS = 1e-3  # a clip whose joints all coincide is framed as a sphere of this radius


def lift_to_3d(joints: torch.Tensor) -> torch.Tensor:
    """float [..., 3]: 3D joints unchanged, 2D joints [..., 2] placed at z = 0 (the constant depth)."""
    if joints.shape[-1] == 3:
        return joints
    if joints.shape[-1] != 2:
        raise ValueError(f"joints need 2 or 3 coordinates, got {joints.shape[-1]}")
    return torch.cat([joints, torch.zeros_like(joints[..., :1])], dim=-1)


def frame_indices(present: torch.Tensor, frames: int) -> torch.Tensor:
    """long [B, F]: F frame indices spread uniformly from frame 0 to the last frame holding a body.

    present: bool [B, T, M]. Trailing all-empty frames (zero padding of a batch) are not sampled; a clip shorter
    than F repeats frames. A clip without any body samples frame 0 only.
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    num_frames = present.shape[1]
    occupied = present.any(-1)  # [B, T]
    positions = torch.arange(num_frames, device=present.device)  # [T]
    last = torch.where(occupied, positions, torch.zeros_like(positions)).amax(-1)  # [B]
    steps = torch.linspace(0.0, 1.0, frames, device=present.device, dtype=torch.float64)  # [F]
    return torch.round(steps[None] * last[:, None].double()).long()  # [B, F]


def gather_frames(values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """values [B, T, ...] at indices long [B, F] -> [B, F, ...]."""
    index = indices.reshape(*indices.shape, *([1] * (values.ndim - 2))).expand(-1, -1, *values.shape[2:])
    return torch.gather(values, 1, index)


def intrinsics(size: int, fov_deg: float, batch: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """float [B, 3, 3]: square pinhole intrinsics with the given field of view, principal point at the centre."""
    if not 0.0 < fov_deg < 180.0:
        raise ValueError(f"fov_deg must be in (0, 180), got {fov_deg}")
    focal = 0.5 * size / math.tan(math.radians(fov_deg) / 2.0)
    K = torch.tensor([[focal, 0.0, size / 2.0], [0.0, focal, size / 2.0], [0.0, 0.0, 1.0]], dtype=dtype,
                     device=device)
    return K.expand(batch, 3, 3).clone()


def view_rotation(planar: bool, dtype=torch.float32, device=None) -> torch.Tensor:
    """float [3, 3]: world -> camera axes (identity for 2D image coordinates, diag(-1, -1, 1) for 3D y-up)."""
    signs = [1.0, 1.0, 1.0] if planar else [-1.0, -1.0, 1.0]
    return torch.diag(torch.tensor(signs, dtype=dtype, device=device))


def framing_joints(topology: Topology) -> torch.Tensor:
    """bool [J]: the joints a camera frames, all but the hands and feet, which formats draw with different joints
    (NTU's hand tips and thumbs, BVH fingers and toes, none in Kinetics' OpenPose): so that one motion in any
    format gets the same camera. The margin keeps hands and feet in view."""
    from skeletonllm.formats.body_parts import joint_labels

    parts, _ = joint_labels(topology)
    framed = torch.tensor([part not in ("hand", "foot") for part in parts])
    return framed if framed.any() else torch.ones(topology.num_joints, dtype=torch.bool)


def frame_clip(points: torch.Tensor, present: torch.Tensor, fov_deg: float, planar: bool,
               framed: torch.Tensor | None = None):
    """The camera of each clip: (viewmat float [B, 4, 4], centre float [B, 3], radius float [B], distance [B]).

    points: float [B, T, M, J, 3] world joints (2D lifted); present: bool [B, T, M]; framed: bool [J], the joints to
    frame (default all). Of the framed joints of present bodies that are not missing (all-zero), the camera looks
    at the centre of their bounding box from `distance` = radius / sin(fov / 2), radius being FRAME_MARGIN times
    the largest distance of one of them from that centre. No gradient flows into the camera.
    """
    with torch.no_grad():
        seen = present[..., None] & joint_presence(points)  # [B, T, M, J]
        if framed is not None:
            seen = seen & framed.to(seen.device)
        empty = ~seen.flatten(1).any(1)  # [B] clips with nothing to frame
        seen = seen | empty[:, None, None, None]  # ... frame all of them (zeros): the origin
        flat, mask = points.flatten(1, 3), seen.flatten(1)[..., None]  # [B, P, 3], [B, P, 1]
        low = torch.where(mask, flat, torch.full_like(flat, torch.inf)).amin(1)  # [B, 3]
        high = torch.where(mask, flat, torch.full_like(flat, -torch.inf)).amax(1)  # [B, 3]
        centre = 0.5 * (low + high)  # [B, 3]
        offsets = (points - centre[:, None, None, None]).norm(dim=-1) * seen  # [B, T, M, J]
        radius = (offsets.flatten(1).amax(1) * FRAME_MARGIN).clamp_min(MIN_RADIUS)  # [B]
        distance = radius / math.sin(math.radians(fov_deg) / 2.0)  # [B]
        rotation = view_rotation(planar, points.dtype, points.device)  # [3, 3]
        eye = centre.clone()
        eye[:, 2] -= distance  # the camera sits behind the centre along the viewing direction (world +z)
        viewmat = torch.zeros(points.shape[0], 4, 4, dtype=points.dtype, device=points.device)
        viewmat[:, :3, :3] = rotation
        viewmat[:, :3, 3] = -(eye @ rotation.T)
        viewmat[:, 3, 3] = 1.0
    return viewmat, centre, radius, distance


def camera_depth(points: torch.Tensor, viewmat: torch.Tensor) -> torch.Tensor:
    """float [B, ...]: camera z of world points [B, ..., 3] under viewmat [B, 4, 4]."""
    flat = points.flatten(1, -2)  # [B, P, 3]
    z = flat @ viewmat[:, 2, :3, None] + viewmat[:, None, 2, 3:4]  # [B, P, 1]
    return z[..., 0].reshape(points.shape[:-1])


@dataclass
class Clip:
    """A batch of clips sampled to F frames, with their canonical (template) pose and the camera framing each."""

    points: torch.Tensor  # [B, F, M, J, 3] sampled joints (2D lifted to z = 0)
    present: torch.Tensor  # bool [B, F, M]
    canonical: torch.Tensor  # [B, M, J, 3] each body's first present frame (zeros if never present)
    viewmat: torch.Tensor  # [B, 4, 4] world -> camera
    centre: torch.Tensor  # [B, 3] centre of the framed joints' bounding box
    radius: torch.Tensor  # [B] framed radius
    distance: torch.Tensor  # [B] camera distance to the centre


def check_joints(joints: torch.Tensor, topology: Topology, max_bodies: int) -> None:
    """Raise ValueError unless joints is float [B, T, M <= max_bodies, J, C] matching the topology, all finite."""
    if joints.ndim != 5:
        raise ValueError(f"joints must be [B, T, M, J, C], got shape {list(joints.shape)}")
    if not joints.is_floating_point():
        raise ValueError(f"joints must be floating point, got {joints.dtype}")
    _, frames, bodies, num_joints, dims = joints.shape
    if num_joints != topology.num_joints or dims != topology.dims:
        raise ValueError(f"topology {topology.name} needs J={topology.num_joints}, C={topology.dims}; "
                         f"got J={num_joints}, C={dims}")
    if not 1 <= bodies <= max_bodies or frames < 1:
        raise ValueError(f"need 1..{max_bodies} bodies and >= 1 frame, got M={bodies}, T={frames}")
    if not torch.isfinite(joints).all():
        raise ValueError("joints contain non-finite values")


def sample_clip(joints: torch.Tensor, topology: Topology, frames: int, fov_deg: float, max_bodies: int = 2) -> Clip:
    """Check joints [B, T, M, J, C], frame each clip, sample F frames uniformly and take the canonical pose."""
    check_joints(joints, topology, max_bodies)
    points_all = lift_to_3d(joints)  # [B, T, M, J, 3]
    present_all = body_presence(joints)  # [B, T, M]
    viewmat, centre, radius, distance = frame_clip(points_all, present_all, fov_deg, topology.dims == 2,
                                                   framing_joints(topology))
    indices = frame_indices(present_all, frames)  # [B, F]
    batch, _, bodies = present_all.shape
    first = present_all.int().argmax(1)  # [B, M] first present frame (0 if never)
    by_body = points_all.transpose(1, 2).flatten(0, 1)  # [B*M, T, J, 3]
    canonical = gather_frames(by_body, first.reshape(-1, 1))[:, 0].reshape(batch, bodies, *points_all.shape[3:])
    return Clip(gather_frames(points_all, indices), gather_frames(present_all, indices), canonical, viewmat,
                centre, radius, distance)
