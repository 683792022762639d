"""Recognition by multiple-choice question: each clip's MQA prompt over its candidates, answered two ways.

- generation (the paper's way): greedy `generate`, normalized, then matched exactly against the candidates (an
  answer that is none of them counts as wrong and as `not a candidate`);
- likelihood: the candidates ranked by their log-likelihood after the shared prefix (`score.candidate_logprobs`).

Frames are the segment centres. Candidate orders are shuffled per sample from the seed, so a rerun asks the same
questions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from skeletonllm.eval import score
from skeletonllm.eval.metrics import match_candidate
from skeletonllm.eval.tasks import Answered
from skeletonllm.model import prompts
from skeletonllm.model.skeleton_llm import SkeletonLLM
from skeletonllm.progress import progress
from skeletonllm.train.data import example_rng, segment_frames


def shuffled(pool: Sequence[str], seed: int) -> Callable[[int, str], tuple[str, ...]]:
    """candidates_for(i, label): every class of the pool in an order drawn from (seed, i)."""
    def candidates_for(i: int, label: str) -> tuple[str, ...]:
        if label not in pool:
            raise ValueError(f"the true label {label!r} is not among the candidates {list(pool)}")
        return tuple(pool[j] for j in example_rng(seed, i).permutation(len(pool)))

    return candidates_for


def clip_frames(dataset, sample_ids: Sequence[str], frames: int) -> torch.Tensor:
    """float [B, F, M, J, C]: each clip's segment-centre frames."""
    clips = [dataset.joints(sample_id) for sample_id in sample_ids]
    return torch.from_numpy(np.stack([clip[segment_frames(len(clip), frames)] for clip in clips]))


@torch.no_grad()
def answer_mqa(model: SkeletonLLM, processor, dataset, sample_ids: Sequence[str],
               candidates_for: Callable[[int, str], Sequence[str]], batch_size: int = 8, device: str = "cpu",
               generate: bool = True, desc: str = "MQA") -> list[Answered]:
    """Ask each clip's MQA question; candidates_for(i, label) gives the i-th clip's candidates (the label among
    them). Without `generate` the answer is the likelihood's choice."""
    model.eval()
    frames, answered = model.frames, []
    for start in progress(range(0, len(sample_ids), batch_size), desc=desc, unit="batch"):
        ids = list(sample_ids[start : start + batch_size])
        pixel_values = model.pixel_values(clip_frames(dataset, ids, frames).to(device),
                                          dataset.topology.name)  # [B*F, 3, H, W]
        per_clip = pixel_values.unflatten(0, (len(ids), frames))  # [B, F, 3, H, W]
        labels = [dataset.label_name(sample_id) for sample_id in ids]
        questions = [prompts.mqa(label, tuple(candidates_for(start + i, label))) for i, label in enumerate(labels)]
        prompt_ids = [score.prompt_ids(processor, question.question, frames) for question in questions]
        answers = score.generate_answers(model, processor, pixel_values, prompt_ids) if generate else None
        for i, (sample_id, label, question) in enumerate(zip(ids, labels, questions)):
            candidates = question.candidates
            scores = score.candidate_logprobs(model, per_clip[i], prompt_ids[i],
                                              score.answer_ids(processor, list(candidates)))  # [k]
            ranked = candidates[int(scores.argmax())]
            answer = answers[i] if answers is not None else ranked
            parsed = match_candidate(answer, candidates)
            answered.append(Answered(sample_id, label, candidates, question.question, answer, parsed,
                                     parsed == label, ranked, ranked == label,
                                     tuple(float(value) for value in scores)))
    return answered
