"""The evaluation tasks of the feature baseline, with the samples, candidates and metrics of `skeletonllm evaluate`
(eval/run.py), so its metrics.json files sit in the same tables:

- openvocab: the split's unseen-class test samples, candidates every unseen class;
- gzsl: the seen- and unseen-class test samples, candidates every class (seen, unseen, harmonic mean);
- closed: the seen-class test samples, candidates every class the model trained on (the split's seen classes);
- crossformat: each --target prepared dataset (another skeleton format, mapped onto the shared joints), all of its
  samples of the training classes it holds, candidates those shared classes.

The samples and candidates come from skeletonllm.eval.samples, as `skeletonllm evaluate` takes them (--samples N
keeps N per task, per target for crossformat, spread evenly), so both methods score the same clips. A clip's prediction is the candidate whose
class-name embedding is nearest (cosine) to the clip's embedding.
Writes OUT/metrics.json, OUT/predictions.jsonl (sample, truth, predicted, correct, the candidates' cosines),
OUT/confusion.png and OUT/per_class.png; crossformat writes the last three per target into OUT/<target>/, and all
predictions (with their target) into OUT/predictions.jsonl.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skeletonllm.baseline.clips import check_samples, load_clips
from skeletonllm.baseline.encoder import SkeletonEncoder
from skeletonllm.baseline.text import name_embeddings
from skeletonllm.baseline.train import METHOD, load_trained, split_name, torch_threads
from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.errors import CommandError
from skeletonllm.eval.samples import crossformat_samples, task_samples
from skeletonllm.eval.tasks import choice_metrics

TASKS = ("openvocab", "gzsl", "closed", "crossformat")
VARIANT = "baseline"


@dataclass(frozen=True)
class Ranked:
    """The predictions of one set of clips over one candidate list."""

    samples: list[str]
    truth: list[str]
    candidates: list[str]
    scores: np.ndarray  # [N, K] cosine similarity of each clip to each candidate's name

    @property
    def predicted(self) -> list[str]:
        return [self.candidates[int(i)] for i in self.scores.argmax(axis=1)] if len(self.samples) else []

    def rows(self, **extra) -> list[dict]:
        """predictions.jsonl rows."""
        return [{**extra, "sample": sample, "truth": truth, "predicted": predicted, "correct": truth == predicted,
                 "scores": {name: round(float(value), 5) for name, value in zip(self.candidates, scores)}}
                for sample, truth, predicted, scores in zip(self.samples, self.truth, self.predicted, self.scores)]


@torch.no_grad()
def embed(encoder: SkeletonEncoder, clips: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """float32 [N, D]: unit embeddings of clips [N, F, M, S, 3]."""
    encoder.eval()
    parts = [encoder(torch.from_numpy(clips[start : start + batch_size])).numpy()
             for start in range(0, len(clips), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, encoder.config.out_dims), dtype=np.float32)


def rank(encoder: SkeletonEncoder, dataset: PreparedDataset, sample_ids: list[str], candidates: list[str],
         frames: int, batch_size: int) -> Ranked:
    """Each sample's cosine to every candidate class name."""
    check_samples(dataset, sample_ids, f"the samples asked of {dataset.name}")
    truth = [dataset.label_name(sample_id) for sample_id in sample_ids]
    strays = sorted(set(truth) - set(candidates))
    if strays:
        raise CommandError(f"{dataset.name}: samples of classes that are no candidates: {', '.join(strays)}")
    clips = load_clips(dataset, sample_ids, frames, f"embed {dataset.name}")  # [N, F, M, S, 3]
    scores = embed(encoder, clips, batch_size) @ name_embeddings(candidates).T  # [N, K]
    return Ranked(list(sample_ids), truth, list(candidates), scores)


def recognition_metrics(ranked: Ranked) -> dict:
    """eval.tasks.choice_metrics of the ranking: accuracy, chance (1/k), samples, candidates, per_class,
    mean_class_accuracy and, when k > 5, top5."""
    return choice_metrics(ranked.predicted, ranked.truth, [ranked.candidates] * len(ranked.samples), ranked.scores,
                          ranked.candidates)


def gzsl_metrics(ranked: Ranked, seen: list[str]) -> dict:
    """recognition_metrics plus seen, unseen (accuracy over each side's samples, candidates every class) and their
    harmonic_mean."""
    from skeletonllm.eval import metrics

    correct = [truth == predicted for truth, predicted in zip(ranked.truth, ranked.predicted)]
    if all(truth in seen for truth in ranked.truth) or not any(truth in seen for truth in ranked.truth):
        raise CommandError("gzsl needs samples of seen and of unseen classes; raise --samples")
    summary = metrics.gzsl_summary([hit for hit, truth in zip(correct, ranked.truth) if truth in seen],
                                   [hit for hit, truth in zip(correct, ranked.truth) if truth not in seen])
    return {**recognition_metrics(ranked), **summary}


def write_outputs(out: Path, ranked: Ranked, title: str) -> None:
    """predictions.jsonl, confusion.png and per_class.png of one ranking into out."""
    from skeletonllm.eval import metrics, plots

    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "predictions.jsonl", ranked.rows())
    matrix = metrics.confusion(ranked.predicted, ranked.truth, ranked.candidates)[:, :-1]  # [K, K], no "(none)"
    plots.plot_confusion(matrix, ranked.candidates, ranked.candidates, out / "confusion.png", title)
    plots.plot_per_class(metrics.per_class_accuracy(ranked.predicted, ranked.truth, ranked.candidates),
                         out / "per_class.png", title)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w") as stream:
        stream.writelines(json.dumps(row) + "\n" for row in rows)


def crossformat(encoder: SkeletonEncoder, config: dict, targets: list[Path], frames: int, batch_size: int,
                out: Path, title: str, samples: int = 0) -> tuple[dict, list[dict]]:
    """Metrics ({accuracy, chance: means over the targets, samples, targets: {name: {accuracy, chance, samples,
    classes, topology, ...}}}) and prediction rows of the trained model on each target dataset."""
    if not targets:
        raise CommandError("crossformat needs at least one --target DIR (a prepared dataset of another format)")
    results, rows = {}, []
    for directory in targets:
        target = PreparedDataset(directory)
        ids, shared = crossformat_samples(target, list(config["classes_seen"]), samples)
        if target.name in results:
            raise CommandError(f"{directory}: dataset {target.name!r} is named twice among the targets")
        ranked = rank(encoder, target, ids, shared, frames, batch_size)
        write_outputs(out / target.name, ranked, f"{title} -> {target.name}")
        rows += ranked.rows(target=target.name)
        results[target.name] = {**recognition_metrics(ranked), "classes": shared, "topology": target.topology.name}
    summary = {key: float(np.mean([entry[key] for entry in results.values()])) for key in ("accuracy", "chance")}
    return {**summary, "samples": sum(entry["samples"] for entry in results.values()), "targets": results,
            "source_topology": config["topology"]}, rows


def evaluate_baseline(model_dir: Path, data: Path, split_path: Path, task: str, out: Path,
                      targets: list[Path] | None = None, batch_size: int = 64, threads: int = 1,
                      samples: int = 0) -> dict:
    """Run one task, write its outputs into out and return its metrics (see the module docstring); samples > 0
    keeps that many of each task's (each target's) samples, spread evenly."""
    from skeletonllm.train.data import Split

    if task not in TASKS:
        raise CommandError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    encoder, config = load_trained(model_dir)
    dataset, split = PreparedDataset(data), Split.load(split_path)
    seen = list(config["classes_seen"])
    if sorted(seen) != sorted(split.seen):
        raise CommandError(f"{model_dir} was trained on other seen classes than {split_path} lists; evaluate it on "
                           f"the split it was trained on ({config['split_file']})")
    frames = int(config["training"]["frames"])
    header = {"method": METHOD, "dataset": dataset.name, "split": split_name(Path(split_path)), "task": task,
              "variant": VARIANT, "seed": config["seed"], "stage": None, "model": str(model_dir),
              "train_dataset": config["dataset"], "topology": dataset.topology.name}
    title = f"{METHOD}: {task}, {dataset.name} {header['split']}"
    with torch_threads(threads):
        if task == "crossformat":
            result, rows = crossformat(encoder, config, list(targets or []), frames, batch_size, out, title, samples)
            out.mkdir(parents=True, exist_ok=True)
            write_jsonl(out / "predictions.jsonl", rows)
        else:
            ids, classes = task_samples(task, split, samples)
            ranked = rank(encoder, dataset, ids, classes, frames, batch_size)
            write_outputs(out, ranked, title)
            result = gzsl_metrics(ranked, seen) if task == "gzsl" else recognition_metrics(ranked)
    metrics = {**header, **result}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
