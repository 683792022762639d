"""`llm` backend: a chat model ranks, for each class, the other classes by shared body parts and motion pattern.

Two clients share one interface, `complete(messages, **params) -> str`: an OpenAI-compatible endpoint
(`skeletonllm.remote.chat.ChatClient`) and `LocalCausalLM`, a transformers causal LM run here. Every answer is
cached in an append-only JSONL (`skeletonllm.remote.cache.JsonlCache`) keyed by the class and the prompt, so a
killed run resumes without asking again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from skeletonllm.mining.neighbours import check_k
from skeletonllm.progress import progress

SYSTEM = ("You are an expert in human motion analysis. You compare actions by the body parts they use and "
          "their motion pattern, not by their wording.")


class ChatModel(Protocol):
    """Anything with the ChatClient call: `complete(messages, **params) -> str`."""

    def complete(self, messages: list[dict], **params) -> str: ...


def prompt(name: str, candidates: Sequence[str], k: int) -> str:
    """The question for one class: rank k of the numbered candidates, answer as a JSON list of numbers."""
    listed = "\n".join(f"{i + 1}. {candidate}" for i, candidate in enumerate(candidates))
    return (f"Action: {name}\n\nCandidate actions:\n{listed}\n\n"
            f"Which {k} candidates are most easily confused with \"{name}\" from a skeleton sequence alone, "
            f"i.e. which involve the same body parts (hands, arms, head, legs, whole body) and a similar motion "
            f"pattern? Rank them, most similar first. Answer with only a JSON list of {k} candidate numbers, "
            f"e.g. [3, 1, 7].")


def parse_ranking(answer: str, candidates: Sequence[str], k: int) -> list[str]:
    """The first k distinct candidates named in the answer's JSON list (numbers 1-based, or exact names).

    Raises ValueError when the answer holds no such list or names fewer than k valid candidates.
    """
    match = re.search(r"\[[^\[\]]*\]", answer)
    if match is None:
        raise ValueError(f"the answer holds no JSON list: {answer[:200]!r}")
    try:
        items = json.loads(match.group(0))
    except json.JSONDecodeError as error:
        raise ValueError(f"the answer's list is not valid JSON ({error.msg}): {match.group(0)[:200]!r}") from None
    by_name = {candidate.casefold(): candidate for candidate in candidates}
    ranked: list[str] = []
    for item in items:
        if isinstance(item, int) and 1 <= item <= len(candidates):
            chosen = candidates[item - 1]
        elif isinstance(item, str) and item.strip().isdigit() and 1 <= int(item) <= len(candidates):
            chosen = candidates[int(item) - 1]
        elif isinstance(item, str) and item.strip().casefold() in by_name:
            chosen = by_name[item.strip().casefold()]
        else:
            continue
        if chosen not in ranked:
            ranked.append(chosen)
    if len(ranked) < k:
        raise ValueError(f"the answer names {len(ranked)} valid candidates, {k} needed: {answer[:200]!r}")
    return ranked[:k]


def rank(names: Sequence[str], k: int, model: ChatModel, cache_path: str | Path, model_id: str,
         **params) -> dict[str, list[str]]:
    """Each class's top-k hard negatives as ranked by the model; answers cached (and reused) in cache_path."""
    from skeletonllm.remote.cache import JsonlCache

    check_k(k, len(names))
    cache = JsonlCache(cache_path)
    mined: dict[str, list[str]] = {}
    for name in progress(names, "llm ranking", unit="class"):
        candidates = [other for other in names if other != name]
        question = prompt(name, candidates, k)
        key = cache.key(name, f"{model_id}\0{question}")
        record = cache.get(key)
        if record is None:
            answer = model.complete([{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
                                    **params)
            record = {"class": name, "model": model_id, "answer": answer}
            cache.put(key, record)
        try:
            mined[name] = parse_ranking(record["answer"], candidates, k)
        except ValueError as error:
            raise ValueError(f"class {name!r}: {error} (cached in {cache_path}; delete that line to ask again)") \
                from None
    return mined


class LocalCausalLM:
    """A transformers causal LM (local folder or cached hub id, loaded offline) with the ChatClient interface."""

    def __init__(self, path: str, max_new_tokens: int = 64, device: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        if device:
            self.model.to(device)
        self.model.eval()
        self.max_new_tokens = max_new_tokens

    def complete(self, messages: list[dict], **params) -> str:
        """Greedy continuation of the chat (chat template when the tokenizer has one, else plain text)."""
        import torch

        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = "\n\n".join(str(m["content"]) for m in messages) + "\n\nAnswer: "
        inputs = self.tokenizer(text, return_tensors="pt").to(self.model.device)
        with torch.no_grad():
            output = self.model.generate(**inputs, do_sample=False,
                                         max_new_tokens=int(params.get("max_tokens", self.max_new_tokens)),
                                         pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        return self.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
