"""The prepared array store: poses.npy written incrementally, index.parquet, rejected.csv, denoise.csv and
manifest.json."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np

POSES_DTYPE = np.dtype("<f4")


class PoseWriter:
    """Append [T, *frame_shape] float32 blocks to a .npy file whose header is fixed up on close.

    numpy pads .npy headers so the first axis can grow in place, so the final header has the length of the
    placeholder written first; the file is written under a temporary name and renamed when complete
    (use it as a context manager: leaving the block completes it, an error removes it).
    """

    def __init__(self, path: Path, frame_shape: tuple[int, ...]):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.frame_shape = tuple(frame_shape)
        self.frames = 0
        self.handle = open(self.partial, "wb")
        self._write_header()
        self.data_start = self.handle.tell()

    def _write_header(self) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(POSES_DTYPE), "fortran_order": False,
                  "shape": (self.frames, *self.frame_shape)}
        np.lib.format.write_array_header_1_0(self.handle, header)

    def append(self, joints: np.ndarray) -> int:
        """Write one sample's frames [T, *frame_shape]; returns its offset (first frame index) in the store."""
        if joints.shape[1:] != self.frame_shape:
            raise ValueError(f"frames of shape {joints.shape[1:]} do not fit the store's {self.frame_shape}")
        offset = self.frames
        self.handle.write(np.ascontiguousarray(joints, dtype=POSES_DTYPE).tobytes())
        self.frames += joints.shape[0]
        return offset

    def close(self) -> Path:
        """Rewrite the header with the final frame count and move the file into place."""
        self.handle.seek(0)
        self._write_header()
        if self.handle.tell() != self.data_start:
            raise RuntimeError(f"{self.path}: .npy header changed length; the store would be corrupt")
        self.handle.close()
        self.partial.replace(self.path)
        return self.path

    def __enter__(self) -> "PoseWriter":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        """Complete the file, or on an error remove the partial one."""
        if error_type is None:
            self.close()
        else:
            self.handle.close()
            self.partial.unlink(missing_ok=True)


def write_index(path: Path, rows: list[dict], columns: list[str]) -> None:
    """index.parquet with the given column order (one row per kept sample)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    for column in ("label", "subject", "camera", "setup", "replication", "offset", "length", "bodies"):
        frame[column] = frame[column].astype("int64")
    frame.to_parquet(path, index=False)


def write_rejected(path: Path, rejections: list) -> None:
    """rejected.csv: source, line (empty when the whole file), reason."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "line", "reason"])
        for rejection in rejections:
            writer.writerow([rejection.source, "" if rejection.line is None else rejection.line, rejection.reason])


def write_denoised(path: Path, denoised: list) -> None:
    """denoise.csv: sample_id, source, body, reason, detail; one row per body denoising dropped or merged."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sample_id", "source", "body", "reason", "detail"])
        for row in denoised:
            writer.writerow([row.sample_id, row.source, row.body, row.reason, row.detail])


def combined_sha256(checksums: dict[str, str]) -> str:
    """One digest over all (path, sha256) pairs in path order: changes when any source file changes."""
    digest = hashlib.sha256()
    for name in sorted(checksums):
        digest.update(f"{checksums[name]}  {name}\n".encode())
    return digest.hexdigest()


def write_manifest(path: Path, manifest: dict) -> None:
    """manifest.json, indented, non-ASCII class names kept as they are."""
    path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
