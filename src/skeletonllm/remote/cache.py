"""Append-only JSONL answer cache keyed by sha256(sample id, prompt), safe to kill and resume.

Each `put` appends one line `{"key": ..., "record": {...}}` with a single write, then flushes and fsyncs, so a
completed `put` survives a kill -9. A kill in the middle of a write can only tear the last line (it has no trailing
newline); loading ignores it with a warning and cuts it off the file so the next append starts on a clean line.
Any other unreadable line is real corruption and raises CacheCorruptError. One writer per file at a time.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class CacheCorruptError(ValueError):
    """A complete (newline-terminated) line of the cache file is not a valid cache entry."""

    def __init__(self, path: Path, line: int, reason: str):
        super().__init__(f"{path}:{line}: corrupt cache line ({reason}); fix or remove that line to resume")
        self.path, self.line, self.reason = path, line, reason


class JsonlCache:
    """Answers cached on disk in `path` (created with its parents on first `put`), loaded into memory on open."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._records: dict[str, dict] = {}
        if self.path.exists():
            self._load()

    @staticmethod
    def key(sample_id: str, prompt: str) -> str:
        """sha256 hex digest identifying (sample_id, prompt); the NUL separator keeps the pair unambiguous."""
        return hashlib.sha256(f"{sample_id}\0{prompt}".encode()).hexdigest()

    def _load(self) -> None:
        data = self.path.read_bytes()
        complete_end = data.rfind(b"\n") + 1  # bytes after this belong to a torn last line
        if complete_end < len(data):
            log.warning(
                "%s: ignoring a torn last line (%d bytes, left by an interrupted write); truncating it",
                self.path, len(data) - complete_end,
            )
            with open(self.path, "r+b") as handle:
                handle.truncate(complete_end)
                handle.flush()
                os.fsync(handle.fileno())
        for number, line in enumerate(data[:complete_end].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                key, record = entry["key"], entry["record"]
            except (ValueError, KeyError, TypeError) as err:
                raise CacheCorruptError(self.path, number, f"{type(err).__name__}: {err}") from None
            if not isinstance(key, str) or not isinstance(record, dict):
                raise CacheCorruptError(self.path, number, "expected a string key and an object record")
            self._records[key] = record  # a later line for the same key wins

    def get(self, key: str) -> dict | None:
        """A copy of the record stored under `key`, or None."""
        record = self._records.get(key)
        return None if record is None else copy.deepcopy(record)

    def put(self, key: str, record: dict) -> None:
        """Store `record` (a JSON-serialisable dict) under `key`, durably: returns after the line is fsynced."""
        if not isinstance(key, str) or not isinstance(record, dict):
            raise TypeError(f"put needs a str key and a dict record, got {type(key).__name__}, {type(record).__name__}")
        line = (json.dumps({"key": key, "record": record}, ensure_ascii=False) + "\n").encode()
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # make the new directory entry durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._records[key] = copy.deepcopy(record)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"JsonlCache({str(self.path)!r}, entries={len(self)})"
