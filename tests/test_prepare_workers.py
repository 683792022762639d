"""prepare's worker processes end with its main process, even when that one is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skeletonllm.bench.prepare import realistic_sequence
from skeletonllm.formats import write

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="workers end with their parent on Linux (prctl)")


def _process_states() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process, from /proc/<pid>/stat."""
    states = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
        except OSError:  # the process ended while being listed
            continue
        states[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return states


def _children(pid: int) -> list[int]:
    return [child for child, (parent, _) in _process_states().items() if parent == pid]


def _running(pids: list[int]) -> list[int]:
    """The pids still running (neither gone nor a zombie waiting for its new parent to reap it)."""
    states = _process_states()
    return [pid for pid in pids if pid in states and states[pid][1] not in "ZX"]


def _wait_until(condition, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    return condition()


@pytest.fixture(scope="module")
def raw_tree(tmp_path_factory):
    """1500 NTU files (hard links to 25 written ones) that take 2 workers a few seconds."""
    raw = tmp_path_factory.mktemp("raw")
    rng = np.random.default_rng(0)
    written = []
    for k in range(25):
        path = raw / f"S001C001P001R001A{k + 1:03d}.skeleton"
        write(path, realistic_sequence(rng, 100, 1 + k % 2), "ntu")
        written.append(path)
    for k in range(1500 - len(written)):
        os.link(written[k % len(written)], raw / f"S{k // 100 + 2:03d}C001P{k % 100 + 1:03d}R001A001.skeleton")
    return raw


def test_sigkill_of_prepare_leaves_no_worker_running(raw_tree, tmp_path):
    command = [sys.executable, "-m", "skeletonllm.cli", "prepare", "--dataset", "ntu120", "--raw", str(raw_tree),
               "--out", str(tmp_path / "out"), "--workers", "2"]
    main = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers = _wait_until(lambda: len(_children(main.pid)) >= 2 and _children(main.pid), 60)
        assert len(workers) >= 2 and main.poll() is None, "prepare ended before its workers could be seen"
        time.sleep(0.5)  # let the workers take up chunks
        assert _running(workers) == workers
        main.send_signal(signal.SIGKILL)
        main.wait(timeout=10)
    finally:
        if main.poll() is None:
            main.kill()
    _wait_until(lambda: not _running(workers), 10)
    left = _running(workers)
    for pid in left:  # keep a failing run from leaking them
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived prepare's main process"
