"""skeletonllm.eval: answer normalization and matching, recognition/QA/GZSL metrics, caption metrics and the
evaluation plots, each checked on hand-made inputs whose value is known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from skeletonllm.eval.caption_metrics import caption_scores, retrieval_accuracy
from skeletonllm.eval.metrics import (NONE_COLUMN, accuracy, confusion, gzsl_summary, harmonic_mean,
                                      match_candidate, mean_class_accuracy, normalize_answer, per_class_accuracy,
                                      per_type_accuracy, topk_accuracy)
from skeletonllm.eval.plots import plot_confusion, plot_per_class, plot_tsne
from skeletonllm.mining.embedding import load_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REFERENCES = [["a person waves the right hand", "someone waves a hand"], ["a man sits down on a chair"],
              ["the person jumps up high", "a jump in place"]]
PERFECT = ["a person waves the right hand", "a man sits down on a chair", "the person jumps up high"]
DISJOINT = ["zebra quantum", "xylophone tomato", "purple elephant"]


@pytest.fixture(scope="module")
def minilm():
    """The packaged all-MiniLM-L6-v2, loaded once for the module."""
    return load_model()


def png(path) -> Image.Image:
    """The image at path, after checking it is a PNG file."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = Image.open(path)
    assert image.format == "PNG"
    return image.convert("RGB")


@pytest.mark.parametrize("text, expected", [
    ("  Hat / Cap. ", "hat/cap"), ("Pick  UP\tsomething!", "pick up something"), ("pick - up", "pick-up"),
    ("touch head ( headache )", "touch head(headache)")])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_match_candidate_finds_the_class_despite_spacing_case_and_punctuation():
    candidates = ["put on a hat/cap", "take off a hat/cap", "sit down"]
    assert match_candidate("Put on a hat / cap.", candidates) == "put on a hat/cap"
    assert match_candidate("take off a hat/cap", candidates) == "take off a hat/cap"
    assert match_candidate("SIT DOWN", candidates) == "sit down"


def test_match_candidate_is_none_for_an_answer_that_is_not_a_candidate():
    assert match_candidate("dancing", ["sit down", "stand up"]) is None
    assert match_candidate("sit", ["sit down", "stand up"]) is None


def test_accuracy_perfect_wrong_and_half():
    assert accuracy(["a", "b"], ["a", "b"]) == 1.0
    assert accuracy(["b", None], ["a", "b"]) == 0.0
    assert accuracy(["a", "x", "c", None], ["a", "b", "c", "d"]) == 0.5


@pytest.mark.parametrize("predicted, truth", [([], []), (["a"], ["a", "b"])])
def test_accuracy_refuses_empty_or_mismatched_input(predicted, truth):
    with pytest.raises(ValueError):
        accuracy(predicted, truth)


def test_topk_accuracy_with_known_ranks():
    scores = np.array([[0.1, 0.5, 0.4], [0.3, 0.2, 0.5], [0.7, 0.2, 0.1]])  # [3, 3]
    truth = [2, 2, 2]  # the true class ranks 2nd, 1st and 3rd
    assert topk_accuracy(scores, truth, 1) == pytest.approx(1 / 3)
    assert topk_accuracy(scores, truth, 2) == pytest.approx(2 / 3)
    assert topk_accuracy(scores, truth, 3) == 1.0


def test_topk_accuracy_counts_ties_against_the_prediction():
    scores = np.array([[0.5, 0.5, 0.0]])  # [1, 3]
    assert topk_accuracy(scores, [0], 1) == 0.0
    assert topk_accuracy(scores, [1], 1) == 0.0
    assert topk_accuracy(scores, [0], 2) == 1.0


def test_topk_accuracy_refuses_mismatched_shapes():
    with pytest.raises(ValueError):
        topk_accuracy(np.zeros((2, 3)), [0], 1)


def test_per_class_and_mean_class_accuracy_leave_out_classes_without_sample():
    predicted, truth = ["a", "a", "b", None], ["a", "b", "b", "b"]
    per_class = per_class_accuracy(predicted, truth, ["a", "b", "c"])
    assert per_class == pytest.approx({"a": 1.0, "b": 1 / 3})
    assert list(per_class) == ["a", "b"]
    assert mean_class_accuracy(predicted, truth, ["a", "b", "c"]) == pytest.approx(2 / 3)


def test_confusion_counts_non_class_predictions_in_the_none_column():
    matrix = confusion(["a", "a", "b", None, "jump"], ["a", "b", "b", "b", "c"], ["a", "b", "c"])
    assert NONE_COLUMN == "(none)"
    np.testing.assert_array_equal(matrix, [[1, 0, 0, 0],
                                           [1, 1, 0, 1],
                                           [0, 0, 0, 1]])


def test_confusion_refuses_a_truth_that_is_not_a_class():
    with pytest.raises(ValueError, match="jump"):
        confusion(["a"], ["jump"], ["a", "b"])


@pytest.mark.parametrize("seen, unseen, expected", [(0.5, 1.0, 2 / 3), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0),
                                                    (0.4, 0.4, 0.4)])
def test_harmonic_mean(seen, unseen, expected):
    assert harmonic_mean(seen, unseen) == pytest.approx(expected)


def test_gzsl_summary():
    summary = gzsl_summary([True, False], [True, True, True, False])
    assert summary == pytest.approx({"seen": 0.5, "unseen": 0.75, "harmonic_mean": 0.6, "accuracy": 4 / 6,
                                     "samples_seen": 2, "samples_unseen": 4})
    with pytest.raises(ValueError):
        gzsl_summary([], [True])


def test_per_type_accuracy():
    assert per_type_accuracy(["what", "when", "what", "how"], [True, False, False, True]) == pytest.approx(
        {"what": 0.5, "when": 0.0, "how": 1.0})


def test_caption_scores_of_perfect_captions(minilm):
    scores = caption_scores(PERFECT, REFERENCES, model=minilm)
    assert scores["bleu4"] == pytest.approx(100.0)
    assert scores["rouge_l"] == pytest.approx(1.0)
    assert scores["cider"] > 1.0
    assert scores["embedding_similarity"] == pytest.approx(1.0, abs=1e-5)


def test_caption_scores_of_disjoint_captions(minilm):
    scores = caption_scores(DISJOINT, REFERENCES, model=minilm)
    assert scores["bleu4"] < 1.0
    assert scores["rouge_l"] == 0.0
    assert scores["cider"] == pytest.approx(0.0)
    assert scores["embedding_similarity"] < 0.5


def test_caption_scores_of_a_half_right_caption(minilm):
    # 6 words each, one differs: n-gram precisions 5/6, 3/5, 2/4, 1/3, no brevity penalty -> BLEU (1/12)^(1/4);
    # LCS 5 of 6 -> ROUGE-L 5/6.
    scores = caption_scores(["a person waves the left hand"], [["a person waves the right hand"]], model=minilm)
    assert scores["bleu4"] == pytest.approx(100 * (1 / 12) ** 0.25)
    assert scores["rouge_l"] == pytest.approx(5 / 6)
    assert 0.5 < scores["embedding_similarity"] < 0.999


def test_caption_rouge_l_takes_the_best_reference(minilm):
    # "a person waves" vs "a person waves the right hand": LCS 3, precision 1, recall 1/2 -> F = 2/3 (better than
    # against "zebra"); the other sample equals its second reference -> 1.
    references = [["a person waves the right hand", "zebra"], ["a quick jump", "the person jumps up high"]]
    scores = caption_scores(["a person waves", "the person jumps up high"], references, model=minilm)
    assert scores["rouge_l"] == pytest.approx((2 / 3 + 1) / 2)


def test_retrieval_accuracy_of_perfect_and_swapped_captions(minilm):
    assert retrieval_accuracy(PERFECT, REFERENCES, model=minilm) == pytest.approx({"accuracy": 1.0, "chance": 1 / 3})
    swapped = PERFECT[1:] + PERFECT[:1]  # each describes another clip
    assert retrieval_accuracy(swapped, REFERENCES, model=minilm)["accuracy"] == 0.0


def test_retrieval_pools_hold_32_clips_and_no_clip_with_a_shared_text(minilm):
    texts = [f"a person does move number {i}" for i in range(40)]
    result = retrieval_accuracy(texts, [[text] for text in texts], model=minilm)
    assert result["chance"] == pytest.approx(1 / 32) and result["accuracy"] > 0.9
    # The second clip shares a text with the first: it is not a distractor, so neither has one and both are right.
    shared = [["a person waves the right hand", "someone waves"], ["someone waves", "a person waves a hand"]]
    assert retrieval_accuracy(["someone waves", "someone waves"], shared, model=minilm) == {"accuracy": 1.0,
                                                                                           "chance": 1.0}


@pytest.mark.parametrize("predictions, references", [([], []), (["a"], [["a"], ["b"]]), (["a"], [[]])])
@pytest.mark.parametrize("metric", [caption_scores, retrieval_accuracy])
def test_caption_scores_refuse_bad_input(predictions, references, metric):
    with pytest.raises(ValueError):
        metric(predictions, references, model=object())


def test_plot_confusion_writes_a_png_sized_to_the_class_count(tmp_path):
    small = confusion(["a", "b", None], ["a", "b", "b"], ["a", "b", "c"])  # [3, 4]
    classes = [f"class {i}" for i in range(12)]
    large = confusion(classes, classes, classes)  # [12, 13]
    small_png = png(plot_confusion(small, ["a", "b", "c"], ["a", "b", "c", NONE_COLUMN], tmp_path / "s.png", "small"))
    large_png = png(plot_confusion(large, classes, [*classes, NONE_COLUMN], tmp_path / "l.png", "large"))
    assert small_png.size == (460, 370)  # (3 + 0.4 * 4, 2.5 + 0.4 * 3) inches at 100 dpi
    assert large_png.size == (820, 730)
    darkest = np.asarray(large_png).sum(axis=2).min()
    assert darkest < 200  # the full diagonal cells are drawn dark


def test_plot_confusion_refuses_names_that_do_not_fit(tmp_path):
    with pytest.raises(ValueError):
        plot_confusion(np.zeros((2, 3), int), ["a", "b"], ["a", "b"], tmp_path / "c.png", "bad")


def test_plot_tsne_highlights_unseen_classes(tmp_path):
    rng = np.random.default_rng(0)
    labels = ["sit"] * 10 + ["stand"] * 10 + ["jump"] * 10  # jump is unseen
    features = rng.normal(size=(30, 8)) + np.repeat(np.eye(3, 8) * 10, 10, axis=0)  # [30, 8], three clusters
    image = np.asarray(png(plot_tsne(features, labels, {"jump"}, tmp_path / "t.png", "t-SNE")))
    assert image.shape == (550, 700, 3)
    tab10_blue = np.array([31, 119, 180])  # the colour of the first unseen class
    assert (np.abs(image.astype(int) - tab10_blue).max(axis=2) < 8).sum() > 50


def test_plot_tsne_works_for_five_samples_and_refuses_two(tmp_path):
    features = np.arange(5 * 4, dtype=float).reshape(5, 4) ** 1.5  # [5, 4]
    png(plot_tsne(features, ["a", "a", "b", "b", "c"], {"c"}, tmp_path / "five.png", "five"))
    with pytest.raises(ValueError):
        plot_tsne(features[:2], ["a", "b"], {"b"}, tmp_path / "two.png", "two")


def test_plot_per_class_writes_one_bar_per_class(tmp_path):
    image = png(plot_per_class({"sit": 1.0, "stand": 0.5, "jump": 0.0, "wave": 0.25}, tmp_path / "p.png", "acc"))
    assert image.size == (700, 220)  # 7 x (1.2 + 0.25 * 4) inches at 100 dpi
    bar_blue = np.array([76, 114, 176])
    assert (np.abs(np.asarray(image).astype(int) - bar_blue).max(axis=2) < 8).sum() > 500
