"""One evaluation of a trained stage: load it, pick the task's samples and candidates, answer, write the outputs.

Outputs (see `skeletonllm evaluate --help`): metrics.json, predictions.jsonl, confusion.png, per_class.png; for
crossformat, one <target>/ folder of those per target; with features, features.npz and tsne.png; caption and qa
write metrics.json and predictions.jsonl (qa also per_type.png).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.errors import CommandError
from skeletonllm.eval import metrics as metric_functions
from skeletonllm.eval import plots
from skeletonllm.eval.recognition import answer_mqa, shuffled
from skeletonllm.eval.samples import crossformat_samples, task_samples
from skeletonllm.eval.tasks import Answered, gzsl_metrics, recognition_metrics
from skeletonllm.train.data import Split
from skeletonllm.train.run import load_stage, resolve_device

METHOD = "SkeletonLLM"


@dataclass(frozen=True)
class Evaluation:
    """What `skeletonllm evaluate` was asked: the stage, the task, where the data is and where outputs go."""

    checkpoint: Path
    task: str
    out: Path
    results: Path
    dataset: str
    split: str
    targets: tuple[str, ...]
    samples: int
    batch_size: int
    seed: int
    device: str
    generate: bool
    features: bool
    variant: str
    stage: int


def load_dataset(results: Path, name: str) -> PreparedDataset:
    """The prepared dataset <results>/data/<name>; CommandError naming the folder when there is none."""
    directory = results / "data" / name
    if not directory.is_dir():
        raise CommandError(f"{directory}: no prepared dataset {name!r} (run `skeletonllm prepare`)")
    return PreparedDataset(directory)


def write_answers(out: Path, answered: list[Answered], classes: list[str], title: str) -> None:
    """predictions.jsonl, confusion.png (generated answers; a last column for answers that are no class) and
    per_class.png into out."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "predictions.jsonl").open("w") as stream:
        for item in answered:
            stream.write(json.dumps(item.row()) + "\n")
    truth, predicted = [item.label for item in answered], [item.parsed for item in answered]
    plots.plot_confusion(metric_functions.confusion(predicted, truth, classes), classes, [*classes, "(none)"],
                         out / "confusion.png", title)
    plots.plot_per_class(metric_functions.per_class_accuracy(predicted, truth, classes), out / "per_class.png", title)


def answer_in_words(evaluation: Evaluation, model, processor, dataset: PreparedDataset, split: Split, device: str,
                    title: str) -> dict:
    """caption (generated descriptions against the dataset's reference texts) or qa (questions the measured motion
    answers): writes predictions.jsonl (and per_type.png for qa) and returns the metrics."""
    ids, _ = task_samples(evaluation.task, split, evaluation.samples)
    out = evaluation.out
    out.mkdir(parents=True, exist_ok=True)
    if evaluation.task == "caption":
        from skeletonllm.eval.caption import caption_answers, caption_metrics

        rows = caption_answers(model, processor, dataset, ids, evaluation.batch_size, device)
        result = caption_metrics(rows)
    else:
        from skeletonllm.eval.qa import qa_answers, qa_examples, qa_metrics

        rows = qa_answers(model, processor, dataset, qa_examples(dataset, ids), evaluation.batch_size, device)
        result = qa_metrics(rows)
        plots.plot_per_class(result["per_type"], out / "per_type.png", f"{title}: accuracy per question type")
    with (out / "predictions.jsonl").open("w") as stream:
        stream.writelines(json.dumps(row) + "\n" for row in rows)
    return result


def evaluate(evaluation: Evaluation) -> dict:
    """Run the evaluation, write its outputs and return its metrics."""
    device = resolve_device(evaluation.device)
    model, processor = load_stage(evaluation.checkpoint, "auto")
    model.to(device)
    dataset = load_dataset(evaluation.results, evaluation.dataset)
    protocol_split = evaluation.results / "splits" / evaluation.dataset / f"{evaluation.split}.json"
    split = Split.load(protocol_split)
    header = {"method": METHOD, "dataset": evaluation.dataset, "split": evaluation.split, "task": evaluation.task,
              "variant": evaluation.variant, "seed": evaluation.seed, "stage": evaluation.stage,
              "checkpoint": str(evaluation.checkpoint), "generation": evaluation.generate}
    title = f"{METHOD} {evaluation.variant} stage {evaluation.stage}: {evaluation.task}, {evaluation.dataset}"

    def ask(source: PreparedDataset, ids: list[str], classes: list[str], desc: str) -> list[Answered]:
        return answer_mqa(model, processor, source, ids, shuffled(classes, evaluation.seed), evaluation.batch_size,
                          device, evaluation.generate, desc)

    out = evaluation.out
    if evaluation.task == "crossformat":
        targets = {}
        for name in evaluation.targets:
            target = load_dataset(evaluation.results, name)
            ids, shared = crossformat_samples(target, split.seen, evaluation.samples)
            answered = ask(target, ids, shared, f"{name} ({target.topology.name})")
            write_answers(out / name, answered, shared, f"{title} -> {name}")
            result = recognition_metrics(answered, shared)
            targets[name] = {**{key: result[key] for key in ("accuracy", "likelihood_accuracy", "chance", "samples",
                                                             "not_a_candidate")},
                             "classes": shared, "topology": target.topology.name}
        result = {key: float(np.mean([entry[key] for entry in targets.values()]))
                  for key in ("accuracy", "likelihood_accuracy", "chance")}
        result.update(samples=sum(entry["samples"] for entry in targets.values()), targets=targets,
                      source_topology=dataset.topology.name)
    elif evaluation.task in ("caption", "qa"):
        result = answer_in_words(evaluation, model, processor, dataset, split, device, title)
    else:
        ids, classes = task_samples(evaluation.task, split, evaluation.samples)
        answered = ask(dataset, ids, classes, evaluation.task)
        write_answers(out, answered, classes, title)
        result = (gzsl_metrics(answered, split.seen, classes) if evaluation.task == "gzsl"
                  else recognition_metrics(answered, classes))
        if evaluation.features:
            from skeletonllm.eval.features import clip_features

            vectors = clip_features(model, dataset, [item.sample for item in answered], evaluation.batch_size,
                                    device)  # [N, D]
            labels = [item.label for item in answered]
            np.savez(out / "features.npz", features=vectors, samples=[item.sample for item in answered],
                     labels=labels)
            plots.plot_tsne(vectors, labels, set(split.unseen), out / "tsne.png", f"{title}: projector features",
                            seed=evaluation.seed)
    metrics = {**header, **result}
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
