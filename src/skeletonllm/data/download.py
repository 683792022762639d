"""Fetch a dataset archive (URL or local path), verify its sha256 and extract it safely.

A URL is fetched into the cache folder (default: OUT/../downloads) unless a file with the right checksum is already
there, so a dataset that cannot be fetched (offline machine, NTU's request-only download) is placed there by hand and
the same command re-run. OUT/download.json records the source, the checksum and the extracted files. Fetching and
hashing show byte progress (skeletonllm.progress). A refused or unreadable archive leaves no OUT behind (an OUT that
existed before is left as it was).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path

from skeletonllm.data.archive import extract_safely
from skeletonllm.errors import CommandError
from skeletonllm.progress import progress

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


CHUNK = 1 << 20


class DownloadError(CommandError):
    """The archive could not be fetched, failed its checksum, or is unsafe or unreadable to extract."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm download`."""
    parser.add_argument("--source", required=True, help="URL (http, https, file) or local path of the archive")
    digest = parser.add_mutually_exclusive_group(required=True)
    digest.add_argument("--sha256", help="expected sha256 of the archive (64 hex digits)")
    digest.add_argument("--sha256-file", type=Path, help="file holding the sha256 (sha256sum format or bare hex)")
    parser.add_argument("--out", required=True, type=Path, help="directory to extract into")
    parser.add_argument("--cache", type=Path, default=None,
                        help="where fetched archives are kept (default: OUT/../downloads)")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks, with byte progress."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle, progress(desc=f"sha256 {path.name}", total=path.stat().st_size, unit="B") as bar:
        while block := handle.read(CHUNK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def read_sha256_file(path: Path, archive_name: str) -> str:
    """The checksum for archive_name from a sha256sum-format file (`HEX  NAME` lines) or a file with one bare hex."""
    entries = []
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise DownloadError(f"cannot read --sha256-file {path}: {error.strerror or error}") from None
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if parts:
            entries.append((parts[0], parts[1].lstrip("*").strip() if len(parts) > 1 else ""))
    named = [digest for digest, name in entries if Path(name).name == archive_name]
    candidates = named or [digest for digest, _ in entries]
    if len(candidates) != 1 or not _HEX64.fullmatch(candidates[0]):
        raise DownloadError(f"{path}: expected one sha256 (64 hex digits) for {archive_name!r}, found {candidates}")
    return candidates[0].lower()


def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https", "ftp", "file")


def _archive_name(url: str) -> str:
    return Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name or "archive"


def fetch(url: str, target: Path, rerun: str) -> Path:
    """Download url to target (via target.part), with byte progress. Unreachable -> DownloadError saying where to put
    the file by hand."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as handle:
            size = response.headers.get("Content-Length")
            with progress(desc=f"fetch {target.name}", total=int(size) if size else None, unit="B") as bar:
                while block := response.read(CHUNK):
                    handle.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"could not fetch {url}: {reason}. This machine may be offline, or the dataset may need a manual request "
            f"to its owners: download the archive by hand, place it at {target} and re-run `{rerun}` (or pass the "
            f"archive's local path as --source)"
        ) from exc
    partial.replace(target)
    return target


def verify(path: Path, expected: str) -> str:
    """Check a file's sha256 against expected (lower-case hex); a mismatch raises DownloadError showing both."""
    actual = sha256_file(path)
    if actual != expected:
        raise DownloadError(f"sha256 mismatch for {path}: expected {expected}, actual {actual}")
    return actual


def extract(archive: Path, out: Path) -> list[str]:
    """extract_safely, where a refused or unreadable archive is a DownloadError that leaves no new out folder."""
    created = not out.exists()
    try:
        return extract_safely(archive, out)
    except (ValueError, OSError, EOFError, zlib.error, tarfile.TarError, zipfile.BadZipFile) as exc:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise DownloadError(str(exc) if isinstance(exc, ValueError) else f"{archive}: cannot extract: {exc}") from exc


def download(source: str, expected: str, out: Path, cache: Path | None = None) -> dict:
    """Fetch (URLs) or locate (paths) the archive, verify it, extract it into out and write out/download.json."""
    if not _HEX64.fullmatch(expected):
        raise DownloadError(f"--sha256 must be 64 hex digits, got {expected!r}")
    out, expected = Path(out), expected.lower()
    cached = False  # a fetched archive already in the cache, with the right checksum
    if _is_url(source):
        cache = Path(cache) if cache is not None else out.resolve().parent / "downloads"
        archive = cache / _archive_name(source)
        cached = archive.is_file() and sha256_file(archive) == expected
        if not cached:
            rerun = f"skeletonllm download --source {source} --sha256 {expected} --out {out} --cache {cache}"
            fetch(source, archive, rerun)
    else:
        archive = Path(source)
        if not archive.is_file():
            raise DownloadError(f"archive {archive} does not exist")
    digest = expected if cached else verify(archive, expected)
    files = extract(archive, out)
    record = {"source": source, "archive": str(archive), "sha256": digest, "out": str(out), "files": files}
    (out / "download.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def run(args: argparse.Namespace) -> int:
    """Entry point of `skeletonllm download`; its failures are DownloadErrors (CommandErrors)."""
    name = _archive_name(args.source) if _is_url(args.source) else Path(args.source).name
    expected = args.sha256 if args.sha256 else read_sha256_file(args.sha256_file, name)
    record = download(args.source, expected.strip(), args.out, args.cache)
    print(f"extracted {len(record['files'])} files from {record['archive']} into {args.out} "
          f"(sha256 {record['sha256']})")
    return 0
