"""The whole DAG (every rule) through a real single-node SLURM, with the `slurm` profile as `make` installs it, and a
training job cancelled mid-stage (`scancel`) that a rerun finishes from its checkpoint.

Skips when this machine cannot run SLURM, unless SKELETONLLM_REQUIRE_SLURM=1 (CI), where that is a failure."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import slurm_cluster
from checkpoints import complete_checkpoints
from conftest import REPO, VENV_BIN, write_config

PROFILE = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running local SLURM whose partition is the profile's default, stopped (by pid) after the module."""
    reason = slurm_cluster.why_unavailable()
    if reason:
        if os.environ.get("SKELETONLLM_REQUIRE_SLURM") == "1":
            pytest.fail(f"SKELETONLLM_REQUIRE_SLURM=1 but SLURM cannot run here: {reason}")
        pytest.skip(reason)
    running = slurm_cluster.start(PROFILE["default-resources"]["slurm_partition"], tmp_path_factory.mktemp("slurm"))
    yield running
    slurm_cluster.stop(running)


@pytest.fixture
def tiny_config(small_config) -> Path:
    """The small config with the cheapest previews: one renderer, one sample of a few small frames."""
    config = yaml.safe_load(small_config.read_text())
    config["render"].update(renderers=["2d_projection"], preview_samples=1, frames=4, size=32)
    return write_config(small_config.parent / "tiny.yaml", config)


def test_every_rule_runs_through_slurm(cluster, tmp_path, tiny_config, venv_env, snakemake):
    env = dict(venv_env, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    installed = subprocess.run(["make", "--no-print-directory", "profile"], cwd=REPO, env=env, capture_output=True,
                               text=True)
    assert installed.returncode == 0, installed.stderr

    started = time.monotonic()
    run = snakemake(tmp_path / "work", "--profile", "slurm", "all", "--configfile", str(tiny_config), env=env,
                    timeout=900)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, f"{run.stdout}\n{cluster.log_tail()}"

    results = tmp_path / "work" / "results"
    assert len(pd.read_parquet(results / "data" / "synth" / "index.parquet")) > 0
    assert (results / "splits" / "synth" / "index.json").exists()
    assert list((results / "plots" / "render" / "2d_projection").glob("*/frame_*.png"))
    assert (results / "mining" / "synth" / "hard_negatives.json").exists()
    assert (results / "teacher" / "synth" / "xsub_s19u5" / "rationales.jsonl").stat().st_size > 0
    assert (results / "train" / "synth" / "full" / "stage4" / "metrics.json").exists()
    assert (results / "train" / "synth" / "stages_1_4" / "stage4" / "metrics.json").exists()
    ablation = pd.read_csv(results / "tables" / "ablation.csv")  # evaluation, baseline and tables: a local rule
    assert ablation["variant"].tolist()[:2] == ["full", "stages_1_4"]

    # The jobs really went through SLURM: slurmctld still lists them (MinJobAge), one per non-local rule, all
    # completed; the comment Snakemake gives each job names its rule. download, build_model and tables are local
    # rules and never queued.
    jobs = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%k|%T"], capture_output=True, text=True)
    assert jobs.returncode == 0, jobs.stderr
    rows = [line.split("|") for line in jobs.stdout.splitlines() if line.strip()]
    rules = sorted(comment.split("_wildcards")[0].removeprefix("rule_") for comment, _ in rows)
    config = yaml.safe_load(tiny_config.read_text())
    tasks, ablated = len(config["eval"]["tasks"]), len(config["ablation"]["tasks"])
    assert rules == sorted(["mine", "prepare", "render_preview", "splits", "synth", "teach", "train_stage1",
                            "train_stage2", "train_stage3", "train_stage4", "train_stage1", "train_stage4",
                            "baseline_train", *["evaluate"] * (tasks + ablated),
                            *["baseline_evaluate"] * tasks]), jobs.stdout
    assert {state for _, state in rows} == {"COMPLETED"}, jobs.stdout
    print(f"SLURM run of every rule: {elapsed:.0f} s")


def squeue_jobs() -> list[tuple[str, str, str]]:
    """(job id, comment, state) of every job slurmctld lists, finished ones included."""
    listed = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%k|%T"], capture_output=True,
                            text=True, check=True)
    return [tuple(line.split("|")) for line in listed.stdout.splitlines() if line.strip()]


def test_a_training_job_cancelled_mid_stage_resumes_from_its_checkpoint(cluster, tmp_path, tiny_config, venv_env):
    """Stage 1 sent through SLURM is scancelled once it has a complete checkpoint; Snakemake fails the job (no
    retry), and a rerun with --rerun-incomplete trains the stage to the end from that checkpoint."""
    env = dict(venv_env, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    installed = subprocess.run(["make", "--no-print-directory", "profile"], cwd=REPO, env=env, capture_output=True,
                               text=True)
    assert installed.returncode == 0, installed.stderr
    config = yaml.safe_load(tiny_config.read_text())
    config["train"].update(epochs=[2, 1, 1, 1], save_steps=2, logging_steps=1)  # about 60 steps, a checkpoint per 2
    configfile = write_config(tmp_path / "cancel.yaml", config)
    work, stage = tmp_path / "work", "results/train/synth/full/stage1"
    checkpoints = work / (stage + ".checkpoints")
    command = [str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(work), stage, "--profile",
               "slurm", "--configfile", str(configfile)]
    log = tmp_path / "first.log"
    with log.open("w") as output:
        first = subprocess.Popen([*command, "--retries", "0"], cwd=REPO, env=env, stdout=output,
                                 stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while not complete_checkpoints(checkpoints):
            assert first.poll() is None, f"the run ended before stage 1 saved a checkpoint:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, "no checkpoint of stage 1 within 10 minutes"
            time.sleep(0.1)
        [job] = [job_id for job_id, comment, state in squeue_jobs()
                 if comment.startswith("rule_train_stage1") and state == "RUNNING"]
        subprocess.run(["scancel", job], check=True)
        assert first.wait(timeout=300) != 0, log.read_text()[-4000:]
    assert not (work / stage / "metrics.json").exists()  # Snakemake removed the cancelled job's output
    assert dict((job_id, state) for job_id, _, state in squeue_jobs())[job] == "CANCELLED"
    left = sorted(complete_checkpoints(checkpoints))
    assert left, "the cancelled job left no complete checkpoint"

    rerun = subprocess.run([*command, "--rerun-incomplete"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=900)
    assert rerun.returncode == 0, f"{rerun.stdout[-5000:]}\n{cluster.log_tail()}"
    metrics = json.loads((work / stage / "metrics.json").read_text())
    assert metrics["resumed_from"] is not None and int(metrics["resumed_from"].split("-")[1]) >= left[0]
    assert not checkpoints.exists()  # removed once the stage finished
