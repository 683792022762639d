"""Training and evaluation examples: which samples, which prompt, which frames.

Every stage's examples come from one prepared dataset and one split file (results/splits/<dataset>/<protocol>/
<class split>.json): MQA (stages 1 and 4) and Disc-FT (stage 2, with the mined hard negatives) over the seen
classes of the split's training samples, CR-Distill (stage 3) over the teacher's rationales. Stage 4 may mix in
captioning (one reference text per clip of a HumanML3D-style dataset, another skeleton format) and QA (one question
the measured motion answers per clip): `TaskMix` joins the tasks' example sets, and `ClipCollator` groups a batch's
clips by topology. Candidates, negatives, texts, questions and frames are drawn from generators seeded by (seed,
example, epoch), so a run is reproducible and a resumed run sees what an uninterrupted one sees. They change from
epoch to epoch: with fixed candidates the prompt text alone identifies a training sample, and the tiny model learnt
answers by heart from the text, never looking at the frames (training loss 0.42, accuracy at chance on the very
training samples).

Frames: training takes one random frame from each of F equal segments of the clip (temporal augmentation, as the
official code does); evaluation takes the segment centres.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.errors import CommandError
from skeletonllm.model import prompts
from skeletonllm.model.chat import encode, pad_batch
from skeletonllm.model.prompts import Example


def segment_frames(length: int, frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """long [F]: one frame index per each of F equal segments of [0, length): a uniform draw from each segment with
    `rng`, the segment centres without. A clip shorter than F repeats frames."""
    if length < 1 or frames < 1:
        raise ValueError(f"need length >= 1 and frames >= 1, got {length} and {frames}")
    edges = np.linspace(0.0, length, frames + 1)  # [F+1]
    offsets = rng.random(frames) if rng is not None else np.full(frames, 0.5)  # [F] position within each segment
    return np.minimum(np.floor(edges[:-1] + offsets * np.diff(edges)).astype(np.int64), length - 1)


@dataclass(frozen=True)
class Split:
    """A split file: sample ids per part (train, test_seen, test_unseen) and the seen and unseen class names."""

    path: Path
    parts: dict[str, list[str]]
    seen: list[str]
    unseen: list[str]

    @classmethod
    def load(cls, path: str | Path) -> Split:
        """Read a split JSON written by `skeletonllm splits`; CommandError when it is missing or malformed."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            parts = {name: list(data[name]) for name in ("train", "test_seen", "test_unseen")}
            return cls(path, parts, list(data["seen"]["names"]), list(data["unseen"]["names"]))
        except FileNotFoundError:
            raise CommandError(f"{path}: no such split file (written by `skeletonllm splits`)") from None
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise CommandError(f"{path}: not a split file of `skeletonllm splits` ({error!r})") from None


def load_negatives(path: str | Path) -> dict[str, list[str]]:
    """The mined hard negatives {class: [nearest classes]} of `skeletonllm mine` (hard_negatives.json)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CommandError(f"{path}: no hard-negative file (written by `skeletonllm mine`)") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise CommandError(f"{path}: expected {{class: [hard negatives]}} as `skeletonllm mine` writes it")
    return data


def load_rationales(path: str | Path) -> dict[str, str]:
    """sample_id -> teacher rationale, from rationales.jsonl of `skeletonllm teach`."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no rationales (written by `skeletonllm teach`)")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["sample_id"]: row["rationale"] for row in rows}


def example_rng(seed: int, *keys: int) -> np.random.Generator:
    """A generator determined by the seed and the example's keys (position, epoch, ...)."""
    return np.random.default_rng([seed, *keys])


def mqa_examples(labels: list[str], pool: list[str], k: int, seed: int, epoch: int = 0) -> list[Example]:
    """One MQA example per label: the label among k candidates of `pool`, shuffled per example and epoch with the
    seed."""
    return [prompts.mqa(label, prompts.pick_candidates(label, pool, k, example_rng(seed, i, epoch)))
            for i, label in enumerate(labels)]


def disc_examples(labels: list[str], negatives: dict[str, list[str]], pool: list[str], seed: int,
                  epoch: int = 0) -> list[Example]:
    """Two Disc-FT examples per label, about 1:1: "is this <label>?" -> yes, and "is this <negative>?" -> no, the
    negative one of the label's mined hard negatives within `pool` (any other pool class when none is), drawn per
    example and epoch."""
    examples = []
    for i, label in enumerate(labels):
        hard = [name for name in negatives.get(label, []) if name in pool and name != label]
        choices = hard or [name for name in pool if name != label]
        negative = choices[example_rng(seed, i, epoch).integers(len(choices))]
        examples += [prompts.discriminate(label, True), prompts.discriminate(negative, False)]
    return examples


def reasoning_examples(labels: list[str], rationales: list[str], pool: list[str], k: int, seed: int,
                       epoch: int = 0) -> list[Example]:
    """One CR-Distill example per (label, rationale): the student question over k candidates (drawn per example
    and epoch), the rationale as target."""
    return [prompts.reasoning(label, prompts.pick_candidates(label, pool, k, example_rng(seed, i, epoch)), rationale)
            for i, (label, rationale) in enumerate(zip(labels, rationales))]


def one_per_clip(options: list[list[Example]], seed: int, epoch: int = 0) -> list[Example]:
    """One example per clip, drawn per clip and epoch from its options (its captions, or the questions its motion
    answers)."""
    return [choices[example_rng(seed, i, epoch).integers(len(choices))] for i, choices in enumerate(options)]


class ClipExamples(torch.utils.data.Dataset):
    """(sample, example) pairs of one prepared dataset; an item is the clip's F sampled frames float [F, M, J, C],
    its topology name, and the example's input_ids and labels.

    examples_for(epoch) gives the examples of an epoch (one per sample id); `set_epoch` at each epoch's start
    draws them and, in training, the frames (one per segment from (seed, item, epoch); else the centres).
    """

    def __init__(self, dataset: PreparedDataset, sample_ids: list[str],
                 examples_for: Callable[[int], list[Example]], processor, frames: int, seed: int, train: bool):
        self.dataset, self.sample_ids, self.examples_for, self.processor = dataset, sample_ids, examples_for, processor
        self.frames, self.seed, self.train = frames, seed, train
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw (and tokenize) the examples of an epoch."""
        self.epoch = epoch
        self.examples = self.examples_for(epoch)
        if len(self.sample_ids) != len(self.examples):
            raise ValueError(f"{len(self.sample_ids)} samples for {len(self.examples)} examples")
        self.encoded = [encode(self.processor, example, self.frames) for example in self.examples]

    def __len__(self) -> int:
        return len(self.sample_ids)

    def __getitem__(self, i: int) -> dict:
        clip = self.dataset.joints(self.sample_ids[i])  # [T, M, J, C]
        rng = example_rng(self.seed, i, self.epoch) if self.train else None
        return {"joints": clip[segment_frames(len(clip), self.frames, rng)], "topology": self.dataset.topology.name,
                **self.encoded[i]}


class TaskMix(torch.utils.data.ConcatDataset):
    """The example sets of several tasks as one training set (items in the order of the sets); `set_epoch` draws
    every set's examples. counts: examples per task name."""

    def __init__(self, parts: dict[str, ClipExamples]):
        super().__init__(list(parts.values()))
        self.counts = {name: len(part) for name, part in parts.items()}

    def set_epoch(self, epoch: int) -> None:
        """Draw every task's examples of the epoch."""
        for part in self.datasets:
            part.set_epoch(epoch)


def topology_groups(joints: list[np.ndarray], topologies: list[str]) -> list[dict]:
    """Clips of any topologies -> the groups SkeletonLLM.forward takes: one {"topology", "joints" float
    [b, F, M, J, C], "rows" long [b]} per (topology, clip shape), rows the clips' positions in the batch."""
    groups: dict[tuple, list[int]] = {}
    for row, (clip, topology) in enumerate(zip(joints, topologies)):
        groups.setdefault((topology, clip.shape), []).append(row)
    return [{"topology": topology, "joints": torch.from_numpy(np.stack([joints[row] for row in rows])),
             "rows": torch.tensor(rows)} for (topology, _), rows in groups.items()]


class ClipCollator:
    """Items -> a batch: clips (their frames in topology groups, `topology_groups`) and the padded input_ids,
    attention_mask and labels long [B, L]."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list[dict]) -> dict:
        clips = topology_groups([item["joints"] for item in items], [item["topology"] for item in items])
        return {"clips": clips, **pad_batch(items, self.pad_id)}
