"""NW-UCLA, PKU-MMD, HumanML3D and Kinetics-skeleton: real-syntax snippets, round trips, detection, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from skeletonllm.formats import SkeletonFormatError, SkeletonSequence, detect_format, get_topology, read, write
from skeletonllm.formats.humanml3d import texts_path


def assert_read_error(path, line, reason, error_path=None) -> None:
    """read(path) raises SkeletonFormatError at (error_path or path, line) with reason in its text."""
    with pytest.raises(SkeletonFormatError) as raised:
        read(path)
    error = raised.value
    assert (error.path, error.line) == (str(error_path or path), line), error
    assert reason in error.reason, error.reason


# --------------------------------------------------------------------------- NW-UCLA

def ucla_joint(j: int) -> list[float]:
    return [round(0.01 * j - 0.1, 4), round(0.5 - 0.02 * j, 4), 2.5]


def test_ucla_one_frame_file_with_a_joint_at_origin(tmp_path):
    joints = [ucla_joint(j) for j in range(20)]
    joints[7] = [0, 0, 0]
    path = tmp_path / "a08_s01_e00_v01.json"
    path.write_text(json.dumps({"file_name": "a08_s01_e00_v01", "skeletons": [joints], "label": 7}))
    seq = read(path)
    assert seq.meta["format"] == "ucla" and seq.topology.name == "ucla20"
    assert seq.joints.shape == (1, 1, 20, 3) and seq.scores is None
    assert seq.meta["label"] == 7 and seq.meta["file_name"] == "a08_s01_e00_v01"
    assert any("(0, 0, 0)" in w and "1 of 20" in w for w in seq.meta["warnings"]), seq.meta["warnings"]


def test_ucla_round_trip_is_lossless(tmp_path):
    rng = np.random.default_rng(1)
    joints = rng.normal(size=(9, 1, 20, 3)).astype(np.float32)
    seq = SkeletonSequence(joints, None, get_topology("ucla20"), 30.0, {"label": 10, "file_name": "a12_s02_e01_v03"})
    write(tmp_path / "a12_s02_e01_v03.json", seq, "ucla")
    back = read(tmp_path / "a12_s02_e01_v03.json")
    assert np.array_equal(back.joints, joints)
    assert (back.meta["label"], back.meta["file_name"]) == (10, "a12_s02_e01_v03")


@pytest.mark.parametrize("skeletons,reason", [
    ([[ucla_joint(j) for j in range(19)]], "frame 0 has shape (19, 3)"),
    ([[ucla_joint(j) for j in range(20)], [ucla_joint(j)[:2] for j in range(20)]], "frame 1 has shape (20, 2)"),
    ([[ucla_joint(j) if j != 4 else [float("nan"), 0, 1] for j in range(20)]], "non-finite coordinate in frame 0"),
    ([[ucla_joint(j) if j != 4 else ["x", 0, 1] for j in range(20)]], "frame 0 is not a numeric array"),
])
def test_ucla_bad_skeletons_are_errors(tmp_path, skeletons, reason):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"file_name": "bad", "skeletons": skeletons, "label": 1}))
    assert_read_error(path, None, reason)


def test_ucla_truncated_json_names_the_line(tmp_path):
    path = tmp_path / "cut.json"
    text = json.dumps({"file_name": "cut", "skeletons": [[ucla_joint(j) for j in range(20)]], "label": 1}, indent=1)
    path.write_text(text[: len(text) // 2])
    assert_read_error(path, text[: len(text) // 2].count("\n") + 1, "invalid JSON")


# --------------------------------------------------------------------------- PKU-MMD

def pku_line(shift: float, second_body: bool) -> str:
    first = [f"{0.01 * k + shift:.6f}" for k in range(75)]
    second = [f"{-0.01 * k:.6f}" for k in range(75)] if second_body else ["0"] * 75
    return " ".join(first + second)


def test_pku_second_body_zero_when_absent(tmp_path):
    path = tmp_path / "0002-L.txt"
    path.write_text("\n".join([pku_line(0.0, False), pku_line(0.1, False), pku_line(0.2, True)]) + "\n")
    seq = read(path)
    assert seq.meta["format"] == "pku" and seq.topology.name == "ntu25" and seq.fps == 30
    assert seq.joints.shape == (3, 2, 25, 3)
    assert seq.bodies_per_frame().tolist() == [1, 1, 2]
    assert seq.joints[2, 0, 1].tolist() == pytest.approx([0.23, 0.24, 0.25])  # values 3-5 of the line
    assert seq.joints[2, 1, 1].tolist() == pytest.approx([-0.03, -0.04, -0.05])  # values 78-80


@pytest.mark.parametrize("bad_line,reason", [
    (" ".join(pku_line(0.0, False).split()[:149]), "149 values, expected 150"),
    (pku_line(0.0, False).replace("0.010000", "0.01o000", 1), "unparsable number '0.01o000'"),
    (pku_line(0.0, False).replace("0.010000", "inf", 1), "non-finite"),
])
def test_pku_bad_lines_are_errors(tmp_path, bad_line, reason):
    path = tmp_path / "bad.txt"
    path.write_text("\n".join([pku_line(0.0, False), bad_line, pku_line(0.0, True)]) + "\n")
    assert_read_error(path, 2, reason)


def test_pku_truncated_last_line(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_text(pku_line(0.0, False) + "\n" + pku_line(0.0, False)[:100])
    assert_read_error(path, 2, "truncated")


# --------------------------------------------------------------------------- HumanML3D

def smpl_sequence(frames: int = 8, captions=None) -> SkeletonSequence:
    rng = np.random.default_rng(2)
    joints = rng.normal(size=(frames, 1, 22, 3)).astype(np.float32)
    return SkeletonSequence(joints, None, get_topology("smpl22"), 20.0, {"captions": captions or []})


def test_humanml3d_round_trip_with_captions(tmp_path):
    captions = [
        {"caption": "a person waves with the right hand", "tokens": ["a/DET", "person/NOUN", "wave/VERB"],
         "start": 0.0, "end": 0.0},
        {"caption": "someone raises an arm", "tokens": ["someone/PRON", "raise/VERB"], "start": 1.5, "end": 3.25},
    ]
    seq = smpl_sequence(captions=captions)
    path = tmp_path / "HumanML3D" / "new_joints" / "000021.npy"
    write(path, seq, "humanml3d")
    assert texts_path(path) == tmp_path / "HumanML3D" / "texts" / "000021.txt" and texts_path(path).is_file()
    back = read(path)
    assert back.meta["format"] == "humanml3d" and back.topology.name == "smpl22" and back.fps == 20
    assert np.array_equal(back.joints, seq.joints) and back.meta["captions"] == captions
    assert back.meta["up_axis"] == "y"


def test_humanml3d_texts_lines_and_nan_times(tmp_path):
    path = tmp_path / "new_joints" / "M000007.npy"
    write(path, smpl_sequence(), "humanml3d")
    texts_path(path).parent.mkdir()
    texts_path(path).write_text(
        "a man kicks with his left leg.#a/DET man/NOUN kick/VERB with/ADP his/DET left/ADJ leg/NOUN#0.0#0.0\n"
        "a person jumps#a/DET person/NOUN jump/VERB#nan#nan\n"
    )
    seq = read(path)
    assert [c["caption"] for c in seq.meta["captions"]] == ["a man kicks with his left leg.", "a person jumps"]
    assert seq.meta["captions"][0]["tokens"][-1] == "leg/NOUN"
    assert (seq.meta["captions"][1]["start"], seq.meta["captions"][1]["end"]) == (0.0, 0.0)
    assert any("nan" in w for w in seq.meta["warnings"])


def test_humanml3d_missing_texts_is_a_warning(tmp_path):
    path = tmp_path / "new_joints" / "000001.npy"
    write(path, smpl_sequence(), "humanml3d")
    seq = read(path)
    assert seq.meta["captions"] == [] and any("no captions" in w for w in seq.meta["warnings"])


def test_humanml3d_bad_arrays_and_caption_lines(tmp_path):
    wrong = tmp_path / "new_joints" / "wrong.npy"
    wrong.parent.mkdir()
    np.save(wrong, np.zeros((5, 24, 3), np.float32))
    assert_read_error(wrong, None, "(5, 24, 3)")
    cut = tmp_path / "new_joints" / "cut.npy"
    np.save(cut, np.zeros((50, 22, 3), np.float32))
    cut.write_bytes(cut.read_bytes()[:-100])
    assert_read_error(cut, None, "truncated")
    nan = tmp_path / "new_joints" / "nan.npy"
    array = np.zeros((4, 22, 3), np.float32)
    array[2, 5, 1] = np.nan
    np.save(nan, array)
    assert_read_error(nan, None, "frame 2, joint 5")
    good = tmp_path / "new_joints" / "good.npy"
    np.save(good, np.zeros((4, 22, 3), np.float32))
    texts_path(good).parent.mkdir()
    texts_path(good).write_text("fine#a/DET#0.0#0.0\nbroken line without fields\n")
    assert_read_error(good, 2, "caption#tokens#start#end", error_path=texts_path(good))


# --------------------------------------------------------------------------- Kinetics-skeleton

def pose(shift: float, missing: tuple[int, ...] = ()) -> dict:
    xy, score = [], []
    for j in range(18):
        if j in missing:
            xy += [0, 0]
            score.append(0)
        else:
            xy += [round(0.3 + 0.01 * j + shift, 3), round(0.2 + 0.03 * j, 3)]
            score.append(round(0.5 + 0.02 * j, 3))
    return {"pose": xy, "score": score}


def kinetics_document() -> dict:
    return {
        "data": [
            {"frame_index": 1, "skeleton": [pose(0.0), pose(0.2, missing=(14, 15, 16, 17))]},
            {"frame_index": 2, "skeleton": []},
            {"frame_index": 3, "skeleton": []},
            {"frame_index": 6, "skeleton": [pose(0.0), pose(0.1), pose(0.3)]},  # 4 and 5 absent: empty too
            {"frame_index": 7, "skeleton": [pose(0.05)]},
        ],
        "label": "abseiling",
        "label_index": 0,
    }


def test_kinetics_layout_empty_frames_and_missing_keypoints(tmp_path):
    path = tmp_path / "-3B32lodo2M.json"
    path.write_text(json.dumps(kinetics_document()))
    seq = read(path)
    assert seq.meta["format"] == "kinetics" and seq.topology.name == "openpose18" and seq.fps == 30
    assert seq.joints.shape == (7, 3, 18, 2) and seq.scores.shape == (7, 3, 18)
    assert seq.bodies_per_frame().tolist() == [2, 0, 0, 0, 0, 3, 1]
    assert (seq.meta["label"], seq.meta["label_index"]) == ("abseiling", 0)
    assert seq.joints[0, 1, 14].tolist() == [0, 0] and seq.scores[0, 1, 14] == 0
    assert seq.joints[0, 0, 1].tolist() == pytest.approx([0.31, 0.23])
    assert np.all((seq.joints >= 0) & (seq.joints <= 1))
    warnings = " | ".join(seq.meta["warnings"])
    assert "4 of 7 (57.1%) frames have no body (longest run 4)" in warnings
    assert "4 of 108 (3.7%) keypoints are missing" in warnings
    assert "more than 2 bodies (up to 3)" in warnings


def test_kinetics_round_trip_is_lossless(tmp_path):
    rng = np.random.default_rng(3)
    joints = rng.uniform(0, 1, size=(6, 3, 18, 2)).astype(np.float32)
    scores = rng.uniform(0, 1, size=(6, 3, 18)).astype(np.float32)
    for t, m in ((1, 0), (1, 1), (1, 2), (2, 0), (3, 2)):  # an empty frame, a gap in slot 0, a trailing gap
        joints[t, m], scores[t, m] = 0, 0
    joints[4, 1, 3], scores[4, 1, 3] = 0, 0  # a missing keypoint
    seq = SkeletonSequence(joints, scores, get_topology("openpose18"), 30.0, {"label": "yoga", "label_index": 398})
    write(tmp_path / "clip.json", seq, "kinetics")
    back = read(tmp_path / "clip.json")
    assert np.array_equal(back.joints, joints) and np.array_equal(back.scores, scores)
    assert (back.meta["label"], back.meta["label_index"]) == ("yoga", 398)


@pytest.mark.parametrize("change,reason", [
    (lambda d: d["data"][0]["skeleton"][0].update(pose=[0.5] * 34), "frame_index 1, body 0 pose has shape (34,)"),
    (lambda d: d["data"][4]["skeleton"][0]["pose"].__setitem__(3, float("nan")),
     "non-finite coordinate in frame_index 7"),
    (lambda d: d["data"][3]["skeleton"][1].update(score=[1.0] * 17), "frame_index 6, body 1 score has shape (17,)"),
    (lambda d: d["data"][2].update(frame_index=2), "frame_index 2 appears twice"),
    (lambda d: d["data"][1].pop("skeleton"), 'data[1] has no "skeleton" list'),
])
def test_kinetics_bad_frames_are_errors(tmp_path, change, reason):
    document = kinetics_document()
    change(document)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    assert_read_error(path, None, reason)


# --------------------------------------------------------------------------- detection and dispatch

def test_detection_by_extension_and_by_content(tmp_path):
    files = {
        "ucla": tmp_path / "a.json",
        "kinetics": tmp_path / "k.json",
        "pku": tmp_path / "p.txt",
        "humanml3d": tmp_path / "new_joints" / "h.npy",
    }
    skeletons = [[ucla_joint(j) for j in range(20)]]
    files["ucla"].write_text(json.dumps({"file_name": "a", "label": 1, "skeletons": skeletons}))
    files["kinetics"].write_text(json.dumps(kinetics_document()))
    files["pku"].write_text(pku_line(0.0, False) + "\n")
    write(files["humanml3d"], smpl_sequence(), "humanml3d")
    for name, path in files.items():
        assert detect_format(path) == name
        bare = tmp_path / f"bare_{name}"  # no extension: detected from the first bytes
        shutil.copy(path, bare)
        assert detect_format(bare) == name and read(bare).meta["format"] == name
    ntu_bare = tmp_path / "bare_ntu"
    write(tmp_path / "n.skeleton", SkeletonSequence(np.ones((2, 1, 25, 3), np.float32), None,
                                                  get_topology("ntu25"), 30.0, {}), "ntu")
    shutil.copy(tmp_path / "n.skeleton", ntu_bare)
    assert detect_format(ntu_bare) == "ntu" and read(ntu_bare).num_frames == 2
    unknown = tmp_path / "notes.dat"
    unknown.write_text("hello world\n")
    assert_read_error(unknown, None, "unknown skeleton format")


def test_write_names_the_formats_with_writers(tmp_path):
    seq = smpl_sequence()
    with pytest.raises(ValueError, match="no writer for format 'pku'"):
        write(tmp_path / "x.txt", seq, "pku")
    with pytest.raises(ValueError, match="ucla20"):
        write(tmp_path / "x.json", seq, "ucla")
