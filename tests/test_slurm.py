"""The whole DAG (every rule) through a real single-node SLURM, with the `slurm` profile as `make` installs it.

Skips when this machine cannot run SLURM, unless SKELETONLLM_REQUIRE_SLURM=1 (CI), where that is a failure."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import slurm_cluster
from conftest import REPO, write_config

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
