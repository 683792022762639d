"""Question answering about the measured motion: questions whose answers the skeleton data fixes.

Every answer is measured from the clip itself, as the kinematic teacher measures it (`teacher.motion_facts`): in the
main person's own body frame (right from the shoulders and hips, up along the spine, forward = up x right; slot 0,
the most active body) and in torso lengths, so it depends neither on the camera nor on the body size. Each question
type has one fixed question text and a closed answer set (`QA_TYPES`):

- limb, "Which hand or leg moves most?" -> left hand | right hand | left leg | right leg: the limb whose end effector
  (hand relative to its shoulder, foot relative to its hip) covers the largest extent (`PartMotion.extent`). Asked
  only when that extent is at least LIMB_MIN_EXTENT torso lengths and at least LIMB_MARGIN times the extent of every
  other hand or leg: two hands clapping, two legs walking or a still body have no single answer;
- people, "How many people are there?" -> one | two: the bodies present in at least half of the frames
  (`MotionFacts.people`); always asked;
- lower, "Does the person end lower than they started?" -> yes | no: the drop of the pelvis (mean of the hips) along
  the body's up axis from the mean of the first to the mean of the last tenth of the frames where the person is
  present; yes when it drops by LOWER_YES torso lengths or more, no when it drops by less than LOWER_NO (or rises);
  between the two the question is not asked, nor for 2D skeletons (a person walking away from the camera rises in
  the image);
- direction, "Which way does the person travel?" -> forward | backward | left | right | in place: the same pelvis
  displacement in the horizontal plane of the body frame (right, forward). in place below TRAVEL_IN_PLACE torso
  lengths; from TRAVEL_MIN torso lengths on, the axis and sign of its larger component, provided that component is
  at least DIRECTION_DOMINANCE times the other (not a diagonal). Left and right are the person's own. Not asked in
  between, for a diagonal, nor for 2D skeletons (no depth: forward and backward are not observable).

A question that is not asked for a clip is left out of `question_answers`, so every truth is unambiguous. A
generated answer is correct when its normalized form (`metrics.normalize_answer`) equals the normalized truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from skeletonllm.eval import score
from skeletonllm.eval.metrics import normalize_answer, per_type_accuracy
from skeletonllm.eval.recognition import clip_frames
from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.model import prompts
from skeletonllm.model.skeleton_llm import SkeletonLLM
from skeletonllm.progress import progress
from skeletonllm.teacher.motion_facts import body_frame, measure

QA_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "limb": ("Which hand or leg moves most?", ("left hand", "right hand", "left leg", "right leg")),
    "people": ("How many people are there?", ("one", "two")),
    "lower": ("Does the person end lower than they started?", ("yes", "no")),
    "direction": ("Which way does the person travel?", ("forward", "backward", "left", "right", "in place")),
}
LIMB_ANSWER = {"left arm": "left hand", "right arm": "right hand", "left leg": "left leg", "right leg": "right leg"}
PEOPLE_ANSWER = {1: "one", 2: "two"}
LIMB_MIN_EXTENT = 0.5  # torso lengths: the top limb clearly moves
LIMB_MARGIN = 2.0  # ... and at least twice as far as any other hand or leg
LOWER_YES, LOWER_NO = 0.4, 0.2  # pelvis drop, torso lengths: >= 0.4 yes, < 0.2 no, in between not asked
TRAVEL_IN_PLACE, TRAVEL_MIN = 0.5, 1.0  # horizontal pelvis travel, torso lengths: < 0.5 in place, >= 1.0 travels
DIRECTION_DOMINANCE = 2.0  # the larger horizontal component is at least twice the other
END_SHARE = 0.1  # the start and the end: the first and the last tenth of the frames
MAX_NEW_TOKENS = 8  # every answer is one or two words


@dataclass(frozen=True)
class QAItem:
    """One question about one clip: its type (a key of QA_TYPES), the question text and the true answer."""

    sample: str
    type: str
    question: str
    answer: str

    @property
    def example(self) -> prompts.Example:
        """The prompt builder's QA example (question, target answer)."""
        return prompts.question(self.question, self.answer)


def pelvis_displacement(seq: SkeletonSequence) -> np.ndarray:
    """float [3]: the main person's pelvis (mean of the hips) displacement from the start to the end of the clip, in
    its body frame (right, up, forward) and torso lengths; start and end are the means over the first and the last
    END_SHARE of the frames where that person is present (forward is 0 for 2D skeletons)."""
    joints = np.asarray(seq.joints, dtype=np.float64)  # [T, M, J, C]
    present = joints.reshape(*joints.shape[:2], -1).any(axis=-1)  # [T, M]
    people = [m for m in range(joints.shape[1]) if present[:, m].mean() >= 0.5]
    if not people:
        raise ValueError("no body is present in at least half of the frames")
    main = joints[present[:, people[0]], people[0]]  # [T', J, C]: the frames showing the main person
    axes, torso = body_frame(main, seq.topology)  # [3, C]
    pelvis = main[:, list(seq.topology.hips)].mean(axis=1) @ axes.T / torso  # [T', 3]
    edge = max(int(len(pelvis) * END_SHARE), 1)
    return pelvis[-edge:].mean(axis=0) - pelvis[:edge].mean(axis=0)


def _limb(facts) -> str | None:
    """The hand or leg that moves most, or None when none clearly does or two are close."""
    limbs = sorted((part for part in facts.parts if part.part in LIMB_ANSWER), key=lambda part: -part.extent)
    top, runner_up = limbs[0].extent, limbs[1].extent
    if top < LIMB_MIN_EXTENT or top < LIMB_MARGIN * runner_up:
        return None
    return LIMB_ANSWER[limbs[0].part]


def _lower(displacement: np.ndarray) -> str | None:
    """yes / no / None (not asked) from the pelvis displacement [3] (right, up, forward)."""
    drop = -float(displacement[1])
    return "yes" if drop >= LOWER_YES else "no" if drop < LOWER_NO else None


def _direction(displacement: np.ndarray) -> str | None:
    """forward / backward / left / right / in place, or None (not asked), from the pelvis displacement [3]."""
    right, forward = float(displacement[0]), float(displacement[2])
    travel = np.hypot(right, forward)
    if travel < TRAVEL_IN_PLACE:
        return "in place"
    if travel < TRAVEL_MIN:
        return None
    if abs(forward) >= DIRECTION_DOMINANCE * abs(right):
        return "forward" if forward > 0 else "backward"
    if abs(right) >= DIRECTION_DOMINANCE * abs(forward):
        return "right" if right > 0 else "left"
    return None


def motion_answers(seq: SkeletonSequence) -> dict[str, str]:
    """Question type -> true answer for one normalized sequence (joints [T, M, J, C], absent bodies all-zero, slot 0
    the main person), in QA_TYPES order; the types whose answer the clip does not fix are left out (for 2D
    skeletons, lower and direction always)."""
    facts = measure(seq)
    displacement = pelvis_displacement(seq)  # [3]
    depth = seq.topology.dims == 3  # 2D: image height and travel mix with the walk in depth (perspective)
    answers = {"limb": _limb(facts), "people": PEOPLE_ANSWER.get(facts.people),
               "lower": _lower(displacement) if depth else None,
               "direction": _direction(displacement) if depth else None}
    return {kind: answer for kind, answer in answers.items() if answer is not None}


def question_answers(dataset, sample_id: str) -> list[tuple[str, str, str]]:
    """(type, question, answer) of every question the sample's data fixes, in QA_TYPES order (deterministic)."""
    row = dataset.row(sample_id)
    seq = SkeletonSequence(dataset.joints(sample_id), None, dataset.topology, float(row["fps"]),
                           {"sample_id": sample_id})
    try:
        answers = motion_answers(seq)
    except ValueError as error:
        raise ValueError(f"{dataset.name}: sample {sample_id!r}: {error}") from None
    return [(kind, QA_TYPES[kind][0], answer) for kind, answer in answers.items()]


def qa_examples(dataset, sample_ids: Sequence[str]) -> list[QAItem]:
    """Every question of every sample, samples in the given order, each sample's questions in QA_TYPES order."""
    return [QAItem(sample_id, kind, text, answer) for sample_id in sample_ids
            for kind, text, answer in question_answers(dataset, sample_id)]


def is_correct(answer: str, truth: str) -> bool:
    """Whether a generated answer equals the truth once both are normalized."""
    return normalize_answer(answer) == normalize_answer(truth)


def in_answer_set(kind: str, answer: str) -> bool:
    """Whether a generated answer is, normalized, one of the answers of its question type."""
    return normalize_answer(answer) in {normalize_answer(option) for option in QA_TYPES[kind][1]}


@torch.no_grad()
def qa_answers(model: SkeletonLLM, processor, dataset, items: Sequence[QAItem], batch_size: int = 8,
               device: str = "cpu", max_new_tokens: int = MAX_NEW_TOKENS) -> list[dict]:
    """Ask every item's question about its clip (frames at the segment centres, each clip rendered once per batch)
    and answer it greedily; one row per item, in order: {sample, type, prompt, answer, truth, correct,
    in_answer_set}."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    model.eval()
    frames, rows = model.frames, []
    for start in progress(range(0, len(items), batch_size), desc=f"QA {dataset.name}", unit="batch"):
        batch = list(items[start : start + batch_size])
        clips = list(dict.fromkeys(item.sample for item in batch))
        pixel_values = model.pixel_values(clip_frames(dataset, clips, frames).to(device),
                                          dataset.topology.name)  # [U*F, 3, H, W], U clips
        per_clip = pixel_values.unflatten(0, (len(clips), frames))  # [U, F, 3, H, W]
        order = torch.tensor([clips.index(item.sample) for item in batch], device=per_clip.device)  # [B]
        prompt_ids = [score.prompt_ids(processor, item.example.question, frames) for item in batch]
        answers = score.generate_answers(model, processor, per_clip[order].flatten(0, 1), prompt_ids,
                                         max_new_tokens)  # pixel values [B*F, 3, H, W]
        rows += [{"sample": item.sample, "type": item.type, "prompt": item.question, "answer": answer,
                  "truth": item.answer, "correct": is_correct(answer, item.answer),
                  "in_answer_set": in_answer_set(item.type, answer)} for item, answer in zip(batch, answers)]
    return rows


def qa_metrics(rows: Sequence[dict]) -> dict:
    """Metrics of answered rows (as qa_answers writes them; correctness recomputed from answer and truth):
    accuracy (share of questions answered correctly), chance (mean over the questions of 1 / the size of their
    type's answer set), samples (distinct clips), questions (rows), not_an_answer (share of answers outside their
    type's answer set) and per_type accuracy (types in order of first appearance). ValueError when there is no
    row."""
    if not rows:
        raise ValueError("no question was answered")
    correct = [is_correct(row["answer"], row["truth"]) for row in rows]
    return {
        "accuracy": float(np.mean(correct)),
        "chance": float(np.mean([1.0 / len(QA_TYPES[row["type"]][1]) for row in rows])),
        "samples": len({row["sample"] for row in rows}),
        "questions": len(rows),
        "not_an_answer": float(np.mean([not in_answer_set(row["type"], row["answer"]) for row in rows])),
        "per_type": per_type_accuracy([row["type"] for row in rows], correct),
    }
