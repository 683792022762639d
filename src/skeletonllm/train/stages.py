"""The four training stages: their task, what each trains, and the LoRA adapters of stages 3 and 4 (peft).

| stage | trains | task |
|---|---|---|
| 1 render warm-up | renderer + projector | MQA |
| 2 Disc-FT | renderer + projector | YES/NO with mined hard negatives |
| 3 CR-Distill | renderer + projector + LLM LoRA | teacher rationale ending "Label: x" |
| 4 refine | projector + LLM LoRA (renderer frozen) | MQA, plus the train.refine_tasks mix (caption, qa) |

The vision tower, the LLM and its lm_head stay frozen, except the parts `unfreeze` names (BASE_PARTS); the
renderer stays frozen in stage 4 either way. LoRA is merged into the base after stages 3 and 4.

The tiny default unfreezes lm_head only: its MiniLM-started LLM cannot answer at all with a frozen head (stage-1
loss stays near 9), while unfreezing its layers or its vision tower at the tiny model's learning rate wipes out the
image signal that its randomly initialised tower and LLM already pass to the answer position: held-out accuracy
falls to chance (0.2 of 5), against 0.97 with lm_head + projector trained on the same cached renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from skeletonllm.model.skeleton_llm import SkeletonLLM, language_model_head

# The LLM's attention and MLP projections, by their module names in InternVLForConditionalGeneration.
LORA_TARGETS = r".*language_model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)"


BASE_PARTS = ("vision", "language", "lm_head")  # the base parts `unfreeze` may name


@dataclass(frozen=True)
class Stage:
    """What one stage trains and on which task."""

    number: int
    name: str
    task: str  # mqa, disc or reason
    trains_renderer: bool
    lora: bool
    mixes: bool = False  # adds the tasks of train.refine_tasks (caption, qa) to its own


STAGES = {
    1: Stage(1, "render warm-up", "mqa", trains_renderer=True, lora=False),
    2: Stage(2, "Disc-FT", "disc", trains_renderer=True, lora=False),
    3: Stage(3, "CR-Distill", "reason", trains_renderer=True, lora=True),
    4: Stage(4, "refine", "mqa", trains_renderer=False, lora=True, mixes=True),
}


def get_stage(number: int) -> Stage:
    """The stage numbered 1 to 4; ValueError otherwise."""
    if number not in STAGES:
        raise ValueError(f"stage must be one of {sorted(STAGES)}, got {number}")
    return STAGES[number]


def attach_lora(mllm: nn.Module, r: int, alpha: int, dropout: float) -> nn.Module:
    """mllm wrapped by peft with LoRA of rank r on every attention and MLP projection of the LLM."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=LORA_TARGETS, bias="none")
    return get_peft_model(mllm, config)


def merge_lora(mllm: nn.Module) -> nn.Module:
    """The plain MLLM with its LoRA adapters merged into the base weights (itself when it has none)."""
    return mllm.merge_and_unload() if hasattr(mllm, "merge_and_unload") else mllm


def set_trainable(model: SkeletonLLM, stage: Stage, unfreeze: Sequence[str] = ()) -> dict[str, int]:
    """Freeze everything, then unfreeze the stage's set and the base parts named in `unfreeze` (BASE_PARTS);
    returns trainable parameter counts per part (renderer, projector, vision, language, lm_head, lora).
    ValueError for an unknown part."""
    unknown = sorted(set(unfreeze) - set(BASE_PARTS))
    if unknown:
        raise ValueError(f"unfreeze: unknown part(s) {unknown}; choose from {list(BASE_PARTS)}")
    model.requires_grad_(False)
    head = language_model_head(model.mllm)
    parts = {"renderer": model.renderer, "projector": head.model.multi_modal_projector,
             "vision": head.model.vision_tower, "language": head.model.language_model, "lm_head": head.lm_head}
    trained = {"projector", *unfreeze} | ({"renderer"} if stage.trains_renderer else set())
    for name in trained:
        parts[name].requires_grad_(True)
    for name, parameter in head.named_parameters():
        if "lora_" in name:
            parameter.requires_grad_(True)
    counts = {name: sum(p.numel() for key, p in module.named_parameters() if p.requires_grad and "lora_" not in key)
              for name, module in parts.items()}
    counts["lora"] = sum(p.numel() for name, p in head.named_parameters() if "lora_" in name and p.requires_grad)
    return counts
