"""NW-UCLA json (Kinect v1, 20 joints): ``{"file_name": str, "label": int, "skeletons": [T][20][3]}``.

One body per file. ``label`` is kept as written (1-based in the real data, and not the action number in the
file name). Some real files have a single frame, and some frames hold joints at exactly (0, 0, 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from skeletonllm.formats import count_warning, empty_frame_warnings, float32_list, load_json, numeric_array
from skeletonllm.formats.sequence import SkeletonFormatError, SkeletonSequence, body_presence
from skeletonllm.formats.topology import get_topology

TOPOLOGY = get_topology("ucla20")
FPS = 30.0


def read_ucla(path: str | Path) -> SkeletonSequence:
    """Read an NW-UCLA json file; raises SkeletonFormatError on a missing key or a malformed skeleton array."""
    path = Path(path)
    document = load_json(path)
    if not isinstance(document, dict) or "skeletons" not in document:
        raise SkeletonFormatError(path, None, 'no "skeletons" key (NW-UCLA json holds file_name, label, skeletons)')
    if not isinstance(document["skeletons"], list):
        raise SkeletonFormatError(path, None, '"skeletons" must be a list of frames')
    shape = (TOPOLOGY.num_joints, TOPOLOGY.dims)
    skeletons = numeric_array(path, document["skeletons"], shape, "frame {index}")  # [T, 20, 3]
    joints = skeletons.astype(np.float32)[:, None]  # [T, 1, 20, 3]
    at_origin = np.all(joints[:, 0] == 0, axis=-1)  # [T, 20]
    warnings = [
        *count_warning(int(at_origin.sum()), at_origin.size, "joints are exactly (0, 0, 0)"),
        *empty_frame_warnings(body_presence(joints).sum(axis=1)),
    ]
    if not len(joints):
        warnings.append("the file has no frames")
    meta = {
        "format": "ucla", "source": str(path), "warnings": warnings,
        "file_name": document.get("file_name", path.stem), "label": document.get("label"),
    }
    return SkeletonSequence(joints, None, TOPOLOGY, FPS, meta)


def write_ucla(path: str | Path, seq: SkeletonSequence) -> None:
    """Write a one-body ucla20 sequence as NW-UCLA json (meta "label" and "file_name" are kept)."""
    if seq.topology.name != TOPOLOGY.name:
        raise ValueError(f"NW-UCLA files hold topology {TOPOLOGY.name}, not {seq.topology.name}")
    if seq.num_bodies != 1:
        raise ValueError(f"NW-UCLA files hold one body, the sequence has {seq.num_bodies}")
    if not np.isfinite(seq.joints).all():
        raise ValueError("cannot write non-finite joint coordinates")
    path = Path(path)
    document = {
        "file_name": seq.meta.get("file_name", path.stem),
        "label": seq.meta.get("label"),
        "skeletons": float32_list(seq.joints[:, 0]),
    }
    path.write_text(json.dumps(document, separators=(",", ":")))
