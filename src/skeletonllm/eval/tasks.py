"""The metrics of recognition answers (which samples and candidates each task asks: eval.samples).

`choice_metrics` serves every method (SkeletonLLM and the feature baseline); for SkeletonLLM's `Answered` MQA
answers, accuracy is the generated answer's (the paper's way) and `likelihood_*` the log-likelihood ranking's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from skeletonllm.eval import metrics


@dataclass(frozen=True)
class Answered:
    """One clip's question and both answers. scores: log-likelihood per candidate, in the candidates' order."""

    sample: str
    label: str
    candidates: tuple[str, ...]
    prompt: str
    answer: str
    parsed: str | None
    correct: bool
    ranked: str
    likelihood_correct: bool
    scores: tuple[float, ...]

    def row(self) -> dict:
        """The predictions.jsonl row."""
        return asdict(self)


def choice_metrics(predicted: Sequence[str | None], truth: Sequence[str], candidates: Sequence[Sequence[str]],
                   scores: np.ndarray, classes: Sequence[str]) -> dict:
    """accuracy, chance (mean 1/k), samples, candidates (largest k), per_class and mean_class_accuracy of
    predictions over per-sample candidate lists, and top5 from scores [N, k] (each row in its sample's candidate
    order) when every sample has more than 5 candidates."""
    if not truth:
        raise ValueError("no sample was evaluated")
    result = {
        "accuracy": metrics.accuracy(predicted, truth),
        "chance": float(np.mean([1.0 / len(options) for options in candidates])),
        "samples": len(truth),
        "candidates": max(len(options) for options in candidates),
        "per_class": metrics.per_class_accuracy(predicted, truth, classes),
        "mean_class_accuracy": metrics.mean_class_accuracy(predicted, truth, classes),
    }
    if min(len(options) for options in candidates) > 5:
        truth_index = [list(options).index(label) for options, label in zip(candidates, truth)]
        result["top5"] = metrics.topk_accuracy(np.asarray(scores), truth_index, 5)
    return result

def recognition_metrics(answered: Sequence[Answered], classes: Sequence[str]) -> dict:
    """choice_metrics of the generated answers (top5 from the likelihoods), with likelihood_accuracy,
    likelihood_per_class and not_a_candidate (the share of generated answers that are none of the candidates)."""
    if not answered:
        raise ValueError("no sample was evaluated")
    truth = [item.label for item in answered]
    ranked = [item.ranked for item in answered]
    result = choice_metrics([item.parsed for item in answered], truth, [item.candidates for item in answered],
                            np.array([item.scores for item in answered]), classes)
    result.update(likelihood_accuracy=metrics.accuracy(ranked, truth),
                  likelihood_per_class=metrics.per_class_accuracy(ranked, truth, classes),
                  not_a_candidate=float(np.mean([item.parsed is None for item in answered])))
    return result


def gzsl_metrics(answered: Sequence[Answered], seen: Sequence[str], classes: Sequence[str]) -> dict:
    """recognition_metrics plus seen, unseen and harmonic_mean (generation) and their likelihood_ counterparts."""
    seen = set(seen)
    result = recognition_metrics(answered, classes)
    for prefix, correct in (("", lambda item: item.correct), ("likelihood_", lambda item: item.likelihood_correct)):
        summary = metrics.gzsl_summary([correct(item) for item in answered if item.label in seen],
                                       [correct(item) for item in answered if item.label not in seen])
        result.update({f"{prefix}{key}": summary[key] for key in ("seen", "unseen", "harmonic_mean")})
    return result
