"""Candidate scoring from a KV-cached prefix against k full forwards, generation against likelihood on a model
trained until it is confident, and the task metrics of hand-made answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skeletonllm.bench.train_step import synthetic_clips
from skeletonllm.eval import score
from skeletonllm.eval.recognition import shuffled
from skeletonllm.eval.tasks import Answered, gzsl_metrics, recognition_metrics
from skeletonllm.model import prompts
from skeletonllm.model.build import tiny_mllm
from skeletonllm.model.chat import encode, pad_batch
from skeletonllm.render.renderers import make_renderer
from skeletonllm.train.data import segment_frames
from skeletonllm.train.run import assemble

from confident import CONFIDENT_LOSS, fit_until_confident

FRAMES = 2


@pytest.fixture(scope="module")
def tiny():
    """The tiny SkeletonLLM (random weights, seed 0) with its processor, and four synthetic clips [4, F, M, J, C]
    of four classes, with every synthetic class name."""
    mllm, processor = tiny_mllm(0)
    image = processor.image_processor
    renderer = make_renderer("draction", FRAMES, 112, "auto", seed=0, mean=tuple(image.image_mean),
                             std=tuple(image.image_std))
    clips, labels, pool, _ = synthetic_clips(4, 0)
    joints = torch.from_numpy(np.stack([clip[segment_frames(len(clip), FRAMES)] for clip in clips]))
    return assemble(renderer, mllm, processor), processor, joints, labels, pool


def test_kv_cached_scores_equal_k_full_forwards(tiny):
    model, processor, joints, labels, pool = tiny
    model.eval()
    candidates = ["put on hat/cap", *[name for name in pool if name != "put on hat/cap"][:7]]  # lengths 1 to 5+
    pixel_values = model.pixel_values(joints[:1], "ntu25")  # [F, 3, H, W]
    prompt = score.prompt_ids(processor, prompts.mqa(candidates[3], candidates).question, FRAMES)
    answers = score.answer_ids(processor, candidates)
    assert len({len(ids) for ids in answers}) > 1  # candidates of different token lengths, padded together
    cached = score.candidate_logprobs(model, pixel_values, prompt, answers)
    naive = score.naive_candidate_logprobs(model, pixel_values, prompt, answers)
    assert cached.shape == (len(candidates),)
    assert float(naive.std()) > 0.1  # the scores differ between candidates, so agreeing means something
    torch.testing.assert_close(cached, naive, atol=1e-4, rtol=0)


def test_generation_and_likelihood_agree_on_a_confident_model(tiny):
    model, processor, joints, labels, pool = tiny
    model.train()
    candidates = [tuple(shuffled(labels, seed)(0, label)) for seed, label in enumerate(labels)]
    examples = [prompts.mqa(label, options) for label, options in zip(labels, candidates)]
    batch = pad_batch([encode(processor, example, FRAMES) for example in examples], processor.tokenizer.pad_token_id)
    pixel_values = model.pixel_values(joints, "ntu25").detach()  # [4*F, 3, H, W]
    # until it is confident: the four clips' answers learnt by heart
    assert fit_until_confident(model, pixel_values, batch, max_steps=100) < CONFIDENT_LOSS
    model.eval()
    prompt_ids = [score.prompt_ids(processor, example.question, FRAMES) for example in examples]
    generated = score.generate_answers(model, processor, pixel_values, prompt_ids)
    per_clip = pixel_values.unflatten(0, (len(labels), FRAMES))
    ranked = [options[int(score.candidate_logprobs(model, per_clip[i], prompt_ids[i],
                                                   score.answer_ids(processor, list(options))).argmax())]
              for i, options in enumerate(candidates)]
    assert ranked == labels
    assert [answer.replace(" / ", "/") for answer in generated] == labels


def answered(label: str, candidates: tuple[str, ...], parsed: str | None, ranked: str) -> Answered:
    scores = tuple(1.0 if name == ranked else 0.0 for name in candidates)
    return Answered("s", label, candidates, "q", parsed or "something else", parsed, parsed == label, ranked,
                    ranked == label, scores)


def test_recognition_metrics_of_known_answers():
    options = ("a", "b", "c", "d")
    items = [answered("a", options, "a", "a"), answered("b", options, None, "b"), answered("c", options, "a", "b"),
             answered("c", options, "c", "c")]
    result = recognition_metrics(items, ["a", "b", "c", "d"])
    assert result["accuracy"] == 0.5 and result["likelihood_accuracy"] == 0.75
    assert result["chance"] == 0.25 and result["samples"] == 4 and result["not_a_candidate"] == 0.25
    assert result["per_class"] == {"a": 1.0, "b": 0.0, "c": 0.5}
    assert result["mean_class_accuracy"] == pytest.approx(0.5)
    assert "top5" not in result  # k = 4


def test_top5_is_reported_above_five_candidates_from_the_likelihood_scores():
    options = tuple("abcdefgh")
    item = Answered("s", "c", options, "q", "a", "a", False, "a", False, (8, 7, 6, 5, 4, 3, 2, 1))  # c ranks 3rd
    last = Answered("s", "h", options, "q", "a", "a", False, "a", False, (8, 7, 6, 5, 4, 3, 2, 1))  # h ranks 8th
    assert recognition_metrics([item, last], list(options))["top5"] == 0.5


def test_gzsl_metrics_split_seen_and_unseen():
    options = ("a", "b", "u")
    items = [answered("a", options, "a", "a"), answered("b", options, "a", "b"), answered("u", options, "u", "a")]
    result = gzsl_metrics(items, seen=["a", "b"], classes=list(options))
    assert result["seen"] == 0.5 and result["unseen"] == 1.0
    assert result["harmonic_mean"] == pytest.approx(2 / 3)
    assert result["likelihood_seen"] == 1.0 and result["likelihood_unseen"] == 0.0
    assert result["likelihood_harmonic_mean"] == 0.0


def test_candidate_orders_are_seeded_and_hold_the_label():
    pool = ["a", "b", "c", "d", "e"]
    first, again, other = shuffled(pool, 0), shuffled(pool, 0), shuffled(pool, 1)
    orders = [first(i, "a") for i in range(6)]
    assert orders == [again(i, "a") for i in range(6)]
    assert orders != [other(i, "a") for i in range(6)]
    assert all(sorted(order) == pool for order in orders)
    with pytest.raises(ValueError, match="not among the candidates"):
        first(0, "z")
