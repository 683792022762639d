"""The canonical body frame: one rotation per clip puts every 3D format into the same frame.

Up is +y, taken from the spine (root to its top joint) summed over the whole clip, which removes a sensor's tilt.
At the first frame where the first body shows both hips and both shoulders, the body faces the camera (which
looks along +z): its left-to-right direction, from the hips and the shoulders, becomes +x, so the body's front
faces -z. When a second body stands apart from the first (their hips, across the up axis, more than half a torso
length apart on average over the frames that show both), the pair is seen so that neither hides the other: the
line between them becomes the x axis. Side by side (the first body's front more than 60 degrees from that line),
it points so that the first body faces the camera; otherwise (facing each other, one behind the other) the second
body is at +x, and both are seen in profile. The rotation is proper (det +1): it never mirrors, so a left joint stays on the body's left. This is the
pre-normalization of the 2s-AGCN / CTR-GCN data tools, with landmarks taken from the topology registry so that it
applies to every 3D format. 2D formats keep image up as up and are not rotated.
"""

from __future__ import annotations

import numpy as np

from skeletonllm.formats.topology import Topology

MIN_NORM = 1e-6


def _unit(vector: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > MIN_NORM else None


def spine_up(joints: np.ndarray, joint_present: np.ndarray, topology: Topology) -> np.ndarray | None:
    """float [3]: the mean direction from the spine's root to its top joint over all frames and bodies where both
    are present (mid-hips to mid-shoulders when the spine names one joint only); None when nothing tells."""
    bottom, top = topology.spine[0], topology.spine[-1]
    if bottom == top:
        bottom, top = list(topology.hips), list(topology.shoulders)
    else:
        bottom, top = [bottom], [top]
    valid = joint_present[..., bottom + top].all(axis=-1)  # [T, M]
    if not valid.any():
        return None
    vectors = joints[..., top, :].mean(axis=-2) - joints[..., bottom, :].mean(axis=-2)  # [T, M, 3]
    return _unit(vectors[valid].astype(np.float64).sum(axis=0))


def body_right(joints: np.ndarray, joint_present: np.ndarray, topology: Topology, up: np.ndarray) -> np.ndarray | None:
    """float [3]: the direction to become +x, from the first frame where the first body shows both hips and both
    shoulders: that body's left-to-right direction (right hip - left hip + right shoulder - left shoulder), or,
    when a second body stands apart there, the line between their hips (see the module docstring for its sign).
    None when no frame shows the landmarks or they coincide."""
    landmarks = [*topology.hips, *topology.shoulders]
    if len(set(landmarks)) < 4:
        return None
    complete = joint_present[:, 0, landmarks].all(axis=-1)  # [T]
    if not complete.any():
        return None
    first = int(np.argmax(complete))
    frame = joints[first].astype(np.float64)  # [M, J, 3]
    (left_hip, right_hip), (left_shoulder, right_shoulder) = topology.hips, topology.shoulders
    right = _unit(frame[0, right_hip] - frame[0, left_hip] + frame[0, right_shoulder] - frame[0, left_shoulder])
    both = joint_present[:, :2, list(topology.hips)].all(axis=(1, 2)) if joints.shape[1] > 1 else [False]  # [T]
    if right is None or not np.any(both):
        return right
    hips = joints[both][:, :2, list(topology.hips)].astype(np.float64).mean(axis=2)  # [T', 2, 3]
    apart = (hips[:, 1] - hips[:, 0]).mean(axis=0)  # from the first body to the second, over the clip
    apart -= (apart @ up) * up
    mid_shoulders, mid_hips = frame[0, list(topology.shoulders)].mean(axis=0), frame[0, list(topology.hips)].mean(axis=0)
    torso = np.linalg.norm(mid_shoulders - mid_hips)  # the first body's, at the first frame
    if np.linalg.norm(apart) <= 0.5 * torso:
        return right
    front = np.cross(up, right)  # the first body's front
    across = apart / np.linalg.norm(apart)  # from the first body to the second
    facing = front @ np.cross(across, up)  # the front's canonical z with x = across
    if abs(facing) > 0.5:  # side by side: the first body faces the camera
        return across if facing < 0 else -across
    return across


def canonical_rotation(joints: np.ndarray, joint_present: np.ndarray, topology: Topology) -> np.ndarray:
    """float64 [3, 3] R (det +1) such that R @ p puts the clip joints [T, M, J, 3] into the canonical frame.

    joint_present: bool [T, M, J]. Without a spine the up axis stays +y; without hips and shoulders the facing
    is the one closest to the captured +x.
    """
    up = spine_up(joints, joint_present, topology)
    up = np.array([0.0, 1.0, 0.0]) if up is None else up
    right = body_right(joints, joint_present, topology, up)
    candidates = [right] if right is not None else []
    candidates += [np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0])]  # fall-backs, one is never parallel to up
    for candidate in candidates:
        x = _unit(candidate - (candidate @ up) * up)
        if x is not None:
            break
    return np.stack([x, up, np.cross(x, up)])  # rows: the new x, y, z axes in captured coordinates


def summarize_rotations(rotations: list[list[float]]) -> dict:
    """What the manifest records of the samples' rotations (row-major 3x3 each, captured -> canonical): how far
    they tilted the captured up axis and turned the captured x axis about the canonical up, in degrees."""
    if not rotations:
        return {"samples": 0}
    matrices = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)  # [S, 3, 3]
    tilt = np.degrees(np.arccos(np.clip(matrices[:, 1, 1], -1.0, 1.0)))  # [S] captured y vs canonical y
    yaw = np.degrees(np.arctan2(-matrices[:, 2, 0], matrices[:, 0, 0]))  # [S] captured x about canonical y
    rotated = int((np.abs(matrices - np.eye(3)) > 1e-6).any(axis=(1, 2)).sum())
    return {"samples": len(matrices), "rotated": rotated,
            "tilt_deg": {"median": float(np.median(tilt)), "max": float(tilt.max())},
            "yaw_deg_abs": {"median": float(np.median(np.abs(yaw))), "max": float(np.abs(yaw).max())}}
