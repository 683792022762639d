"""SkeletonLLM: a format-agnostic renderer (DrAction) in front of an InternVL MLLM, trained end to end.

`forward` renders F frames per clip, resizes and normalizes them as the processor's image config says, places
each frame at one `<image>` of the prompt and returns the language-model loss over the answer tokens. A batch may mix
skeleton formats: its clips come in groups of one topology each (`ClipGroup`), rendered group by group and put back
in row order, since the images, not the joints, are what the MLLM reads. Logits are
computed only where labels are (the answer positions), which keeps a large output vocabulary cheap. The loss
reaches the renderer's parameters by autograd through the (possibly frozen) vision tower.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from skeletonllm.model.chat import IGNORE
from skeletonllm.render.base import SkeletonRenderer, normalize_images


@dataclass
class SkeletonLLMOutput(ModelOutput):
    """loss: mean cross-entropy over the answer tokens of the batch."""

    loss: torch.Tensor | None = None


def language_model_head(mllm: nn.Module) -> nn.Module:
    """The InternVLForConditionalGeneration inside `mllm` (itself, or the model a peft wrapper holds)."""
    return mllm.get_base_model() if hasattr(mllm, "get_base_model") else mllm


class SkeletonLLM(nn.Module):
    """renderer (poses of any topology -> frames) + mllm (InternVLForConditionalGeneration, maybe peft-wrapped).

    image_size: (height, width) the vision tower takes; mean, std: its per-channel normalization.
    """

    accepts_loss_kwargs = True  # the Trainer passes num_items_in_batch: exact token means under DDP and accumulation

    def __init__(self, renderer: SkeletonRenderer, mllm: nn.Module, image_size: tuple[int, int],
                 mean: tuple[float, float, float], std: tuple[float, float, float]):
        super().__init__()
        self.renderer = renderer
        self.mllm = mllm
        self.image_size = tuple(int(v) for v in image_size)
        self.mean, self.std = tuple(mean), tuple(std)

    @property
    def frames(self) -> int:
        """Frames (= images) per clip."""
        return self.renderer.config.frames

    def pixel_values(self, joints: torch.Tensor, topology: str) -> torch.Tensor:
        """joints float [B, T, M, J, C] -> pixel_values [B*F, 3, H, W] in the vision tower's size and normalization."""
        rgb = self.renderer.render(joints, topology)[0].flatten(0, 1)  # [B*F, 3, S, S] in [0, 1]
        if tuple(rgb.shape[-2:]) != self.image_size:
            rgb = F.interpolate(rgb, size=self.image_size, mode="bilinear", align_corners=False, antialias=True)
        dtype = language_model_head(self.mllm).dtype
        return normalize_images(rgb, self.mean, self.std).to(dtype)

    def batch_pixel_values(self, clips: list[dict]) -> torch.Tensor:
        """The pixel_values [B*F, 3, H, W] of a batch whose rows come in topology groups: clips is a list of
        {"topology": name, "joints": float [b, T, M, J, C], "rows": long [b] (the batch rows of the group's clips)},
        the rows of all groups together a permutation of 0..B-1; ValueError when they are not."""
        rows = torch.cat([group["rows"] for group in clips])  # [B]
        if not torch.equal(rows.sort().values, torch.arange(len(rows), device=rows.device)):
            raise ValueError(f"the groups' rows {rows.tolist()} are not each batch row once")
        images = torch.cat([self.pixel_values(group["joints"], group["topology"]).unflatten(0, (len(group["rows"]), -1))
                            for group in clips])  # [B, F, 3, H, W] in group order
        return images[rows.argsort()].flatten(0, 1)  # [B*F, 3, H, W] in row order

    def answer_logits(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits float [A, V] predicting each answer token, its target ids long [A], its row long [A]) for the
        A answer tokens of the batch; pixel_values [B*F, 3, H, W], input_ids/attention_mask/labels [B, L]."""
        model = language_model_head(self.mllm)
        hidden = model.model(input_ids=input_ids, attention_mask=attention_mask,
                             pixel_values=pixel_values).last_hidden_state  # [B, L, D]
        targets = labels[:, 1:]  # [B, L-1]: position i predicts token i+1
        answer = targets != IGNORE  # [B, L-1]
        rows = torch.arange(labels.shape[0], device=labels.device)[:, None].expand_as(targets)[answer]  # [A]
        logits = model.lm_head(hidden[:, :-1][answer])  # [A, V]
        return logits.float(), targets[answer], rows

    def forward(self, clips: list[dict], input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor, num_items_in_batch: int | torch.Tensor | None = None) -> SkeletonLLMOutput:
        """clips: the batch's clips in topology groups (see batch_pixel_values); input_ids, attention_mask, labels
        long [B, L] with F image blocks per row -> the cross-entropy summed over the answer tokens, divided by
        num_items_in_batch (the answer tokens of the whole optimizer step, over devices and accumulation, as the
        Trainer counts them) or, without it, by this batch's answer tokens."""
        logits, targets, _ = self.answer_logits(self.batch_pixel_values(clips), input_ids, attention_mask, labels)
        total = F.cross_entropy(logits, targets, reduction="sum")
        return SkeletonLLMOutput(loss=total / (num_items_in_batch if num_items_in_batch is not None else len(targets)))

    @torch.no_grad()
    def answer_logprob(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                       labels: torch.Tensor) -> torch.Tensor:
        """float [B]: the summed log-probability of each row's answer tokens (candidate ranking)."""
        logits, targets, rows = self.answer_logits(pixel_values, input_ids, attention_mask, labels)
        token = logits.log_softmax(-1).gather(-1, targets[:, None])[:, 0]  # [A]
        return torch.zeros(labels.shape[0], device=token.device).index_add_(0, rows, token)
