"""Teacher rationales: grounded in the measured motion (limb and side), mirrored classes give mirrored text, the
label options, and `skeletonllm teach` writing a resumable rationales.jsonl from prepared data."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from skeletonllm.data.normalize import normalize_sequence
from skeletonllm.data.synth.actions import SYNTH_CLASSES
from skeletonllm.data.synth.formats import ntu_sequence
from skeletonllm.data.synth.scene import Sample, camera_for, perform
from skeletonllm.teacher import cli
from skeletonllm.teacher.kinematic import rationale
from skeletonllm.teacher.motion_facts import measure

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


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared-layout dataset of 6 synthetic samples (3 classes x 2 subjects) and its split file."""
    import pandas as pd

    root = tmp_path_factory.mktemp("prepared")
    names = ["wave right hand", "kick with left leg", "clap hands"]
    rows, poses, offset = [], [], 0
    for subject in (1, 2):
        for name in names:
            joints = synth(name, subject).joints  # [T, 2, 25, 3]
            sample_id = f"S001C001P{subject:03d}R001A{SYNTH_CLASSES.index(name) + 1:03d}"
            rows.append({"sample_id": sample_id, "label": SYNTH_CLASSES.index(name), "label_name": name,
                         "offset": offset, "length": len(joints)})
            poses.append(joints)
            offset += len(joints)
    np.save(root / "poses.npy", np.concatenate(poses))
    pd.DataFrame(rows).to_parquet(root / "index.parquet")
    (root / "manifest.json").write_text(json.dumps({"topology": {"name": "ntu25"}}))
    split = root / "split.json"
    split.write_text(json.dumps({"train": [r["sample_id"] for r in rows]}))
    return root, split, rows


def _teach(root, split, out, *extra):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--dataset", "synth", "--data", str(root), "--split", str(split), "--out", str(out),
                              *extra])
    assert cli.run(args) == 0
    return [json.loads(line) for line in (out / "rationales.jsonl").read_text().splitlines()]


def test_teach_writes_rationales_and_resumes_from_the_cache(prepared, tmp_path):
    root, split, rows = prepared
    out = tmp_path / "teacher"
    first = _teach(root, split, out, "--limit", "4")
    assert [r["sample_id"] for r in first] == [r["sample_id"] for r in rows[:4]]
    assert all(r["backend"] == "kinematic" and r["rationale"].endswith(f"Label: {r['label_name']}") for r in first)
    assert main_mover(first[0]["rationale"]) == "right arm" and main_mover(first[1]["rationale"]) == "left leg"
    cache = out / "cache.jsonl"
    assert len(cache.read_text().splitlines()) == 4
    with open(cache, "a") as f:  # a kill in the middle of writing an answer leaves a torn line
        f.write('{"key": "abc", "rec')
    full = _teach(root, split, out)
    assert len(full) == 6 and full[:4] == first
    assert len([line for line in cache.read_text().splitlines() if line.endswith("}")]) == 6  # 4 reused, 2 new
    bare = _teach(root, split, tmp_path / "bare", "--no-keep-final-label", "--no-condition-on-label")
    assert all("Label:" not in r["rationale"] and r["label_name"] not in r["rationale"] for r in bare)


def test_teach_rejects_a_split_without_train_ids(prepared, tmp_path):
    root, _, _ = prepared
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit, match="no 'train' list"):
        _teach(root, bad, tmp_path / "out")


def test_openai_teacher_sends_rendered_frames_retries_and_caches(prepared, tmp_path, monkeypatch):
    """The openai backend against a real chat-completions server on 127.0.0.1 that fails on cue."""
    from test_remote_chat import ChatServer

    from skeletonllm.render.draction import DrAction, DrActionConfig

    root, split, rows = prepared
    checkpoint = tmp_path / "draction"
    DrAction(DrActionConfig(frames=2, size=32, backend="torch")).save(checkpoint)
    secret = "sk-teacher-test-5e1d"
    monkeypatch.setenv("TEACHER_TEST_KEY", secret)
    server = ChatServer(["429:0", "ok", "500", "ok"])
    try:
        remote = ["--backend", "openai", "--renderer", str(checkpoint), "--base-url", server.base_url,
                  "--model", "vlm", "--api-key-env", "TEACHER_TEST_KEY", "--limit", "2"]
        out = tmp_path / "openai"
        first = _teach(root, split, out, *remote)
        assert len(server.requests) == 4  # two samples, each retried once
        content = server.requests[1]["body"]["messages"][-1]["content"]
        images = [part for part in content if part.get("type") == "image_url"]
        assert len(images) == 2 and all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in images)
        assert all(r["backend"] == "openai" and r["rationale"].startswith("reply to:") for r in first)
        assert [r["sample_id"] for r in first] == [r["sample_id"] for r in rows[:2]]
        again = _teach(root, split, out, *remote)
        assert again == first and len(server.requests) == 4  # answered from the cache
        written = "".join(path.read_text() for path in out.iterdir() if path.is_file())
        assert secret not in written
    finally:
        server.close()
