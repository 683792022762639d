"""Prompt builders, their chat encoding (labels over the answer only, one image block per frame) and the frame
draws of training and evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from skeletonllm.model import prompts
from skeletonllm.model.build import tiny_mllm
from skeletonllm.model.chat import ANSWER_END, IGNORE, encode, pad_batch
from skeletonllm.train.data import disc_examples, mqa_examples, reasoning_examples, segment_frames

POOL = ["drink water", "sit down", "stand up", "clap hands", "wave right hand", "wave left hand", "jump up"]


@pytest.fixture(scope="module")
def processor():
    return tiny_mllm(seed=0)[1]


def test_mqa_candidates_hold_the_label_shuffled_per_sample_and_seeded():
    labels = ["sit down"] * 40
    examples = mqa_examples(labels, POOL, k=5, seed=3)
    assert examples == mqa_examples(labels, POOL, k=5, seed=3)
    assert examples != mqa_examples(labels, POOL, k=5, seed=4)
    assert all(len(e.candidates) == 5 == len(set(e.candidates)) and "sit down" in e.candidates for e in examples)
    assert all(set(e.candidates) <= set(POOL) and e.answer == "sit down" for e in examples)
    positions = {e.candidates.index("sit down") for e in examples}
    assert positions == set(range(5))  # the true label is not always in the same place
    assert f"Choose one of: {'; '.join(examples[0].candidates)}." in examples[0].question


def test_disc_pairs_each_sample_with_a_mined_hard_negative_one_to_one():
    negatives = {"sit down": ["stand up", "not a seen class"], "clap hands": ["wave right hand"]}
    examples = disc_examples(["sit down", "clap hands"], negatives, POOL, seed=0)
    assert [e.answer for e in examples] == [prompts.YES, prompts.NO] * 2
    assert [e.candidates[0] for e in examples] == ["sit down", "stand up", "clap hands", "wave right hand"]
    assert examples[1].question == "Is this action stand up? Answer yes or no."


def test_reasoning_targets_the_rationale_and_captions_and_qa_have_builders():
    rationale = "Step 1: the right arm rises.\nLabel: drink water"
    example = reasoning_examples(["drink water"], [rationale], POOL, k=3, seed=0)[0]
    assert example.answer == rationale and "Label: <action>" in example.question
    assert prompts.caption(" a person waves. ").answer == "a person waves."
    assert prompts.question("Which hand moves most?", "right") == prompts.Example("Which hand moves most?", "right")
    with pytest.raises(ValueError, match="not among the candidates"):
        prompts.mqa("jump up", ("sit down", "stand up"))


def test_encoding_labels_cover_the_answer_tokens_only(processor):
    example = prompts.mqa("sit down", ("stand up", "sit down"))
    encoded = encode(processor, example, frames=3)
    ids, labels = encoded["input_ids"], encoded["labels"]
    answer = [label for label in labels if label != IGNORE]
    tokenizer = processor.tokenizer
    assert answer == tokenizer("sit down" + ANSWER_END, add_special_tokens=False)["input_ids"]
    assert labels[: len(labels) - len(answer)] == [IGNORE] * (len(labels) - len(answer))
    assert ids[-len(answer):] == answer
    assert ids.count(processor.image_token_id) == 3 * processor.image_seq_length
    start = tokenizer.convert_tokens_to_ids(processor.start_image_token)
    assert ids.count(start) == 3
    batch = pad_batch([encoded, encode(processor, prompts.discriminate("sit down", True), frames=3)],
                      tokenizer.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert int(batch["attention_mask"][1].sum()) < batch["input_ids"].shape[1]  # the shorter row is padded
    assert (batch["labels"][1][batch["attention_mask"][1] == 0] == IGNORE).all()


def test_training_draws_one_frame_per_segment_evaluation_takes_the_centres():
    centres = segment_frames(100, 4)
    assert centres.tolist() == [12, 37, 62, 87]
    draws = [segment_frames(100, 4, np.random.default_rng(seed)) for seed in range(20)]
    for draw in draws:
        assert [25 * i <= frame < 25 * (i + 1) for i, frame in enumerate(draw)] == [True] * 4
    assert len({tuple(draw) for draw in draws}) > 1
    assert segment_frames(100, 4, np.random.default_rng(7)).tolist() == draws[7].tolist()
    assert segment_frames(2, 4).tolist() == [0, 0, 1, 1]  # a short clip repeats frames
