"""Captioning of HumanML3D-style data: describe each clip's motion in one sentence, scored against its texts.

Each clip is rendered at its segment-centre frames (as recognition does) and asked `prompts.CAPTION_QUESTION`; the
greedy generated sentence is scored against the clip's reference texts (the index column `captions`) with BLEU-4,
ROUGE-L, CIDEr, the sentence-embedding similarity (`eval.caption_metrics.caption_scores`) and whether it picks out
its clip among 32 (`retrieval_accuracy`, reported as accuracy with its chance). Only datasets prepared
from HumanML3D-style texts (synth_humanml3d, humanml3d) carry references.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from skeletonllm.errors import CommandError
from skeletonllm.eval import score
from skeletonllm.eval.caption_metrics import caption_scores, retrieval_accuracy
from skeletonllm.eval.recognition import clip_frames
from skeletonllm.mining.embedding import load_model
from skeletonllm.model import prompts
from skeletonllm.model.skeleton_llm import SkeletonLLM
from skeletonllm.progress import progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MAX_NEW_TOKENS = 40  # a HumanML3D sentence is 10-20 words; 40 tokens leave room without running on


def references(dataset, sample_ids: Sequence[str]) -> list[list[str]]:
    """Each sample's reference texts (its `captions`, or its one `caption` where that list is empty).
    CommandError naming the dataset when it has no `captions` column (only HumanML3D-style datasets carry texts),
    or naming a sample that has no text at all."""
    if "captions" not in dataset.index.columns:
        raise CommandError(f"dataset {dataset.name!r} ({dataset.directory}) has no 'captions' column: only "
                           f"HumanML3D-style datasets (e.g. synth_humanml3d) carry reference texts for captioning")
    result = []
    for sample_id in sample_ids:
        row = dataset.row(sample_id)
        texts = [str(text).strip() for text in row["captions"] if str(text).strip()]
        if not texts and "caption" in row.index and str(row["caption"] or "").strip():
            texts = [str(row["caption"]).strip()]
        if not texts:
            raise CommandError(f"dataset {dataset.name!r}: sample {sample_id!r} has no reference text")
        result.append(texts)
    return result


@torch.no_grad()
def caption_answers(model: SkeletonLLM, processor, dataset, sample_ids: Sequence[str], batch_size: int = 8,
                    device: str = "cpu", max_new_tokens: int = MAX_NEW_TOKENS) -> list[dict]:
    """One row per sample, in order: {sample, prompt, answer, references}; answer is the greedy generated
    description of the clip (frames at the segment centres), prompt the caption question."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    texts = references(dataset, sample_ids)  # first, so a dataset without texts fails before any rendering
    model.eval()
    frames, question = model.frames, prompts.caption("").question
    prompt = score.prompt_ids(processor, question, frames)
    rows = []
    for start in progress(range(0, len(sample_ids), batch_size), desc=f"caption {dataset.name}", unit="batch"):
        ids = list(sample_ids[start : start + batch_size])
        pixel_values = model.pixel_values(clip_frames(dataset, ids, frames).to(device),
                                          dataset.topology.name)  # [B*F, 3, H, W]
        answers = score.generate_answers(model, processor, pixel_values, [prompt] * len(ids), max_new_tokens)
        rows += [{"sample": sample_id, "prompt": question, "answer": answer, "references": refs}
                 for sample_id, answer, refs in zip(ids, answers, texts[start : start + batch_size])]
    return rows


def caption_metrics(rows: Sequence[dict], model: SentenceTransformer | None = None) -> dict:
    """bleu4 (0-100), rouge_l, cider, embedding_similarity (`caption_scores`), accuracy and chance
    (`retrieval_accuracy`: does the description pick out its clip among up to 32) of the rows' answers against their
    references, and samples; model: the sentence embedder, default the packaged all-MiniLM-L6-v2. ValueError when
    there is no row."""
    if not rows:
        raise ValueError("no sample was captioned")
    model = model or load_model()
    answers, texts = [row["answer"] for row in rows], [list(row["references"]) for row in rows]
    return {**caption_scores(answers, texts, model), **retrieval_accuracy(answers, texts, model), "samples": len(rows)}
