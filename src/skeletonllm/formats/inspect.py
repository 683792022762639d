"""Show a skeleton file's format, topology, frames, bodies, joints, dims, fps and warnings.

Reads any supported format (ntu, ucla, pku, humanml3d, kinetics, bvh; detected from the extension and
content). ``--json`` prints one JSON object with exactly the keys format, topology, frames, bodies, joints,
dims, fps, warnings. A missing, malformed or frameless file is an error: one line (with the file's line and the
reason where it has them) and exit status 1.
"""

from __future__ import annotations

import argparse
import json

from skeletonllm.errors import CommandError
from skeletonllm.formats import FORMATS, SkeletonSequence, read


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``skeletonllm inspect``."""
    parser.add_argument("file", help="skeleton file to inspect")
    parser.add_argument("--format", choices=FORMATS, default=None, help="skip detection and read as this format")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a text block")


def summary(seq: SkeletonSequence) -> dict:
    """The inspect fields of a sequence: format, topology, frames, bodies, joints, dims, fps, warnings."""
    return {
        "format": seq.meta["format"],
        "topology": seq.topology.name,
        "frames": seq.num_frames,
        "bodies": seq.num_bodies,
        "joints": seq.topology.num_joints,
        "dims": seq.topology.dims,
        "fps": seq.fps,
        "warnings": list(seq.meta["warnings"]),
    }


def format_block(path: str, seq: SkeletonSequence) -> str:
    """A readable, aligned text block describing the sequence."""
    info = summary(seq)
    per_frame = seq.bodies_per_frame()
    bodies = f"{info['bodies']} slot{'' if info['bodies'] == 1 else 's'}"
    if per_frame.size:
        bodies += f", {per_frame.min()}-{per_frame.max()} per frame"
    rows = [
        ("file", path),
        ("format", info["format"]),
        ("topology", info["topology"]),
        ("frames", str(info["frames"])),
        ("bodies", bodies),
        ("joints", str(info["joints"])),
        ("dims", f"{info['dims']}D"),
        ("fps", f"{info['fps']:g}"),
    ]
    warnings = info["warnings"] or ["none"]
    rows += [("warnings" if i == 0 else "", warning) for i, warning in enumerate(warnings)]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}".rstrip() for label, value in rows)


def run(args: argparse.Namespace) -> int:
    """Read the file and print its summary. A file that cannot be opened or holds no frames is a CommandError, and a
    malformed one a SkeletonFormatError (a CommandError too)."""
    try:
        seq = read(args.file, args.format)
    except OSError as error:  # missing, a directory, unreadable
        raise CommandError(f"{args.file}: {error.strerror or error}") from None
    if seq.num_frames == 0:
        raise CommandError(f"{args.file}: the file holds no frames; prepare rejects it")
    print(json.dumps(summary(seq)) if args.json else format_block(args.file, seq))
    return 0
