"""BVH motion capture: parse HIERARCHY and MOTION, joint world positions by forward kinematics.

Any channel order and any rotation order (e.g. ``Zrotation Xrotation Yrotation``) is honoured: a joint's
local rotation is the product of its rotation channels in the order listed (intrinsic), angles in degrees,
and its local translation is OFFSET plus its position channels (if any). ``End Site`` entries carry no
channels and are not joints: they are always left out. The topology comes from the hierarchy
(``topology.from_hierarchy``) under a stable name, ``bvh_`` + a hash of the joint names and parents.

CMU-style files start with a rest T-pose frame (every rotation channel zero) before the motion: when frame 1 is
such a pose and frame 2 is not, it is dropped, with a warning and ``meta["dropped_rest_frame"]``. fps is
1 / Frame Time, rounded to an integer when within 0.05% of one (``round_fps``: 0.0083333 s is 120 fps).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skeletonllm.formats import float_rows, round_fps
from skeletonllm.formats.sequence import SkeletonFormatError, SkeletonSequence
from skeletonllm.formats.topology import from_hierarchy

_AXES = {"x": 0, "y": 1, "z": 2}
_REST_TOLERANCE = 1e-4  # degrees: a rotation channel this close to zero counts as zero in a rest pose


@dataclass
class _Joint:
    name: str
    parent: int
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    channels: list[str] = field(default_factory=list)  # lower-case, e.g. "xposition", "zrotation"


class _Tokens:
    """Whitespace tokens of the HIERARCHY section with their 1-based line numbers."""

    def __init__(self, path: Path, lines: list[str]):
        self.path = path
        self.items = [(token, number) for number, line in enumerate(lines, start=1) for token in line.split()]
        self.position = 0

    def line(self) -> int | None:
        """The line of the next token (of the last one at the end)."""
        return self.items[min(self.position, len(self.items) - 1)][1] if self.items else None

    def last_line(self) -> int:
        """The line of the token just read."""
        return self.items[self.position - 1][1]

    def next(self, what: str) -> str:
        if self.position >= len(self.items):
            raise SkeletonFormatError(self.path, self.line(), f"truncated: file ends where {what} was expected")
        token = self.items[self.position][0]
        self.position += 1
        return token

    def expect(self, word: str) -> None:
        token = self.next(repr(word))
        if token.upper() != word.upper():
            raise SkeletonFormatError(self.path, self.last_line(), f"expected {word!r}, got {token!r}")

    def number(self, what: str) -> float:
        token = self.next(what)
        try:
            value = float(token)
        except ValueError:
            raise SkeletonFormatError(self.path, self.last_line(), f"unparsable {what} {token!r}") from None
        if not math.isfinite(value):
            raise SkeletonFormatError(self.path, self.last_line(), f"non-finite {what} {token!r}")
        return value


def read_bvh(path: str | Path) -> SkeletonSequence:
    """Read a BVH file into joint world positions [T, 1, J, 3] (file units), less a leading rest T-pose frame."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise SkeletonFormatError(path, None, f"not UTF-8 text: {error.reason}") from None
    motion_at = next((i for i, line in enumerate(lines) if line.strip().upper() == "MOTION"), None)
    if motion_at is None:
        raise SkeletonFormatError(path, len(lines) or None, "truncated: no MOTION section")
    joints = _parse_hierarchy(_Tokens(path, lines[:motion_at]))
    frame_time, motion = _parse_motion(path, lines, motion_at, sum(len(j.channels) for j in joints))
    rest = _starts_with_rest_pose(joints, motion)
    if rest:
        motion = motion[1:]
    names = [joint.name for joint in joints]
    parents = [joint.parent for joint in joints]
    digest = hashlib.sha1("\n".join(f"{n}:{p}" for n, p in zip(names, parents)).encode()).hexdigest()[:10]
    topology = from_hierarchy(f"bvh_{digest}", names, parents)
    positions = _forward_kinematics(joints, motion)  # [T, J, 3]
    warnings = [] if len(motion) else ["the file has no frames"]
    if rest:
        warnings.append("frame 1 is a rest T-pose (all rotations zero); dropped")
    meta = {"format": "bvh", "source": str(path), "warnings": warnings, "frame_time": frame_time,
            "dropped_rest_frame": rest}
    return SkeletonSequence(positions.astype(np.float32)[:, None], None, topology, round_fps(1.0 / frame_time), meta)


def _starts_with_rest_pose(joints: list[_Joint], motion: np.ndarray) -> bool:
    """Whether motion [T, channels] opens with a rest T-pose: every rotation channel of frame 1 zero (within
    _REST_TOLERANCE), and not those of frame 2 (a file that never rotates keeps all its frames)."""
    rotation = np.array([channel.endswith("rotation") for joint in joints for channel in joint.channels], dtype=bool)
    if len(motion) < 2 or not rotation.any():
        return False
    zero = np.all(np.abs(motion[:2, rotation]) <= _REST_TOLERANCE, axis=1)  # [2] frames 1 and 2
    return bool(zero[0] and not zero[1])


def _parse_hierarchy(tokens: _Tokens) -> list[_Joint]:
    """HIERARCHY ROOT ... as a list of joints in file order (parents before children), End Sites left out."""
    tokens.expect("HIERARCHY")
    tokens.expect("ROOT")
    joints: list[_Joint] = []
    _parse_joint(tokens, joints, parent=-1)
    if tokens.position != len(tokens.items):
        extra = tokens.next("MOTION")
        raise SkeletonFormatError(tokens.path, tokens.last_line(), f"unexpected {extra!r} after the hierarchy")
    names = [joint.name for joint in joints]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SkeletonFormatError(tokens.path, None, f"joint names repeat in the hierarchy: {repeated}")
    return joints


def _parse_joint(tokens: _Tokens, joints: list[_Joint], parent: int) -> None:
    """One ROOT/JOINT block: name { OFFSET x y z  CHANNELS n ...  (JOINT ... | End Site {...})* }."""
    joint = _Joint(tokens.next("a joint name"), parent)
    index = len(joints)
    joints.append(joint)
    tokens.expect("{")
    while True:
        keyword = tokens.next("'}'")
        upper = keyword.upper()
        if upper == "OFFSET":
            joint.offset = tuple(tokens.number("OFFSET value") for _ in range(3))
        elif upper == "CHANNELS":
            joint.channels = _parse_channels(tokens)
        elif upper == "JOINT":
            _parse_joint(tokens, joints, parent=index)
        elif upper == "END":
            tokens.expect("Site")
            tokens.expect("{")
            tokens.expect("OFFSET")
            for _ in range(3):
                tokens.number("End Site OFFSET value")
            tokens.expect("}")
        elif keyword == "}":
            return
        else:
            raise SkeletonFormatError(
                tokens.path, tokens.last_line(), f"unexpected {keyword!r} in joint {joint.name!r}"
            )


def _parse_channels(tokens: _Tokens) -> list[str]:
    """CHANNELS n name...: each name one of [XYZ]position / [XYZ]rotation (any case, any order)."""
    count_token = tokens.next("the channel count")
    line = tokens.last_line()
    if not count_token.isdigit():
        raise SkeletonFormatError(tokens.path, line, f"channel count is not an integer: {count_token!r}")
    channels = [tokens.next("a channel name").lower() for _ in range(int(count_token))]
    for channel in channels:
        if len(channel) < 2 or channel[0] not in _AXES or channel[1:] not in ("position", "rotation"):
            raise SkeletonFormatError(tokens.path, line, f"unknown channel {channel!r}")
    return channels


def _parse_motion(path: Path, lines: list[str], motion_at: int, channels: int) -> tuple[float, np.ndarray]:
    """MOTION / Frames: n / Frame Time: dt / n lines of ``channels`` values -> (dt, float64 [n, channels])."""

    def header(offset: int, label: str) -> str:
        number = motion_at + offset
        if number >= len(lines):
            raise SkeletonFormatError(path, number + 1, f"truncated: file ends where {label!r} was expected")
        text = lines[number].strip()
        if not text.lower().startswith(label.lower()):
            raise SkeletonFormatError(path, number + 1, f"expected {label!r}, got {text[:40]!r}")
        return text[len(label):].strip()

    frames_text, time_text = header(1, "Frames:"), header(2, "Frame Time:")
    if not frames_text.isdigit():
        raise SkeletonFormatError(path, motion_at + 2, f"frame count is not an integer: {frames_text!r}")
    try:
        frame_time = float(time_text)
    except ValueError:
        frame_time = math.nan
    if not frame_time > 0 or not math.isfinite(frame_time):
        raise SkeletonFormatError(path, motion_at + 3, f"Frame Time must be a positive number, got {time_text!r}")
    first = motion_at + 3
    rows = [line.split() for line in lines[first:]]
    while rows and not rows[-1]:
        rows.pop()  # trailing blank lines
    frames = int(frames_text)
    if len(rows) < frames:
        raise SkeletonFormatError(path, first + len(rows) + 1, f"truncated: {len(rows)} of {frames} frames")
    if len(rows) > frames:
        raise SkeletonFormatError(path, first + frames + 1, f"more motion lines than Frames: {frames}")
    for number, row in enumerate(rows, start=first + 1):
        if len(row) != channels:
            raise SkeletonFormatError(path, number, f"motion line has {len(row)} values, expected {channels} channels")
    return frame_time, float_rows(path, rows, first + 1).reshape(frames, channels)


def _axis_rotation(axis: int, degrees: np.ndarray) -> np.ndarray:
    """float64 [T, 3, 3]: rotation by ``degrees`` [T] about the x, y or z axis (column vectors)."""
    radians = np.radians(degrees)
    c, s = np.cos(radians), np.sin(radians)
    matrix = np.zeros((len(degrees), 3, 3))
    i, j = (axis + 1) % 3, (axis + 2) % 3  # the rotated plane: y->z about x, z->x about y, x->y about z
    matrix[:, axis, axis] = 1.0
    matrix[:, i, i], matrix[:, i, j], matrix[:, j, i], matrix[:, j, j] = c, -s, s, c
    return matrix


def _forward_kinematics(joints: list[_Joint], motion: np.ndarray) -> np.ndarray:
    """float64 [T, J, 3] world positions.

    world_R[j] = world_R[parent] @ R_j and p[j] = p[parent] + world_R[parent] @ t_j, with R_j, t_j the local
    rotation and translation of joint j.
    """
    frames = len(motion)
    rotations = np.empty((len(joints), frames, 3, 3))  # world rotations
    positions = np.empty((frames, len(joints), 3))
    column = 0
    for index, joint in enumerate(joints):
        local_rotation = np.broadcast_to(np.eye(3), (frames, 3, 3))
        translation = np.tile(np.asarray(joint.offset, dtype=np.float64), (frames, 1))  # [T, 3]
        for channel in joint.channels:
            values = motion[:, column]  # [T]
            column += 1
            axis = _AXES[channel[0]]
            if channel.endswith("position"):
                translation[:, axis] += values
            else:
                local_rotation = local_rotation @ _axis_rotation(axis, values)
        if joint.parent < 0:
            rotations[index] = local_rotation
            positions[:, index] = translation
        else:
            parent_rotation = rotations[joint.parent]
            rotations[index] = parent_rotation @ local_rotation
            positions[:, index] = positions[:, joint.parent] + np.einsum("tij,tj->ti", parent_rotation, translation)
    return positions
