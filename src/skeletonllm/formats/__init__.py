"""Skeleton file formats: ``read`` (auto-detecting) and ``write``, plus small helpers the format modules share.

Formats: ntu (.skeleton), ucla (NW-UCLA json), pku (PKU-MMD txt), humanml3d (new_joints npy + texts),
kinetics (Kinetics-skeleton json), bvh. Format modules are imported on first use, keeping CLI start-up light.
"""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from skeletonllm.formats.detect import FORMATS, detect_format
from skeletonllm.formats.sequence import SkeletonFormatError, SkeletonSequence
from skeletonllm.formats.topology import Topology, get_topology

__all__ = [
    "FORMATS", "READERS", "WRITERS", "SkeletonFormatError", "SkeletonSequence", "Topology",
    "detect_format", "get_topology", "read", "round_fps", "write",
]

READERS = {name: (f"skeletonllm.formats.{name}", f"read_{name}") for name in FORMATS}
WRITERS = {name: (f"skeletonllm.formats.{name}", f"write_{name}") for name in ("ntu", "ucla", "kinetics", "humanml3d")}
WRITERS["bvh"] = ("skeletonllm.formats.bvh_writer", "write_bvh")


def _function(table: dict[str, tuple[str, str]], name: str, kind: str):
    """The reader or writer function registered for a format, imported on first use."""
    if name not in table:
        raise ValueError(f"no {kind} for format {name!r}; formats with a {kind}: {sorted(table)}")
    module_name, function_name = table[name]
    return getattr(importlib.import_module(module_name), function_name)


def read(path: str | Path, format: str | None = None) -> SkeletonSequence:
    """Read any supported skeleton file; the format is detected from the extension and content unless given."""
    return _function(READERS, format or detect_format(path), "reader")(path)


def write(path: str | Path, seq: SkeletonSequence, format: str) -> None:
    """Write ``seq`` to ``path`` in ``format`` (ntu, ucla, kinetics, humanml3d or bvh)."""
    _function(WRITERS, format, "writer")(path, seq)


def round_fps(fps: float) -> float:
    """``fps`` rounded to the nearest integer when within 0.05% of it (a Frame Time of 0.0083333 is 120 fps), else
    unchanged (29.97 stays 29.97)."""
    nearest = round(fps)
    return float(nearest) if nearest > 0 and abs(fps - nearest) <= 5e-4 * nearest else fps


def float32_list(values: np.ndarray) -> list:
    """Nested lists of Python floats whose repr (and JSON text) is the shortest reading back to the same float32."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.asarray(values, dtype=np.float32)
    shortest = pc.cast(pc.cast(pa.array(values.ravel()), pa.string()), pa.float64()).to_numpy()
    return shortest.reshape(values.shape).tolist()


def count_warning(count: int, total: int, what: str) -> list[str]:
    """``["<count> of <total> (<pct>%) <what>"]`` when count > 0, else no warning."""
    return [f"{count} of {total} ({100.0 * count / total:.1f}%) {what}"] if count else []


def empty_frame_warnings(bodies_per_frame: np.ndarray) -> list[str]:
    """Warnings for frames without a body (with the longest run) and frames with more than 2 bodies."""
    bodies = np.asarray(bodies_per_frame)  # int [T]
    warnings = []
    empty = bodies == 0
    if empty.any():
        edges = np.diff(np.concatenate([[0], empty.astype(np.int8), [0]]))
        longest = int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())
        warnings += count_warning(int(empty.sum()), bodies.size, f"frames have no body (longest run {longest})")
    crowded = bodies > 2
    if crowded.any():
        what = f"frames have more than 2 bodies (up to {bodies.max()})"
        warnings += count_warning(int(crowded.sum()), bodies.size, what)
    return warnings


def load_json(path: Path) -> Any:
    """Parse a JSON file; syntax errors and truncation become SkeletonFormatError with the line."""
    try:
        return json.loads(path.read_bytes())
    except json.JSONDecodeError as error:
        raise SkeletonFormatError(path, error.lineno, f"invalid JSON: {error.msg} (column {error.colno})") from None
    except UnicodeDecodeError as error:
        raise SkeletonFormatError(path, None, f"not UTF-8 text: {error.reason}") from None


def numeric_array(path: Path, values: Any, shape_tail: tuple[int, ...], item: str) -> np.ndarray:
    """float64 [N, *shape_tail] from a list of N items, all finite; else SkeletonFormatError naming the item.

    ``item`` names one entry with an ``{index}`` field, e.g. ``"frame {index}"``.
    """
    if isinstance(values, list) and not values:
        return np.zeros((0, *shape_tail))
    try:
        array = np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError):
        array = None
    if array is None or array.shape[1:] != shape_tail:
        for index, entry in enumerate(values if isinstance(values, list) else []):
            try:
                entry_shape = np.asarray(entry, dtype=np.float64).shape
            except (ValueError, TypeError):
                raise SkeletonFormatError(path, None, f"{item.format(index=index)} is not a numeric array") from None
            if entry_shape != shape_tail:
                raise SkeletonFormatError(
                    path, None, f"{item.format(index=index)} has shape {entry_shape}, expected {shape_tail}"
                )
        raise SkeletonFormatError(path, None, f"expected a list of arrays of shape {shape_tail}")
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        raise SkeletonFormatError(path, None, f"non-finite coordinate in {item.format(index=bad[0][0])}")
    return array


def float_rows(path: Path, rows: list[list], first_line: int) -> np.ndarray:
    """float64 [N, K] from N token rows of equal length K (row i is file line first_line + i), all finite.

    Converts in one numpy call; on failure finds the first bad token and raises SkeletonFormatError at its line.
    """
    if not rows:
        return np.zeros((0, 0))
    try:
        values = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
    except ValueError:
        values = None
    if values is not None and np.isfinite(values).all():
        return values
    for number, row in enumerate(rows, start=first_line):
        for token in row:
            text = token.decode(errors="replace") if isinstance(token, bytes) else token
            try:
                value = float(text)
            except ValueError:
                raise SkeletonFormatError(path, number, f"unparsable number {text!r}") from None
            if not math.isfinite(value):
                raise SkeletonFormatError(path, number, f"non-finite value {text!r}")
    raise SkeletonFormatError(path, None, "rows of unequal length")
