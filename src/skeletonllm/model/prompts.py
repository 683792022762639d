"""Prompt builders of every task the model is trained or evaluated on: one `Example` (user text, target answer) per
sample. The user text holds no image token: `model.chat` puts one `<image>` per rendered frame before it.

- MQA: pick the action among k candidates (the true one shuffled in with a seeded generator);
- Disc-FT: "Is this action <candidate>? Answer yes or no." with the answer YES or NO;
- CR-Distill: the MQA question asking for step-by-step reasoning, the teacher rationale (ending `Label: x`) as target;
- captioning: describe the motion in one sentence (HumanML3D-style texts);
- QA: a question about the measured motion with a short answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

YES, NO = "yes", "no"
MQA_QUESTION = "Which action does the skeleton perform? Choose one of: {options}. Answer with the action name."
REASON_QUESTION = ("Which action does the skeleton perform? Choose one of: {options}. Reason step by step about "
                   "which body parts move and how, then end with a line 'Label: <action>'.")
DISC_QUESTION = "Is this action {candidate}? Answer yes or no."
CAPTION_QUESTION = "Describe the motion of the person in one sentence."


@dataclass(frozen=True)
class Example:
    """One training or evaluation example: the question (no image tokens), its target answer and, for MQA, the
    candidates in the order shown."""

    question: str
    answer: str
    candidates: tuple[str, ...] = ()


def pick_candidates(label: str, pool: Sequence[str], k: int, rng: np.random.Generator) -> tuple[str, ...]:
    """k candidates: `label` and k-1 others drawn from `pool` without repetition, in shuffled order; fewer when the
    pool is smaller. ValueError when k < 2."""
    if k < 2:
        raise ValueError(f"MQA needs at least 2 candidates, got k={k}")
    others = [name for name in dict.fromkeys(pool) if name != label]
    chosen = [others[i] for i in rng.choice(len(others), size=min(k - 1, len(others)), replace=False)]
    options = [label, *chosen]
    return tuple(options[i] for i in rng.permutation(len(options)))


def options_text(candidates: Sequence[str]) -> str:
    """Candidates as they appear in a question: "a; b; c"."""
    return "; ".join(candidates)


def mqa(label: str, candidates: Sequence[str]) -> Example:
    """Multiple-choice question over `candidates`, answered by the class name."""
    if label not in candidates:
        raise ValueError(f"the true label {label!r} is not among the candidates {list(candidates)}")
    return Example(MQA_QUESTION.format(options=options_text(candidates)), label, tuple(candidates))


def discriminate(candidate: str, is_true: bool) -> Example:
    """Disc-FT: "Is this action <candidate>?" answered YES or NO."""
    return Example(DISC_QUESTION.format(candidate=candidate), YES if is_true else NO, (candidate,))


def reasoning(label: str, candidates: Sequence[str], rationale: str) -> Example:
    """CR-Distill: the student's question, the teacher rationale (its last line `Label: <label>`) as target."""
    if label not in candidates:
        raise ValueError(f"the true label {label!r} is not among the candidates {list(candidates)}")
    return Example(REASON_QUESTION.format(options=options_text(candidates)), rationale.strip(), tuple(candidates))


def caption(text: str) -> Example:
    """Captioning: describe the motion; the reference text is the target."""
    return Example(CAPTION_QUESTION, text.strip())


def question(text: str, answer: str) -> Example:
    """QA: a question about the measured motion with its short answer (e.g. "which hand moves most?" -> "right")."""
    return Example(text.strip(), answer.strip())


def template_texts() -> list[str]:
    """Every fixed prompt text, for the tokenizer's training corpus."""
    return [MQA_QUESTION, REASON_QUESTION, DISC_QUESTION, CAPTION_QUESTION, YES, NO, "Label:"]
