"""Captioning metrics of generated descriptions against reference descriptions: BLEU-4 (sacrebleu), ROUGE-L
(rouge-score), CIDEr (pycocoevalcap), the sentence-embedding similarity under the offline all-MiniLM-L6-v2, and
the retrieval accuracy of HumanML3D's R-precision (top 1 among 32) with its chance level."""

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
    _check(predictions, references)
    return {"bleu4": _bleu4(predictions, references), "rouge_l": _rouge_l(predictions, references),
            "cider": _cider(predictions, references),
            "embedding_similarity": _embedding_similarity(predictions, references, model or load_model())}


def _check(predictions: list[str], references: list[list[str]]) -> None:
    """ValueError unless there is at least one prediction and one non-empty reference list per prediction."""
    if not predictions or len(predictions) != len(references) or not all(references):
        raise ValueError(f"need one non-empty reference list per prediction, at least one: got {len(predictions)} "
                         f"predictions and reference counts {[len(refs) for refs in references]}")


def _embeddings(predictions: list[str], references: list[list[str]],
                model: SentenceTransformer) -> tuple[np.ndarray, list[np.ndarray]]:
    """(predictions' unit sentence embeddings [N, D], each sample's reference embeddings [r_i, D]), in one encode."""
    flat = [ref for refs in references for ref in refs]  # [R]
    vectors = model.encode(predictions + flat, convert_to_numpy=True, normalize_embeddings=True,
                           show_progress_bar=False)  # [N + R, D], unit rows
    predicted, referenced = vectors[:len(predictions)], vectors[len(predictions):]  # [N, D], [R, D]
    ends = np.cumsum([len(refs) for refs in references])  # [N], end of each sample's references in flat
    return predicted, [referenced[end - len(refs):end] for refs, end in zip(references, ends)]


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
    predicted, referenced = _embeddings(predictions, references, model)  # [N, D], N x [r, D]
    return float(np.mean([(refs @ vector).max() for vector, refs in zip(predicted, referenced)]))


RETRIEVAL_POOL = 32  # HumanML3D's R-precision ranks each description against 31 others


def retrieval_accuracy(predictions: list[str], references: list[list[str]], model: SentenceTransformer | None = None,
                       pool: int = RETRIEVAL_POOL, seed: int = 0) -> dict[str, float]:
    """Whether each description picks out its own clip, as HumanML3D's R-precision (top 1) asks: the prediction's
    sentence embedding is compared with the mean reference embedding of its clip and of up to pool - 1 distractor
    clips, and it is correct when its own clip is the most similar. A distractor is a clip that shares no reference
    text with it (a clip of the same action with the same texts would be an answer just as right); they are drawn
    per sample from a generator seeded by (seed, sample). Returns accuracy and chance (the mean of 1 / pool size).
    ValueError as caption_scores."""
    _check(predictions, references)
    predicted, referenced = _embeddings(predictions, references, model or load_model())  # [N, D], N x [r, D]
    clips = np.stack([refs.mean(axis=0) for refs in referenced])  # [N, D]
    clips /= np.linalg.norm(clips, axis=1, keepdims=True)
    similarity = predicted @ clips.T  # [N, N]: description i against clip j
    texts = [{" ".join(ref.lower().split()) for ref in refs} for refs in references]
    correct, sizes = [], []
    for i in range(len(predictions)):
        distractors = [j for j in range(len(predictions)) if j != i and not texts[i] & texts[j]]
        rng = np.random.default_rng([seed, i])
        drawn = rng.choice(distractors, size=min(pool - 1, len(distractors)), replace=False) if distractors else []
        correct.append(bool(all(similarity[i, i] > similarity[i, j] for j in drawn)))
        sizes.append(1 + len(drawn))
    return {"accuracy": float(np.mean(correct)), "chance": float(np.mean([1.0 / size for size in sizes]))}
