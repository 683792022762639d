"""`skeletonllm inspect FILE [--json]` through the real CLI entry point, on files our writers produce; text files
that are not skeletons (HumanML3D captions, notes) are told apart from PKU-MMD txt."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skeletonllm.cli import main
from skeletonllm.formats import SkeletonFormatError, SkeletonSequence, detect_format, get_topology, read, write

KEYS = {"format", "topology", "frames", "bodies", "joints", "dims", "fps", "warnings"}
BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
  JOINT Chest
  {
    OFFSET 0 10 0
    CHANNELS 3 Yrotation Xrotation Zrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.008333
0 90 0 0 0 0 0 0 0
0 90 0 10 0 0 5 0 0
0 90 0 20 0 0 10 0 0
"""


def ntu_file(tmp_path):
    joints = np.full((4, 2, 25, 3), 0.5, dtype=np.float32)
    joints[0] = 0  # a frame without bodies
    joints[1, 1] = 0
    scores = np.ones((4, 2, 25), dtype=np.float32)
    scores[2, 0, :5] = 0.5  # 5 inferred joints
    path = tmp_path / "S001C001P001R001A001.skeleton"
    write(path, SkeletonSequence(joints, scores, get_topology("ntu25"), 30.0, {}), "ntu")
    return path


def sample_files(tmp_path) -> dict[str, tuple]:
    """format -> (path, expected inspect fields without warnings)."""
    files = {"ntu": (ntu_file(tmp_path), "ntu25", 4, 2, 25, 3, 30.0)}
    ucla = tmp_path / "a01_s01_e00_v01.json"
    write(ucla, SkeletonSequence(np.ones((6, 1, 20, 3), np.float32), None, get_topology("ucla20"), 30.0,
                                 {"label": 1}), "ucla")
    files["ucla"] = (ucla, "ucla20", 6, 1, 20, 3, 30.0)
    kinetics = tmp_path / "clip.json"
    write(kinetics, SkeletonSequence(np.full((5, 3, 18, 2), 0.5, np.float32), np.ones((5, 3, 18), np.float32),
                                     get_topology("openpose18"), 30.0, {"label": "yoga"}), "kinetics")
    files["kinetics"] = (kinetics, "openpose18", 5, 3, 18, 2, 30.0)
    humanml3d = tmp_path / "new_joints" / "000001.npy"
    write(humanml3d, SkeletonSequence(np.ones((7, 1, 22, 3), np.float32), None, get_topology("smpl22"), 20.0,
                                      {"captions": [{"caption": "a person walks", "tokens": ["walk/VERB"],
                                                     "start": 0.0, "end": 0.0}]}), "humanml3d")
    files["humanml3d"] = (humanml3d, "smpl22", 7, 1, 22, 3, 20.0)
    pku = tmp_path / "0291-M.txt"
    pku.write_text("\n".join(" ".join(["0.25"] * 75 + ["0"] * 75) for _ in range(3)) + "\n")
    files["pku"] = (pku, "ntu25", 3, 2, 25, 3, 30.0)
    bvh = tmp_path / "walk.bvh"
    bvh.write_text(BVH)
    files["bvh"] = (bvh, None, 2, 1, 2, 3, 120.0)  # the first frame, a rest T-pose, is dropped; 1 / 0.008333 s
    return files


@pytest.mark.parametrize("name", ["ntu", "ucla", "kinetics", "humanml3d", "pku", "bvh"])
def test_json_output_has_exactly_the_contract_keys(tmp_path, capsys, name):
    path, topology, frames, bodies, joints, dims, fps = sample_files(tmp_path)[name]
    assert main(["inspect", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info) == KEYS
    assert (info["format"], info["frames"], info["bodies"], info["joints"], info["dims"]) == (
        name, frames, bodies, joints, dims)
    assert info["fps"] == pytest.approx(fps) and isinstance(info["warnings"], list)
    assert info["topology"] == topology if topology else info["topology"].startswith("bvh_")


def test_json_warnings_report_inferred_joints_and_empty_frames(tmp_path, capsys):
    assert main(["inspect", str(ntu_file(tmp_path)), "--json"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert any("inferred" in w and "5 of 125 (4.0%)" in w for w in warnings), warnings
    assert any("1 of 4 (25.0%) frames have no body" in w for w in warnings), warnings


def test_human_output_is_an_aligned_block(tmp_path, capsys):
    path = ntu_file(tmp_path)
    assert main(["inspect", str(path)]) == 0
    lines = capsys.readouterr().out.rstrip("\n").split("\n")
    labels = [line[:10] for line in lines]
    assert labels[:9] == ["file      ", "format    ", "topology  ", "frames    ", "bodies    ", "joints    ",
                          "dims      ", "fps       ", "warnings  "]
    values = [line[10:] for line in lines]
    assert values[:8] == [str(path), "ntu", "ntu25", "4", "2 slots, 0-2 per frame", "25", "3D", "30"]
    assert "inferred" in values[8] and "no body" in values[9] and labels[9] == " " * 10  # continuation line


def test_human_output_without_warnings_says_none(tmp_path, capsys):
    path = sample_files(tmp_path)["ucla"][0]
    assert main(["inspect", str(path)]) == 0
    assert capsys.readouterr().out.rstrip("\n").split("\n")[-1] == "warnings  none"


def test_malformed_file_exits_1_with_line_and_reason(tmp_path, capsys):
    path = tmp_path / "bad.skeleton"
    path.write_bytes(ntu_file(tmp_path).read_bytes().replace(b"\r\n25\r\n", b"\r\n24\r\n", 1))
    assert main(["inspect", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"skeletonllm inspect: error: {path}:5:")
    assert "24 joints" in captured.err


def test_bvh_output_rounds_fps_and_reports_the_dropped_rest_pose(tmp_path, capsys):
    path = sample_files(tmp_path)["bvh"][0]
    assert main(["inspect", str(path)]) == 0
    lines = capsys.readouterr().out.rstrip("\n").split("\n")
    assert "frames    2" in lines and "fps       120" in lines
    assert lines[-1] == "warnings  frame 1 is a rest T-pose (all rotations zero); dropped"


def test_a_humanml3d_caption_file_is_not_a_skeleton_file(tmp_path, capsys):
    sample_files(tmp_path)
    captions = tmp_path / "texts" / "000001.txt"  # written by the humanml3d writer next to new_joints/000001.npy
    assert captions.read_text() == "a person walks#walk/VERB#0.0#0.0\n"
    assert main(["inspect", str(captions)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        f"skeletonllm inspect: error: {captions}:1: not a skeleton file: it looks like HumanML3D captions "
        f"(caption#tokens#start#end lines); their skeleton is the matching {tmp_path / 'new_joints' / '000001.npy'}\n"
    )
    assert main(["inspect", str(tmp_path / "new_joints" / "000001.npy")]) == 0


@pytest.mark.parametrize("name, content, message", [
    ("missing.skeleton", None, "No such file or directory"),
    ("folder", "dir", "Is a directory"),
    ("empty.json", b"", "empty file, no JSON"),
    ("binary.json", b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)), "not UTF-8 text"),
    ("list.json", b"[1, 2]", 'a JSON array with neither "skeletons" (NW-UCLA) nor "data" (Kinetics-skeleton)'),
    ("nothing.json", b'{"frames": 3}', 'a JSON object with neither "skeletons"'),
    ("truncated.json", b'{"frames": [1, 2', ":1: invalid JSON: Expecting ',' delimiter"),
])
def test_unreadable_files_are_one_line_errors(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    assert main(["inspect", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"skeletonllm inspect: error: {path}:")
    assert message in captured.err and captured.err.count("\n") == 1


@pytest.mark.parametrize("name", ["ntu", "ucla", "kinetics", "humanml3d", "bvh"])
def test_a_file_without_frames_is_an_error(tmp_path, capsys, name):
    """Prepare rejects a file without frames; inspect says so and exits non-zero instead of "warnings none"."""
    path, topology, _, bodies, joints, dims, fps = sample_files(tmp_path)[name]
    if name == "bvh":
        path.write_text(BVH.replace("Frames: 3", "Frames: 0").split("Frame Time")[0] + "Frame Time: 0.008333\n")
    else:
        empty = SkeletonSequence(np.zeros((0, bodies, joints, dims), np.float32), None, get_topology(topology), fps,
                                 {"label": 1} if name == "ucla" else {"label": "yoga"} if name == "kinetics" else {})
        write(path, empty, name)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"skeletonllm inspect: error: {path}: the file holds no frames; prepare rejects it\n"


def test_detection_reads_a_txt_file_by_its_content(tmp_path):
    texts = tmp_path / "HumanML3D" / "texts"
    texts.mkdir(parents=True)
    captions = texts / "000001.txt"
    captions.write_text("\na person walks forward#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0\n"
                        "someone strolls ahead#someone/PRON stroll/VERB ahead/ADV#nan#nan\n")
    with pytest.raises(SkeletonFormatError) as raised:
        detect_format(captions)
    assert raised.value.line == 2 and raised.value.reason.startswith("not a skeleton file: it looks like HumanML3D")
    assert str(tmp_path / "HumanML3D" / "new_joints" / "000001.npy") in raised.value.reason
    note = tmp_path / "notes.txt"
    note.write_text("Subject 3 repeats the take; sensor recalibrated before the second pass, see the log\n")
    moved = tmp_path / "000002.txt"  # captions outside the HumanML3D layout
    moved.write_text(captions.read_text())
    with pytest.raises(SkeletonFormatError, match=r"their skeleton is the matching new_joints/000002\.npy$"):
        read(moved)
    with pytest.raises(SkeletonFormatError) as raised:
        read(note)
    assert raised.value.line == 1 and raised.value.reason == (
        "not a skeleton file: PKU-MMD .txt lines hold 150 numbers, but this one is text (14 fields): "
        "'Subject 3 repeats the take; sensor recalibrated before th...'"
    )
    pku = tmp_path / "0291-M.txt"  # CRLF line ends and a trailing blank line
    pku.write_bytes(b"\r\n".join(b" ".join([b"0.25"] * 75 + [b"0"] * 75) for _ in range(3)) + b"\r\n\r\n")
    assert detect_format(pku) == "pku" and read(pku).joints.shape == (3, 2, 25, 3)
    short = tmp_path / "short.txt"  # numbers, but not 150 of them: PKU-MMD's reader names the bad line
    short.write_text(" ".join(["0.25"] * 149) + "\n")
    assert detect_format(short) == "pku"
    with pytest.raises(SkeletonFormatError, match="line has 149 values, expected 150"):
        read(short)
