"""`skeletonllm runs`: the MLflow comparison of training runs, read from a real MLflow store (a sqlite file) whose
runs are named and tagged as train/tracking.py does it."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
import yaml

from conftest import REPO, write_config
from skeletonllm.cli import main
from skeletonllm.errors import ERROR_STATUS
from skeletonllm.train.tracking import EVALUATION_KIND, PARENT_KIND

EXPERIMENT = "compare"

# (variant, stage, seed, final status or None for a run still running, metrics as {name: [values by step]})
RUNS = [
    ("full", 1, 0, "FINISHED", {"final/seen_mqa_accuracy": [0.5], "final/loss_last": [1.25],
                                "final/samples_per_s": [10.0], "loss": [2.0, 1.5], "eval/closed/accuracy": [0.6]}),
    ("full", 1, 1, "FINISHED", {"final/seen_mqa_accuracy": [0.7], "final/loss_last": [0.75],
                                "final/samples_per_s": [12.0], "loss": [1.75, 1.0], "eval/closed/accuracy": [0.8]}),
    ("full", 2, 0, None, {"loss": [3.0]}),
    ("no_disc", 2, 0, "FINISHED", {"final/seen_mqa_accuracy": [0.4], "final/loss_last": [2.5]}),
    ("no_disc", 2, 1, "FAILED", {"loss": [4.0, 3.5]}),
]
DELETED = ("full", 3, 0)


def tags(variant: str, stage: int, seed: int) -> dict[str, str]:
    """The tags train/run.py sets on a stage's run."""
    return {"stage": str(stage), "dataset": "synth", "split": "xsub/s19u5", "variant": variant, "seed": str(seed),
            "git_commit": "abc123"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    """A sqlite MLflow store with the experiment EXPERIMENT holding RUNS (and one deleted run), a second
    experiment with a run of its own, and an empty sqlite store: {"uri", "ids" (run name -> id), "empty_uri"}."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("runs_cli")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(EXPERIMENT)
    ids = {}
    for variant, stage, seed, status, metrics in RUNS:
        name = f"{variant}/stage{stage}/seed{seed}"
        run = client.create_run(experiment, run_name=name, tags=tags(variant, stage, seed))
        for key, values in metrics.items():
            for step, value in enumerate(values):
                client.log_metric(run.info.run_id, key, value, step=step)
        if status:
            client.set_terminated(run.info.run_id, status=status)
        ids[name] = run.info.run_id
    deleted = client.create_run(experiment, run_name="full/stage3/seed0", tags=tags(*DELETED))
    client.set_terminated(deleted.info.run_id)
    client.delete_run(deleted.info.run_id)
    for name, kind in (("full/seed0", PARENT_KIND), ("full/eval/closed/seed0", EVALUATION_KIND)):  # not stages
        grouping = client.create_run(experiment, run_name=name, tags={**tags("full", 4, 0), "run_kind": kind})
        client.log_metric(grouping.info.run_id, "accuracy", 0.9)
        client.set_terminated(grouping.info.run_id)
    other = client.create_run(client.create_experiment("other"), run_name="full/stage1/seed9", tags=tags("full", 1, 9))
    client.set_terminated(other.info.run_id)
    plain = client.create_experiment("plain")  # a run without tags, one not named as tracking.py names runs
    untagged = client.create_run(plain, run_name="base/stage4/seed3")
    client.log_metric(untagged.info.run_id, "final/seen_mqa_accuracy", float("nan"))
    client.set_terminated(untagged.info.run_id)
    renamed = client.create_run(plain, run_name="renamed", tags=tags("tagged", 2, 5))
    client.set_terminated(renamed.info.run_id)
    return {"uri": uri, "ids": ids}


def runs(store: dict, *args: str) -> list[str]:
    """The command line of `skeletonllm runs` on the store's experiment."""
    return ["runs", "--tracking-uri", store["uri"], "--experiment", EXPERIMENT, *args]


def listed(capsys, store: dict, *args: str) -> list[dict]:
    """The JSON list `skeletonllm runs --json ARGS` prints (status 0, nothing on stderr)."""
    assert main(runs(store, "--json", *args)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def expected(store: dict, variant: str, stage: int, seed: int, status: str, metrics: dict[str, float]) -> dict:
    """One element of the JSON list."""
    name = f"{variant}/stage{stage}/seed{seed}"
    return {"run_id": store["ids"][name], "run_name": name, "variant": variant, "stage": stage, "seed": seed,
            "status": status, "dataset": "synth", "split": "xsub/s19u5", "metrics": metrics}


def test_json_lists_the_finished_runs_with_their_last_metric_values(capsys, store):
    assert listed(capsys, store) == [
        expected(store, "full", 1, 0, "FINISHED", {"eval/closed/accuracy": 0.6, "final/loss_last": 1.25,
                                                   "final/samples_per_s": 10.0, "final/seen_mqa_accuracy": 0.5,
                                                   "loss": 1.5}),
        expected(store, "full", 1, 1, "FINISHED", {"eval/closed/accuracy": 0.8, "final/loss_last": 0.75,
                                                   "final/samples_per_s": 12.0, "final/seen_mqa_accuracy": 0.7,
                                                   "loss": 1.0}),
        expected(store, "no_disc", 2, 0, "FINISHED", {"final/loss_last": 2.5, "final/seen_mqa_accuracy": 0.4}),
    ]


def test_all_adds_the_unfinished_runs(capsys, store):
    found = listed(capsys, store, "--all")
    assert [(run["run_name"], run["status"]) for run in found] == [
        ("full/stage1/seed0", "FINISHED"), ("full/stage1/seed1", "FINISHED"), ("full/stage2/seed0", "RUNNING"),
        ("no_disc/stage2/seed0", "FINISHED"), ("no_disc/stage2/seed1", "FAILED")]
    assert found[2] == expected(store, "full", 2, 0, "RUNNING", {"loss": 3.0})
    assert found[4]["metrics"] == {"loss": 3.5}


@pytest.mark.parametrize(("args", "names"), [
    (["--variant", "full"], ["full/stage1/seed0", "full/stage1/seed1"]),
    (["--variant", "no_disc", "--variant", "full"], ["full/stage1/seed0", "full/stage1/seed1", "no_disc/stage2/seed0"]),
    (["--stage", "2"], ["no_disc/stage2/seed0"]),
    (["--stage", "2", "--all"], ["full/stage2/seed0", "no_disc/stage2/seed0", "no_disc/stage2/seed1"]),
    (["--variant", "full", "--stage", "2", "--all"], ["full/stage2/seed0"]),
])
def test_filters(capsys, store, args, names):
    assert [run["run_name"] for run in listed(capsys, store, *args)] == names


def lines_starting(text: str, start: str) -> list[str]:
    """The lines of text that start with `start`."""
    return [line for line in text.splitlines() if line.startswith(start)]


def cells(line: str) -> list[str]:
    """The cells of a table line (columns are two or more spaces apart)."""
    return re.split(r" {2,}", line.strip())


def test_table_shows_the_runs_and_the_mean_and_std_over_seeds(capsys, store):
    assert main(runs(store)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    table, summary = out.split("Mean ± std over seeds:\n")
    header = table.splitlines()[0].split()
    assert header == ["run", "variant", "stage", "seed", "seen_mqa_accuracy", "eval/closed/accuracy", "loss_last",
                      "samples_per_s"]  # eval/openvocab/accuracy: no run has it
    assert lines_starting(table, "full/stage1/seed0")[0].split() == ["full/stage1/seed0", "full", "1", "0", "0.5000",
                                                                      "0.6000", "1.250", "10.00"]
    assert lines_starting(table, "no_disc/stage2/seed0")[0].split() == ["no_disc/stage2/seed0", "no_disc", "2", "0",
                                                                         "0.4000", "-", "2.500", "-"]
    assert [line.split()[0] for line in table.splitlines()[1:] if line.strip()] == [
        "full/stage1/seed0", "full/stage1/seed1", "no_disc/stage2/seed0"]
    assert summary.splitlines()[0].split() == ["variant", "stage", "seeds", "seen_mqa_accuracy",
                                               "eval/closed/accuracy", "loss_last", "samples_per_s"]
    (full,) = lines_starting(summary, "full")
    assert cells(full) == ["full", "1", "0,1", "0.6000 ± 0.1414 (n=2)", "0.7000 ± 0.1414 (n=2)",
                           "1.000 ± 0.3536 (n=2)", "11.00 ± 1.414 (n=2)"]
    assert lines_starting(summary, "no_disc") == []  # one finished seed only


def test_table_with_all_shows_the_status(capsys, store):
    assert main(runs(store, "--all", "--metrics", "loss")) == 0
    out, _ = capsys.readouterr()
    table, summary = out.split("Mean ± std over seeds:\n")
    assert table.splitlines()[0].split() == ["run", "variant", "stage", "seed", "status", "loss"]
    assert lines_starting(table, "full/stage2/seed0")[0].split() == ["full/stage2/seed0", "full", "2", "0", "RUNNING",
                                                                      "3.000"]
    assert lines_starting(table, "no_disc/stage2/seed1")[0].split()[4:] == ["FAILED", "3.500"]
    assert [cells(line) for line in summary.splitlines()[1:]] == [
        ["full", "1", "0,1", "1.250 ± 0.3536 (n=2)"],
        ["no_disc", "2", "0,1", "3.500 (n=1)"],  # the finished seed 0 logged no loss
    ]


def test_metrics_option_picks_the_columns_and_names_the_absent_ones(capsys, store):
    assert main(runs(store, "--metrics", "loss, chance,seen_mqa_accuracy")) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split() == ["run", "variant", "stage", "seed", "loss", "seen_mqa_accuracy"]
    assert err == "skeletonllm runs: no run has the metric(s) chance\n"


def test_no_matching_runs(capsys, store):
    assert main(runs(store, "--variant", "nope", "--stage", "7")) == 0
    out, err = capsys.readouterr()
    assert out == (f"No finished runs of variant nope at stage 7 in experiment '{EXPERIMENT}' at "
                   f"{store['uri']}.\n")
    assert err == ""
    assert listed(capsys, store, "--variant", "nope") == []


def test_missing_experiment_is_a_one_line_error(capsys, store):
    assert main(["runs", "--tracking-uri", store["uri"], "--experiment", "absent", "--json"]) == ERROR_STATUS
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"skeletonllm runs: error: no MLflow experiment 'absent' at {store['uri']} (it has: "
                   f"Default, {EXPERIMENT}, other, plain); run `skeletonllm train` first, or pass --experiment\n")


def test_missing_store_is_a_one_line_error_and_creates_nothing(capsys, tmp_path):
    database = tmp_path / "none" / "mlflow.db"
    assert main(["runs", "--tracking-uri", f"sqlite:///{database}", "--experiment", EXPERIMENT]) == ERROR_STATUS
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"skeletonllm runs: error: no MLflow tracking store at sqlite:///{database}")
    assert "run `skeletonllm train` first" in err
    assert not database.parent.exists()


def test_unreachable_server_is_a_quick_one_line_error(capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    assert main(["runs", "--tracking-uri", uri, "--experiment", EXPERIMENT]) == ERROR_STATUS
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"skeletonllm runs: error: cannot reach the MLflow tracking server at {uri} (")


def test_empty_metrics_option_is_an_error(capsys, store):
    assert main(runs(store, "--metrics", " , ")) == ERROR_STATUS
    assert capsys.readouterr().err.startswith("skeletonllm runs: error: --metrics names no metric")


def test_store_and_experiment_come_from_the_config(capsys, store, tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["mlflow"] = {"tracking_uri": store["uri"]}
    path = tmp_path / f"{EXPERIMENT}.yaml"
    write_config(path, config)  # experiment: the config's name
    assert main(["runs", "--config", str(path), "--json", "--stage", "2"]) == 0
    assert [run["run_name"] for run in json.loads(capsys.readouterr().out)] == ["no_disc/stage2/seed0"]
    config["mlflow"]["experiment"] = "other"
    write_config(path, config)
    assert main(["runs", "--config", str(path), "--json"]) == 0
    assert [run["run_name"] for run in json.loads(capsys.readouterr().out)] == ["full/stage1/seed9"]
    assert main(["runs", "--config", str(path), "--experiment", EXPERIMENT, "--json", "--stage", "2"]) == 0
    assert [run["run_name"] for run in json.loads(capsys.readouterr().out)] == ["no_disc/stage2/seed0"]


def test_variant_stage_and_seed_from_the_tags_else_the_run_name(capsys, store):
    assert main(["runs", "--tracking-uri", store["uri"], "--experiment", "plain", "--json"]) == 0
    found, tagged = json.loads(capsys.readouterr().out)
    assert (found["variant"], found["stage"], found["seed"]) == ("base", 4, 3)
    assert (found["dataset"], found["split"]) == (None, None)
    assert found["metrics"] == {"final/seen_mqa_accuracy": None}
    assert (tagged["run_name"], tagged["variant"], tagged["stage"], tagged["seed"]) == ("renamed", "tagged", 2, 5)


def test_cwd_relative_sqlite_uri(capsys, store, monkeypatch):
    database = Path(store["uri"][len("sqlite:///"):])
    monkeypatch.chdir(database.parent)
    assert main(["runs", "--tracking-uri", "sqlite:///mlflow.db", "--experiment", EXPERIMENT, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
