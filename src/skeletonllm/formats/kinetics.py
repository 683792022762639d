"""Kinetics-skeleton json (OpenPose, 18 joints, 2D in [0, 1]), as released with ST-GCN.

``{"data": [{"frame_index": 1, "skeleton": [{"pose": [x0, y0, x1, y1, ...], "score": [s0, s1, ...]}, ...]}, ...],
"label": str, "label_index": int}``. Frames are placed by ``frame_index`` (1-based); frames absent from the list
and frames with an empty ``skeleton`` list are empty. A frame may hold 0 to 3+ bodies; missing keypoints are
(0, 0) with score 0.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from skeletonllm.formats import count_warning, empty_frame_warnings, float32_list, load_json, numeric_array
from skeletonllm.formats.sequence import SkeletonFormatError, SkeletonSequence, body_presence
from skeletonllm.formats.topology import get_topology

TOPOLOGY = get_topology("openpose18")
FPS = 30.0


def read_kinetics(path: str | Path) -> SkeletonSequence:
    """Read a Kinetics-skeleton json file; raises SkeletonFormatError on malformed frames or bodies."""
    path = Path(path)
    document = load_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise SkeletonFormatError(path, None, 'missing list "data" (Kinetics-skeleton json)')
    frames = document["data"]
    index = [_frame_index(path, position, frame) for position, frame in enumerate(frames)]
    if len(set(index)) != len(index):
        repeated = next(value for value, times in Counter(index).items() if times > 1)
        raise SkeletonFormatError(path, None, f"frame_index {repeated} appears twice")
    num_frames = max(index, default=0)
    num_bodies = max((len(frame["skeleton"]) for frame in frames), default=0)
    joint_count, dims = TOPOLOGY.num_joints, TOPOLOGY.dims
    joints = np.zeros((num_frames, num_bodies, joint_count, dims), dtype=np.float32)
    scores = np.zeros((num_frames, num_bodies, joint_count), dtype=np.float32)
    for frame_index, frame in zip(index, frames):
        bodies = frame["skeleton"]
        for m, body in enumerate(bodies):
            if not isinstance(body, dict) or "pose" not in body or "score" not in body:
                raise SkeletonFormatError(path, None, f'frame_index {frame_index}: body {m} lacks "pose" or "score"')
        where = f"frame_index {frame_index}, body {{index}}"
        pose = numeric_array(path, [body["pose"] for body in bodies], (joint_count * dims,), where + " pose")
        score = numeric_array(path, [body["score"] for body in bodies], (joint_count,), where + " score")
        joints[frame_index - 1, : len(bodies)] = pose.reshape(len(bodies), joint_count, dims)
        scores[frame_index - 1, : len(bodies)] = score
    present = body_presence(joints) | np.any(scores != 0, axis=2)  # [T, M]
    body_joints = np.broadcast_to(present[..., None], scores.shape)
    missing = body_joints & (scores == 0) & np.all(joints == 0, axis=-1)
    outside = body_joints[..., None] & ((joints < 0) | (joints > 1))
    warnings = [
        *count_warning(int(missing.sum()), int(body_joints.sum()), "keypoints are missing ((0, 0) with score 0)"),
        *count_warning(int(outside.any(axis=-1).sum()), int(body_joints.sum()), "keypoints lie outside [0, 1]"),
        *empty_frame_warnings(present.sum(axis=1)),
    ]
    meta = {"format": "kinetics", "source": str(path), "warnings": warnings}
    for key in ("label", "label_index"):
        if key in document:
            meta[key] = document[key]
    return SkeletonSequence(joints, scores, TOPOLOGY, FPS, meta)


def _frame_index(path: Path, position: int, frame: object) -> int:
    """The 1-based frame_index of one data entry, checked."""
    if not isinstance(frame, dict) or not isinstance(frame.get("skeleton"), list):
        raise SkeletonFormatError(path, None, f'data[{position}] has no "skeleton" list')
    value = frame.get("frame_index")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SkeletonFormatError(path, None, f"data[{position}] has frame_index {value!r}; expected an integer >= 1")
    return value


def write_kinetics(path: str | Path, seq: SkeletonSequence) -> None:
    """Write an openpose18 2D sequence as Kinetics-skeleton json (frame_index 1-based; meta label kept)."""
    if seq.topology.name != TOPOLOGY.name:
        raise ValueError(f"Kinetics-skeleton files hold topology {TOPOLOGY.name}, not {seq.topology.name}")
    if not np.isfinite(seq.joints).all():
        raise ValueError("cannot write non-finite joint coordinates")
    frames, bodies, joint_count, _ = seq.joints.shape
    scores = seq.scores if seq.scores is not None else np.ones((frames, bodies, joint_count), dtype=np.float32)
    present = body_presence(seq.joints) | np.any(scores != 0, axis=2)  # [T, M]
    # bodies up to the last present slot; an absent slot before it is written as zeros to keep slot positions
    last = np.argmax(present[:, ::-1], axis=1) if bodies else np.zeros(frames, dtype=np.int64)
    written = np.where(present.any(axis=1), bodies - last, 0)  # [T]
    poses = float32_list(seq.joints.reshape(frames, bodies, joint_count * TOPOLOGY.dims))  # [T][M][J * 2]
    confidences = float32_list(scores)  # [T][M][J]
    data = [
        {
            "frame_index": t + 1,
            "skeleton": [{"pose": poses[t][m], "score": confidences[t][m]} for m in range(int(written[t]))],
        }
        for t in range(frames)
    ]
    document = {"data": data}
    for key in ("label", "label_index"):
        if key in seq.meta:
            document[key] = seq.meta[key]
    Path(path).write_text(json.dumps(document, separators=(",", ":")))
