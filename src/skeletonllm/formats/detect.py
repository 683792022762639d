"""Tell a skeleton file's format from its extension, or from its first bytes when the extension says nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

from skeletonllm.formats.sequence import SkeletonFormatError

FORMATS = ("ntu", "ucla", "pku", "humanml3d", "kinetics", "bvh")
_BY_EXTENSION = {".skeleton": "ntu", ".bvh": "bvh", ".npy": "humanml3d", ".txt": "pku"}
_SNIFF_BYTES = 65536
_PKU_VALUES = 150


def detect_format(path: str | Path) -> str:
    """The format name of a skeleton file (one of FORMATS); raises SkeletonFormatError if it is none of them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    stripped = head.lstrip()
    if suffix == ".json" or stripped.startswith(b"{"):
        return _json_format(path, head)
    if head.startswith(b"\x93NUMPY"):
        return "humanml3d"
    if stripped.startswith(b"HIERARCHY"):
        return "bvh"
    first_line = stripped.split(b"\n", 1)[0].split()
    if len(first_line) == 1 and first_line[0].isdigit():
        return "ntu"
    if len(first_line) == _PKU_VALUES:
        return "pku"
    raise SkeletonFormatError(path, None, f"unknown skeleton format; known: {', '.join(FORMATS)}")


def _json_format(path: Path, head: bytes) -> str:
    """NW-UCLA json has a "skeletons" key, Kinetics-skeleton json a "data" key."""
    if re.search(rb'"skeletons"\s*:', head):
        return "ucla"
    if re.search(rb'"data"\s*:', head):
        return "kinetics"
    try:
        keys = set(json.loads(path.read_bytes()))
    except (ValueError, TypeError):
        keys = set()
    if "skeletons" in keys:
        return "ucla"
    if "data" in keys:
        return "kinetics"
    raise SkeletonFormatError(path, None, 'JSON with neither "skeletons" (NW-UCLA) nor "data" (Kinetics-skeleton)')
