"""`skeletonllm predict` on one file of every format the readers support, with candidates, a question or a caption:
the JSON answer, the rendered GIF beside prediction.json, the reasoning parse of a CR-Distill answer, and clear
errors."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from skeletonllm.cli import main
from skeletonllm.eval.predict import parse_reasoning

from performances import FORMAT_KINDS, write_every_format

CANDIDATES = ["clap hands", "put on hat/cap", "bow", "throw"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    return write_every_format(tmp_path_factory.mktemp("formats"), "clap hands", 1)


@pytest.mark.parametrize("kind", FORMAT_KINDS)
def test_predict_answers_for_a_file_of_every_format(kind, files, stage_checkpoint, tmp_path, capsys):
    out = tmp_path / kind
    assert main(["predict", str(files[kind]), "--checkpoint", str(stage_checkpoint), "--candidates",
                 ",".join(CANDIDATES), "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((out / "prediction.json").read_text())
    assert isinstance(printed["answer"], str) and printed["parsed"] in [*CANDIDATES, None]
    assert printed["candidates"] == CANDIDATES and printed["likelihood_choice"] in CANDIDATES
    assert max(printed["likelihood"], key=printed["likelihood"].get) == printed["likelihood_choice"]
    assert all(value < 0 for value in printed["likelihood"].values())
    gif = Image.open(out / "render.gif")
    assert gif.n_frames == 2  # the stage's DrAction draws train.frames = 2
    assert printed["gif"] == str(out / "render.gif")


def test_predict_answers_a_question_and_a_caption(files, stage_checkpoint, tmp_path, capsys):
    assert main(["predict", str(files["ntu"]), "--checkpoint", str(stage_checkpoint), "--question",
                 "Which hand moves most?", "--out", str(tmp_path / "q")]) == 0
    printed = capsys.readouterr().out
    assert "answer:" in printed and (tmp_path / "q" / "render.gif").is_file()
    assert json.loads((tmp_path / "q" / "prediction.json").read_text())["question"] == "Which hand moves most?"
    assert main(["predict", str(files["bvh"]), "--checkpoint", str(stage_checkpoint), "--caption",
                 "--out", str(tmp_path / "c"), "--json"]) == 0
    caption = json.loads(capsys.readouterr().out)
    assert caption["question"].startswith("Describe the motion") and "likelihood" not in caption


def test_a_cr_distill_answer_splits_into_reasoning_and_label():
    text = "The right hand rises to the head.\nThe legs stay still.\nLabel: put on hat/cap"
    assert parse_reasoning(text) == ("The right hand rises to the head.\nThe legs stay still.", "put on hat/cap")
    assert parse_reasoning("no label here") == ("no label here", "")


def test_bad_input_is_a_one_line_error(files, stage_checkpoint, tmp_path, capsys):
    assert main(["predict", str(tmp_path / "missing.skeleton"), "--checkpoint", str(stage_checkpoint),
                 "--caption"]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["predict", str(files["ntu"]), "--checkpoint", str(stage_checkpoint), "--candidates", "bow"]) == 1
    assert "at least two distinct" in capsys.readouterr().err
    junk = tmp_path / "junk.json"
    junk.write_text('{"neither": 1}')
    assert main(["predict", str(junk), "--checkpoint", str(stage_checkpoint), "--caption"]) == 1
    assert capsys.readouterr().err.startswith("skeletonllm predict: error:")
