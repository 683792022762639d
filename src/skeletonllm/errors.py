"""The one error type of an expected failure (bad input, a missing file, an unreachable endpoint).

Commands raise `CommandError` (or an error class that derives from it); `skeletonllm.cli.main` catches it once and
prints one line, ``skeletonllm <command>: error: <message>``, with exit status `ERROR_STATUS`. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

ERROR_STATUS = 1


class CommandError(Exception):
    """An expected failure of a command, reported as one line without a traceback."""
