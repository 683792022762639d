"""Training jobs in parallel against a real MLflow tracking server, as a cluster runs it: `mlflow server` on
127.0.0.1 whose backend store is a real PostgreSQL (tests/postgres_server.py) and whose artifacts it serves from a
local directory (--artifacts-destination: the jobs upload through the server). Four `skeletonllm train --stage 1`
processes of distinct (variant, seed) run at once; every run, param, metric and artifact must arrive, none twice.

Skips when this machine cannot run PostgreSQL, unless SKELETONLLM_REQUIRE_POSTGRES=1 or CI=true, where that is a
failure (.ci/run installs Debian's postgresql and sets the former)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import yaml

import postgres_server
from conftest import VENV_BIN, write_config

EXPERIMENT = "postgres-server-test"
JOBS = [("full", 0), ("full", 1), ("stages_1_4", 0), ("stages_1_4", 1)]  # 4 distinct (variant, seed) runs
REQUIRED = os.environ.get("SKELETONLLM_REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"
UNAVAILABLE = postgres_server.why_unavailable()

# Skipped at collection (before the session's training inputs are built) unless required.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(UNAVAILABLE) and not REQUIRED, reason=UNAVAILABLE or "")]


@pytest.fixture(scope="module")
def postgres():
    """A running PostgreSQL with an empty database `mlflow`, stopped by pid (and its directory removed) after."""
    if UNAVAILABLE:
        pytest.fail(f"PostgreSQL is required here (SKELETONLLM_REQUIRE_POSTGRES=1 or CI=true) but cannot run: "
                    f"{UNAVAILABLE}")
    server = postgres_server.start("mlflow")
    yield server
    postgres_server.stop(server)
    # 0: the postmaster ended on SIGINT (fast shutdown, after its backends), not on the SIGQUIT/SIGKILL fallbacks.
    assert server.process.returncode == 0, f"postgres exit status {server.process.returncode}\n{server.log_tail()}"


def process_group(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def stop_group(process: subprocess.Popen, timeout: float = 30) -> list[int]:
    """SIGTERM the process group led by process (the server and its uvicorn workers), SIGKILL what is left after
    timeout; returns the pids that still lived when SIGKILL was needed (empty when all stopped by themselves)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None and not process_group(process.pid):
            return []
        time.sleep(0.2)
    lingering = process_group(process.pid)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    return lingering


@pytest.fixture
def mlflow_server(postgres, tmp_path, venv_env):
    """`mlflow server` on a free port of 127.0.0.1 over the PostgreSQL, its artifacts in tmp_path/artifacts;
    yields (tracking URI, artifacts directory). Its whole process group is stopped after the test, and none of its
    processes may outlive SIGTERM. (MLflow's job runner, for its GenAI jobs, is off: nothing here uses it, and its
    seven consumers would compete with the training jobs for the CPUs.)"""
    port = postgres_server.free_port()
    artifacts = tmp_path / "artifacts"
    log_path = tmp_path / "mlflow-server.log"
    env = {key: value for key, value in venv_env.items() if not key.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    command = [str(VENV_BIN / "mlflow"), "server", "--backend-store-uri", postgres.url(),
               "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "2"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   cwd=tmp_path, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"mlflow server exited with {process.returncode}\n{log_path.read_text()}"
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"mlflow server not healthy after 120 s\n{log_path.read_text()}"
            time.sleep(0.5)
        yield uri, artifacts
    finally:
        lingering = stop_group(process)
    assert not lingering, f"mlflow server processes {lingering} outlived SIGTERM\n{log_path.read_text()[-3000:]}"


def test_parallel_training_jobs_track_into_postgres_backed_server(mlflow_server, postgres, train_inputs, tmp_path,
                                                                  venv_env):
    from mlflow.tracking import MlflowClient

    from skeletonllm.config import flatten
    from skeletonllm.train.tracking import git_commit

    uri, artifacts = mlflow_server
    config = yaml.safe_load((train_inputs / "train.yaml").read_text())
    config["mlflow"].update(tracking_uri=uri, experiment=EXPERIMENT)
    config["train"].update(epochs=[0.25, 1, 1, 1], eval_samples=4)
    configfile = write_config(tmp_path / "server.yaml", config)

    # One thread each (2 cores for 4 jobs); MLflow only from the config, none from the environment.
    env = {key: value for key, value in venv_env.items() if not key.startswith("MLFLOW_")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    commit_before = git_commit()  # the jobs tag HEAD; another checkout's commit may move it meanwhile
    started = time.monotonic()
    jobs = {}
    for variant, seed in JOBS:
        out = tmp_path / "runs" / f"{variant}_seed{seed}" / "stage1"
        log_path = tmp_path / f"train_{variant}_seed{seed}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(VENV_BIN / "skeletonllm"), "train", "--stage", "1", "--config", str(configfile), "--variant",
                 variant, "--seed", str(seed), "--out", str(out)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path)
        jobs[(variant, seed)] = (process, out, log_path)
    try:
        for process, _, _ in jobs.values():
            process.wait(timeout=max(1.0, started + 600 - time.monotonic()))
    finally:
        for process, _, _ in jobs.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    elapsed = time.monotonic() - started
    for (variant, seed), (process, _, log_path) in jobs.items():
        assert process.returncode == 0, f"{variant} seed {seed} exited with {process.returncode}\n" \
                                        f"{log_path.read_text(errors='replace')[-5000:]}"

    client = MlflowClient(tracking_uri=uri)
    experiments = [experiment for experiment in client.search_experiments() if experiment.name == EXPERIMENT]
    assert len(experiments) == 1, experiments  # four jobs raced to create it: one experiment
    experiment_id = experiments[0].experiment_id
    runs = client.search_runs([experiment_id], max_results=1000)
    assert len(runs) == 8, sorted(run.info.run_name for run in runs)  # 4 parents + 4 stage runs, nothing else

    parents = [run for run in runs if run.data.tags.get("run_kind") == "variant_run"]
    assert sorted(run.info.run_name for run in parents) == sorted(f"{v}/seed{s}" for v, s in JOBS)
    parent_of = {(run.data.tags["variant"], int(run.data.tags["seed"])): run.info.run_id for run in parents}
    assert set(parent_of) == set(JOBS)

    stages = [run for run in runs if run.data.tags.get("run_kind") != "variant_run"]
    by_name = {run.info.run_name: run for run in stages}
    assert sorted(by_name) == sorted(f"{v}/stage1/seed{s}" for v, s in JOBS)
    commits = {commit_before, git_commit()}
    config_keys = set()
    for variant, seed in JOBS:
        run = by_name[f"{variant}/stage1/seed{seed}"]
        _, out, _ = jobs[(variant, seed)]
        assert run.info.status == "FINISHED", run.info
        tags = run.data.tags
        expected_tags = {"stage": "1", "dataset": "synth", "split": config["train"]["split"], "variant": variant,
                         "seed": str(seed), "mlflow.parentRunId": parent_of[(variant, seed)]}
        assert {key: tags.get(key) for key in expected_tags} == expected_tags
        assert tags.get("git_commit") in commits, (tags.get("git_commit"), commits)

        # Params: the flattened resolved config of config.json, exactly, plus the Trainer's arguments.
        resolved = json.loads((out / "config.json").read_text())["config"]
        expected = {f"config.{key}": str(value) for key, value in flatten(resolved).items()}
        params = run.data.params
        logged = {key: value for key, value in params.items() if key.startswith("config.")}
        assert logged == expected
        assert params["config.train.variant"] == variant and params["config.train.seed"] == str(seed)
        assert params["config.train.stages"] == ("[1, 4]" if variant == "stages_1_4" else "[1, 2, 3, 4]")
        assert params["config.mlflow.tracking_uri"] == uri and params["config.mlflow.experiment"] == EXPERIMENT
        assert params["run_name"] == f"{variant}/stage1/seed{seed}"
        assert params["seed"] == str(seed) and float(params["num_train_epochs"]) == 0.25
        config_keys.add(frozenset(logged))

        # Final metrics: every number of metrics.json, as final/<key>.
        metrics = json.loads((out / "metrics.json").read_text())
        numbers = {f"final/{key}": float(value) for key, value in metrics.items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool)}
        assert run.data.metrics["final/seen_mqa_accuracy"] == pytest.approx(metrics["seen_mqa_accuracy"])
        assert {key: run.data.metrics.get(key) for key in numbers} == pytest.approx(numbers)

        # The per-step loss: each logging step exactly once, as the Trainer logged it.
        state = json.loads((out / "trainer_state.json").read_text())
        trained = {entry["step"]: entry["loss"] for entry in state["log_history"] if "loss" in entry}
        history = client.get_metric_history(run.info.run_id, "loss")
        steps = [entry.step for entry in history]
        assert len(steps) == len(set(steps)), f"duplicated loss steps: {sorted(steps)}"
        assert {entry.step: entry.value for entry in history} == pytest.approx(trained)
        assert trained, state["log_history"]
        rates = client.get_metric_history(run.info.run_id, "learning_rate")
        assert sorted(entry.step for entry in rates) == sorted(trained)

        # Artifacts: uploaded through the server into its local artifact root, and downloadable again.
        assert sorted(artifact.path for artifact in client.list_artifacts(run.info.run_id)) == ["loss.png",
                                                                                                "metrics.json"]
        downloaded = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "download" / run.info.run_id)))
        for name in ("metrics.json", "loss.png"):
            assert (downloaded / name).read_bytes() == (out / name).read_bytes(), name
            stored = artifacts / experiment_id / run.info.run_id / "artifacts" / name
            assert stored.read_bytes() == (out / name).read_bytes(), stored
    assert len(config_keys) == 1  # the four runs logged the same config keys

    # The store really is PostgreSQL, and it holds each row once.
    with postgres.connect() as connection:
        version = connection.execute("SELECT version()").fetchone()[0]
        assert version.startswith("PostgreSQL"), version
        assert connection.execute("SELECT count(*) FROM experiments WHERE name = %s",
                                  (EXPERIMENT,)).fetchone()[0] == 1
        assert connection.execute("SELECT count(*) FROM runs WHERE experiment_id = %s",
                                  (int(experiment_id),)).fetchone()[0] == 8
        for run in stages:
            count = connection.execute("SELECT count(*) FROM params WHERE run_uuid = %s",
                                       (run.info.run_id,)).fetchone()[0]
            assert count == len(run.data.params), run.info.run_name
        # Each metric row once: per stage run, (key, step) of the rows are exactly those of the Trainer's log
        # history (the MLflow callback logs every number of each entry at its step; its closing summary repeats
        # `epoch` at the last step) plus final/* at step 0; parents have none.
        stage_ids = {run.info.run_id for run in stages}
        for run in runs:
            rows = Counter(connection.execute("SELECT key, step FROM metrics WHERE run_uuid = %s",
                                              (run.info.run_id,)).fetchall())
            expected_rows = Counter()
            if run.info.run_id in stage_ids:
                variant, seed = run.data.tags["variant"], int(run.data.tags["seed"])
                _, out, _ = jobs[(variant, seed)]
                state = json.loads((out / "trainer_state.json").read_text())
                expected_rows.update((key, entry["step"]) for entry in state["log_history"] for key, value in
                                     entry.items() if key != "step" and isinstance(value, (int, float)))
                metrics = json.loads((out / "metrics.json").read_text())
                expected_rows.update((f"final/{key}", 0) for key, value in metrics.items()
                                     if isinstance(value, (int, float)) and not isinstance(value, bool))
            assert rows == expected_rows, run.info.run_name
    print(f"4 parallel stage-1 jobs against mlflow server + PostgreSQL: {elapsed:.0f} s")
