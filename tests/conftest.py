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


def write_config(path: Path, config: dict) -> Path:
    """Write a config dict as YAML and return its path."""
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def small_config(tmp_path) -> Path:
    """The embedded default shrunk for quick real runs: a small synth archive and only the `synth` dataset."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["synth"].update(subjects=3, repetitions=1, cameras=3)
    config["datasets"] = {"synth": config["datasets"]["synth"]}
    return write_config(tmp_path / "small.yaml", config)
