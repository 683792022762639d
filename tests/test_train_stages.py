"""The four stages end to end through `skeletonllm train` on the small synth data: each stage's directory and
metrics, the loss falling through stage 1, merged LoRA, and what reaches MLflow (and what never does: a secret
in the environment)."""

from __future__ import annotations

import json

import pytest
import yaml
from safetensors import safe_open

from skeletonllm.cli import main
from skeletonllm.train.tracking import REDACTED, redact

SECRET = "sk-test-do-not-log-4242"
METRIC_KEYS = {"stage", "loss_first", "loss_last", "samples_per_s", "seen_mqa_accuracy", "chance", "trainable_params",
               "peak_mb"}


@pytest.fixture(scope="module")
def trained(train_inputs, tmp_path_factory):
    """The four stages trained in order with the fixture's config, an API key in the environment; returns
    (config path, the stages' parent directory, the MLflow tracking URI)."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path_factory.mktemp("stages")
    config = yaml.safe_load((train_inputs / "train.yaml").read_text())
    config["mlflow"]["tracking_uri"] = f"sqlite:///{out / 'mlflow.db'}"
    configfile = out / "stages.yaml"
    configfile.write_text(yaml.safe_dump(config))
    try:
        for stage in (1, 2, 3, 4):
            args = ["train", "--stage", str(stage), "--config", str(configfile), "--out", str(out / f"stage{stage}")]
            if stage > 1:
                args += ["--init", str(out / f"stage{stage - 1}")]
            assert main(args) == 0
    finally:
        monkeypatch.undo()
    return configfile, out, config["mlflow"]["tracking_uri"]


@pytest.mark.slow
def test_every_stage_writes_its_directory(trained):
    _, out, _ = trained
    for stage in (1, 2, 3, 4):
        directory = out / f"stage{stage}"
        for name in ("mllm/model.safetensors", "mllm/config.json", "mllm/processor_config.json", "draction.json",
                     "draction.safetensors", "config.json", "trainer_state.json", "metrics.json", "loss.png"):
            assert (directory / name).is_file(), f"stage {stage}: {name} missing"
        metrics = json.loads((directory / "metrics.json").read_text())
        assert METRIC_KEYS <= set(metrics) and metrics["stage"] == stage
        assert 0.0 <= metrics["seen_mqa_accuracy"] <= 1.0 and metrics["chance"] == pytest.approx(0.2)
        assert not (out / f"stage{stage}.checkpoints").exists()
        with safe_open(directory / "mllm" / "model.safetensors", "pt") as weights:
            assert not any("lora_" in key for key in weights.keys())  # merged after stages 3 and 4
        resolved = json.loads((directory / "config.json").read_text())
        assert resolved["stage"]["number"] == stage and resolved["config"]["train"]["frames"] == 2


@pytest.mark.slow
def test_loss_falls_through_stage_1(trained):
    _, out, _ = trained
    metrics = json.loads((out / "stage1" / "metrics.json").read_text())
    assert metrics["loss_last"] < 0.8 * metrics["loss_first"]


@pytest.mark.slow
def test_mlflow_holds_each_stage_run_without_the_secret(trained):
    from mlflow.tracking import MlflowClient

    configfile, out, uri = trained
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(configfile.stem)
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"full/seed0"} | {f"full/stage{stage}/seed0" for stage in (1, 2, 3, 4)}
    parent = runs["full/seed0"]  # one parent run per (variant, seed), the stages its children
    assert parent.data.tags["run_kind"] == "variant_run" and parent.data.tags["variant"] == "full"
    for stage in (1, 2, 3, 4):
        run = runs[f"full/stage{stage}/seed0"]
        assert run.info.status == "FINISHED" and run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
        assert {key: tags[key] for key in ("stage", "dataset", "split", "variant", "seed")} == {
            "stage": str(stage), "dataset": "synth", "split": "xsub/s19u5", "variant": "full", "seed": "0"}
        assert len(tags["git_commit"]) == 40
        assert params["config.train.frames"] == "2" and params["config.model.text_init"] == "minilm"
        assert "learning_rate" in params  # the Trainer's own arguments, through its MLflow callback
        history = client.get_metric_history(run.info.run_id, "loss")
        assert len(history) >= 2 and len(client.get_metric_history(run.info.run_id, "learning_rate")) >= 2
        final = json.loads((out / f"stage{stage}" / "metrics.json").read_text())
        assert metrics["final/seen_mqa_accuracy"] == pytest.approx(final["seen_mqa_accuracy"])
        assert {artifact.path for artifact in client.list_artifacts(run.info.run_id)} >= {"metrics.json", "loss.png"}
        everything = json.dumps([tags, params, sorted(metrics)])
        assert SECRET not in everything
        assert run.info.artifact_uri.startswith((out / "mlartifacts").as_uri())  # beside the database


def test_redact_hides_values_holding_a_secret():
    values = {"uri": f"http://user:{SECRET}@host", "frames": 4}
    assert redact(values, [SECRET]) == {"uri": REDACTED, "frames": "4"}


@pytest.mark.slow
def test_stage1_recognises_held_out_subjects_above_chance(train_inputs, tmp_path):
    """The default trainable set lets the frames reach the answer: after a few epochs of stage 1 the seen-class
    MQA accuracy on held-out subjects is far above chance (with the tiny LLM's layers unfrozen it stayed at chance)."""
    config = yaml.safe_load((train_inputs / "train.yaml").read_text())
    config["train"].update(epochs=[8, 1, 1, 1], eval_samples=0, frames=4, render_size=112)
    config["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    configfile = tmp_path / "learning.yaml"
    configfile.write_text(yaml.safe_dump(config))
    assert main(["train", "--stage", "1", "--config", str(configfile), "--out", str(tmp_path / "stage1")]) == 0
    metrics = json.loads((tmp_path / "stage1" / "metrics.json").read_text())
    assert metrics["eval_samples"] >= 30
    assert metrics["seen_mqa_accuracy"] >= 2 * metrics["chance"]
