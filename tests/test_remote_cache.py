"""JsonlCache: keys, put/get, reload from disk, torn last line, corrupt lines, and a writer really killed with -9."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from skeletonllm.remote import CacheCorruptError, JsonlCache


def test_key_is_sha256_of_sample_and_prompt():
    key = JsonlCache.key("S001C001P001R001A023", "Explain the motion.")
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == JsonlCache.key("S001C001P001R001A023", "Explain the motion.")
    assert key != JsonlCache.key("S001C001P001R001A023", "Explain the motion!")
    assert key != JsonlCache.key("S001C001P001R001A024", "Explain the motion.")
    assert JsonlCache.key("ab", "c") != JsonlCache.key("a", "bc")  # the pair is unambiguous


def test_put_get_and_reload(tmp_path):
    path = tmp_path / "deep" / "cache.jsonl"
    cache = JsonlCache(path)
    assert len(cache) == 0 and cache.get("missing") is None and not path.exists()
    k1, k2 = JsonlCache.key("s1", "p"), JsonlCache.key("s2", "p")
    cache.put(k1, {"sample_id": "s1", "rationale": "right hand rises. Label: wave", "n": 1})
    cache.put(k2, {"sample_id": "s2", "rationale": "ünïcode ok"})
    cache.put(k1, {"sample_id": "s1", "rationale": "second answer", "n": 2})  # a later put wins
    assert len(cache) == 2 and k1 in cache
    got = cache.get(k1)
    got["n"] = 99  # callers get a copy
    assert cache.get(k1)["n"] == 2

    reloaded = JsonlCache(path)
    assert len(reloaded) == 2
    assert reloaded.get(k1) == {"sample_id": "s1", "rationale": "second answer", "n": 2}
    assert reloaded.get(k2)["rationale"] == "ünïcode ok"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3  # append-only


def test_put_rejects_bad_records_without_writing(tmp_path):
    cache = JsonlCache(tmp_path / "c.jsonl")
    with pytest.raises(TypeError):
        cache.put("k", ["not", "a", "dict"])
    with pytest.raises(TypeError):
        cache.put("k", {"value": object()})  # not JSON-serialisable
    assert len(cache) == 0 and not (tmp_path / "c.jsonl").exists()


def test_torn_last_line_ignored_and_repaired(tmp_path, caplog):
    path = tmp_path / "c.jsonl"
    cache = JsonlCache(path)
    cache.put("a", {"v": 1})
    cache.put("b", {"v": 2})
    with open(path, "ab") as handle:  # what a kill in the middle of a write leaves
        handle.write(b'{"key": "c", "record": {"v"')
    resumed = JsonlCache(path)
    assert len(resumed) == 2 and resumed.get("c") is None
    assert "torn last line" in caplog.text
    resumed.put("c", {"v": 3})  # the next append starts on a clean line
    final = JsonlCache(path)
    assert [final.get(k) for k in "abc"] == [{"v": 1}, {"v": 2}, {"v": 3}]


def test_corrupt_complete_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"key": "a", "record": {"v": 1}}\nnot json\n{"key": "b", "record": {"v": 2}}\n')
    with pytest.raises(CacheCorruptError, match=r"c\.jsonl:2: corrupt cache line"):
        JsonlCache(path)
    path.write_text('{"key": "a", "record": "not an object"}\n')
    with pytest.raises(CacheCorruptError, match=":1:"):
        JsonlCache(path)


WRITER = textwrap.dedent(
    """
    import sys
    from skeletonllm.remote import JsonlCache

    cache = JsonlCache(sys.argv[1])
    i = len(cache)
    while True:
        cache.put(JsonlCache.key(f"sample{i}", "prompt"), {"i": i, "payload": "x" * 20000})
        print(i, flush=True)  # only after put returned, i.e. after fsync
        i += 1
    """
)


def run_writer_and_kill(path, lines_to_see: int) -> int:
    """Start a child that appends to the cache in a loop, kill -9 it after it reported `lines_to_see` completed
    puts; return the highest index it reported as completed."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        last = -1
        for _ in range(lines_to_see):
            line = child.stdout.readline()
            assert line, "writer exited early"
            last = int(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return last


def test_killed_writer_loses_no_completed_line_and_resumes(tmp_path):
    path = tmp_path / "cache.jsonl"
    first_done = run_writer_and_kill(path, 30)
    first = JsonlCache(path)
    indices = sorted(first.get(JsonlCache.key(f"sample{i}", "prompt"))["i"] for i in range(len(first)))
    assert len(first) >= first_done + 1  # every put reported complete is there (maybe one more)
    assert indices == list(range(len(first)))

    second_done = run_writer_and_kill(path, 20)  # the child resumes from len(cache)
    assert second_done >= len(first) + 19
    second = JsonlCache(path)
    assert len(second) >= second_done + 1
    for i in range(len(second)):
        assert second.get(JsonlCache.key(f"sample{i}", "prompt"))["i"] == i
    assert all(json.loads(line)["record"]["i"] >= 0 for line in path.read_text().splitlines())
