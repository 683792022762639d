"""The prepared array store, write side: poses.npy written incrementally, index.parquet, rejected.csv, denoise.csv
and manifest.json, built in a folder beside the store and swapped in whole.

One build id ties the three files a reader needs together: manifest.json holds it as "build_id", index.parquet in
its file metadata (key "skeletonllm", with the frame total) and poses.npy in a trailer after its frames, which
numpy never reads (it reads the frames its header declares). data/prepared.py refuses a store whose files disagree.

`StoreBuild` makes replacing a store atomic: the new store is written into a hidden sibling folder and swapped in
by one rename, so a run killed at any point leaves the old store or the new one, never a mix.
"""

from __future__ import annotations

import csv
import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import sys
import uuid
from pathlib import Path

import numpy as np

POSES_DTYPE = np.dtype("<f4")
STORE_FILES = ("poses.npy", "index.parquet", "rejected.csv", "denoise.csv", "manifest.json")
INDEX_METADATA_KEY = b"skeletonllm"  # index.parquet file metadata: {"build_id": ..., "frames": ...} as JSON
TRAILER_MAGIC = b"\nskeletonllm build "  # poses.npy ends with this and the 32 hex digits of the build id
TRAILER_SIZE = len(TRAILER_MAGIC) + 32


class PoseWriter:
    """Append [T, *frame_shape] float32 blocks to a .npy file whose header is fixed up on close.

    numpy pads .npy headers so the first axis can grow in place, so the final header has the length of the
    header written at the start. Closing writes the final header and the build id trailer. The build id is
    derived from the frames written (the first 32 hex digits of their sha256), so that the same inputs give
    byte-identical stores and DVC sees unchanged outputs. Use it as a context manager (leaving the block closes
    it, an error only closes the handle: the unfinished file lies in a StoreBuild folder, which is removed).
    """

    def __init__(self, path: Path, frame_shape: tuple[int, ...]):
        self.path = Path(path)
        self.frame_shape = tuple(frame_shape)
        self.build_id: str | None = None  # set by close()
        self._content = hashlib.sha256(repr(self.frame_shape).encode())
        self.frames = 0
        self.handle = open(self.path, "wb")
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
        data = np.ascontiguousarray(joints, dtype=POSES_DTYPE).tobytes()
        self.handle.write(data)
        self._content.update(data)
        self.frames += joints.shape[0]
        return offset

    def close(self) -> Path:
        """Append the build id trailer and rewrite the header with the final frame count."""
        self.build_id = self._content.hexdigest()[:32]
        self.handle.write(TRAILER_MAGIC + self.build_id.encode("ascii"))
        self.handle.seek(0)
        self._write_header()
        if self.handle.tell() != self.data_start:
            raise RuntimeError(f"{self.path}: .npy header changed length; the store would be corrupt")
        self.handle.close()
        return self.path

    def __enter__(self) -> "PoseWriter":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        """Complete the file, or on an error just close it."""
        if error_type is None:
            self.close()
        else:
            self.handle.close()


def poses_build(path: Path) -> tuple[tuple[int, ...], str | None]:
    """(shape, build id) of a poses.npy: the shape its header declares and the build id of its trailer (None when
    it has none). Raises ValueError when the file is no .npy 1.0 or its size fits neither."""
    with open(path, "rb") as handle:
        if np.lib.format.read_magic(handle) != (1, 0):
            raise ValueError(f"{path}: not a .npy 1.0 file as prepare writes")
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        data_end = handle.tell() + int(np.prod(shape)) * dtype.itemsize
        size = os.fstat(handle.fileno()).st_size
        if size == data_end:
            return shape, None
        handle.seek(data_end)
        trailer = handle.read(TRAILER_SIZE)
    if size != data_end + TRAILER_SIZE or not trailer.startswith(TRAILER_MAGIC):
        raise ValueError(f"{path}: its {size} bytes do not fit its header's shape {shape} ({data_end} bytes, then "
                         "a build id): the file is truncated or was not written by prepare")
    return shape, trailer[len(TRAILER_MAGIC):].decode("ascii", "replace")


def write_index(path: Path, rows: list[dict], columns: list[str], build_id: str, frames: int) -> None:
    """index.parquet with the given column order (one row per kept sample), its file metadata naming the build
    and the frame total of poses.npy."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame(rows, columns=columns)
    for column in ("label", "subject", "camera", "setup", "replication", "offset", "length", "bodies"):
        frame[column] = frame[column].astype("int64")
    frame["fps"] = frame["fps"].astype("float64")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    build = json.dumps({"build_id": build_id, "frames": frames}).encode()
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, INDEX_METADATA_KEY: build}), path)


def index_build(path: Path) -> tuple[dict | None, int]:
    """(the build metadata {"build_id", "frames"} of an index.parquet or None when it has none, its row count),
    from the parquet footer alone."""
    import pyarrow.parquet as pq

    metadata = pq.read_metadata(path)
    build = (metadata.metadata or {}).get(INDEX_METADATA_KEY)
    return (json.loads(build) if build is not None else None), metadata.num_rows


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
            decision = row.decision
            writer.writerow([row.sample_id, row.source, decision.body, decision.reason, decision.detail])


def combined_sha256(checksums: dict[str, str]) -> str:
    """One digest over all (path, sha256) pairs in path order: changes when any source file changes."""
    digest = hashlib.sha256()
    for name in sorted(checksums):
        digest.update(f"{checksums[name]}  {name}\n".encode())
    return digest.hexdigest()


def write_manifest(path: Path, manifest: dict) -> None:
    """manifest.json, indented, non-ASCII class names kept as they are."""
    path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


class StoreBuild:
    """A store built in a hidden sibling folder of `out` and swapped in whole when the block ends without error.

    `with StoreBuild(out) as build:` write the STORE_FILES under build.folder (build.id only names the folder; the
    files carry the PoseWriter's build id). On success the folder takes out's place by one rename: a plain rename
    where out is absent or empty, else an atomic exchange (Linux renameat2 RENAME_EXCHANGE) after out's other
    entries (such as DVC's .gitignore) are linked into the new folder, and the old store is then removed. Where the filesystem cannot exchange, out is renamed aside first: a
    run killed between the two renames leaves no store at out (never a mixed one). On an error the folder is
    removed and out is untouched. Folders that killed runs left beside out (their process is gone) are removed
    on entry. Replacing a store does not fsync: it survives the process being killed, not the machine crashing.
    """

    def __init__(self, out: Path):
        self.out = Path(out).resolve()
        self.id = uuid.uuid4().hex
        self.folder = self._sibling("build")

    def _sibling(self, role: str) -> Path:
        """A hidden folder beside out that names its role, this process and this build."""
        return self.out.parent / f".{self.out.name}.{role}-{os.getpid()}-{self.id[:12]}"

    def __enter__(self) -> "StoreBuild":
        """Create the build folder (NotADirectoryError at once where out is a file, not at the end of the build)."""
        if self.out.exists() and not self.out.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "the store's place is taken by a file", str(self.out))
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        self.folder.mkdir()
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        """Swap the built store in, unless the block failed; either way leave no build folder behind."""
        try:
            if error_type is None:
                self._swap_in()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _remove_leftovers(self) -> None:
        """Remove the build and retired folders of earlier runs on out whose process no longer exists."""
        pattern = re.compile(rf"\.{re.escape(self.out.name)}\.(build|retired)-(\d+)-[0-9a-f]+")
        for sibling in self.out.parent.iterdir():
            match = pattern.fullmatch(sibling.name)
            if match and sibling.is_dir() and not _process_exists(int(match.group(2))):
                shutil.rmtree(sibling, ignore_errors=True)

    def _swap_in(self) -> None:
        """Put the built folder at out in one rename and remove the store it replaces."""
        try:
            os.rename(self.folder, self.out)  # out absent or an empty folder
            return
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        _carry_over(self.out, self.folder)
        try:
            _exchange(self.folder, self.out)
            retired = self.folder  # the exchange left the old store where the new one was built
        except OSError as error:
            if error.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            retired = self._sibling("retired")
            os.rename(self.out, retired)
            os.rename(self.folder, self.out)
        shutil.rmtree(retired)


def _process_exists(pid: int) -> bool:
    """Whether a process with this id exists on this machine (possibly another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists and belongs to another user
    return True


def _carry_over(old: Path, new: Path) -> None:
    """Hard-link (or copy) the entries of old that are no store files into new, and give new old's permissions."""
    shutil.copymode(old, new)
    for entry in old.iterdir():
        target = new / entry.name
        if entry.name in STORE_FILES or target.exists():
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry), target)
        elif entry.is_dir():
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, target)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    """A hard link of source at target, or a copy where the filesystem refuses links."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


AT_FDCWD = -100
RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> None:
    """Swap two existing paths atomically (Linux renameat2 with RENAME_EXCHANGE); OSError ENOSYS where the system
    has no such call, EINVAL where the filesystem does not support it."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None) if sys.platform == "linux" else None
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(first), None, str(second))
