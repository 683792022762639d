"""Examples -> token ids: the processor's chat template with one image per rendered frame, image tokens expanded as
InternVL's processor expands them, and labels that cover the answer tokens only.

The images are rendered inside the model's forward, so the processor never sees pixels: the text side alone is
built here, with the same processor attributes (`image_seq_length`, start/context/end image tokens) that
`InternVLProcessor.__call__` uses, for the tiny model and for real InternVL3 checkpoints alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from skeletonllm.model.prompts import Example

IGNORE = -100  # label of a position outside the answer
ANSWER_END = "<|im_end|>"  # closes the assistant turn; the model learns to emit it after the answer


def prompt_text(processor, question: str, frames: int) -> str:
    """The chat prompt of one question over `frames` images, ready for the assistant's answer; every image is
    expanded to <img> + image_seq_length context tokens + </img>."""
    content = [*({"type": "image"} for _ in range(frames)), {"type": "text", "text": question}]
    text = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                         tokenize=False)
    found = text.count(processor.image_token)
    if found != frames:
        raise ValueError(f"the chat template produced {found} image tokens for {frames} frames")
    block = processor.start_image_token + processor.image_token * processor.image_seq_length \
        + processor.end_image_token
    return text.replace(processor.image_token, block)


def encode(processor, example: Example, frames: int) -> dict[str, list[int]]:
    """input_ids = prompt + answer + end-of-turn; labels = IGNORE over the prompt, the ids over answer and end."""
    tokenizer = processor.tokenizer
    prompt = tokenizer(prompt_text(processor, example.question, frames), add_special_tokens=False)["input_ids"]
    answer = tokenizer(example.answer + ANSWER_END, add_special_tokens=False)["input_ids"]
    return {"input_ids": [*prompt, *answer], "labels": [IGNORE] * len(prompt) + list(answer)}


def pad_batch(encoded: Sequence[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad encoded examples: input_ids long [B, L], attention_mask long [B, L], labels long [B, L]."""
    length = max(len(item["input_ids"]) for item in encoded)
    input_ids = torch.full((len(encoded), length), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), length), IGNORE, dtype=torch.long)
    attention = torch.zeros((len(encoded), length), dtype=torch.long)
    for row, item in enumerate(encoded):
        size = len(item["input_ids"])
        input_ids[row, :size] = torch.tensor(item["input_ids"])
        labels[row, :size] = torch.tensor(item["labels"])
        attention[row, :size] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
