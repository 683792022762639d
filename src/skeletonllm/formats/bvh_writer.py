"""Write one body of a 3D skeleton sequence as a BVH file that `read_bvh` reads back to the same joint positions.

The hierarchy is the topology's tree in depth-first order (joint names with spaces joined by "_"), leaves end in an
End Site. OFFSETs describe a T-pose with the bone lengths of the first frame: spine, neck and head up, hips and arms
out to their side, legs down, feet forward (the front is -z, the body's right +x, y up). Every joint has the
channels ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``: the rotations turn the T-pose's bones
onto the frame's (shortest arc for one child, the best fit of all children otherwise) and the positions carry
what rotation cannot (bone stretch), so the round trip is exact. ``rest_frame=True`` writes the T-pose itself
(all channels zero) as a first frame, as CMU-style files do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skeletonllm.formats.body_parts import joint_labels
from skeletonllm.formats.sequence import SkeletonSequence, body_presence
from skeletonllm.formats.topology import Topology

CHANNELS = "Xposition Yposition Zposition Zrotation Xrotation Yrotation"
_UP, _DOWN, _FRONT = np.array([0.0, 1.0, 0.0]), np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, -1.0])
_OUTWARD = ("upper arm", "forearm", "hand")


def t_pose_offsets(seq: SkeletonSequence) -> np.ndarray:
    """float64 [J, 3]: each joint's offset from its parent in a T-pose with the first frame's bone lengths."""
    topology, first = seq.topology, seq.joints[0, 0].astype(np.float64)  # [J, 3]
    parts, sides = joint_labels(topology, first)
    offsets = np.zeros((topology.num_joints, 3))
    for joint, parent in enumerate(topology.parents):
        if parent < 0:
            continue
        side = {"right": 1.0, "left": -1.0}.get(sides[joint], 0.0)
        if parts[joint] in ("thigh", "shin"):
            direction = _DOWN
        elif parts[joint] == "foot":
            direction = _FRONT
        elif side and (parts[joint] in _OUTWARD or parts[joint] in ("torso", "pelvis")):
            direction = np.array([side, 0.0, 0.0])
        else:
            direction = _UP
        offsets[joint] = direction * max(float(np.linalg.norm(first[joint] - first[parent])), 1e-3)
    return offsets


def _shortest_arc(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """float64 [T, 3, 3]: rotations taking unit vector source [3] onto unit vectors target [T, 3]."""
    cross = np.cross(source, target)  # [T, 3]
    cos = target @ source  # [T]
    skew = np.zeros((len(target), 3, 3))
    skew[:, 0, 1], skew[:, 0, 2], skew[:, 1, 2] = -cross[:, 2], cross[:, 1], -cross[:, 0]
    skew -= skew.transpose(0, 2, 1)
    rotation = np.eye(3) + skew + skew @ skew / np.maximum(1.0 + cos, 1e-9)[:, None, None]
    axis = np.cross(source, [1.0, 0.0, 0.0] if abs(source[0]) < 0.9 else [0.0, 1.0, 0.0])
    axis /= np.linalg.norm(axis)
    rotation[cos < -1.0 + 1e-9] = 2.0 * np.outer(axis, axis) - np.eye(3)  # opposite: a half turn
    return rotation


def _best_fit(sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """float64 [T, 3, 3]: the rotations that best turn vectors sources [K, 3] onto targets [T, K, 3] (Kabsch)."""
    u, _, vt = np.linalg.svd(np.einsum("ki,tkj->tij", sources, targets))  # of H = sum_k s_k t_k^T
    d = np.sign(np.linalg.det(vt.transpose(0, 2, 1) @ u.transpose(0, 2, 1)))  # [T]
    fix = np.broadcast_to(np.eye(3), (len(d), 3, 3)).copy()
    fix[:, 2, 2] = d
    return vt.transpose(0, 2, 1) @ fix @ u.transpose(0, 2, 1)


def _euler_zxy(rotation: np.ndarray) -> np.ndarray:
    """float64 [T, 3] degrees (z, x, y) with rotation [T, 3, 3] = Rz(z) @ Rx(x) @ Ry(y)."""
    x = np.arcsin(np.clip(rotation[:, 2, 1], -1.0, 1.0))
    z = np.arctan2(-rotation[:, 0, 1], rotation[:, 1, 1])
    y = np.arctan2(-rotation[:, 2, 0], rotation[:, 2, 2])
    return np.degrees(np.stack([z, x, y], axis=-1))


def _depth_first(topology: Topology) -> list[int]:
    """The joints in depth-first order from the root (parents before children), as a BVH hierarchy lists them."""
    order, stack = [], [topology.root]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(topology.children[joint]))
    return order


def motion_channels(seq: SkeletonSequence, offsets: np.ndarray) -> np.ndarray:
    """float64 [T, J, 6]: per joint (topology order) the position (x, y, z) and rotation (z, x, y) channels."""
    topology, points = seq.topology, seq.joints[:, 0].astype(np.float64)  # [T, J, 3]
    frames = len(points)
    world = np.empty((topology.num_joints, frames, 3, 3))  # each joint's world rotation
    channels = np.zeros((frames, topology.num_joints, 6))
    for joint in _depth_first(topology):
        parent = topology.parents[joint]
        parent_world = np.broadcast_to(np.eye(3), (frames, 3, 3)) if parent < 0 else world[parent]  # [T, 3, 3]
        children = list(topology.children[joint])
        vectors = points[:, children] - points[:, joint, None]  # [T, K, 3]
        if len(children) == 1:
            direction = vectors[:, 0] / np.maximum(np.linalg.norm(vectors[:, 0], axis=-1, keepdims=True), 1e-12)
            world[joint] = _shortest_arc(offsets[children[0]] / np.linalg.norm(offsets[children[0]]), direction)
        elif children:
            world[joint] = _best_fit(offsets[children], vectors)
        else:
            world[joint] = parent_world
        local = parent_world.transpose(0, 2, 1) @ world[joint]  # [T, 3, 3]
        base = np.zeros((frames, 3)) if parent < 0 else points[:, parent]
        translation = np.einsum("tji,tj->ti", parent_world, points[:, joint] - base)  # parent frame
        channels[:, joint, :3] = translation - offsets[joint]
        channels[:, joint, 3:] = _euler_zxy(local)
    return channels


def write_bvh(path: str | Path, seq: SkeletonSequence, rest_frame: bool = False) -> None:
    """Write body 0 of a 3D sequence (the other slots must be empty, body 0 present in every frame) as BVH."""
    topology = seq.topology
    if topology.dims != 3:
        raise ValueError(f"BVH holds 3D skeletons; topology {topology.name} is 2D")
    if seq.num_bodies > 1 and body_presence(seq.joints)[:, 1:].any():
        raise ValueError("BVH holds one body; this sequence has more than one")
    if not np.isfinite(seq.joints).all() or not body_presence(seq.joints)[:, 0].all():
        raise ValueError("cannot write BVH: body 0 must be present with finite joints in every frame")
    offsets = t_pose_offsets(seq)  # [J, 3]
    channels = motion_channels(seq, offsets)  # [T, J, 6]
    order = _depth_first(topology)
    names = [name.replace(" ", "_") for name in topology.joint_names]
    lines = ["HIERARCHY"]

    def block(joint: int, depth: int) -> None:
        pad = "  " * depth
        keyword = "ROOT" if topology.parents[joint] < 0 else "JOINT"
        lines.extend([f"{pad}{keyword} {names[joint]}", f"{pad}{{",
                      f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in offsets[joint])}",
                      f"{pad}  CHANNELS 6 {CHANNELS}"])
        for child in topology.children[joint]:
            block(child, depth + 1)
        if not topology.children[joint]:
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0.000000 0.000000 0.000000",
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    block(topology.root, 0)
    rows = channels[:, order].reshape(len(channels), -1)  # [T, J*6] in file order
    if rest_frame:
        rows = np.concatenate([np.zeros((1, rows.shape[1])), rows])
    frame_time = 1.0 / seq.fps
    lines += ["MOTION", f"Frames: {len(rows)}", f"Frame Time: {frame_time:.7f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in rows]
    Path(path).write_text("\n".join(lines) + "\n")
