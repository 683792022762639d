"""Recognition and QA metrics: answer normalization and matching, (top-k, per-class, mean-class) accuracy, the
confusion matrix, the generalized zero-shot summary (seen, unseen, harmonic mean) and per-question-type accuracy."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix

NONE_COLUMN = "(none)"  # confusion column of the predictions that are not a class (no candidate matched)
SENTENCE_END = ".,;:!? \t\n"  # stripped from the end of an answer


def normalize_answer(text: str) -> str:
    """Canonical form of an answer or class name: lower-case, no sentence-final punctuation, whitespace collapsed to
    single spaces and removed around punctuation ("Hat / Cap." -> "hat/cap", as WordPiece decoding spaces it)."""
    text = " ".join(text.lower().split()).rstrip(SENTENCE_END)
    return re.sub(r"\s*([^\w\s])\s*", r"\1", text)


def match_candidate(text: str, candidates: Sequence[str]) -> str | None:
    """The first candidate whose normalized form equals the normalized answer, else None (not a candidate)."""
    answer = normalize_answer(text)
    return next((candidate for candidate in candidates if normalize_answer(candidate) == answer), None)


def _check_pairs(predicted: Sequence, truth: Sequence) -> None:
    """ValueError unless predicted and truth are non-empty and of the same length."""
    if not truth or len(predicted) != len(truth):
        raise ValueError(f"need as many predictions as truths, at least one: got {len(predicted)} and {len(truth)}")


def accuracy(predicted: Sequence[str | None], truth: Sequence[str]) -> float:
    """Fraction of predictions equal to their truth. ValueError on empty input or a length mismatch."""
    _check_pairs(predicted, truth)
    return float(np.mean([p == t for p, t in zip(predicted, truth)]))


def topk_accuracy(scores: np.ndarray, truth_index: Sequence[int] | np.ndarray, k: int) -> float:
    """Fraction of samples whose true class is among the k highest scores. scores: [N, K] float, truth_index: [N] int.
    A class scored equal to the true one ranks above it (ties count against the prediction)."""
    scores = np.asarray(scores, dtype=float)  # [N, K]
    truth_index = np.asarray(truth_index, dtype=int)  # [N]
    if scores.ndim != 2 or len(scores) == 0 or truth_index.shape != (len(scores),):
        raise ValueError(f"need scores [N, K] and truth_index [N], N >= 1: got {scores.shape} and {truth_index.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    true_scores = scores[np.arange(len(scores)), truth_index][:, None]  # [N, 1]
    rank = (scores >= true_scores).sum(axis=1) - 1  # [N], 0 = ranked first
    return float(np.mean(rank < k))


def per_class_accuracy(predicted: Sequence[str | None], truth: Sequence[str],
                       classes: Sequence[str]) -> dict[str, float]:
    """class -> accuracy over the samples of that true class, in the order of classes; classes without a sample are
    left out."""
    _check_pairs(predicted, truth)
    result = {}
    for name in classes:
        hits = [p == t for p, t in zip(predicted, truth) if t == name]
        if hits:
            result[name] = float(np.mean(hits))
    return result


def mean_class_accuracy(predicted: Sequence[str | None], truth: Sequence[str], classes: Sequence[str]) -> float:
    """Mean of the per-class accuracies (each class that has samples weighs the same). ValueError when no truth is one
    of classes."""
    per_class = per_class_accuracy(predicted, truth, classes)
    if not per_class:
        raise ValueError("no sample of any of the classes")
    return float(np.mean(list(per_class.values())))


def confusion(predicted: Sequence[str | None], truth: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Counts [C, C + 1]: row = true class, column = predicted class, in the order of classes; the last column,
    NONE_COLUMN, counts the predictions that are not one of classes (None when no candidate matched). ValueError when
    a truth is not one of classes."""
    _check_pairs(predicted, truth)
    unknown = sorted(set(truth) - set(classes))
    if unknown:
        raise ValueError(f"truths that are not among the classes: {unknown}")
    known = set(classes)
    predicted = [p if p in known else NONE_COLUMN for p in predicted]
    labels = [*classes, NONE_COLUMN]
    return confusion_matrix(truth, predicted, labels=labels)[:-1]  # drop the (empty) row of true NONE_COLUMN


def harmonic_mean(seen: float, unseen: float) -> float:
    """2 * seen * unseen / (seen + unseen); 0 when both are 0."""
    total = seen + unseen
    return 2 * seen * unseen / total if total else 0.0


def gzsl_summary(seen_correct: Sequence[bool], unseen_correct: Sequence[bool]) -> dict[str, float | int]:
    """Generalized zero-shot summary from the per-sample correctness of the seen- and unseen-class samples: seen and
    unseen accuracy, their harmonic mean, the accuracy over all samples and the two sample counts. ValueError when a
    side has no sample."""
    if not seen_correct or not unseen_correct:
        raise ValueError(f"need seen and unseen samples: got {len(seen_correct)} and {len(unseen_correct)}")
    seen, unseen = float(np.mean(seen_correct)), float(np.mean(unseen_correct))
    return {
        "seen": seen,
        "unseen": unseen,
        "harmonic_mean": harmonic_mean(seen, unseen),
        "accuracy": float(np.mean([*seen_correct, *unseen_correct])),
        "samples_seen": len(seen_correct),
        "samples_unseen": len(unseen_correct),
    }


def per_type_accuracy(types: Sequence[str], correct: Sequence[bool]) -> dict[str, float]:
    """Question type -> fraction of its questions answered correctly, types in order of first appearance."""
    _check_pairs(correct, types)
    result = {}
    for name in dict.fromkeys(types):
        result[name] = float(np.mean([hit for kind, hit in zip(types, correct) if kind == name]))
    return result
