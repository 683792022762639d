"""A table of bad inputs per command, each run as a user runs it (the `skeletonllm` console script in a fresh
process): none prints a traceback, each exits with status 1 and ends with one line
``skeletonllm <command>: error: <message>`` naming the problem."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import VENV_BIN
from skeletonllm.data.prepare import prepare
from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.data.synth.dataset import generate_dataset
from skeletonllm.errors import ERROR_STATUS
from skeletonllm.render.draction import DrAction, DrActionConfig
from test_remote_chat import ChatServer

# (command, arguments with {placeholders} of the `inputs` fixture, a part of the expected message)
CASES = [
    ("inspect", ["{missing}"], "missing.skeleton: No such file or directory"),
    ("inspect", ["{folder}"], "folder: Is a directory"),
    ("inspect", ["{empty_json}"], "empty.json: empty file, no JSON"),
    ("inspect", ["{binary_json}"], "binary.json: not UTF-8 text"),
    ("inspect", ["{no_frames}"], "no_frames.skeleton: the file holds no frames"),
    ("inspect", ["{truncated}"], "truncated.skeleton:2: truncated"),
    ("synth", ["--out", "{tmp}/synth", "--classes", "no such class"], "unknown synthetic class 'no such class'"),
    ("synth", ["--out", "{tmp}/synth", "--subjects", "0"], "subjects must be at least 1"),
    ("synth", ["--out", "{plain_file}"], "Not a directory"),
    ("download", ["--source", "{missing}", "--sha256", "0" * 64, "--out", "{tmp}/dl"], "does not exist"),
    ("download", ["--source", "{evil_tar}", "--sha256", "xyz", "--out", "{tmp}/dl"], "must be 64 hex digits"),
    ("download", ["--source", "{evil_tar}", "--sha256", "0" * 64, "--out", "{tmp}/dl"], "sha256 mismatch"),
    ("download", ["--source", "{evil_tar}", "--sha256-file", "{missing}", "--out", "{tmp}/dl"],
     "cannot read --sha256-file"),
    ("download", ["--source", "{plain_file}", "--sha256", "{plain_sha}", "--out", "{tmp}/dl"],
     "not a tar or zip archive"),
    ("download", ["--source", "{evil_tar}", "--sha256", "{evil_sha}", "--out", "{tmp}/dl"], "escapes the target"),
    ("download", ["--source", "{closed_url}/a.tar.gz", "--sha256", "0" * 64, "--out", "{tmp}/dl",
                  "--cache", "{tmp}/cache"], "could not fetch"),
    ("prepare", ["--dataset", "synth", "--raw", "{missing}", "--out", "{tmp}/prepared"], "missing.skeleton"),
    ("prepare", ["--dataset", "synth", "--raw", "{folder}", "--out", "{tmp}/prepared"], "folder"),
    ("splits", ["--dataset", "synth", "--data", "{missing}", "--out", "{tmp}/splits"], "not a prepared dataset"),
    ("splits", ["--dataset", "synth", "--data", "{data}", "--out", "{tmp}/splits", "--unseen", "no such class"],
     "no such class"),
    ("render", ["{missing}", "--renderer", "draction", "--out", "{tmp}/render"], "missing.skeleton"),
    ("render", ["{data}:NO_SUCH_SAMPLE", "--renderer", "draction", "--out", "{tmp}/render"], "NO_SUCH_SAMPLE"),
    ("render", ["{no_frames}", "--renderer", "draction", "--out", "{tmp}/render"], "no_frames.skeleton"),
    ("mine", ["--classes", "no-such-set"], "not a dataset with built-in classes"),
    ("mine", ["--classes", "synth", "--top-k", "99", "--out", "{tmp}/mine"], "--top-k must be between 1 and 23"),
    ("mine", ["--classes", "synth", "--backend", "file", "--file", "{missing}", "--out", "{tmp}/mine"],
     "missing.skeleton"),
    ("mine", ["--classes", "synth", "--backend", "llm", "--base-url", "{closed_url}", "--model", "m",
              "--out", "{tmp}/mine"], "cannot reach the chat endpoint"),
    ("mine", ["--classes", "synth", "--backend", "llm", "--base-url", "{unauthorized_url}", "--model", "m",
              "--out", "{tmp}/mine"], "answered HTTP 401"),
    ("teach", ["--data", "{missing}", "--split", "{split}"], "not a prepared dataset"),
    ("teach", ["--data", "{data}", "--split", "{missing}"], "cannot read the split: No such file or directory"),
    ("teach", ["--data", "{data}", "--split", "{unknown_split}"], "no sample 'NO_SUCH_SAMPLE'"),
    ("teach", ["--data", "{data}", "--split", "{split}", "--backend", "openai", "--model", "m"],
     "--backend openai needs --base-url"),
    ("teach", ["--data", "{data}", "--split", "{split}", "--backend", "openai", "--model", "m", "--base-url",
               "{closed_url}", "--renderer", "{renderer}"], "cannot reach the chat endpoint"),
    ("teach", ["--data", "{data}", "--split", "{split}", "--backend", "openai", "--model", "m", "--base-url",
               "{unauthorized_url}"], "answered HTTP 401"),  # with the default renderer, a fresh DrAction
    ("teach", ["--data", "{data}", "--split", "{split}", "--backend", "openai", "--model", "m", "--base-url",
               "{closed_url}", "--renderer", "{missing}"], "draction.json: missing"),
    ("teach", ["--data", "{data}", "--split", "{split}", "--backend", "hf", "--model", "{folder}",
               "--renderer", "{renderer}"], "folder"),
    ("bench", ["prepare", "--files", "0"], "--files, --workers and --repeats must be at least 1"),
    ("bench", ["render", "--backends", "torch"], "--backends must include dense"),
]
TEACH_DEFAULTS = ["--dataset", "synth", "--out", "teach"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The values of the placeholders: bad files, a real prepared store and splits, a closed port and a chat
    server that refuses every API key."""
    tmp = tmp_path_factory.mktemp("bad_inputs")
    (tmp / "folder").mkdir()
    (tmp / "empty.json").write_bytes(b"")
    (tmp / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)))
    (tmp / "no_frames.skeleton").write_text("0\n")
    (tmp / "truncated.skeleton").write_text("1\n")
    (tmp / "plain_file").write_text("not an archive\n")
    with tarfile.open(tmp / "evil.tar", "w") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    raw = generate_dataset(tmp / "raw", seed=0, subjects=2, repetitions=1, cameras=1, classes=["clap hands", "bow"],
                           formats=("ntu",))
    prepare("synth", raw, tmp / "data", workers=1)
    ids = list(PreparedDataset(tmp / "data").index["sample_id"])
    (tmp / "split.json").write_text(json.dumps({"train": ids}))
    (tmp / "unknown_split.json").write_text(json.dumps({"train": ["NO_SUCH_SAMPLE"]}))
    DrAction(DrActionConfig(frames=2, size=32, backend="torch")).save(tmp / "renderer")
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    server = ChatServer(["echo-401"] * 100)
    yield {"tmp": tmp, "missing": tmp / "missing.skeleton", "folder": tmp / "folder",
           "empty_json": tmp / "empty.json", "binary_json": tmp / "binary.json",
           "no_frames": tmp / "no_frames.skeleton", "truncated": tmp / "truncated.skeleton",
           "plain_file": tmp / "plain_file", "plain_sha": _sha256(tmp / "plain_file"), "evil_tar": tmp / "evil.tar",
           "evil_sha": _sha256(tmp / "evil.tar"), "data": tmp / "data", "split": tmp / "split.json",
           "unknown_split": tmp / "unknown_split.json", "renderer": tmp / "renderer", "closed_url": closed_url,
           "unauthorized_url": server.base_url}
    server.close()


def run_cli(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`skeletonllm ARGV` in a fresh process, as a user runs it."""
    return subprocess.run([str(VENV_BIN / "skeletonllm"), *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def results(inputs, venv_env) -> list[tuple[list[str], subprocess.CompletedProcess]]:
    """(argv, finished process) of every case, run a few at a time, each in a working folder of its own."""
    env = venv_env | {"OPENAI_API_KEY": "sk-refused"}  # a key the 401 server refuses

    def run_case(number: int):
        command, arguments, _ = CASES[number]
        argv = [a.format(**inputs) for a in [command, *arguments] + (TEACH_DEFAULTS if command == "teach" else [])]
        cwd = inputs["tmp"] / f"case{number}"
        cwd.mkdir()
        return argv, run_cli(argv, cwd, env)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(run_case, range(len(CASES))))


@pytest.mark.parametrize("number", range(len(CASES)), ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES)])
def test_bad_input_is_one_error_line_and_status_1(results, number):
    command, _, message = CASES[number]
    argv, result = results[number]
    shown = f"$ skeletonllm {' '.join(argv)}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert result.returncode == ERROR_STATUS, shown
    last = result.stderr.rstrip("\n").split("\n")[-1]
    assert last.startswith(f"skeletonllm {command}: error: ") and message in last, shown
    assert sum(": error: " in line for line in result.stderr.splitlines()) == 1, shown


def test_inspect_of_a_missing_file(tmp_path, venv_env):
    """The contract check: `skeletonllm inspect MISSING_FILE` exits non-zero and prints no traceback."""
    result = run_cli(["inspect", str(tmp_path / "MISSING_FILE")], tmp_path, venv_env)
    assert result.returncode != 0 and "Traceback" not in result.stderr + result.stdout
    assert result.stderr == f"skeletonllm inspect: error: {tmp_path / 'MISSING_FILE'}: No such file or directory\n"
