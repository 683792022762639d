"""Captioning metrics of generated descriptions against reference descriptions: BLEU-4 (sacrebleu), ROUGE-L
(rouge-score), CIDEr (pycocoevalcap) and the sentence-embedding similarity under the offline all-MiniLM-L6-v2."""

from __future__ import annotations

from itertools import zip_longest
from typing import TYPE_CHECKING

import numpy as np
import sacrebleu
from pycocoevalcap.cider.cider import Cider
from rouge_score.rouge_scorer import RougeScorer

from skeletonllm.mining.embedding import load_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def caption_scores(predictions: list[str], references: list[list[str]],
                   model: SentenceTransformer | None = None) -> dict[str, float]:
    """Corpus scores of predictions[i] against its references[i] (one or more each):
    - bleu4: sacrebleu's corpus BLEU (up to 4-grams, its default 13a tokenization), on sacrebleu's 0-100 scale;
    - rouge_l: ROUGE-L F-measure against the best-matching reference, averaged over samples, 0-1;
    - cider: CIDEr as the COCO caption evaluation (pycocoevalcap's Cider) computes it (clipped, length-penalized,
      x10), on lower-cased whitespace-split text (not its PTB tokenizer, which needs Java); its n-gram weights come
      from the references of the whole corpus, so a single sample always scores 0;
    - embedding_similarity: the highest cosine similarity between the prediction's and a reference's sentence
      embedding, averaged over samples (model: a loaded SentenceTransformer; default: the packaged all-MiniLM-L6-v2).
    ValueError on no prediction, a length mismatch or a sample without reference."""
    if not predictions or len(predictions) != len(references) or not all(references):
        raise ValueError(f"need one non-empty reference list per prediction, at least one: got {len(predictions)} "
                         f"predictions and reference counts {[len(refs) for refs in references]}")
    return {"bleu4": _bleu4(predictions, references), "rouge_l": _rouge_l(predictions, references),
            "cider": _cider(predictions, references),
            "embedding_similarity": _embedding_similarity(predictions, references, model or load_model())}


def _bleu4(predictions: list[str], references: list[list[str]]) -> float:
    """sacrebleu corpus BLEU, 0-100; samples with fewer references are padded with None, which sacrebleu skips."""
    streams = [list(stream) for stream in zip_longest(*references)]  # [most references][N]
    return float(sacrebleu.corpus_bleu(predictions, streams).score)


def _rouge_l(predictions: list[str], references: list[list[str]]) -> float:
    """Mean over samples of the best ROUGE-L F-measure against the sample's references, 0-1."""
    scorer = RougeScorer(["rougeL"])
    return float(np.mean([scorer.score_multi(refs, prediction)["rougeL"].fmeasure
                          for prediction, refs in zip(predictions, references)]))


def _cider(predictions: list[str], references: list[list[str]]) -> float:
    """pycocoevalcap's corpus CIDEr on lower-cased whitespace-split text."""
    def tokens(text: str) -> str:
        return " ".join(text.lower().split())

    score, _ = Cider().compute_score({i: [tokens(ref) for ref in refs] for i, refs in enumerate(references)},
                                     {i: [tokens(prediction)] for i, prediction in enumerate(predictions)})
    return float(score)


def _embedding_similarity(predictions: list[str], references: list[list[str]], model: SentenceTransformer) -> float:
    """Mean over samples of the highest cosine similarity between the prediction's and a reference's embedding."""
    flat = [ref for refs in references for ref in refs]  # [R]
    vectors = model.encode(predictions + flat, convert_to_numpy=True, normalize_embeddings=True,
                           show_progress_bar=False)  # [N + R, D], unit rows
    predicted, referenced = vectors[:len(predictions)], vectors[len(predictions):]  # [N, D], [R, D]
    ends = np.cumsum([len(refs) for refs in references])  # [N], end of each sample's references in flat
    best = [(referenced[end - len(refs):end] @ vector).max() for vector, refs, end in zip(predicted, references, ends)]
    return float(np.mean(best))
