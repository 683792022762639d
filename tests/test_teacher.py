"""Teacher rationales: grounded in the measured motion (limb and side), mirrored classes give mirrored text, the
label options, the answer contract, and `skeletonllm teach` writing a resumable rationales.jsonl from prepared data
with the kinematic, openai (a local HTTP server) and hf (a tiny transformers VLM built here) backends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from skeletonllm.cli import main
from skeletonllm.data.normalize import normalize_sequence
from skeletonllm.data.prepare import prepare
from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.data.synth.actions import SYNTH_CLASSES
from skeletonllm.data.synth.dataset import generate_dataset
from skeletonllm.data.synth.formats import ntu_sequence
from skeletonllm.data.synth.scene import Sample, camera_for, perform
from skeletonllm.render.draction import DrAction, DrActionConfig
from skeletonllm.teacher.answer import Answer, BadAnswer, check
from skeletonllm.teacher.kinematic import rationale
from skeletonllm.teacher.motion_facts import measure
from test_mining import script_bigrams, text_config, word_tokenizer
from test_remote_chat import ChatServer

CASES = [(subject, camera) for subject in (1, 2, 3) for camera in (1, 2)]


def synth(name: str, subject: int = 1, camera: int = 1):
    """A normalized synthetic NTU sequence of one class, seen by one camera."""
    sample = Sample(SYNTH_CLASSES.index(name) + 1, subject, 1)
    people = perform(0, sample, 10, 30.0)
    return normalize_sequence(ntu_sequence(0, sample, camera, camera_for(0, sample, camera), people))


def main_mover(text: str) -> str:
    return re.search(r"The (\w+ \w+|head|trunk) moves most", text).group(1)


@pytest.mark.parametrize("subject,camera", CASES)
def test_rationale_names_the_limb_and_side_that_really_move(subject, camera):
    wave_seq, kick_seq = synth("wave right hand", subject, camera), synth("kick with left leg", subject, camera)
    wave, kick = rationale(wave_seq, "wave right hand"), rationale(kick_seq, "kick with left leg")
    assert main_mover(wave) == "right arm" and "right hand" in wave
    assert "left arm" not in [p.part for p in measure(wave_seq).moving]  # the still side is not a mover
    assert "right leg" not in [p.part for p in measure(kick_seq).moving]
    assert re.search(r"the left arm(, the \w+( \w+)?)* stays? nearly still", wave)
    assert re.search(r"The right hand moves up.*back and forth about \d times", wave)
    assert main_mover(kick) == "left leg" and "left foot moves forward" in kick
    assert re.search(r"the right leg(, the \w+( \w+)?)* stays? nearly still", kick)
    assert wave.endswith("\nLabel: wave right hand") and kick.endswith("\nLabel: kick with left leg")


@pytest.mark.parametrize("right,left", [("wave right hand", "wave left hand"), ("kick with right leg",
                                                                                  "kick with left leg")])
def test_mirrored_classes_give_mirrored_rationales(right, left):
    for subject, camera in CASES[:3]:
        a = measure(synth(right, subject, camera))
        b = measure(synth(left, subject, camera))
        assert a.parts[0].part.replace("right", "left") == b.parts[0].part
        assert a.parts[0].part.startswith("right")
        assert a.parts[0].direction.split(" and ")[0] == b.parts[0].direction.split(" and ")[0]


def test_contacts_and_whole_body_motion_are_measured():
    assert any(c.kind == "hand to head" for c in measure(synth("touch head")).contacts)
    assert any(c.kind == "hands together" for c in measure(synth("clap hands")).contacts)
    assert not measure(synth("wave right hand")).contacts
    shake = measure(synth("shake hands"))
    assert shake.people == 2 and any(c.kind == "hand to other person" for c in shake.contacts)
    assert "the whole body lowers and stays low" in measure(synth("sit down")).body
    assert "the two people come closer together" in measure(synth("walk towards each other")).body


@pytest.mark.parametrize("name", SYNTH_CLASSES)
def test_unconditioned_rationale_never_names_the_label_before_the_last_line(name):
    seq = synth(name)
    text = rationale(seq, name, condition_on_label=False)
    body, last = text.rsplit("\n", 1)
    assert name not in body.lower() and last == f"Label: {name}"
    conditioned = rationale(seq, name, condition_on_label=True)
    assert f'"{name}"' in conditioned
    dropped = rationale(seq, name, keep_final_label=False)
    assert "Label:" not in dropped and conditioned == f"{dropped}\nLabel: {name}"


CLASSES = ["wave right hand", "kick with left leg", "clap hands"]


def prepared_store(root: Path, dataset: str, fmt: str) -> tuple[Path, Path]:
    """A real store of 6 synthetic samples (CLASSES x 2 subjects, `fmt` files prepared as `dataset`) and a split
    whose "train" list is every sample."""
    raw = generate_dataset(root / "raw", seed=0, subjects=2, repetitions=1, cameras=1, classes=CLASSES,
                           formats=(fmt,))
    prepare(dataset, raw, root / "data", workers=1)
    split = root / "split.json"
    split.write_text(json.dumps({"train": list(PreparedDataset(root / "data").index["sample_id"])}))
    return root / "data", split


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """(data folder, split file, label name of each train sample) of the NTU-format store."""
    data, split = prepared_store(tmp_path_factory.mktemp("prepared"), "synth", "ntu")
    store = PreparedDataset(data)
    names = [store.class_name(int(label)) for label in store.index["label"]]
    return data, split, names


@pytest.fixture(scope="module")
def renderer(tmp_path_factory) -> Path:
    """A small DrAction checkpoint (2 frames of 32 pixels), to keep the model teachers fast."""
    return DrAction(DrActionConfig(frames=2, size=32, backend="torch")).save(tmp_path_factory.mktemp("draction"))


def jsonl(path: Path) -> list[dict]:
    """The records of a JSONL file; none when it does not exist."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def teach(data, split, out, *extra) -> tuple[int, list[dict], list[dict]]:
    """Run `skeletonllm teach` through the console entry point: (exit status, rationales, rejected samples)."""
    code = main(["teach", "--dataset", "synth", "--data", str(data), "--split", str(split), "--out", str(out),
                 *extra])
    return code, jsonl(out / "rationales.jsonl"), jsonl(out / "rejected.jsonl")


def test_the_answer_contract():
    good = "The right arm rises and waves.\n**Label:** Wave Right Hand."
    assert check(Answer(good), "wave right hand") == "The right arm rises and waves.\nLabel: wave right hand"
    for text, cut_off, problem in [
        ("", False, "empty answer"),
        ("The right arm rises and waves.", False, "does not end with a 'Label: <label>' line"),
        ("The right arm rises.\nLabel: wave left hand", False, "but the sample is 'wave right hand'"),
        ("Label: wave right hand", False, "no reasoning"),
        ("The right arm rises.\nLabel: wave right hand", True, "cut off"),
    ]:
        with pytest.raises(BadAnswer, match=re.escape(problem)):
            check(Answer(text, cut_off), "wave right hand")


def test_teach_writes_rationales_and_resumes_from_the_cache(prepared, tmp_path):
    data, split, names = prepared
    out = tmp_path / "teacher"
    code, first, rejected = teach(data, split, out, "--limit", "4")
    assert code == 0 and not rejected
    assert [r["label_name"] for r in first] == names[:4]
    assert all(r["backend"] == "kinematic" and r["rationale"].endswith(f"\nLabel: {r['label_name']}") for r in first)
    movers = {r["label_name"]: main_mover(r["rationale"]) for r in first}
    assert movers["wave right hand"] == "right arm" and movers["kick with left leg"] == "left leg"
    cache = out / "cache.jsonl"
    assert len(cache.read_text().splitlines()) == 4
    with open(cache, "a") as f:  # a kill in the middle of writing an answer leaves a torn line
        f.write('{"key": "abc", "rec')
    code, full, _ = teach(data, split, out)
    assert code == 0 and len(full) == 6 and full[:4] == first
    assert len([line for line in cache.read_text().splitlines() if line.endswith("}")]) == 6  # 4 reused, 2 new
    code, bare, _ = teach(data, split, tmp_path / "bare", "--no-keep-final-label", "--no-condition-on-label")
    assert code == 0 and all("Label:" not in r["rationale"] and r["label_name"] not in r["rationale"] for r in bare)


def test_a_20_fps_dataset_rationale_states_the_true_duration(tmp_path):
    """HumanML3D clips are 20 fps: the rationale's seconds are frames / 20, as the store records it."""
    data, split = prepared_store(tmp_path, "synth_humanml3d", "humanml3d")
    code, rationales, _ = teach(data, split, tmp_path / "out")
    store = PreparedDataset(data)
    assert code == 0 and len(rationales) == 6
    for record in rationales:
        frames = int(store.row(record["sample_id"])["length"])
        seconds, counted = re.search(r"over ([\d.]+) s \((\d+) frames\)", record["rationale"]).groups()
        assert int(counted) == frames and seconds == f"{frames / 20:.1f}" != f"{frames / 30:.1f}"


def test_teach_rejects_a_split_without_train_ids(prepared, tmp_path, capsys):
    data, _, _ = prepared
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert teach(data, bad, tmp_path / "out")[0] == 1
    assert capsys.readouterr().err == f"skeletonllm teach: error: {bad}: no 'train' list of sample ids\n"


def contract_reply(body: dict) -> str:
    """A chat server's answer that meets the contract: a reasoning line, then the label the instruction names."""
    text = next(p["text"] for p in body["messages"][-1]["content"] if p["type"] == "text")
    label = re.search(r"The true action is '(.+?)'", text).group(1)
    return f"The clip shows a movement.\nLabel: {label}"


def test_openai_teacher_sends_rendered_frames_retries_and_caches(prepared, renderer, tmp_path, monkeypatch):
    """The openai backend against a real chat-completions server on 127.0.0.1 that fails on cue."""
    data, split, names = prepared
    secret = "sk-teacher-test-5e1d"
    monkeypatch.setenv("TEACHER_TEST_KEY", secret)
    server = ChatServer(["429:0", "ok", "500", "ok"], answer=contract_reply)
    try:
        remote = ["--backend", "openai", "--renderer", str(renderer), "--base-url", server.base_url,
                  "--model", "vlm", "--api-key-env", "TEACHER_TEST_KEY", "--limit", "2", "--max-retries", "1",
                  "--timeout-s", "5"]
        out = tmp_path / "openai"
        code, first, _ = teach(data, split, out, *remote)
        assert code == 0 and len(server.requests) == 4  # two samples, each retried once
        content = server.requests[1]["body"]["messages"][-1]["content"]
        images = [part for part in content if part.get("type") == "image_url"]
        assert len(images) == 2 and all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in images)
        assert server.requests[1]["body"]["temperature"] == 0.0  # the first attempt is greedy
        assert [r["rationale"] for r in first] == [f"The clip shows a movement.\nLabel: {n}" for n in names[:2]]
        assert teach(data, split, out, *remote)[1] == first and len(server.requests) == 4  # from the cache
        written = "".join(path.read_text() for path in out.iterdir() if path.is_file())
        assert secret not in written
    finally:
        server.close()


def test_a_teacher_answer_without_label_is_never_written(prepared, renderer, tmp_path):
    """Sample 1: babble, then a good answer (kept). Sample 2: babble, a cut-off answer, a wrong label (rejected)."""
    data, split, names = prepared
    replies = iter(["I am not sure what this is.", "A movement.\nLabel: " + names[0],
                    "More babble without a label.", "A movement.\nLabel: " + names[1],
                    "A movement.\nLabel: " + names[2]])
    server = ChatServer(["ok", "ok", "ok", "length", "ok"], answer=lambda body: next(replies))
    try:
        out = tmp_path / "openai"
        code, kept, rejected = teach(data, split, out, "--backend", "openai", "--renderer", str(renderer),
                                     "--base-url", server.base_url, "--model", "vlm", "--limit", "2")
    finally:
        server.close()
    assert code == 0 and [r["rationale"] for r in kept] == ["A movement.\nLabel: " + names[0]]
    assert [body["body"]["temperature"] for body in server.requests] == [0.0, 0.7, 0.0, 0.7, 0.7]
    (sample,) = rejected
    assert sample["label_name"] == names[1] and [a["attempt"] for a in sample["answers"]] == [0, 1, 2]
    problems = [a["problem"] for a in sample["answers"]]
    assert problems[0].startswith("does not end with a 'Label: <label>' line") and problems[1].startswith("cut off")
    assert problems[2] == f"ends with 'Label: {names[2]}', but the sample is {names[1]!r}"
    assert "Label:" in (out / "cache.jsonl").read_text()  # every answer is cached, kept or not
    assert "babble" not in (out / "rationales.jsonl").read_text()


def tiny_vlm(path: Path, reply: list[str] | None = None) -> Path:
    """A tiny LLaVA (CLIP vision tower, Llama decoder) with a word-level tokenizer, an image processor and a chat
    template, saved to path: random weights, or a decoder scripted to answer `reply` (test_mining.script_bigrams)."""
    import torch
    from transformers import (CLIPImageProcessorPil, CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration,
                              LlavaProcessor)

    words = ["<image>", "Label:", *CLASSES[0].split(), "arm", "moves", "up", ".", "\n"]
    tokenizer = word_tokenizer(words, extra_special_tokens={"image_token": "<image>"})
    processor = LlavaProcessor(CLIPImageProcessorPil(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}),
                               tokenizer, patch_size=8, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=tokenizer.chat_template)
    vision = CLIPVisionConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=1,
                              image_size=16, patch_size=8)
    config = LlavaConfig(vision_config=vision, text_config=text_config(len(tokenizer)),
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-1)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config)
    if reply is not None:
        script_bigrams(model.model.language_model, model.lm_head, tokenizer, reply)
    processor.save_pretrained(path)
    model.save_pretrained(path)
    return path


def test_hf_teacher_keeps_a_contract_answer_of_a_local_vlm(prepared, renderer, tmp_path):
    """A tiny VLM scripted to say "arm moves up . (newline) Label: wave right hand" for every clip: kept for the wave
    samples, rejected (wrong label) for the others."""
    data, split, names = prepared
    model = tiny_vlm(tmp_path / "vlm", reply=["arm", "moves", "up", ".", "\n", "Label:", *CLASSES[0].split()])
    code, kept, rejected = teach(data, split, tmp_path / "out", "--backend", "hf", "--model", str(model),
                                 "--renderer", str(renderer), "--answer-attempts", "2")
    assert code == 0 and [r["label_name"] for r in kept] == [n for n in names if n == CLASSES[0]]
    assert all(r["rationale"] == f"arm moves up .\nLabel: {CLASSES[0]}" for r in kept)
    assert sorted(r["label_name"] for r in rejected) == sorted(n for n in names if n != CLASSES[0])
    assert all(a["problem"].startswith("ends with 'Label: wave right hand'") for r in rejected for a in r["answers"])


def test_hf_teacher_rejects_the_babble_of_a_random_vlm(prepared, renderer, tmp_path, capsys):
    """A tiny random VLM writes no contract answer: nothing becomes training data, and the command says so."""
    data, split, _ = prepared
    model = tiny_vlm(tmp_path / "vlm")
    code, kept, rejected = teach(data, split, tmp_path / "out", "--backend", "hf", "--model", str(model),
                                 "--renderer", str(renderer), "--limit", "2", "--answer-attempts", "2")
    assert code == 1 and kept == [] and len(rejected) == 2
    assert all(len(r["answers"]) == 2 for r in rejected)
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert last_line.startswith("skeletonllm teach: error: no answer met the contract")
