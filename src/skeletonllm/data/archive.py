"""Safe extraction of tar and zip archives: every entry is checked before anything is written.

Refused: absolute paths, entries that escape the target through "..", links (symbolic or hard) whose target lies
outside the target directory, and device files or fifos. Extraction shows byte progress (skeletonllm.progress).
"""

from __future__ import annotations

import posixpath
import re
import stat
import tarfile
import zipfile
from pathlib import Path

from skeletonllm.progress import progress


class UnsafeArchiveError(ValueError):
    """An archive entry would be written, or would point, outside the extraction directory."""


def _inside(archive: Path, entry: str) -> str:
    """The entry's normalized relative path; raises UnsafeArchiveError for absolute or escaping names."""
    name = entry.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"{archive}: refusing entry {entry!r}: absolute path")
    normalized = posixpath.normpath(name)
    if normalized == ".." or normalized.startswith("../"):
        raise UnsafeArchiveError(f"{archive}: refusing entry {entry!r}: it escapes the target directory")
    return normalized


def _check_link(archive: Path, entry: str, target: str, hard: bool) -> None:
    """Refuse a link whose target is absolute or resolves outside the extraction directory."""
    kind = "hard link" if hard else "symlink"
    if target.startswith("/") or re.match(r"^[A-Za-z]:", target):
        raise UnsafeArchiveError(f"{archive}: refusing {kind} {entry!r} -> {target!r}: absolute target")
    base = "" if hard else posixpath.dirname(_inside(archive, entry))
    resolved = posixpath.normpath(posixpath.join(base, target.replace("\\", "/")))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchiveError(f"{archive}: refusing {kind} {entry!r} -> {target!r}: it points outside the target")


def _extract_tar(archive: Path, out: Path) -> list[str]:
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            _inside(archive, member.name)
            if member.issym() or member.islnk():
                _check_link(archive, member.name, member.linkname, hard=member.islnk())
            elif not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(f"{archive}: refusing entry {member.name!r}: device file or fifo")
        checks = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # the standard library's, on top
        with progress(total=sum(m.size for m in members), desc=f"extract {archive.name}", unit="B") as bar:
            for member in members:  # in archive order, so a compressed stream is read once
                tar.extract(member, out, **checks)
                bar.update(member.size)
        return sorted(_inside(archive, m.name) for m in members if m.isfile() or m.islnk())


def _extract_zip(archive: Path, out: Path) -> list[str]:
    with zipfile.ZipFile(archive) as bundle:
        infos = bundle.infolist()
        for info in infos:
            _inside(archive, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                _check_link(archive, info.filename, bundle.read(info).decode("utf-8", "replace"), hard=False)
        with progress(total=sum(i.file_size for i in infos), desc=f"extract {archive.name}", unit="B") as bar:
            for info in infos:  # zipfile writes a link entry as a small file, never a link
                bundle.extract(info, out)
                bar.update(info.file_size)
        return sorted(_inside(archive, info.filename) for info in infos if not info.is_dir())


def extract_safely(archive: Path, out: Path) -> list[str]:
    """Check every entry of a tar (any compression) or zip archive, then extract it into out.

    Returns the extracted files as sorted paths relative to out. Raises UnsafeArchiveError before writing
    anything when an entry is unsafe, and ValueError for an archive type it cannot read.
    """
    archive, out = Path(archive), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        return _extract_zip(archive, out)
    if tarfile.is_tarfile(archive):
        return _extract_tar(archive, out)
    raise ValueError(f"{archive}: not a tar or zip archive; extract it by hand into {out} "
                     "(for example with 7z x for PKU-MMD's .7z files)")
