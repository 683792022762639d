"""Which samples an evaluation task asks and over which candidate classes, the same for SkeletonLLM
(`skeletonllm evaluate`) and the feature baseline (`skeletonllm baseline evaluate`), so both score the same clips.

- openvocab: the split's unseen-class test samples, candidates every unseen class;
- gzsl: the seen- and unseen-class test samples, candidates every class;
- closed: the seen-class test samples (held-out subjects or views), candidates every seen class;
- crossformat: a target dataset's samples of the seen classes it holds, candidates those shared classes;
- caption and qa: every test sample (seen and unseen classes), which are answered in words, not by candidates.

A sample count keeps that many, spread evenly over the list (`evenly`).
"""

from __future__ import annotations

import numpy as np

from skeletonllm.errors import CommandError


def evenly(items: list[str], count: int) -> list[str]:
    """`count` items spread evenly over the list in order (all when count is 0 or at least its length)."""
    if count <= 0 or count >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def task_samples(task: str, split, count: int = 0) -> tuple[list[str], list[str]]:
    """(sample ids, candidate classes) of openvocab, gzsl, closed, caption or qa over a train.data.Split; CommandError
    when the
    split has no samples for the task (a split without unseen classes has none for openvocab and gzsl)."""
    if task == "openvocab":
        ids, classes = split.parts["test_unseen"], split.unseen
    elif task == "gzsl":
        ids, classes = split.parts["test_seen"] + split.parts["test_unseen"], split.seen + split.unseen
    elif task == "closed":
        ids, classes = split.parts["test_seen"], split.seen
    elif task in ("caption", "qa"):
        return evenly(split.parts["test_seen"] + split.parts["test_unseen"], count), split.seen + split.unseen
    else:
        raise ValueError(f"task_samples: {task!r} is none of openvocab, gzsl, closed, caption, qa")
    if not ids or (task != "closed" and not split.unseen):
        raise CommandError(f"{split.path}: no test samples for {task}"
                           + ("" if split.unseen else " (the split has no unseen classes)"))
    return evenly(ids, count), list(classes)


def crossformat_samples(target, seen: list[str], count: int = 0) -> tuple[list[str], list[str]]:
    """(sample ids, shared classes) of a target PreparedDataset: its samples of the seen classes it has samples of,
    candidates those classes in the seen order; CommandError when fewer than 2 classes are shared."""
    labels = [target.class_name(int(label)) for label in target.index["label"]]
    present = set(labels)
    shared = [name for name in seen if name in present]
    if len(shared) < 2:
        raise CommandError(f"{target.directory}: its samples share {len(shared)} class(es) with the {len(seen)} seen "
                           f"classes ({shared}); cross-format transfer needs at least 2")
    ids = [sample_id for sample_id, label in zip(target.index["sample_id"], labels) if label in shared]
    return evenly(ids, count), shared
