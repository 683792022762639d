"""`skeletonllm download`: checksum verification, safe extraction, URL fetching and the offline message."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import socket
import stat
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from skeletonllm.cli import main
from skeletonllm.data.archive import UnsafeArchiveError, extract_safely


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tar(path: Path, entries: list[tarfile.TarInfo], payload: bytes = b"data") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in entries:
            if info.isfile():
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                tar.addfile(info)
    return path


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.fixture()
def good_archive(tmp_path: Path) -> Path:
    return _tar(tmp_path / "good.tar.gz", [_entry("raw", tarfile.DIRTYPE), _entry("raw/a.txt"), _entry("raw/b/c.txt"),
                                           _entry("raw/link", tarfile.SYMTYPE, "a.txt")])


def test_local_archive_is_verified_extracted_and_recorded(tmp_path, good_archive, capsys):
    out = tmp_path / "out"
    assert main(["download", "--source", str(good_archive), "--sha256", _sha(good_archive), "--out", str(out)]) == 0
    err = capsys.readouterr().err  # stderr is no terminal here: plain progress lines, no carriage returns
    assert f"sha256 {good_archive.name}: done, {good_archive.stat().st_size}B" in err and "\r" not in err
    assert (out / "raw/a.txt").read_bytes() == b"data"
    assert (out / "raw/b/c.txt").read_bytes() == b"data"
    assert (out / "raw/link").is_symlink()
    record = json.loads((out / "download.json").read_text())
    assert record["sha256"] == _sha(good_archive)
    assert record["source"] == str(good_archive)
    assert record["files"] == ["raw/a.txt", "raw/b/c.txt"]


def test_sha256_file_in_sha256sum_format(tmp_path, good_archive):
    listing = tmp_path / "SHA256SUMS"
    listing.write_text(f"{'0' * 64}  other.tar.gz\n{_sha(good_archive)}  {good_archive.name}\n")
    out = tmp_path / "out"
    assert main(["download", "--source", str(good_archive), "--sha256-file", str(listing), "--out", str(out)]) == 0
    assert (out / "raw/a.txt").exists()


def test_wrong_checksum_fails_showing_both_hashes(tmp_path, good_archive, capsys):
    wrong = "ab" * 32
    out = tmp_path / "out"
    assert main(["download", "--source", str(good_archive), "--sha256", wrong, "--out", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == f"skeletonllm download: error: sha256 mismatch for {good_archive}: expected {wrong}, actual " \
                  f"{_sha(good_archive)}"
    assert not out.exists()


@pytest.mark.parametrize(
    "entries, why",
    [
        ([_entry("../evil.txt")], "escapes"),
        ([_entry("ok/../../evil.txt")], "escapes"),
        ([_entry("/tmp/evil.txt")], "absolute path"),
        ([_entry("link", tarfile.SYMTYPE, "../../etc/passwd")], "points outside"),
        ([_entry("link", tarfile.SYMTYPE, "/etc/passwd")], "absolute target"),
        ([_entry("sub", tarfile.DIRTYPE), _entry("sub/up", tarfile.SYMTYPE, "../..")], "points outside"),
        ([_entry("hard", tarfile.LNKTYPE, "../outside.txt")], "points outside"),
        ([_entry("dev", tarfile.CHRTYPE)], "device file"),
    ],
)
def test_malicious_tar_is_refused_before_anything_is_written(tmp_path, entries, why):
    archive = _tar(tmp_path / "evil.tar.gz", [_entry("first.txt"), *entries])
    out = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError, match=why):
        extract_safely(archive, out)
    assert not (out / "first.txt").exists()
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()


def test_malicious_tar_fails_the_command_and_leaves_no_output_folder(tmp_path, capsys):
    archive = _tar(tmp_path / "evil.tar", [_entry("../evil.txt")])
    out = tmp_path / "deep" / "o"
    assert main(["download", "--source", str(archive), "--sha256", _sha(archive), "--out", str(out)]) == 1
    assert "escapes the target" in capsys.readouterr().err.splitlines()[-1]
    assert not out.exists()
    kept = tmp_path / "kept"  # an output folder that was there before stays as it was
    (kept / "mine.txt").parent.mkdir()
    (kept / "mine.txt").write_text("x")
    assert main(["download", "--source", str(archive), "--sha256", _sha(archive), "--out", str(kept)]) == 1
    assert [p.name for p in kept.iterdir()] == ["mine.txt"]


def _zip(path: Path, entries: dict[str, bytes], links: dict[str, str] = {}) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def test_zip_is_extracted(tmp_path):
    archive = _zip(tmp_path / "good.zip", {"d/x.json": b"{}", "y.txt": b"y"})
    assert extract_safely(archive, tmp_path / "out") == ["d/x.json", "y.txt"]
    assert (tmp_path / "out/d/x.json").read_bytes() == b"{}"


@pytest.mark.parametrize(
    "entries, links, why",
    [
        ({"../evil.txt": b"x"}, {}, "escapes"),
        ({"/abs/evil.txt": b"x"}, {}, "absolute path"),
        ({"C:/evil.txt": b"x"}, {}, "absolute path"),
        ({}, {"link": "../../outside"}, "points outside"),
    ],
)
def test_malicious_zip_is_refused(tmp_path, entries, links, why):
    archive = _zip(tmp_path / "evil.zip", {"first.txt": b"1", **entries}, links)
    with pytest.raises(UnsafeArchiveError, match=why):
        extract_safely(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "first.txt").exists()


def test_not_an_archive_is_a_clear_error(tmp_path, capsys):
    plain = tmp_path / "data.7z"
    plain.write_bytes(b"7z\xbc\xaf\x27\x1c not really")
    assert main(["download", "--source", str(plain), "--sha256", _sha(plain), "--out", str(tmp_path / "o")]) == 1
    assert "not a tar or zip archive" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_url_is_fetched_from_a_local_http_server_with_byte_progress(tmp_path, good_archive, capsys):
    served = tmp_path / "served"
    served.mkdir()
    (served / "good.tar.gz").write_bytes(good_archive.read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/good.tar.gz"
        out, cache = tmp_path / "out", tmp_path / "cache"
        args = ["download", "--source", url, "--sha256", _sha(good_archive), "--out", str(out), "--cache", str(cache)]
        assert main(args) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert (cache / "good.tar.gz").read_bytes() == good_archive.read_bytes()
    assert (out / "raw/b/c.txt").read_bytes() == b"data"
    size = good_archive.stat().st_size
    progress = [line for line in capsys.readouterr().err.splitlines() if ": done, " in line]
    assert [line.split(",")[0] for line in progress] == ["fetch good.tar.gz: done", "sha256 good.tar.gz: done",
                                                         "extract good.tar.gz: done"]
    assert all(f"done, {size}B" in line for line in progress[:2])  # the archive's bytes, fetched and hashed
    assert progress[2].startswith("extract good.tar.gz: done, 8")  # the 8 bytes of its two files
    assert json.loads((out / "download.json").read_text())["source"] == url


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_url_says_where_to_place_the_archive(tmp_path, good_archive, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/datasets/good.tar.gz"
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["download", "--source", url, "--sha256", _sha(good_archive), "--out", str(out), "--cache", str(cache)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"skeletonllm download: error: could not fetch {url}") and err.count("\n") == 1
    assert f"place it at {cache / 'good.tar.gz'} and re-run" in err
    # Placed by hand where the message says, the same command now succeeds offline.
    (cache / "good.tar.gz").write_bytes(good_archive.read_bytes())
    assert main(args) == 0
    assert (out / "raw/a.txt").exists()
