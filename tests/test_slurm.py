"""The data half of the DAG through a real single-node SLURM, with the `slurm` profile as `make` installs it.

Skips when this machine cannot run SLURM, unless SKELETONLLM_REQUIRE_SLURM=1 (CI), where that is a failure."""

from __future__ import annotations

import os
import subprocess
import time

import pandas as pd
import pytest
import yaml

import slurm_cluster
from conftest import REPO

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


def test_data_rules_run_through_slurm(cluster, tmp_path, small_config, venv_env, snakemake):
    env = dict(venv_env, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    installed = subprocess.run(["make", "--no-print-directory", "profile"], cwd=REPO, env=env, capture_output=True,
                               text=True)
    assert installed.returncode == 0, installed.stderr

    started = time.monotonic()
    run = snakemake(tmp_path / "work", "--profile", "slurm", "results/splits/synth", "--configfile", str(small_config),
                    env=env, timeout=900)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, f"{run.stdout}\n{cluster.log_tail()}"

    index = pd.read_parquet(tmp_path / "work" / "results" / "data" / "synth" / "index.parquet")
    assert len(index) > 0
    assert (tmp_path / "work" / "results" / "splits" / "synth" / "index.json").exists()

    # The jobs really went through SLURM: slurmctld still lists them (MinJobAge), one per non-local rule, all
    # completed; the comment Snakemake gives each job names its rule. download is a localrule and never queued.
    jobs = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%k|%T"], capture_output=True, text=True)
    assert jobs.returncode == 0, jobs.stderr
    rows = [line.split("|") for line in jobs.stdout.splitlines() if line.strip()]
    rules = sorted(comment.split("_wildcards")[0].removeprefix("rule_") for comment, _ in rows)
    assert rules == ["prepare", "splits", "synth"], jobs.stdout
    assert {state for _, state in rows} == {"COMPLETED"}, jobs.stdout
    print(f"SLURM run of synth -> download -> prepare -> splits: {elapsed:.0f} s")
