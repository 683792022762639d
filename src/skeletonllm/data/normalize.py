"""Normalization applied by prepare: keep the most active bodies, drop empty frames, centre, then put 3D poses into
the canonical body frame (data/canonical.py) and scale 2D poses to a unit torso.

Absent bodies and missing joints are all-zero in every reader's output; they stay exactly zero here, so
"zero means absent" still holds after normalization.
"""

from __future__ import annotations

import numpy as np

from skeletonllm.data.canonical import canonical_rotation
from skeletonllm.formats.sequence import SkeletonSequence, body_presence, joint_presence
from skeletonllm.formats.topology import Topology


class EmptySequenceError(ValueError):
    """No frame of the sequence holds a body, so there is nothing to keep."""


def describe_normalization(topology: Topology, max_bodies: int = 2, canonical: bool = True) -> dict:
    """The normalization rules as recorded in manifest.json."""
    root = topology.joint_names[topology.root]
    rules = {
        "max_bodies": max_bodies,
        "body_selection": "keep the max_bodies body slots with the highest motion energy (sum over the frames where "
        "the body is present of the squared deviation of its joints from their temporal mean), ordered by energy, "
        "highest first; fewer bodies are padded with zeros",
        "empty_frames": "frames in which no kept body is present are dropped",
        "origin": f"mean '{root}' (root joint) over the bodies present in the first kept frame; if the root is "
        "missing there, the mean of all joints present in that frame",
        "absent": "absent bodies and missing joints (all-zero) stay all-zero",
    }
    if topology.dims == 3:
        rules["scale"] = "none (metres as captured)"
        rules["canonical_frame"] = (
            "rotated about the origin into the canonical body frame: +y is the mean spine direction over the clip, "
            "and at the first frame showing both hips and shoulders the body faces the camera (its left-to-right "
            "direction is +x, its front faces -z); a proper rotation, never a mirror; per sample in index.parquet "
            "'rotation' (row-major 3x3, captured -> canonical)") if canonical else "off (poses keep the captured axes)"
    else:
        rules["scale"] = ("divide by the median torso length (distance from mid-shoulders to mid-hips over all "
                          "frames and bodies with those four joints present), so the torso has unit length")
    return rules


def motion_energy(joints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """float [M]: per body slot, the squared deviation of its joints from their mean over the frames it is present.

    joints: [T, M, J, C]; present: bool [T, M]. Absent bodies are all-zero, so plain sums over T only see the
    present frames: energy = sum x^2 - (sum x)^2 / count.
    """
    values = joints.astype(np.float64)  # [T, M, J, C]
    counts = np.maximum(present.sum(axis=0), 1)  # [M]
    totals = values.sum(axis=0)  # [M, J, C]
    squares = np.einsum("tmjc,tmjc->m", values, values)  # [M]
    return np.maximum(squares - np.einsum("mjc,mjc->m", totals, totals) / counts, 0.0)


def _origin(joints: np.ndarray, joint_present: np.ndarray, root: int) -> np.ndarray:
    """float [C]: mean root of the bodies present in frame 0 (falls back to all present joints of frame 0)."""
    first, first_present = joints[0], joint_present[0]  # [M, J, C], [M, J]
    roots = first_present[:, root]  # [M]
    if roots.any():
        return first[roots, root].mean(axis=0)
    return first[first_present].mean(axis=0)


def _torso_length(joints: np.ndarray, joint_present: np.ndarray, topology: Topology) -> float | None:
    """Median distance from mid-shoulders to mid-hips over (frame, body) pairs with all four joints present."""
    landmarks = [*topology.shoulders, *topology.hips]
    complete = joint_present[:, :, landmarks].all(axis=-1)  # [T, M]
    if not complete.any():
        return None
    shoulders = joints[:, :, list(topology.shoulders)].mean(axis=2)  # [T, M, C]
    hips = joints[:, :, list(topology.hips)].mean(axis=2)  # [T, M, C]
    lengths = np.linalg.norm(shoulders - hips, axis=-1)[complete]  # [N]
    length = float(np.median(lengths))
    return length if length > 0 else None


def _select(values: np.ndarray, frames: slice | np.ndarray, slots: list[int], max_bodies: int) -> np.ndarray:
    """values [T, M, ...] restricted to frames and body slots, zero-padded to max_bodies slots (float32)."""
    chosen = values[frames][:, slots]  # [T', len(slots), ...]
    if len(slots) == max_bodies:
        return chosen.astype(np.float32, copy=False)
    padded = np.zeros((chosen.shape[0], max_bodies, *chosen.shape[2:]), dtype=np.float32)
    padded[:, : len(slots)] = chosen
    return padded


def normalize_sequence(seq: SkeletonSequence, max_bodies: int = 2, canonical: bool = True) -> SkeletonSequence:
    """Keep <= max_bodies bodies by motion energy, drop empty frames and centre; then 3D poses are rotated into the
    canonical body frame (unless canonical is False) and 2D poses scaled to a unit torso.

    Returns a sequence with exactly max_bodies body slots (zero-padded): joints float32 [T', max_bodies, J, C].
    meta gains "normalization": kept body slots (original indices), kept frame count, origin, scale and rotation
    (row-major 3x3, captured -> canonical; the identity for 2D or with canonical off).
    Raises EmptySequenceError when no frame holds a body.
    """
    joints = seq.joints  # [T, M, J, C]
    num_frames, _, _, dims = joints.shape
    present = body_presence(joints)  # [T, M]
    energy = motion_energy(joints, present)  # [M]
    ranked = np.argsort(-energy, kind="stable")
    kept_slots = [int(m) for m in ranked if present[:, m].any()][:max_bodies]
    if not kept_slots:
        source = seq.meta.get("source", "<sequence>")
        raise EmptySequenceError(f"{source}: no body in any of its {seq.num_frames} frames")
    keep_frames = present[:, kept_slots].any(axis=1)  # [T]
    frames = slice(None) if keep_frames.all() else np.flatnonzero(keep_frames)
    kept = _select(joints, frames, kept_slots, max_bodies)  # [T', max_bodies, J, C]
    joint_present = joint_presence(kept)  # [T', max_bodies, J]

    topology = seq.topology
    origin = _origin(kept, joint_present, topology.root).astype(np.float32)  # [C]
    scale, rotation = 1.0, np.eye(3)
    warnings = list(seq.meta.get("warnings", []))
    if dims == 2:
        torso = _torso_length(kept, joint_present, topology)
        if torso is None:
            warnings.append("normalize: no frame shows both shoulders and both hips; 2D coordinates not scaled")
        else:
            scale = torso
    normalized = kept - origin  # [T', max_bodies, J, C]
    if scale != 1.0:
        normalized /= np.float32(scale)
    if dims == 3 and canonical:
        rotation = canonical_rotation(normalized, joint_present, topology)  # [3, 3]
        normalized = normalized @ rotation.T.astype(np.float32)
    normalized[~joint_present] = 0  # absent bodies and missing joints stay exactly zero
    scores = None if seq.scores is None else _select(seq.scores, frames, kept_slots, max_bodies)  # [T', max_bodies, J]
    meta = dict(seq.meta)
    meta["warnings"] = warnings
    meta["normalization"] = {
        "kept_bodies": kept_slots,
        "motion_energy": [float(energy[m]) for m in kept_slots],
        "frames_in": num_frames,
        "frames_kept": int(kept.shape[0]),
        "origin": [float(v) for v in origin],
        "scale": float(scale),
        "rotation": [float(v) for v in rotation.ravel()],
    }
    return SkeletonSequence(normalized, scores, topology, seq.fps, meta)
