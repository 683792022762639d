"""Training a tiny SkeletonLLM's lm_head and projector on a fixed batch until it answers it with confidence, for
tests that need a model whose answers are known (generation, scoring, captions, QA)."""

from __future__ import annotations

import torch

CONFIDENT_LOSS = 0.02  # mean cross-entropy per answer token below which the batch counts as learnt by heart


def fit_until_confident(model, pixel_values: torch.Tensor, batch: dict, max_steps: int) -> float:
    """AdamW (lr 1e-2) on lm_head and the projector over pixel_values [B*F, 3, H, W] and the padded batch
    (input_ids, attention_mask, labels), at most max_steps steps or until the loss falls below CONFIDENT_LOSS;
    returns the last loss."""
    optimizer = torch.optim.AdamW([*model.mllm.lm_head.parameters(),
                                   *model.mllm.model.multi_modal_projector.parameters()], lr=1e-2)
    model.train()
    for _ in range(max_steps):
        logits, targets, _ = model.answer_logits(pixel_values, **batch)
        loss = torch.nn.functional.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if float(loss.detach()) < CONFIDENT_LOSS:
            break
    return float(loss.detach())
