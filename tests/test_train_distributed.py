"""Data-parallel training is the same training: stage 1 under `torchrun --nproc-per-node 2` (DDP over gloo on the
CPU) with per-device batch B ends at the weights of one process with batch 2B, and only rank 0 writes the stage
directory and the MLflow run.

Why they agree: both draw the same permutation from data_seed, and global step k takes the same 2B examples (rank
r gets batches 2k + r of B); frames come from (seed, item, epoch); SkeletonLLM accepts num_items_in_batch, so each
rank's loss is its summed token cross-entropy over the answer tokens of the global batch, and DDP's gradient
average times the world size (the Trainer's average_tokens_across_devices) is the single process's token mean.
What differs is float summation order (per-rank partial sums, gloo's all-reduce, 1 vs 2 threads per process), so
the weights agree to float error, not bit for bit.

Tolerance, from a quarter epoch (8 optimizer steps, lr 1e-3 with AdamW, every MLLM weight trainable as the tiny
config has it): the largest difference measured in any weight was 2.4e-6 (a k_proj bias of the LLM), against
updates of up to 4e-3 over the run; the whole difference is 9e-7 of the whole update (L2). The test allows 2e-5
per element (10x the measurement, still 1/200 of the largest update) and 1e-4 of the update in L2. Two of the
vision tower's k_proj biases have an exactly zero gradient in exact arithmetic (a constant added to every key of a
softmax), so AdamW drives them with rounding noise alone: their ~1e-8 updates differ by ~20 % between the runs,
far inside the absolute tolerance and negligible in the L2 measure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

VENV_BIN = Path(sys.executable).parent
PER_DEVICE_BATCH = 2
WORLD_SIZE = 2
ATOL = 2e-5  # per element, absolute
L2_RTOL = 1e-4  # |ddp - single| / |single - start|, over every MLLM weight
RUN_TIMEOUT_S = 600


def write_config(train_inputs: Path, folder: Path, name: str, batch_size: int) -> Path:
    """The fixture's config (its results, so its data and tiny model) for a quarter epoch of stage 1 at batch_size
    per device, no checkpoint, MLflow in folder/<name>.db."""
    config = yaml.safe_load((train_inputs / "train.yaml").read_text())
    config["train"].update(epochs=[0.25, 1, 1, 1], batch_size=batch_size, save_steps=1000, logging_steps=1)
    config["mlflow"]["tracking_uri"] = f"sqlite:///{folder / f'{name}.db'}"
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-6000:]
    return result.stdout


@pytest.fixture(scope="module")
def runs(train_inputs, tmp_path_factory, venv_env):
    """{"single": (stage dir, config, output, working dir), "ddp": ...}: one process at batch 2B, two under torchrun
    at B, each in its own empty working directory (where MLflow puts a run's artifacts, see the last test)."""
    root = tmp_path_factory.mktemp("distributed")
    train = ["train", "--stage", "1"]
    env = {**venv_env, "OMP_NUM_THREADS": "1"}  # as torchrun sets it for each of its workers
    launchers = {"single": ([str(VENV_BIN / "skeletonllm")], PER_DEVICE_BATCH * WORLD_SIZE),
                 "ddp": ([str(VENV_BIN / "torchrun"), "--standalone", "--nproc-per-node", str(WORLD_SIZE), "-m",
                          "skeletonllm.cli"], PER_DEVICE_BATCH)}
    found = {}
    for name, (launcher, batch_size) in launchers.items():
        config, work = write_config(train_inputs, root, name, batch_size), root / f"{name}_cwd"
        work.mkdir()
        output = run([*launcher, *train, "--config", str(config), "--out", str(root / name)], work, env)
        found[name] = (root / name, config, output, work)
    return found


@pytest.mark.slow
def test_two_processes_reach_the_weights_of_one_with_the_same_global_batch(runs, train_inputs):
    single_dir, ddp_dir = runs["single"][0], runs["ddp"][0]
    single_metrics = json.loads((single_dir / "metrics.json").read_text())
    ddp_metrics = json.loads((ddp_dir / "metrics.json").read_text())
    assert ddp_metrics["steps"] == single_metrics["steps"] == 8
    start = load_file(train_inputs / "results" / "models" / "tiny" / "model.safetensors")
    single = load_file(single_dir / "mllm" / "model.safetensors")
    ddp = load_file(ddp_dir / "mllm" / "model.safetensors")
    assert set(single) == set(ddp) == set(start)
    for key in single:
        torch.testing.assert_close(ddp[key], single[key], atol=ATOL, rtol=0, msg=lambda m, key=key: f"{key}: {m}")
    difference = sum(float((ddp[k].double() - single[k].double()).square().sum()) for k in single) ** 0.5
    update = sum(float((single[k].double() - start[k].double()).square().sum()) for k in single) ** 0.5
    assert update > 1.0  # the run trained: the tolerance is small against what changed
    assert difference <= L2_RTOL * update, f"|ddp - single| = {difference:.3g}, |update| = {update:.3g}"
    renderer = {name: load_file(directory / "draction.safetensors") for name, directory in
                (("single", single_dir), ("ddp", ddp_dir))}
    for key, value in renderer["single"].items():
        torch.testing.assert_close(renderer["ddp"][key], value, atol=ATOL, rtol=0)
    single_losses = [entry["loss"] for entry in json.loads((single_dir / "trainer_state.json").read_text())
                     ["log_history"] if "loss" in entry]
    ddp_losses = [entry["loss"] for entry in json.loads((ddp_dir / "trainer_state.json").read_text())["log_history"]
                  if "loss" in entry]
    assert ddp_losses == pytest.approx(single_losses, rel=1e-5)  # the global token mean, logged step by step


@pytest.mark.slow
def test_only_rank_zero_writes_the_stage_and_its_mlflow_run(runs):
    from mlflow.tracking import MlflowClient

    directory, config_path, output, work = runs["ddp"]
    assert output.count("wrote ") == 1 and output.count('"seen_mqa_accuracy"') == 1  # rank 1 prints no metrics
    assert not directory.with_name(directory.name + ".checkpoints").exists()
    metrics = json.loads((directory / "metrics.json").read_text())
    config = yaml.safe_load(config_path.read_text())
    client = MlflowClient(config["mlflow"]["tracking_uri"])
    experiments = [e for e in client.search_experiments() if e.name != "Default"]
    assert [e.name for e in experiments] == [config_path.stem]
    parent, run = sorted(client.search_runs([experiments[0].experiment_id]), key=lambda found: found.info.run_name)
    assert parent.info.run_name == "full/seed0" and run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert run.info.status == "FINISHED" and run.info.run_name == "full/stage1/seed0"
    assert run.data.metrics["final/steps"] == metrics["steps"]
    assert run.data.params["config.train.batch_size"] == str(PER_DEVICE_BATCH)
    assert len(client.get_metric_history(run.info.run_id, "loss")) == metrics["steps"]  # logged once, not per rank
    assert {artifact.path for artifact in client.list_artifacts(run.info.run_id)} == {"metrics.json", "loss.png"}
    default = client.get_experiment_by_name("Default")
    assert not default or not client.search_runs([default.experiment_id])  # no stray run of the Trainer's callback
    # MLflow's sqlite store puts an experiment's artifacts under <working directory>/mlruns unless told otherwise:
    # whatever lands in the working directory must be this one run's artifacts (nothing of rank 1's).
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    artifacts = (artifacts if artifacts.is_absolute() else work / artifacts).resolve()
    stray = [path for path in work.rglob("*") if path.is_file() and artifacts not in path.resolve().parents]
    assert not stray, f"files in the working directory that are not the run's artifacts: {stray}"
