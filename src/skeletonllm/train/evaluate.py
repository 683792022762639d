"""The seen-class MQA accuracy a stage reports: each held-out sample's MQA prompt over k seen candidates, scored by
ranking the candidates by the log-likelihood of their answer after the prompt (no generation, so a model that has
not yet learnt to stop still gets a fair score). Frames are the segment centres; candidates are seeded."""

from __future__ import annotations

import numpy as np
import torch

from skeletonllm.model import prompts
from skeletonllm.model.chat import encode, pad_batch
from skeletonllm.model.skeleton_llm import SkeletonLLM
from skeletonllm.progress import progress
from skeletonllm.train.data import example_rng, segment_frames


@torch.no_grad()
def mqa_accuracy(model: SkeletonLLM, processor, dataset, sample_ids: list[str], pool: list[str], k: int, seed: int,
                 batch_size: int = 8, device: str = "cpu") -> dict[str, float]:
    """{"accuracy", "chance", "samples"} of likelihood-ranked MQA over `pool` for the given samples."""
    model.eval()
    correct, chance = 0, 0.0
    frames, pad_id = model.frames, processor.tokenizer.pad_token_id
    for start in progress(range(0, len(sample_ids), batch_size), desc="seen-class MQA", unit="batch"):
        ids = sample_ids[start : start + batch_size]
        clips = [dataset.joints(sample_id) for sample_id in ids]
        joints = torch.from_numpy(np.stack([clip[segment_frames(len(clip), frames)] for clip in clips]))
        pixel_values = model.pixel_values(joints.to(device), dataset.topology.name)  # [B*F, 3, H, W]
        per_sample = pixel_values.unflatten(0, (len(ids), frames))  # [B, F, 3, H, W]
        labels = [dataset.label_name(sample_id) for sample_id in ids]
        for i, label in enumerate(labels):
            candidates = prompts.pick_candidates(label, pool, k, example_rng(seed, start + i))
            question = prompts.mqa(label, candidates).question
            batch = pad_batch([encode(processor, prompts.Example(question, name), frames) for name in candidates],
                              pad_id)
            repeated = per_sample[i : i + 1].expand(len(candidates), -1, -1, -1, -1).flatten(0, 1)  # [k*F, 3, H, W]
            scores = model.answer_logprob(repeated, **{key: value.to(device) for key, value in batch.items()})
            correct += int(candidates[int(scores.argmax())] == label)
            chance += 1.0 / len(candidates)
    count = max(len(sample_ids), 1)
    return {"accuracy": correct / count, "chance": chance / count, "samples": len(sample_ids)}
