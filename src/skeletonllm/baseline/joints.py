"""The shared body joints every skeleton format is mapped onto, and the mapping.

The shared set holds the 13 joints that every registered format names (NTU/Kinect, NW-UCLA, OpenPose, COCO and
SMPL): the head and, on each side, shoulder, elbow, wrist, hip, knee and ankle. It has no pelvis or neck: OpenPose
and COCO have no pelvis joint and COCO no neck, and the mid-hips stand in for the pelvis (the origin below).

A topology is mapped through the joint kinds and sides that formats.body_parts reads from its joint names, never
through per-format index tables. A topology lacking one of the joints raises MissingJointsError naming them.

`to_shared` brings a clip of any format into one frame: 2D formats (image coordinates, y down) are turned by 180
degrees in the image plane, so that +y is up and a body facing the camera has its left-to-right direction along
+x as in the canonical frame of 3D formats (data/canonical.py), and get a zero depth channel; every clip is then
centred on the mid-hips and scaled to a unit torso.
"""

from __future__ import annotations

import numpy as np

from skeletonllm.errors import CommandError
from skeletonllm.formats.body_parts import named_kinds
from skeletonllm.formats.topology import Topology

# (name, kind, side): side None for a joint on the body's midline
SHARED_JOINTS: tuple[tuple[str, str, str | None], ...] = (
    ("head", "head", None),
    ("left shoulder", "shoulder", "left"), ("right shoulder", "shoulder", "right"),
    ("left elbow", "elbow", "left"), ("right elbow", "elbow", "right"),
    ("left wrist", "wrist", "left"), ("right wrist", "wrist", "right"),
    ("left hip", "hip", "left"), ("right hip", "hip", "right"),
    ("left knee", "knee", "left"), ("right knee", "knee", "right"),
    ("left ankle", "ankle", "left"), ("right ankle", "ankle", "right"),
)
SHARED_NAMES: tuple[str, ...] = tuple(name for name, _, _ in SHARED_JOINTS)
SHARED_BONES: tuple[tuple[str, str], ...] = (  # the shared skeleton's edges (a graph, COCO-like), by joint name
    ("head", "left shoulder"), ("head", "right shoulder"), ("left shoulder", "right shoulder"),
    ("left shoulder", "left elbow"), ("left elbow", "left wrist"),
    ("right shoulder", "right elbow"), ("right elbow", "right wrist"),
    ("left shoulder", "left hip"), ("right shoulder", "right hip"), ("left hip", "right hip"),
    ("left hip", "left knee"), ("left knee", "left ankle"),
    ("right hip", "right knee"), ("right knee", "right ankle"),
)
# A rig that names no wrist or ankle (CMU BVH: "LeftHand", "LeftFoot") has its hand or foot joint nearest the root
# stand in for it.
FALLBACK_KINDS = {"wrist": "hand", "ankle": "foot"}
LEFT_HIP, RIGHT_HIP = SHARED_NAMES.index("left hip"), SHARED_NAMES.index("right hip")
LEFT_SHOULDER, RIGHT_SHOULDER = SHARED_NAMES.index("left shoulder"), SHARED_NAMES.index("right shoulder")


class MissingJointsError(CommandError, ValueError):
    """A topology lacks joints of the shared set (its names tell no joint of that kind and side)."""


def _depths(topology: Topology) -> list[int]:
    """Tree depth of each joint (the root: 0)."""
    depths = []
    for joint in range(topology.num_joints):
        depth, parent = 0, topology.parents[joint]
        while parent >= 0:
            depth, parent = depth + 1, topology.parents[parent]
        depths.append(depth)
    return depths


def shared_joint_map(topology: Topology) -> tuple[int, ...]:
    """The topology's joint index of each shared joint (SHARED_NAMES order).

    Candidates are the joints whose name reads as the shared joint's kind and side (body_parts.named_kinds). Of
    several, a limb joint takes the one farthest from the root (CMU's "LeftShoulder" clavicle and "LeftArm" are
    both shoulders; the arm starts at the second), the head and a fallback kind (FALLBACK_KINDS) the one nearest
    it (Kinect's "head", OpenPose's "nose", a BVH "Head" before its end site). Raises MissingJointsError naming
    every shared joint the topology lacks."""
    kinds, sides = named_kinds(topology)
    depths = _depths(topology)
    indices, missing = [], []
    for name, kind, side in SHARED_JOINTS:
        found = None
        for wanted, nearest in ((kind, kind == "head"), (FALLBACK_KINDS.get(kind), True)):
            candidates = [j for j in range(topology.num_joints) if kinds[j] == wanted and sides[j] == side]
            if candidates:
                found = (min if nearest else max)(candidates, key=lambda j: (depths[j], j if nearest else -j))
                break
        if found is None:
            missing.append(name)
        else:
            indices.append(found)
    if missing:
        raise MissingJointsError(
            f"topology {topology.name!r} has no joint for the shared body joints {', '.join(missing)} (its joint "
            f"names: {', '.join(topology.joint_names)}); the feature baseline needs all of {', '.join(SHARED_NAMES)}")
    return tuple(indices)


def shared_adjacency() -> np.ndarray:
    """float32 [S, S]: the shared skeleton's adjacency with self-loops, symmetrically normalized
    (D^-1/2 (A + I) D^-1/2), as ST-GCN's spatial graph."""
    size = len(SHARED_NAMES)
    adjacency = np.eye(size, dtype=np.float64)  # [S, S]
    for a, b in SHARED_BONES:
        i, j = SHARED_NAMES.index(a), SHARED_NAMES.index(b)
        adjacency[i, j] = adjacency[j, i] = 1.0
    scale = 1.0 / np.sqrt(adjacency.sum(axis=1))  # [S]
    return (adjacency * scale[:, None] * scale[None, :]).astype(np.float32)


def _torso_length(points: np.ndarray, present: np.ndarray) -> float:
    """Median mid-shoulders to mid-hips distance over (frame, body) pairs showing all four joints; 1 without any."""
    landmarks = [LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP]
    complete = present[:, :, landmarks].all(axis=-1)  # [T, M]
    if not complete.any():
        return 1.0
    shoulders = points[:, :, [LEFT_SHOULDER, RIGHT_SHOULDER]].mean(axis=2)  # [T, M, 3]
    hips = points[:, :, [LEFT_HIP, RIGHT_HIP]].mean(axis=2)  # [T, M, 3]
    length = float(np.median(np.linalg.norm(shoulders - hips, axis=-1)[complete]))
    return length if length > 1e-6 else 1.0


def _origin(points: np.ndarray, present: np.ndarray) -> np.ndarray:
    """float [3]: the mean mid-hips of the bodies showing both hips in the first frame where any does; else the
    mean of the present joints of the first frame with any (zeros for an empty clip)."""
    hips = present[:, :, [LEFT_HIP, RIGHT_HIP]].all(axis=-1)  # [T, M]
    if hips.any():
        frame = int(np.argmax(hips.any(axis=1)))
        return points[frame, hips[frame]][:, [LEFT_HIP, RIGHT_HIP]].mean(axis=(0, 1))
    if present.any():
        frame = int(np.argmax(present.any(axis=(1, 2))))
        return points[frame][present[frame]].mean(axis=0)
    return np.zeros(3)


def to_shared(joints: np.ndarray, topology: Topology) -> np.ndarray:
    """float32 [T, M, S, 3]: a clip joints [T, M, J, C] of the topology on the shared joints, in one frame for all
    formats (see the module docstring): a 2D clip (C = 2) is turned by 180 degrees in the image plane and gets a
    zero depth channel; then centred on the mid-hips (_origin) and divided by the median torso length. Absent
    joints and bodies (all-zero in prepared data) stay all-zero."""
    if joints.ndim != 4 or joints.shape[2] != topology.num_joints or joints.shape[3] != topology.dims:
        raise ValueError(f"expected joints [T, M, {topology.num_joints}, {topology.dims}] of {topology.name}, "
                         f"got {list(joints.shape)}")
    picked = np.asarray(joints, dtype=np.float64)[:, :, list(shared_joint_map(topology))]  # [T, M, S, C]
    present = np.any(picked != 0, axis=-1)  # [T, M, S]
    if topology.dims == 2:
        picked = np.concatenate([-picked, np.zeros_like(picked[..., :1])], axis=-1)  # [T, M, S, 3], depth 0
    points = picked - _origin(picked, present)  # [T, M, S, 3]
    points /= _torso_length(points, present)
    points[~present] = 0.0
    return points.astype(np.float32)
