"""Captioning and motion QA (skeletonllm.eval.caption, skeletonllm.eval.qa) on real prepared synthetic data and the
real tiny MLLM: the QA truths of every synthetic class and of hand-edited clips, the metrics of known answers, and
the generation path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skeletonllm.data.prepare import prepare
from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.data.synth.dataset import generate_dataset
from skeletonllm.errors import CommandError
from skeletonllm.eval import caption, qa
from skeletonllm.eval.metrics import normalize_answer
from skeletonllm.eval.recognition import clip_frames
from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.model import prompts
from skeletonllm.model.build import tiny_mllm
from skeletonllm.model.chat import encode, pad_batch
from skeletonllm.render.renderers import make_renderer
from skeletonllm.teacher.motion_facts import body_frame
from skeletonllm.train.run import assemble

from confident import CONFIDENT_LOSS, fit_until_confident

FRAMES = 2
ANY = object()  # the class's clips differ in this answer, or in whether it is asked
# What the data gives per synthetic class (3D skeletons): question type -> answer; a type left out is not asked.
STILL = {"people": "one", "lower": "no", "direction": "in place"}
EXPECTED = {
    "drink water": {"limb": "right hand", **STILL},
    "sit down": {"people": "one", "lower": "yes"},  # the pelvis also moves back ~0.7 torso: direction not asked
    "stand up": {"people": "one", "lower": "no"},
    "clap hands": STILL,  # both hands alike: limb not asked
    "wave right hand": {"limb": "right hand", **STILL},
    "wave left hand": {"limb": "left hand", **STILL},
    "kick with left leg": {"limb": "left leg", **STILL},
    "kick with right leg": {"limb": "right leg", **STILL},
    "put on hat": STILL,
    "take off hat": STILL,
    "jump up": STILL,
    "squat down": STILL,  # the synthetic squat comes back up
    "raise both hands": STILL,
    "punch forward": STILL,
    "bow": STILL,
    "touch head": {"limb": "right hand", **STILL},
    "throw": {"limb": "right hand", **STILL},
    "walk in place": STILL,
    "salute": {"limb": "right hand", **STILL},
    "shake hands": {"limb": "right hand", "people": "two", "lower": "no", "direction": "in place"},
    "hug another person": {"people": "two", "lower": "no", "direction": "in place"},
    "push another person": {"people": "two", "lower": "no", "direction": ANY},  # the pushed one steps back
    "walk towards each other": {"people": "two", "lower": "no", "direction": "forward"},
    "walk apart from each other": {"people": "two", "lower": "no", "direction": "forward"},  # they turn away
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, PreparedDataset]:
    """The synthetic archive (seed 0, 2 subjects, 1 repetition, the front camera) prepared as synth (NTU, 24 classes,
    two-person ones among them), synth_kinetics (the same in 2D) and synth_humanml3d (19 single-person classes with
    texts); a few seconds."""
    out = tmp_path_factory.mktemp("caption_qa")
    names = {"synth": "ntu", "synth_kinetics": "kinetics", "synth_humanml3d": "humanml3d"}
    root = generate_dataset(out, seed=0, subjects=2, repetitions=1, cameras=1, formats=list(names.values()))
    for name in names:
        prepare(name, root, out / "data" / name, workers=1)
    return {name: PreparedDataset(out / "data" / name) for name in names}


@pytest.fixture(scope="module")
def confident(data):
    """The tiny SkeletonLLM (seed 0, 2 frames) trained until it is confident on four clips: the people question of
    a one-person and a two-person synth clip (answers one, two: the same question, so only the clip tells them
    apart) and the caption of two synth_humanml3d clips (their first reference). Returns (model, processor, the two
    synth sample ids, the two synth_humanml3d sample ids); about 30 s on a CPU."""
    mllm, processor = tiny_mllm(0)
    image = processor.image_processor
    renderer = make_renderer("draction", FRAMES, 112, "auto", seed=0, mean=tuple(image.image_mean),
                             std=tuple(image.image_std))
    model = assemble(renderer, mllm, processor)
    synth, texts = data["synth"], data["synth_humanml3d"]
    ids = [first_of(synth, label) for label in ("kick with right leg", "walk towards each other")]
    text_ids = [first_of(texts, label) for label in ("sit down", "wave left hand")]
    examples = [prompts.question(qa.QA_TYPES["people"][0], "one"), prompts.question(qa.QA_TYPES["people"][0], "two"),
                *(prompts.caption(refs[0]) for refs in caption.references(texts, text_ids))]
    batch = pad_batch([encode(processor, example, FRAMES) for example in examples], processor.tokenizer.pad_token_id)
    pixel_values = torch.cat([model.pixel_values(clip_frames(synth, ids, FRAMES), synth.topology.name),
                              model.pixel_values(clip_frames(texts, text_ids, FRAMES), texts.topology.name)]
                             ).detach()  # [4*F, 3, H, W]
    assert fit_until_confident(model, pixel_values, batch, max_steps=200) < CONFIDENT_LOSS
    return model, processor, ids, text_ids


def first_of(dataset: PreparedDataset, label: str) -> str:
    """The first sample id of a class."""
    return dataset.index.loc[dataset.index["label_name"] == label, "sample_id"].iloc[0]


def sequence(dataset: PreparedDataset, label: str, joints: np.ndarray) -> SkeletonSequence:
    """joints [T, 2, J, C] as a sequence at the frame rate of the class's first clip."""
    return SkeletonSequence(joints, None, dataset.topology, float(dataset.row(first_of(dataset, label))["fps"]), {})


def clip_of(dataset: PreparedDataset, label: str) -> np.ndarray:
    """float32 [T, 2, J, C]: the first clip of a class."""
    return dataset.joints(first_of(dataset, label))


# ---- QA truths ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["synth", "synth_humanml3d"])
def test_qa_truths_of_every_synthetic_class(data, name):
    dataset = data[name]
    seen = set()
    for sample_id, label in zip(dataset.index["sample_id"], dataset.index["label_name"]):
        found = qa.question_answers(dataset, sample_id)
        kinds = [kind for kind, _, _ in found]
        assert kinds == [kind for kind in qa.QA_TYPES if kind in kinds]  # in QA_TYPES order
        for kind, text, answer in found:
            assert text == qa.QA_TYPES[kind][0] and answer in qa.QA_TYPES[kind][1]
        expected = EXPECTED[label]
        fixed = {kind: answer for kind, _, answer in found if expected.get(kind) is not ANY}
        assert fixed == {kind: answer for kind, answer in expected.items() if answer is not ANY}, (sample_id, label)
        seen.add(label)
    assert len(seen) == (24 if name == "synth" else 19)
    assert qa.question_answers(dataset, dataset.index["sample_id"].iloc[3]) == qa.question_answers(
        dataset, dataset.index["sample_id"].iloc[3])  # deterministic


def test_2d_skeletons_are_asked_only_limb_and_people(data):
    dataset = data["synth_kinetics"]
    assert dataset.topology.dims == 2
    for sample_id, label in zip(dataset.index["sample_id"], dataset.index["label_name"]):
        answers = {kind: answer for kind, _, answer in qa.question_answers(dataset, sample_id)}
        assert set(answers) <= {"limb", "people"} and answers["people"] == EXPECTED[label]["people"], sample_id
        if label in ("wave right hand", "wave left hand", "throw"):  # seen from the front, clear in 2D too
            assert answers["limb"] == EXPECTED[label]["limb"]


def test_time_reversed_clips_swap_the_answers(data):
    dataset = data["synth"]
    sit, stand, towards = (clip_of(dataset, label) for label in ("sit down", "stand up", "walk towards each other"))
    assert qa.motion_answers(sequence(dataset, "sit down", sit[::-1].copy()))["lower"] == "no"
    assert qa.motion_answers(sequence(dataset, "stand up", stand[::-1].copy()))["lower"] == "yes"
    # walking forward played backwards is walking backward
    assert qa.motion_answers(sequence(dataset, "walk towards each other", towards[::-1].copy()))["direction"] == \
        "backward"


def test_travel_is_measured_in_the_body_frame_and_torso_lengths(data):
    dataset = data["synth"]
    clip = clip_of(dataset, "drink water")  # [T, 2, J, 3], only slot 0 present, standing still
    main = clip[:, 0].astype(np.float64)
    axes, torso = body_frame(main, dataset.topology)  # rows right, up, forward
    half = len(clip) // 2

    def moved(steps: dict[str, float]) -> np.ndarray:
        """The clip with its person shifted in the second half by steps (body axis -> torso lengths)."""
        shift = sum(axes[["right", "up", "forward"].index(axis)] * length * torso for axis, length in steps.items())
        out = clip.copy()
        out[half:, 0] += shift.astype(np.float32)
        return out

    base = qa.pelvis_displacement(sequence(dataset, "drink water", clip))
    assert np.abs(base).max() < 0.1
    shifted = qa.pelvis_displacement(sequence(dataset, "drink water", moved({"right": 1.5, "forward": -0.5})))
    np.testing.assert_allclose(shifted - base, [1.5, 0.0, -0.5], atol=1e-4)

    def answers(steps: dict[str, float]) -> dict[str, str]:
        return qa.motion_answers(sequence(dataset, "drink water", moved(steps)))

    assert answers({"right": 1.5})["direction"] == "right"
    assert answers({"right": -1.5})["direction"] == "left"
    assert answers({"forward": 1.5, "right": 0.3})["direction"] == "forward"
    assert answers({"forward": -1.2})["direction"] == "backward"
    assert answers({"forward": 0.3})["direction"] == "in place"
    assert "direction" not in answers({"forward": 0.7})  # between in place and travelling: not asked
    assert "direction" not in answers({"forward": 1.2, "right": 1.2})  # diagonal: not asked
    assert answers({"up": -0.6})["lower"] == "yes"
    assert answers({"up": -0.1})["lower"] == "no"
    assert answers({"up": 0.6})["lower"] == "no"
    assert "lower" not in answers({"up": -0.3})  # between the thresholds: not asked


def test_people_counts_bodies_present_in_half_of_the_frames(data):
    dataset = data["synth"]
    clip = clip_of(dataset, "wave left hand")  # [T, 2, J, 3], slot 1 empty
    assert not clip[:, 1].any()
    for share, people in ((0.2, "one"), (0.8, "two")):
        other = clip.copy()
        shown = int(len(clip) * share)
        other[:shown, 1] = clip[:shown, 0] + np.array([2.0, 0.0, 0.0], dtype=np.float32)  # a second body beside
        answers = qa.motion_answers(sequence(dataset, "wave left hand", other))
        assert answers["people"] == people
        assert answers["limb"] == "left hand"  # the main person is still measured


def test_qa_examples_hold_every_question_as_a_prompt_example(data):
    dataset = data["synth"]
    ids = list(dataset.index["sample_id"][:3])
    items = qa.qa_examples(dataset, ids)
    assert [item.sample for item in items] == [sid for sid in ids for _ in qa.question_answers(dataset, sid)]
    assert [(item.type, item.question, item.answer) for item in items] == [
        found for sid in ids for found in qa.question_answers(dataset, sid)]
    assert items[0].example == prompts.question(items[0].question, items[0].answer)
    assert items[0].example.question == qa.QA_TYPES[items[0].type][0]


# ---- metrics ------------------------------------------------------------------------------------------------------


def test_qa_metrics_of_known_answers():
    def row(sample: str, kind: str, answer: str, truth: str) -> dict:
        return {"sample": sample, "type": kind, "prompt": qa.QA_TYPES[kind][0], "answer": answer, "truth": truth,
                "correct": None}  # the stored flag is not trusted: correctness is recomputed

    rows = [row("a", "limb", "Right  Hand.", "right hand"), row("a", "people", "three", "one"),
            row("a", "lower", "yes", "yes"), row("b", "direction", "left", "forward"),
            row("b", "people", "two", "two"), row("b", "direction", "in place", "in place")]
    result = qa.qa_metrics(rows)
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["chance"] == pytest.approx(np.mean([1 / 4, 1 / 2, 1 / 2, 1 / 5, 1 / 2, 1 / 5]))
    assert result["samples"] == 2 and result["questions"] == 6
    assert result["not_an_answer"] == pytest.approx(1 / 6)  # "three"
    assert result["per_type"] == {"limb": 1.0, "people": 0.5, "lower": 1.0, "direction": 0.5}
    assert qa.is_correct("In place.", "in place") and not qa.is_correct("in", "in place")
    with pytest.raises(ValueError, match="no question"):
        qa.qa_metrics([])


def test_references_are_the_caption_texts_and_need_a_text_dataset(data):
    texts = data["synth_humanml3d"]
    ids = list(texts.index["sample_id"][:4])
    refs = caption.references(texts, ids)
    assert len(refs) == 4 and all(isinstance(ref, list) and ref and all(isinstance(t, str) for t in ref)
                                  for ref in refs)
    for sample_id, ref in zip(ids, refs):
        row = texts.row(sample_id)
        assert ref == list(row["captions"]) and row["caption"] in ref
    with pytest.raises(CommandError, match="'synth'.*no 'captions' column"):
        caption.references(data["synth"], list(data["synth"].index["sample_id"][:1]))


def test_caption_metrics_of_answers_equal_to_a_reference(data):
    texts = data["synth_humanml3d"]
    ids = list(texts.index["sample_id"][::4])  # different classes
    refs = caption.references(texts, ids)
    exact = [{"sample": sid, "prompt": prompts.CAPTION_QUESTION, "answer": ref[-1], "references": ref}
             for sid, ref in zip(ids, refs)]
    result = caption.caption_metrics(exact)
    assert set(result) == {"bleu4", "rouge_l", "cider", "embedding_similarity", "accuracy", "chance", "samples"}
    assert result["samples"] == len(ids) and result["accuracy"] == 1.0 and result["chance"] < 0.2
    assert result["rouge_l"] == pytest.approx(1.0)
    assert result["bleu4"] == pytest.approx(100.0)
    assert result["embedding_similarity"] == pytest.approx(1.0, abs=1e-4)
    assert result["cider"] > 1.0
    rolled = [{**row, "answer": other["answer"]} for row, other in zip(exact, exact[1:] + exact[:1])]  # wrong texts
    worse = caption.caption_metrics(rolled)
    for key in ("bleu4", "rouge_l", "cider", "embedding_similarity", "accuracy"):
        assert worse[key] < result[key] - 0.1, key
    with pytest.raises(ValueError, match="no sample"):
        caption.caption_metrics([])


# ---- generation with the tiny model -------------------------------------------------------------------------------


def test_caption_answers_give_one_row_per_sample(data, confident):
    model, processor, _, text_ids = confident
    texts = data["synth_humanml3d"]
    ids = [text_ids[0], text_ids[1], text_ids[1]]
    rows = caption.caption_answers(model, processor, texts, ids, batch_size=2, device="cpu")
    assert [row["sample"] for row in rows] == ids
    assert all(row["prompt"] == prompts.CAPTION_QUESTION for row in rows)
    assert [row["references"] for row in rows] == caption.references(texts, ids)
    assert all(isinstance(row["answer"], str) for row in rows)
    # each clip (in batches of 2, the last one alone) gets the description it was trained on
    assert [normalize_answer(row["answer"]) for row in rows] == [normalize_answer(row["references"][0])
                                                                  for row in rows]
    result = caption.caption_metrics(rows)
    assert result["samples"] == 3 and result["rouge_l"] == pytest.approx(1.0)
    with pytest.raises(CommandError, match="no 'captions' column"):
        caption.caption_answers(model, processor, data["synth"], list(data["synth"].index["sample_id"][:1]))


def test_qa_answers_give_one_row_per_question(data, confident):
    model, processor, ids, _ = confident
    dataset = data["synth"]
    items = qa.qa_examples(dataset, ids)  # 4 questions of the first clip, 3 of the second
    assert [item.type for item in items].count("people") == 2 and len(items) == 7
    rows = qa.qa_answers(model, processor, dataset, items, batch_size=3, device="cpu")  # batches span both clips
    assert [(row["sample"], row["type"], row["prompt"], row["truth"]) for row in rows] == [
        (item.sample, item.type, item.question, item.answer) for item in items]
    assert all(isinstance(row["answer"], str) for row in rows)
    assert all(row["correct"] == qa.is_correct(row["answer"], row["truth"]) for row in rows)
    assert all(row["in_answer_set"] == qa.in_answer_set(row["type"], row["answer"]) for row in rows)
    people = [(row["sample"], normalize_answer(row["answer"])) for row in rows if row["type"] == "people"]
    assert people == [(ids[0], "one"), (ids[1], "two")]  # each question saw its own clip
    result = qa.qa_metrics(rows)
    assert result["samples"] == 2 and result["questions"] == 7 and result["per_type"]["people"] == 1.0
