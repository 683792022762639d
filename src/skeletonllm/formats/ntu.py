"""NTU RGB+D ``.skeleton`` files (Kinect v2, 25 joints): fast reader, token-by-token baseline, writer.

Layout (Windows line ends)::

    <frame count>
    per frame:  <body count>
      per body: <body id> <9 body fields>              (10 fields; the id is a 17-digit integer)
                <joint count>                          (25)
                25 x <x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState>

Bodies go to M slots by body id, in order of first appearance; the id stays a string (it never passes
through float). ``read_ntu`` scans the bytes once with the compiled scanner of ``ntu_scan`` (exactly rounded
numbers); anything irregular sends it to ``parse_ntu_baseline``'s token-by-token parser, which names the exact
line and reason of an error. Both return identical arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skeletonllm.formats import count_warning, empty_frame_warnings
from skeletonllm.formats.sequence import SkeletonFormatError, SkeletonSequence, body_presence
from skeletonllm.formats.topology import get_topology

TOPOLOGY = get_topology("ntu25")
FPS = 30.0
BODY_FIELDS = (
    "clipped_edges", "hand_left_confidence", "hand_left_state", "hand_right_confidence",
    "hand_right_state", "is_restricted", "lean_x", "lean_y", "tracking_state",
)
JOINT_EXTRA_FIELDS = (
    "depth_x", "depth_y", "color_x", "color_y", "orientation_w", "orientation_x", "orientation_y", "orientation_z",
)
JOINT_FIELDS = 3 + len(JOINT_EXTRA_FIELDS) + 1  # x y z, extras, tracking state
DEFAULT_BODY_ID = 72057594037927936  # 2**56: Kinect v2 body ids count up from here
DEFAULT_BODY_INFO = (0, 0, 0, 0, 0, 0, 0, 0, 2)  # a tracked body with no hand or lean information


@dataclass
class _Parsed:
    """What either parser extracts; one row per body occurrence (K of them)."""

    frames: int
    occ_frame: np.ndarray  # int [K]
    occ_id: list[str]  # [K]
    body_values: np.ndarray  # float64 [K, 9]
    joint_values: np.ndarray  # float64 [K, 25, 12]


class _Irregular(Exception):
    """The fast path met something it does not handle; the baseline decides."""


def read_ntu(path: str | Path) -> SkeletonSequence:
    """Read an NTU ``.skeleton`` file (compiled scan); raises SkeletonFormatError with the line and reason."""
    path = Path(path)
    data = path.read_bytes()
    try:
        parsed = _parse_fast(data)
    except _Irregular:
        parsed = _parse_tokens(data, path)
    return _assemble(path, parsed)


def parse_ntu_baseline(path: str | Path) -> SkeletonSequence:
    """Read an NTU file token by token in plain Python: the reference result and the speed baseline."""
    path = Path(path)
    return _assemble(path, _parse_tokens(path.read_bytes(), path))


def _parse_fast(data: bytes) -> _Parsed:
    """One compiled pass over the bytes (``ntu_scan.scan_ntu``); raises _Irregular for anything but plain syntax."""
    from skeletonllm.formats.ntu_scan import scan_ntu  # numba: imported on the first read, not with the module

    capacity = len(data) // 600 + 1  # a body occurrence takes >= 622 bytes (27 lines, 25 of >= 12 tokens)
    occ_frame = np.empty(capacity, dtype=np.int64)  # [capacity]
    id_span = np.empty((capacity, 2), dtype=np.int64)  # [capacity, 2] byte start, end of each body id
    body_values = np.empty((capacity, len(BODY_FIELDS)), dtype=np.float64)  # [capacity, 9]
    joint_values = np.empty((capacity, TOPOLOGY.num_joints, JOINT_FIELDS), dtype=np.float64)  # [capacity, 25, 12]
    frames, occ = scan_ntu(data, occ_frame, id_span, body_values, joint_values)
    if frames < 0:
        raise _Irregular
    occ_id = [data[start:end].decode("ascii") for start, end in id_span[:occ].tolist()]
    return _Parsed(frames, occ_frame[:occ], occ_id, body_values[:occ], joint_values[:occ])


def _parse_tokens(data: bytes, path: Path) -> _Parsed:
    """Plain token-by-token parser with exact error lines (1-based) and reasons."""
    lines = data.split(b"\n")
    joint_count = TOPOLOGY.num_joints

    def tokens(index: int, what: str) -> list[str]:
        if index >= len(lines) or (index == len(lines) - 1 and not lines[index].strip()):
            raise SkeletonFormatError(path, index + 1, f"truncated: file ends where {what} was expected")
        try:
            return lines[index].decode("ascii").split()
        except UnicodeDecodeError:
            raise SkeletonFormatError(path, index + 1, "line is not ASCII text") from None

    def count(index: int, what: str) -> int:
        fields = tokens(index, what)
        if len(fields) != 1:
            hint = " (a body line: the body count above disagrees with what follows)" if len(fields) == 10 else ""
            raise SkeletonFormatError(path, index + 1, f"expected {what}, got {len(fields)} fields{hint}")
        try:
            value = int(fields[0])
        except ValueError:
            raise SkeletonFormatError(path, index + 1, f"{what} is not an integer: {fields[0]!r}") from None
        if value < 0:
            raise SkeletonFormatError(path, index + 1, f"{what} is negative: {value}")
        return value

    def number(token: str, index: int) -> float:
        try:
            value = float(token)
        except ValueError:
            raise SkeletonFormatError(path, index + 1, f"unparsable number {token!r}") from None
        if not math.isfinite(value):
            raise SkeletonFormatError(path, index + 1, f"non-finite value {token!r}")
        return value

    frames = count(0, "the frame count")
    occ_frame, occ_id, body_values, joint_values = [], [], [], []
    i = 1
    for t in range(frames):
        bodies = count(i, f"the body count of frame {t + 1}")
        i += 1
        seen: set[str] = set()
        for b in range(bodies):
            fields = tokens(i, f"body {b + 1} of frame {t + 1}")
            if len(fields) != 10:
                raise SkeletonFormatError(
                    path, i + 1, f"body line has {len(fields)} fields, expected 10 "
                    f"(the body count {bodies} of frame {t + 1} disagrees with what follows)",
                )
            body_id = fields[0]
            if not body_id.isdigit():
                raise SkeletonFormatError(path, i + 1, f"body id is not an integer: {body_id!r}")
            if body_id in seen:
                raise SkeletonFormatError(path, i + 1, f"body id {body_id} appears twice in frame {t + 1}")
            seen.add(body_id)
            body_values.append([number(token, i) for token in fields[1:]])
            joints = count(i + 1, "the joint count")
            if joints != joint_count:
                raise SkeletonFormatError(
                    path, i + 2, f"body has {joints} joints; topology {TOPOLOGY.name} needs {joint_count}"
                )
            for j in range(i + 2, i + 2 + joint_count):
                fields = tokens(j, f"joint {j - i - 1} of body {body_id}")
                if len(fields) != JOINT_FIELDS:
                    cut = "truncated: " if j == len(lines) - 1 else ""
                    if not cut and len(fields) in (1, 10) and fields[0].isdigit():  # the next count or body line
                        found, kind = j - i - 2, ("1 field, a count line", "10 fields, a body line")[len(fields) > 1]
                        raise SkeletonFormatError(
                            path, j + 1, f"joint line missing: body {body_id} of frame {t + 1} has {found} of "
                            f"{joint_count} joint lines (line {j + 1} holds {kind}, where joint {found + 1} was "
                            "expected)",
                        )
                    raise SkeletonFormatError(
                        path, j + 1, f"{cut}joint line has {len(fields)} fields, expected {JOINT_FIELDS}"
                    )
                row = [number(token, j) for token in fields]
                if row[-1] not in (0.0, 1.0, 2.0):
                    raise SkeletonFormatError(path, j + 1, f"joint tracking state must be 0, 1 or 2, got {fields[-1]}")
                joint_values.append(row)
            occ_frame.append(t)
            occ_id.append(body_id)
            i += 2 + joint_count
    for j in range(i, len(lines)):
        if lines[j].strip():
            body_line = len(lines[j].split()) == 10
            hint = f"the body count of frame {frames}" if body_line else f"the frame count {frames}"
            raise SkeletonFormatError(path, j + 1, f"data after the last frame ({hint} disagrees with what follows)")
    occ = len(occ_id)
    return _Parsed(
        frames,
        np.asarray(occ_frame, dtype=np.int64),
        occ_id,
        np.asarray(body_values, dtype=np.float64).reshape(occ, 9),
        np.asarray(joint_values, dtype=np.float64).reshape(occ, joint_count, JOINT_FIELDS),
    )


def _assemble(path: Path, parsed: _Parsed) -> SkeletonSequence:
    """Place body occurrences into M slots by body id and build the sequence with its lossless meta."""
    body_ids = list(dict.fromkeys(parsed.occ_id))
    slot_of = {body_id: slot for slot, body_id in enumerate(body_ids)}
    slot = np.array([slot_of[body_id] for body_id in parsed.occ_id], dtype=np.int64)  # [K]
    frames, bodies, joint_count = parsed.frames, len(body_ids), TOPOLOGY.num_joints
    joints = np.zeros((frames, bodies, joint_count, 3), dtype=np.float32)
    scores = np.zeros((frames, bodies, joint_count), dtype=np.float32)
    extra = np.zeros((frames, bodies, joint_count, len(JOINT_EXTRA_FIELDS)), dtype=np.float32)
    body_info = np.zeros((frames, bodies, len(BODY_FIELDS)), dtype=np.float32)
    present = np.zeros((frames, bodies), dtype=bool)
    values = parsed.joint_values.astype(np.float32)  # [K, 25, 12]
    where = (parsed.occ_frame, slot)
    joints[where] = values[..., :3]
    extra[where] = values[..., 3:-1]
    scores[where] = values[..., -1] / 2  # tracking state 2 -> 1.0, 1 (inferred) -> 0.5, 0 -> 0.0
    body_info[where] = parsed.body_values
    present[where] = True
    state = parsed.joint_values[..., -1]  # [K, 25]
    warnings = [
        *count_warning(int((state == 1).sum()), state.size, "joints are inferred (tracking state 1)"),
        *count_warning(int((state == 0).sum()), state.size, "joints are not tracked (tracking state 0)"),
        *empty_frame_warnings(present.sum(axis=1)),
    ]
    meta = {
        "format": "ntu", "source": str(path), "warnings": warnings, "body_ids": body_ids,
        "body_present": present, "body_info": body_info, "joint_extra": extra,
    }
    return SkeletonSequence(joints, scores, TOPOLOGY, FPS, meta)


def write_ntu(path: str | Path, seq: SkeletonSequence) -> None:
    """Write a 25-joint sequence as an NTU ``.skeleton`` file (CRLF); reading it back gives the same arrays.

    Uses meta["body_ids"], ["body_present"] [T, M], ["body_info"] [T, M, 9] and ["joint_extra"] [T, M, 25, 8]
    when present (as ``read_ntu`` sets them); otherwise Kinect-like defaults. Scores map back to tracking states.
    """
    if seq.topology.name != TOPOLOGY.name:
        raise ValueError(f"NTU files hold topology {TOPOLOGY.name}, not {seq.topology.name}")
    if not np.isfinite(seq.joints).all() or (seq.scores is not None and not np.isfinite(seq.scores).all()):
        raise ValueError("cannot write non-finite joint coordinates or scores")
    frames, bodies, joint_count, _ = seq.joints.shape
    meta = seq.meta
    body_ids = [str(b) for b in meta.get("body_ids", [DEFAULT_BODY_ID + m for m in range(bodies)])]
    if len(body_ids) != bodies or len(set(body_ids)) != bodies or not all(b.isdigit() for b in body_ids):
        raise ValueError(f"meta['body_ids'] must be {bodies} distinct integer strings, got {body_ids}")
    present = _meta_array(meta, "body_present", (frames, bodies), body_presence(seq.joints))
    info_shape, extra_shape = (frames, bodies, len(BODY_FIELDS)), (frames, bodies, joint_count, len(JOINT_EXTRA_FIELDS))
    body_info = _meta_array(meta, "body_info", info_shape, np.broadcast_to(DEFAULT_BODY_INFO, info_shape))
    extra = _meta_array(meta, "joint_extra", extra_shape, np.zeros(extra_shape))
    scores = seq.scores if seq.scores is not None else np.ones((frames, bodies, joint_count), dtype=np.float32)
    state = np.clip(np.rint(np.asarray(scores) * 2), 0, 2).astype(np.int64)  # [T, M, J]

    occ_frame, occ_slot = np.nonzero(present)  # frame-major, slots in order within a frame
    occ = (occ_frame, occ_slot)
    rows = np.concatenate([seq.joints[occ], extra[occ], state[occ][..., None]], axis=-1)  # [K, J, 12]
    joint_lines = _text_lines(rows.reshape(-1, JOINT_FIELDS))
    body_tails = _text_lines(body_info[occ])  # [K] the 9 fields after the body id
    out = [str(frames)]
    counts = present.sum(axis=1)
    k = 0
    for t in range(frames):
        out.append(str(int(counts[t])))
        for _ in range(int(counts[t])):
            out.append(f"{body_ids[occ_slot[k]]} {body_tails[k]}")
            out.append(str(joint_count))
            out.extend(joint_lines[k * joint_count : (k + 1) * joint_count])
            k += 1
    Path(path).write_bytes(("\r\n".join(out) + "\r\n").encode("ascii"))


def _text_lines(rows: np.ndarray) -> list[str]:
    """One space-separated line per row [N, F]; each value as the shortest text that reads back to the same float32
    (integral values without a decimal point), formatted by Arrow in C++."""
    texts = pc.cast(pa.array(np.ascontiguousarray(rows, dtype=np.float32).ravel()), pa.string())
    offsets = pa.array(np.arange(0, len(texts) + 1, rows.shape[1], dtype=np.int32))
    return pc.binary_join(pa.ListArray.from_arrays(offsets, texts), " ").to_pylist()


def _meta_array(meta: dict, key: str, shape: tuple[int, ...], default: np.ndarray) -> np.ndarray:
    """meta[key] as an array of the given shape, or the default when the key is absent."""
    if key not in meta:
        return np.asarray(default)
    value = np.asarray(meta[key])
    if value.shape != shape:
        raise ValueError(f"meta[{key!r}] has shape {value.shape}, expected {shape}")
    return value
