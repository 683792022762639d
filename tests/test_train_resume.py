"""A killed stage resumes from its last checkpoint and ends where an uninterrupted run ends: stage 1 of the tiny model
on the small synth data of the train_inputs fixture, run as a real `skeletonllm train` subprocess, SIGKILLed once a
checkpoint (step >= 2) is complete, rerun with the same command to the end, and compared tensor by tensor with an
uninterrupted run of the same config.

On CPU with a fixed seed the two are bit-identical: the data order comes from data_seed (the resumed run skips the
batches it has seen), frame draws from (seed, item, epoch), and the checkpoint holds the weights, AdamW's moments,
the scheduler and the RNG states. So the weights are compared with torch.equal, not a tolerance.

Half an epoch of stage 1 (15 optimizer steps of 4 examples), a checkpoint every 2 steps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from checkpoints import CHECKPOINT, complete_checkpoints
from skeletonllm.train.tracking import PARENT_KIND

KILL_AT_STEP = 2
RUN_TIMEOUT_S = 600
WEIGHT_FILES = ("mllm/model.safetensors", "draction.safetensors")


@pytest.fixture(scope="module")
def resume_config(train_inputs, tmp_path_factory) -> Path:
    """The fixture's config (results = the fixture's, so the default inputs are its data) for half an epoch of
    stage 1 with a checkpoint every 2 steps, MLflow in a scratch sqlite file."""
    config = yaml.safe_load((train_inputs / "train.yaml").read_text())
    config["train"].update(epochs=[0.5, 1, 1, 1], save_steps=KILL_AT_STEP, logging_steps=1)
    config["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path_factory.mktemp('resume_mlflow') / 'mlflow.db'}"
    path = tmp_path_factory.mktemp("resume_config") / "resume.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def train_command(config: Path, out: Path) -> list[str]:
    return ["skeletonllm", "train", "--stage", "1", "--config", str(config), "--out", str(out)]


def checkpoint_dirs(folder: Path) -> list[str]:
    """Names of every checkpoint-N directory in folder, complete or not, by step."""
    names = [path.name for path in folder.iterdir() if CHECKPOINT.match(path.name)] if folder.is_dir() else []
    return sorted(names, key=lambda name: int(CHECKPOINT.match(name).group(1)))


# Runs start in the folder of their log: MLflow's sqlite store puts artifacts under <working directory>/mlruns.
def run_to_end(command: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("w") as output:
        result = subprocess.run(command, cwd=log.parent, env=env, stdout=output, stderr=subprocess.STDOUT,
                                timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, log.read_text()[-5000:]


def kill_after_checkpoint(command: list[str], env: dict[str, str], checkpoints: Path, log: Path) -> list[str]:
    """Start the command, SIGKILL it as soon as a complete checkpoint of step >= KILL_AT_STEP exists; returns the
    checkpoint directories left behind."""
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=log.parent, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while not any(step >= KILL_AT_STEP for step in complete_checkpoints(checkpoints)):
                assert process.poll() is None, f"the run ended before its first checkpoint:\n{log.read_text()[-5000:]}"
                assert time.monotonic() < deadline, "no checkpoint within the timeout"
                time.sleep(0.05)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)  # a failed wait above: do not leave the run behind
            process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return checkpoint_dirs(checkpoints)


def weights(out: Path) -> dict[str, torch.Tensor]:
    tensors = {}
    for name in WEIGHT_FILES:
        tensors.update({f"{name}:{key}": value for key, value in load_file(out / name).items()})
    return tensors


@pytest.fixture(scope="module")
def runs(resume_config, tmp_path_factory, venv_env):
    """(uninterrupted stage directory, resumed stage directory, checkpoints left by the killed run)."""
    root = tmp_path_factory.mktemp("resume")
    straight, resumed = root / "straight", root / "resumed"
    run_to_end(train_command(resume_config, straight), venv_env, root / "straight.log")
    left = kill_after_checkpoint(train_command(resume_config, resumed), venv_env,
                                 resumed.with_name(resumed.name + ".checkpoints"), root / "killed.log")
    assert not (resumed / "metrics.json").exists()
    run_to_end(train_command(resume_config, resumed), venv_env, root / "resumed.log")
    return straight, resumed, left


@pytest.mark.slow
def test_killed_stage_resumes_to_the_uninterrupted_weights(runs):
    straight, resumed, _ = runs
    expected, actual = weights(straight), weights(resumed)
    assert set(actual) == set(expected)
    differing = {key: float((actual[key].double() - expected[key].double()).abs().max())
                 for key in expected if not torch.equal(actual[key], expected[key])}
    assert not differing, f"{len(differing)} of {len(expected)} tensors differ, max abs diff: {differing}"


@pytest.mark.slow
def test_resumed_stage_reports_its_checkpoint_and_removes_the_checkpoints(runs, resume_config):
    from mlflow.tracking import MlflowClient

    straight, resumed, left = runs
    assert left, "the killed run left no checkpoint"
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert metrics["resumed_from"] == left[-1]
    assert int(CHECKPOINT.match(left[-1]).group(1)) >= KILL_AT_STEP
    assert json.loads((straight / "metrics.json").read_text())["resumed_from"] is None
    assert metrics["steps"] == json.loads((straight / "metrics.json").read_text())["steps"]
    for out in (straight, resumed):
        assert not out.with_name(out.name + ".checkpoints").exists()
    # the killed run's MLflow run was reopened and finished, not left RUNNING beside a second one
    client = MlflowClient(yaml.safe_load(resume_config.read_text())["mlflow"]["tracking_uri"])
    experiment = client.get_experiment_by_name(resume_config.stem)
    found = client.search_runs([experiment.experiment_id])
    stage_runs = [run for run in found if run.data.tags.get("run_kind") != PARENT_KIND]
    assert [run.info.status for run in stage_runs] == ["FINISHED", "FINISHED"]  # the straight one and this one
    assert len(found) == 3  # and their one parent run, full/seed0
    resumed_run = max(stage_runs, key=lambda run: run.info.start_time)  # started by the killed process
    logged = {entry.step for entry in client.get_metric_history(resumed_run.info.run_id, "loss")}
    assert logged == set(range(1, metrics["steps"] + 1))  # before the kill and after the resume, one run
