"""HumanML3D ``new_joints/<id>.npy`` (SMPL, 22 joints, [T, 22, 3], Y up, floor at 0, 20 fps) with its captions.

Captions live in the sibling ``texts/<id>.txt`` (``new_joints/../texts``), one per line as
``caption#tokens#start#end``: tokens are space-separated ``word/POS`` pairs, start/end are seconds
(0.0, 0.0 means the whole clip; the official loader reads nan as 0.0, and so do we, with a warning).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from skeletonllm.formats.sequence import SkeletonFormatError, SkeletonSequence
from skeletonllm.formats.topology import get_topology

TOPOLOGY = get_topology("smpl22")
FPS = 20.0


def texts_path(joints_path: str | Path) -> Path:
    """Where the captions of a new_joints file live: ``new_joints/../texts/<id>.txt``."""
    joints_path = Path(joints_path)
    return joints_path.parent.parent / "texts" / f"{joints_path.stem}.txt"


def read_humanml3d(path: str | Path) -> SkeletonSequence:
    """Read a new_joints npy file and its captions; raises SkeletonFormatError on a bad array or caption line."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise SkeletonFormatError(path, None, f"not a readable .npy array (truncated?): {error}") from None
    expected = (TOPOLOGY.num_joints, TOPOLOGY.dims)
    if not isinstance(array, np.ndarray):
        raise SkeletonFormatError(path, None, "expected a .npy array, got an .npz archive")
    if array.ndim != 3 or array.shape[1:] != expected or not np.issubdtype(array.dtype, np.number):
        raise SkeletonFormatError(
            path, None, f"expected a numeric array [T, {expected[0]}, {expected[1]}], got {array.dtype} {array.shape}"
        )
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        raise SkeletonFormatError(path, None, f"non-finite coordinate in frame {bad[0][0]}, joint {bad[0][1]}")
    joints = array.astype(np.float32)[:, None]  # [T, 1, 22, 3]
    warnings = [] if len(joints) else ["the file has no frames"]
    captions_file = texts_path(path)
    if captions_file.is_file():
        captions, caption_warnings = read_captions(captions_file)
        warnings += caption_warnings
    else:
        captions = []
        warnings.append(f"no captions: {captions_file} not found")
    meta = {
        "format": "humanml3d", "source": str(path), "warnings": warnings, "captions": captions, "up_axis": "y",
    }
    return SkeletonSequence(joints, None, TOPOLOGY, FPS, meta)


def read_captions(path: Path) -> tuple[list[dict], list[str]]:
    """Parse a HumanML3D texts file into caption dicts, plus warnings (nan start/end read as 0.0)."""
    captions, warnings = [], []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SkeletonFormatError(path, None, f"not UTF-8 text: {error.reason}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rsplit("#", 3)
        if len(parts) != 4:
            raise SkeletonFormatError(path, number, f"expected caption#tokens#start#end, got {len(parts)} fields")
        caption, tokens, start, end = parts
        times = []
        for name, value in (("start", start), ("end", end)):
            try:
                seconds = float(value)
            except ValueError:
                raise SkeletonFormatError(path, number, f"unparsable {name} time {value!r}") from None
            if math.isnan(seconds):
                warnings.append(f"{path.name}:{number}: {name} time is nan, read as 0.0")
                seconds = 0.0
            times.append(seconds)
        captions.append({"caption": caption, "tokens": tokens.split(), "start": times[0], "end": times[1]})
    return captions, warnings


def write_humanml3d(path: str | Path, seq: SkeletonSequence) -> None:
    """Write ``new_joints/<id>.npy`` (float32 [T, 22, 3]) and, when meta has captions, ``texts/<id>.txt``."""
    if seq.topology.name != TOPOLOGY.name:
        raise ValueError(f"HumanML3D files hold topology {TOPOLOGY.name}, not {seq.topology.name}")
    if seq.num_bodies != 1:
        raise ValueError(f"HumanML3D files hold one body, the sequence has {seq.num_bodies}")
    path = Path(path)
    if path.suffix != ".npy":
        raise ValueError(f"a HumanML3D joints file ends in .npy: {path}")
    lines = []
    for caption in seq.meta.get("captions", []):
        tokens = caption["tokens"] if isinstance(caption["tokens"], str) else " ".join(caption["tokens"])
        if any(c in caption["caption"] for c in "\r\n") or any(c in tokens for c in "#\r\n"):
            raise ValueError(f"caption or tokens contain a line break or '#': {caption}")
        lines.append(f"{caption['caption']}#{tokens}#{float(caption['start'])!r}#{float(caption['end'])!r}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, seq.joints[:, 0].astype(np.float32))
    if lines:
        texts = texts_path(path)
        texts.parent.mkdir(parents=True, exist_ok=True)
        texts.write_text("".join(lines), encoding="utf-8")
