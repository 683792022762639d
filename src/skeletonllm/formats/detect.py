"""Tell a skeleton file's format from its extension, or from its first bytes when the extension says nothing.

A ``.txt`` file is PKU-MMD (lines of 150 numbers) unless its first non-blank line is not numbers: then it is no
skeleton file, and the error says what it looks like (HumanML3D captions ``caption#tokens#start#end`` name the
``new_joints/<id>.npy`` that holds their skeleton).
"""

from __future__ import annotations

import re
from pathlib import Path

from skeletonllm.formats.sequence import SkeletonFormatError

FORMATS = ("ntu", "ucla", "pku", "humanml3d", "kinetics", "bvh")
_BY_EXTENSION = {".skeleton": "ntu", ".bvh": "bvh", ".npy": "humanml3d"}
_SNIFF_BYTES = 65536
_PKU_VALUES = 150
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean",
               type(None): "null"}


def detect_format(path: str | Path) -> str:
    """The format name of a skeleton file (one of FORMATS); raises SkeletonFormatError if it is none of them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if suffix == ".txt":
        return _text_format(path, head)
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
    """NW-UCLA json has a "skeletons" key, Kinetics-skeleton json a "data" key. An empty file, one that is not JSON
    and JSON other than such an object are each a SkeletonFormatError saying which."""
    if re.search(rb'"skeletons"\s*:', head):
        return "ucla"
    if re.search(rb'"data"\s*:', head):
        return "kinetics"
    if not head.strip() and len(head) < _SNIFF_BYTES:
        raise SkeletonFormatError(path, None, "empty file, no JSON")
    from skeletonllm.formats import load_json

    content = load_json(path)
    if isinstance(content, dict) and "skeletons" in content:
        return "ucla"
    if isinstance(content, dict) and "data" in content:
        return "kinetics"
    raise SkeletonFormatError(path, None, f'a JSON {_JSON_TYPES[type(content)]} with neither "skeletons" (NW-UCLA) '
                              'nor "data" (Kinetics-skeleton)')


def _text_format(path: Path, head: bytes) -> str:
    """A .txt file is PKU-MMD when its first non-blank line is numbers (or it is blank); otherwise
    SkeletonFormatError says it is not a skeleton file and what that line looks like."""
    lines = head.decode("utf-8", errors="replace").split("\n")
    number, line = next(((n, text) for n, text in enumerate(lines, start=1) if text.strip()), (None, ""))
    if number is None or all(_is_number(token) for token in line.split()):
        return "pku"
    fields = line.rsplit("#", 3)
    if len(fields) == 4 and _is_number(fields[2]) and _is_number(fields[3]):
        joints = Path("new_joints", f"{path.stem}.npy")
        if path.parent.name == "texts":
            joints = path.parent.parent / joints  # the HumanML3D layout: texts/ and new_joints/ side by side
        raise SkeletonFormatError(
            path, number, "not a skeleton file: it looks like HumanML3D captions (caption#tokens#start#end lines); "
            f"their skeleton is the matching {joints}",
        )
    text = line.strip()
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise SkeletonFormatError(
        path, number, f"not a skeleton file: PKU-MMD .txt lines hold {_PKU_VALUES} numbers, but this one is text "
        f"({len(line.split())} fields): {shown!r}",
    )


def _is_number(token: str) -> bool:
    """Whether float() reads the token."""
    try:
        float(token)
    except ValueError:
        return False
    return True
