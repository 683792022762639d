"""`skeletonllm evaluate` on a real tiny checkpoint and the small synth data of every format: each task's
metrics.json, predictions.jsonl and plots, features with their t-SNE, cross-format transfer to ucla20, openpose18
and smpl22, the metrics in the stage's MLflow run, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skeletonllm.cli import main
from skeletonllm.train.data import Split

SAMPLES = 6
TARGETS = {"synth_ucla": "ucla20", "synth_kinetics": "openpose18", "synth_humanml3d": "smpl22"}


def evaluate(checkpoint, out, task, *extra) -> dict:
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--task", task, "--samples", str(SAMPLES),
                 "--batch-size", "4", "--out", str(out), *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def predictions(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]


def assert_png(path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000, path


@pytest.fixture(scope="module")
def split(train_inputs) -> Split:
    return Split.load(train_inputs / "results/splits/synth/xsub/s19u5.json")


@pytest.fixture(scope="module")
def openvocab(stage_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("openvocab")
    return out, evaluate(stage_checkpoint, out, "openvocab")


def test_openvocab_asks_unseen_samples_over_the_unseen_classes(openvocab, split):
    out, metrics = openvocab
    assert {"method": "SkeletonLLM", "dataset": "synth", "split": "xsub/s19u5", "task": "openvocab",
            "variant": "full", "stage": 1, "seed": 0}.items() <= metrics.items()
    assert metrics["samples"] == SAMPLES and metrics["chance"] == pytest.approx(1 / len(split.unseen))
    for key in ("accuracy", "likelihood_accuracy", "not_a_candidate", "mean_class_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0, key
    rows = predictions(out)
    assert len(rows) == SAMPLES
    assert {row["sample"] for row in rows} <= set(split.parts["test_unseen"])
    for row in rows:
        assert sorted(row["candidates"]) == sorted(split.unseen) and row["label"] in split.unseen
        assert row["ranked"] in row["candidates"] and row["parsed"] in [*row["candidates"], None]
        assert row["correct"] == (row["parsed"] == row["label"])
        assert row["prompt"].startswith("Which action") and isinstance(row["answer"], str)
    assert metrics["accuracy"] == pytest.approx(np.mean([row["correct"] for row in rows]))
    assert metrics["likelihood_accuracy"] == pytest.approx(np.mean([row["likelihood_correct"] for row in rows]))
    assert_png(out / "confusion.png")
    assert_png(out / "per_class.png")


def test_the_metrics_reach_the_stage_mlflow_run(openvocab, stage_checkpoint):
    from mlflow.tracking import MlflowClient

    _, metrics = openvocab
    run = json.loads((stage_checkpoint / "mlflow_run.json").read_text())
    client = MlflowClient(run["tracking_uri"])
    stage = client.get_run(run["run_id"])
    logged = stage.data.metrics
    assert logged["eval/openvocab/accuracy"] == pytest.approx(metrics["accuracy"])
    assert logged["eval/openvocab/likelihood_accuracy"] == pytest.approx(metrics["likelihood_accuracy"])
    # the evaluation is a child run of the stage's parent (variant, seed) run, with the metrics and the files
    [evaluation] = client.search_runs([stage.info.experiment_id], "tags.run_kind = 'evaluation' and "
                                      "tags.task = 'openvocab'")
    assert evaluation.info.run_name == "full/eval/openvocab/seed0"
    assert evaluation.data.tags["mlflow.parentRunId"] == stage.data.tags["mlflow.parentRunId"]
    assert evaluation.data.metrics["accuracy"] == pytest.approx(metrics["accuracy"])
    artifacts = {item.path for item in client.list_artifacts(evaluation.info.run_id)}
    assert {"metrics.json", "confusion.png"} <= artifacts


def test_gzsl_reports_seen_unseen_and_their_harmonic_mean_with_features(stage_checkpoint, split, tmp_path):
    metrics = evaluate(stage_checkpoint, tmp_path, "gzsl", "--features")
    rows = predictions(tmp_path)
    seen = [row["correct"] for row in rows if row["label"] in split.seen]
    unseen = [row["correct"] for row in rows if row["label"] in split.unseen]
    assert seen and unseen  # evenly spread over seen then unseen samples
    assert metrics["seen"] == pytest.approx(np.mean(seen)) and metrics["unseen"] == pytest.approx(np.mean(unseen))
    s, u = metrics["seen"], metrics["unseen"]
    assert metrics["harmonic_mean"] == pytest.approx(2 * s * u / (s + u) if s + u else 0.0)
    assert metrics["chance"] == pytest.approx(1 / (len(split.seen) + len(split.unseen)))
    assert all(len(row["candidates"]) == len(split.seen) + len(split.unseen) for row in rows)
    features = np.load(tmp_path / "features.npz")
    width = json.loads((stage_checkpoint / "mllm" / "config.json").read_text())["text_config"]["hidden_size"]
    assert features["features"].shape == (SAMPLES, width)
    assert list(features["samples"]) == [row["sample"] for row in rows]
    assert np.isfinite(features["features"]).all() and features["features"].std(0).mean() > 0
    assert_png(tmp_path / "tsne.png")


def test_closed_set_asks_held_out_seen_samples_over_the_seen_classes(stage_checkpoint, split, tmp_path):
    metrics = evaluate(stage_checkpoint, tmp_path, "closed", "--no-generate", "--no-mlflow")
    rows = predictions(tmp_path)
    assert {row["sample"] for row in rows} <= set(split.parts["test_seen"])
    assert all(sorted(row["candidates"]) == sorted(split.seen) for row in rows)
    assert metrics["accuracy"] == metrics["likelihood_accuracy"]  # without generation the answer is the ranking
    assert metrics["generation"] is False and metrics["top5"] >= metrics["likelihood_accuracy"]


def test_crossformat_tests_one_checkpoint_on_every_other_synth_format(stage_checkpoint, split, tmp_path):
    metrics = evaluate(stage_checkpoint, tmp_path, "crossformat", "--no-mlflow",
                       *(arg for name in TARGETS for arg in ("--target", name)))
    assert metrics["source_topology"] == "ntu25" and set(metrics["targets"]) == set(TARGETS)
    for name, topology in TARGETS.items():
        target = metrics["targets"][name]
        assert target["topology"] == topology and target["samples"] == SAMPLES
        assert set(target["classes"]) <= set(split.seen) and len(target["classes"]) >= 2
        assert target["chance"] == pytest.approx(1 / len(target["classes"]))
        rows = predictions(tmp_path / name)
        assert len(rows) == SAMPLES and all(row["label"] in target["classes"] for row in rows)
        assert_png(tmp_path / name / "confusion.png")
    assert metrics["accuracy"] == pytest.approx(np.mean([entry["accuracy"] for entry in metrics["targets"].values()]))


def test_caption_scores_generated_descriptions_against_the_reference_texts(stage_checkpoint, train_inputs, tmp_path):
    metrics = evaluate(stage_checkpoint, tmp_path, "caption", "--dataset", "synth_humanml3d", "--no-mlflow")
    assert metrics["dataset"] == "synth_humanml3d" and metrics["samples"] == SAMPLES
    assert 0.0 <= metrics["bleu4"] <= 100.0 and 0.0 <= metrics["rouge_l"] <= 1.0 and metrics["cider"] >= 0.0
    assert -1.0 <= metrics["embedding_similarity"] <= 1.0
    assert 0.0 <= metrics["accuracy"] <= 1.0 and 1 / SAMPLES <= metrics["chance"] <= 1 / 2  # pools of 2 to 6 clips
    rows = predictions(tmp_path)
    assert len(rows) == SAMPLES and all(row["references"] and isinstance(row["answer"], str) for row in rows)


def test_qa_asks_the_questions_the_motion_answers(stage_checkpoint, tmp_path):
    from skeletonllm.data.prepared import PreparedDataset
    from skeletonllm.eval.qa import question_answers

    metrics = evaluate(stage_checkpoint, tmp_path, "qa", "--no-mlflow")
    rows = predictions(tmp_path)
    dataset = PreparedDataset(stage_checkpoint.parents[1] / "results" / "data" / "synth")
    samples = list(dict.fromkeys(row["sample"] for row in rows))
    assert len(samples) == metrics["samples"] == SAMPLES
    truths = {(row["sample"], row["type"]): row["truth"] for row in rows}
    assert truths == {(sample, kind): answer for sample in samples for kind, _, answer in question_answers(dataset, sample)}
    assert metrics["accuracy"] == pytest.approx(np.mean([row["correct"] for row in rows]))
    assert set(metrics["per_type"]) == {row["type"] for row in rows} and "people" in metrics["per_type"]
    assert_png(tmp_path / "per_type.png")


def test_bad_requests_are_one_line_errors(stage_checkpoint, train_inputs, tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(stage_checkpoint), "--task", "crossformat",
                 "--out", str(tmp_path)]) == 1
    assert "needs at least one --target" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tmp_path), "--task", "closed", "--out", str(tmp_path / "x")]) == 1
    assert "not a stage directory" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(stage_checkpoint), "--task", "closed", "--dataset", "nope",
                 "--out", str(tmp_path / "y")]) == 1
    assert "no prepared dataset 'nope'" in capsys.readouterr().err
