"""Shared fixtures: the repository root, an environment whose PATH finds this venv's `skeletonllm` and `snakemake`,
a runner for Snakemake on a scratch working directory, and a small embedded-default config for real runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (holds the Snakefile)."""
    return REPO


@pytest.fixture(scope="session")
def venv_env() -> dict[str, str]:
    """os.environ with this interpreter's bin folder first on PATH, as `make` sets it for the rules."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def snakemake(venv_env):
    """Run `snakemake -s <repo>/Snakefile -d WORKDIR ARGS...`; returns the CompletedProcess, whose .stdout holds
    stdout and stderr together (Snakemake logs to either, depending on the terminal)."""

    def run(workdir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600):
        command = [str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
        return subprocess.run(
            command, cwd=REPO, env=env or venv_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=timeout,
        )

    return run


# Training at its cheapest for tests: 2 frames of 56 pixels, batches of 4, 8 held-out samples scored.
TINY_TRAINING = {"frames": 2, "render_size": 56, "batch_size": 4, "eval_samples": 8, "logging_steps": 2,
                 "save_steps": 4}
QUICK_EPOCHS = [0.25, 0.25, 0.25, 0.25]  # a few steps per stage, for runs of the whole DAG


def write_config(path: Path, config: dict) -> Path:
    """Write a config dict as YAML and return its path."""
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def small_config(tmp_path) -> Path:
    """The embedded default shrunk for quick real runs: a small synth archive, only the `synth` dataset, a few
    training steps per stage and 4 samples per evaluation task (no crossformat and no captions: no other format is
    prepared; stage 4 still mixes in the motion questions); the runs full and stages_1_4, the latter evaluated on
    open-vocab only."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["synth"].update(subjects=3, repetitions=1, cameras=3)
    config["datasets"] = {"synth": config["datasets"]["synth"]}
    config["train"].update(TINY_TRAINING, epochs=QUICK_EPOCHS, refine_tasks=["qa"])
    config["eval"].update(tasks=["openvocab", "gzsl", "closed"], crossformat_targets=[], samples=4, batch_size=4)
    config["ablation"].update(variants=["full", "stages_1_4"], tasks=["openvocab"])
    return write_config(tmp_path / "small.yaml", config)


def tiny_train_config(results: Path) -> dict:
    """The embedded default's config shrunk for training and evaluation tests: results under `results`, a small
    synth archive (all four of its formats), TINY_TRAINING with one epoch per stage, 6 samples per evaluation,
    MLflow in a sqlite file beside the results."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["results"] = str(results)
    config["synth"].update(subjects=3, repetitions=1, cameras=3)
    config["train"].update(TINY_TRAINING, epochs=[1, 1, 1, 1])
    config["eval"].update(samples=6, batch_size=4)
    config["mlflow"]["tracking_uri"] = f"sqlite:///{results / 'mlflow.db'}"
    return config


@pytest.fixture(scope="session")
def train_inputs(tmp_path_factory, venv_env) -> Path:
    """A results folder for training and evaluation tests: the small synth datasets (ntu25, ucla20, openpose18,
    smpl22) prepared and split, synth's hard negatives and teacher rationales (a real Snakemake run of the DAG's
    data, mining and teacher rules) and the tiny MLLM built with `skeletonllm build-model`; the folder's train.yaml
    is tiny_train_config for it."""
    workdir = tmp_path_factory.mktemp("train_inputs")
    results = workdir / "results"
    configfile = write_config(workdir / "train.yaml", tiny_train_config(results))
    targets = [str(results / "mining/synth/hard_negatives.json"),
               str(results / "teacher/synth/xsub_s19u5/rationales.jsonl"), str(results / "models/tiny"),
               *(str(results / "splits" / name) for name in ("synth_ucla", "synth_kinetics", "synth_humanml3d"))]
    command = [str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2",
               *targets, "--configfile", str(configfile)]
    result = subprocess.run(command, cwd=REPO, env=venv_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-5000:]
    return workdir


@pytest.fixture(scope="session")
def stage_checkpoint(train_inputs) -> Path:
    """A stage directory of the tiny model (stage 1, one epoch on train_inputs' small synth data), for evaluation
    and prediction tests; MLflow in a sqlite file beside it."""
    from skeletonllm.cli import main

    config = yaml.safe_load((train_inputs / "train.yaml").read_text())
    config["mlflow"]["tracking_uri"] = f"sqlite:///{train_inputs / 'checkpoint_mlflow.db'}"
    configfile = write_config(train_inputs / "checkpoint.yaml", config)
    out = train_inputs / "checkpoint" / "stage1"
    assert main(["train", "--stage", "1", "--config", str(configfile), "--out", str(out)]) == 0
    return out
