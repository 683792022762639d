"""The in-memory skeleton sequence every reader returns, and the error every reader raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skeletonllm.errors import CommandError
from skeletonllm.formats.topology import Topology


class SkeletonFormatError(CommandError, ValueError):
    """A skeleton file is malformed. Carries the file, the 1-based line (or None) and the reason; a command that meets
    it reports that one line (errors.CommandError)."""

    def __init__(self, path: str | Path, line: int | None, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


@dataclass
class SkeletonSequence:
    """A skeleton clip in any format.

    joints: float32 [T, M, J, C] (frames, bodies, joints, 2 or 3 coordinates); an absent body is all zeros.
    scores: float32 [T, M, J] per-joint confidence (tracking state, detector score) or None.
    meta: format-specific facts; every reader sets ``format``, ``source`` and ``warnings`` (list of str).
    """

    joints: np.ndarray
    scores: np.ndarray | None
    topology: Topology
    fps: float
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.joints.ndim != 4:
            raise ValueError(f"joints must be [T, M, J, C], got shape {self.joints.shape}")
        _, _, num_joints, dims = self.joints.shape
        if num_joints != self.topology.num_joints or dims != self.topology.dims:
            raise ValueError(
                f"joints {self.joints.shape} do not match topology {self.topology.name} "
                f"({self.topology.num_joints} joints, {self.topology.dims}D)"
            )
        if self.scores is not None and self.scores.shape != self.joints.shape[:3]:
            raise ValueError(f"scores {self.scores.shape} must be {self.joints.shape[:3]}")
        self.meta.setdefault("warnings", [])

    @property
    def num_frames(self) -> int:
        return self.joints.shape[0]

    @property
    def num_bodies(self) -> int:
        return self.joints.shape[1]

    def bodies_per_frame(self) -> np.ndarray:
        """int [T]: bodies present in each frame (body_presence)."""
        return body_presence(self.joints).sum(axis=1)


def joint_presence(joints):
    """bool [..., J] of joints [..., J, C], numpy or torch: a joint is present when any of its coordinates is
    non-zero. Absent bodies and missing joints are all-zero by the data contract: this is its one test."""
    found = joints[..., 0] != 0
    for c in range(1, joints.shape[-1]):  # an OR over the coordinates: faster than a reduction
        found = found | (joints[..., c] != 0)
    return found


def body_presence(joints):
    """bool [..., M] of joints [..., M, J, C], numpy or torch: a body is present when any of its joints is."""
    return joint_presence(joints).any(-1)
