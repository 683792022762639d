"""Answers of one rendered clip: candidates ranked by log-likelihood from one shared prefix, and greedy generation.

Ranking encodes the images and the prompt once (`prefix_cache`), copies the prefix's KV cache to the k candidates
and runs only the candidates' own tokens through the LLM, instead of k full forwards over images and prompt. A
candidate's score is the summed log-probability of its tokens and the end-of-turn token, as training's targets
are (`chat.encode`). Generation is transformers' greedy `generate`, stopped at the end-of-turn token.
"""

from __future__ import annotations

import torch

from skeletonllm.model.chat import ANSWER_END, prompt_text
from skeletonllm.model.skeleton_llm import SkeletonLLM, language_model_head


def prompt_ids(processor, question: str, frames: int) -> list[int]:
    """Token ids of the chat prompt (frames image blocks, the question, the assistant's turn opened)."""
    return processor.tokenizer(prompt_text(processor, question, frames), add_special_tokens=False)["input_ids"]


def answer_ids(processor, answers: list[str]) -> list[list[int]]:
    """Token ids of each answer followed by the end-of-turn token, as `chat.encode` builds targets."""
    return [processor.tokenizer(answer + ANSWER_END, add_special_tokens=False)["input_ids"] for answer in answers]


@torch.no_grad()
def candidate_logprobs(model: SkeletonLLM, pixel_values: torch.Tensor, prompt: list[int],
                       candidates: list[list[int]]) -> torch.Tensor:
    """float [k]: log p(candidate tokens | images, prompt) for each of the k candidates' token ids.
    pixel_values [F, 3, H, W]: one clip's frames; prompt: its prompt ids with F image blocks."""
    head = language_model_head(model.mllm)
    device = pixel_values.device
    prefix = head.model(input_ids=torch.tensor([prompt], device=device), pixel_values=pixel_values,
                        use_cache=True)
    first = head.lm_head(prefix.last_hidden_state[:, -1]).float().log_softmax(-1)[0]  # [V]: the first answer token
    k, longest = len(candidates), max(len(ids) for ids in candidates)
    tokens = torch.zeros((k, longest), dtype=torch.long, device=device)  # [k, Lc], right-padded
    valid = torch.zeros((k, longest), dtype=torch.bool, device=device)  # [k, Lc]
    for row, ids in enumerate(candidates):
        tokens[row, : len(ids)] = torch.tensor(ids, device=device)
        valid[row, : len(ids)] = True
    scores = first[tokens[:, 0]]  # [k]
    if longest > 1:
        cache = prefix.cache
        cache.batch_repeat_interleave(k)
        mask = torch.cat([torch.ones((k, len(prompt)), dtype=torch.long, device=device),
                          valid[:, :-1].long()], dim=1)  # [k, P + Lc - 1]
        hidden = head.model.language_model(input_ids=tokens[:, :-1], attention_mask=mask,
                                           cache=cache, use_cache=True).last_hidden_state  # [k, Lc-1, D]
        rest = head.lm_head(hidden).float().log_softmax(-1)  # [k, Lc-1, V]: position j predicts token j+1
        picked = rest.gather(-1, tokens[:, 1:, None])[..., 0]  # [k, Lc-1]
        scores = scores + (picked * valid[:, 1:]).sum(-1)
    return scores


@torch.no_grad()
def naive_candidate_logprobs(model: SkeletonLLM, pixel_values: torch.Tensor, prompt: list[int],
                             candidates: list[list[int]]) -> torch.Tensor:
    """float [k]: the same scores as `candidate_logprobs` by k full forwards over images, prompt and candidate
    (the reference the KV-cache way is checked and benchmarked against)."""
    from skeletonllm.model.chat import IGNORE, pad_batch

    encoded = [{"input_ids": [*prompt, *ids], "labels": [IGNORE] * len(prompt) + list(ids)} for ids in candidates]
    batch = {key: value.to(pixel_values.device) for key, value in pad_batch(encoded, 0).items()}
    repeated = pixel_values.repeat(len(candidates), 1, 1, 1)  # [k*F, 3, H, W]
    return model.answer_logprob(repeated, **batch)


@torch.no_grad()
def generate_answers(model: SkeletonLLM, processor, pixel_values: torch.Tensor, prompts: list[list[int]],
                     max_new_tokens: int = 24) -> list[str]:
    """Greedy answers, one per prompt: pixel_values [B*F, 3, H, W] (F frames per prompt, in order), prompts the
    B prompt ids; left-padded into one `generate` call, stopped at the end-of-turn token."""
    head = language_model_head(model.mllm)
    tokenizer = processor.tokenizer
    end, pad = tokenizer.convert_tokens_to_ids(ANSWER_END), tokenizer.pad_token_id
    longest = max(len(ids) for ids in prompts)
    device = pixel_values.device
    input_ids = torch.full((len(prompts), longest), pad, dtype=torch.long, device=device)  # [B, L], left-padded
    attention = torch.zeros((len(prompts), longest), dtype=torch.long, device=device)  # [B, L]
    for row, ids in enumerate(prompts):
        input_ids[row, longest - len(ids):] = torch.tensor(ids, device=device)
        attention[row, longest - len(ids):] = 1
    output = head.generate(input_ids=input_ids, attention_mask=attention, pixel_values=pixel_values,
                           max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=end, pad_token_id=pad)
    return [text.strip() for text in tokenizer.batch_decode(output[:, longest:], skip_special_tokens=True)]
