"""The Trainer's checkpoints of a stage as tests watch them: which checkpoint-N folders it has finished writing."""

from __future__ import annotations

import json
import re
from pathlib import Path

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def complete_checkpoints(folder: Path) -> dict[int, Path]:
    """step -> checkpoint directory, for the checkpoints the Trainer has finished writing: trainer_state.json is
    the last file it writes into one (not atomically, hence the parse)."""
    found = {}
    for path in folder.iterdir() if folder.is_dir() else ():
        match = CHECKPOINT.match(path.name)
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, ValueError):
            continue
        if match:
            found[int(match.group(1))] = path
    return found
