"""Fetch a dataset archive (URL or local path), verify its sha256 and extract it safely.

A URL is fetched into the cache folder (default: OUT/../downloads) unless a file with the right checksum is already
there, so a dataset that cannot be fetched (offline machine, NTU's request-only download) is placed there by hand and
the same command re-run. OUT/download.json records the source, the checksum and the extracted files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from skeletonllm.data.archive import UnsafeArchiveError, extract_safely

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class DownloadError(RuntimeError):
    """The archive could not be fetched, failed its checksum or is unsafe to extract."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm download`."""
    parser.add_argument("--source", required=True, help="URL (http, https, file) or local path of the archive")
    digest = parser.add_mutually_exclusive_group(required=True)
    digest.add_argument("--sha256", help="expected sha256 of the archive (64 hex digits)")
    digest.add_argument("--sha256-file", type=Path, help="file holding the sha256 (sha256sum format or bare hex)")
    parser.add_argument("--out", required=True, type=Path, help="directory to extract into")
    parser.add_argument("--cache", type=Path, default=None,
                        help="where fetched archives are kept (default: OUT/../downloads)")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_sha256_file(path: Path, archive_name: str) -> str:
    """The checksum for archive_name from a sha256sum-format file (`HEX  NAME` lines) or a file with one bare hex."""
    entries = []
    for line in Path(path).read_text().splitlines():
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
    """Download url to target (via target.part). Unreachable -> DownloadError saying where to put the file by hand."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as handle:
            shutil.copyfileobj(response, handle, 1 << 20)
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"could not fetch {url}: {reason}\n"
            f"This machine may be offline, or the dataset may need a manual request to its owners.\n"
            f"Download the archive by hand, place it at\n  {target}\nand re-run\n  {rerun}\n"
            f"(or pass the archive's local path as --source)."
        ) from exc
    partial.replace(target)
    return target


def verify(path: Path, expected: str) -> str:
    """Check a file's sha256 against expected; a mismatch raises DownloadError showing both hashes."""
    actual = sha256_file(path)
    if actual != expected.lower():
        raise DownloadError(f"sha256 mismatch for {path}:\n  expected {expected.lower()}\n  actual   {actual}")
    return actual


def download(source: str, expected: str, out: Path, cache: Path | None = None) -> dict:
    """Fetch (URLs) or locate (paths) the archive, verify it, extract it into out and write out/download.json."""
    if not _HEX64.fullmatch(expected):
        raise DownloadError(f"--sha256 must be 64 hex digits, got {expected!r}")
    out = Path(out)
    if _is_url(source):
        cache = Path(cache) if cache is not None else out.resolve().parent / "downloads"
        archive = cache / _archive_name(source)
        if not (archive.is_file() and sha256_file(archive) == expected.lower()):
            rerun = f"skeletonllm download --source {source} --sha256 {expected} --out {out} --cache {cache}"
            fetch(source, archive, rerun)
    else:
        archive = Path(source)
        if not archive.is_file():
            raise DownloadError(f"archive {archive} does not exist")
    digest = verify(archive, expected)
    try:
        files = extract_safely(archive, out)
    except UnsafeArchiveError as exc:
        raise DownloadError(str(exc)) from exc
    record = {"source": source, "archive": str(archive), "sha256": digest, "out": str(out), "files": files}
    (out / "download.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def run(args: argparse.Namespace) -> int:
    """Entry point of `skeletonllm download`."""
    try:
        name = _archive_name(args.source) if _is_url(args.source) else Path(args.source).name
        expected = args.sha256 if args.sha256 else read_sha256_file(args.sha256_file, name)
        record = download(args.source, expected.strip(), args.out, args.cache)
    except (DownloadError, ValueError, OSError) as exc:
        print(f"skeletonllm download: error: {exc}", file=sys.stderr)
        return 1
    print(f"extracted {len(record['files'])} files from {record['archive']} into {args.out} "
          f"(sha256 {record['sha256']})")
    return 0
