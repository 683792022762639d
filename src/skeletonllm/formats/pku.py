"""PKU-MMD skeleton txt (Kinect v2, 25 joints): one frame per line, 150 values = 2 bodies x 25 joints x 3.

The second body is all zeros when only one person is present. 30 fps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skeletonllm.formats import empty_frame_warnings, float_rows
from skeletonllm.formats.sequence import SkeletonFormatError, SkeletonSequence, body_presence
from skeletonllm.formats.topology import get_topology

TOPOLOGY = get_topology("ntu25")
FPS = 30.0
BODIES = 2
VALUES_PER_LINE = BODIES * TOPOLOGY.num_joints * TOPOLOGY.dims


def read_pku(path: str | Path) -> SkeletonSequence:
    """Read a PKU-MMD skeleton file; raises SkeletonFormatError naming the line of a bad value or count."""
    path = Path(path)
    data = path.read_bytes()
    rows = [line.split() for line in data.split(b"\n")]
    while rows and not rows[-1]:
        rows.pop()  # trailing blank lines
    for number, row in enumerate(rows, start=1):
        if len(row) != VALUES_PER_LINE:
            cut = "truncated: " if number == len(rows) and not data.endswith(b"\n") else ""
            raise SkeletonFormatError(
                path, number, f"{cut}line has {len(row)} values, expected {VALUES_PER_LINE} "
                f"({BODIES} bodies x {TOPOLOGY.num_joints} joints x {TOPOLOGY.dims})",
            )
    values = float_rows(path, rows, first_line=1)  # [T, 150]
    joints = values.reshape(len(rows), BODIES, TOPOLOGY.num_joints, TOPOLOGY.dims).astype(np.float32)
    warnings = empty_frame_warnings(body_presence(joints).sum(axis=1))
    if not rows:
        warnings.append("the file has no frames")
    meta = {"format": "pku", "source": str(path), "warnings": warnings}
    return SkeletonSequence(joints, None, TOPOLOGY, FPS, meta)
