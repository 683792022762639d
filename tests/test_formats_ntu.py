"""NTU .skeleton: real-syntax snippets, the facts of real files, lossless round trips, fast == baseline, errors."""

from __future__ import annotations

import numpy as np
import pytest

from skeletonllm.formats import SkeletonFormatError, SkeletonSequence, get_topology, read, write
from skeletonllm.formats import ntu
from skeletonllm.formats.ntu import parse_ntu_baseline, read_ntu, write_ntu

# two real-looking body ids that float64 cannot tell apart (spacing at 7.2e16 is 16)
ID_A, ID_B = "72057594037931101", "72057594037931103"
BODY_LINE = "{} 0 1 1 1 1 0 0.02764709 0.05745083 2"
REAL_JOINT = (  # x y z depthX depthY colorX colorY orientationWXYZ trackingState, as Kinect v2 writes them
    "0.2181153 0.1725972 3.785547 277.419 191.8218 1036.233 519.1677 -0.2059419 0.05349901 0.9692109 -0.1239193 2"
)


def joint_line(j: int, shift: float = 0.0, state: int = 2) -> str:
    """A joint line in NTU syntax; its orientation quaternion is all zeros, as in many real joints."""
    return f"{0.1 * j + shift:.7g} {-0.05 * j:.7g} {3.0 + shift:.7g} 250.5 190.25 1000.125 520.5 0 0 0 0 {state}"


def body(body_id: str, shift: float = 0.0, states: list[int] | None = None, joints: int = 25) -> list[str]:
    states = states or [2] * joints
    return [BODY_LINE.format(body_id), str(joints), *(joint_line(j, shift, states[j]) for j in range(joints))]


def ntu_text(frames: list[list[list[str]]]) -> str:
    """The file text (CRLF line ends) of frames, each a list of body blocks."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for block in bodies:
            lines += block
    return "\r\n".join(lines) + "\r\n"


def write_text(tmp_path, text: str, name: str = "S001C001P001R001A001.skeleton"):
    path = tmp_path / name
    path.write_bytes(text.encode("ascii"))
    return path


def assert_same(a: SkeletonSequence, b: SkeletonSequence) -> None:
    """Identical arrays and NTU meta (body ids, presence, body fields, extra joint fields)."""
    assert np.array_equal(a.joints, b.joints) and a.joints.dtype == b.joints.dtype == np.float32
    assert np.array_equal(a.scores, b.scores)
    assert a.meta["body_ids"] == b.meta["body_ids"]
    for key in ("body_present", "body_info", "joint_extra"):
        assert np.array_equal(a.meta[key], b.meta[key]), key
    assert a.meta["warnings"] == b.meta["warnings"]


def random_sequence(frames: int = 12, bodies: int = 2, seed: int = 0) -> SkeletonSequence:
    rng = np.random.default_rng(seed)
    joints = rng.normal(0, 1, size=(frames, bodies, 25, 3)).astype(np.float32)
    present = rng.random((frames, bodies)) < 0.8
    joints[~present] = 0
    meta = {
        "body_ids": [str(72057594037927936 + 2 * m + 1) for m in range(bodies)],
        "body_present": present,
        "body_info": rng.integers(0, 3, size=(frames, bodies, 9)).astype(np.float32),
        "joint_extra": rng.normal(0, 300, size=(frames, bodies, 25, 8)).astype(np.float32),
    }
    meta["body_info"][..., 6:8] = rng.normal(0, 0.1, size=(frames, bodies, 2))
    meta["body_info"][~present] = 0
    meta["joint_extra"][~present] = 0
    scores = rng.choice([0.0, 0.5, 1.0], size=(frames, bodies, 25)).astype(np.float32)
    scores[~present] = 0
    return SkeletonSequence(joints, scores, get_topology("ntu25"), 30.0, meta)


def test_real_syntax_snippet_crlf_zero_quaternions_and_exact_body_id(tmp_path):
    block = [BODY_LINE.format(ID_A), "25", REAL_JOINT, *(joint_line(j) for j in range(1, 25))]
    path = write_text(tmp_path, ntu_text([[block]]))
    assert b"\r\n" in path.read_bytes()
    seq = read(path)
    assert seq.meta["format"] == "ntu" and seq.topology.name == "ntu25" and seq.fps == 30
    assert seq.joints.shape == (1, 1, 25, 3)
    assert np.array_equal(seq.joints[0, 0, 0], np.float32([0.2181153, 0.1725972, 3.785547]))
    assert seq.meta["body_ids"] == [ID_A] and isinstance(seq.meta["body_ids"][0], str)
    assert np.array_equal(seq.meta["joint_extra"][0, 0, 0], np.float32(REAL_JOINT.split()[3:11]))
    assert np.all(seq.meta["joint_extra"][0, 0, 1:, 4:] == 0)  # all-zero quaternions are accepted
    assert np.array_equal(seq.meta["body_info"][0, 0], np.float32([0, 1, 1, 1, 1, 0, 0.02764709, 0.05745083, 2]))
    assert np.all(seq.scores == 1.0)


def test_body_ids_that_collide_as_floats_stay_two_bodies(tmp_path):
    path = write_text(tmp_path, ntu_text([[body(ID_A), body(ID_B, shift=1.0)]]))
    for seq in (read_ntu(path), parse_ntu_baseline(path)):
        assert seq.meta["body_ids"] == [ID_A, ID_B]
        assert seq.num_bodies == 2 and seq.joints[0, 1, 0, 2] == np.float32(4.0)


def test_bodies_go_to_slots_by_id_in_order_of_first_appearance(tmp_path):
    frames = [[body(ID_B, 0.0)], [body(ID_A, 2.0), body(ID_B, 1.0)], [body(ID_A, 3.0)]]
    seq = read_ntu(write_text(tmp_path, ntu_text(frames)))
    assert seq.meta["body_ids"] == [ID_B, ID_A]
    assert seq.joints[:, 0, 0, 2].tolist() == [3.0, 4.0, 0.0]  # ID_B: frames 1 and 2
    assert seq.joints[:, 1, 0, 2].tolist() == [0.0, 5.0, 6.0]  # ID_A: frames 2 and 3
    assert seq.meta["body_present"].tolist() == [[True, False], [True, True], [False, True]]


def test_inferred_joints_are_reported_with_their_percentage(tmp_path):
    states = [1 if j < 5 else 2 for j in range(25)]  # 5 of 25 inferred
    seq = read_ntu(write_text(tmp_path, ntu_text([[body(ID_A, states=states)]])))
    assert seq.scores[0, 0, :5].tolist() == [0.5] * 5 and seq.scores[0, 0, 5:].tolist() == [1.0] * 20
    assert any("20.0%" in w and "inferred" in w for w in seq.meta["warnings"]), seq.meta["warnings"]
    clean = read_ntu(write_text(tmp_path, ntu_text([[body(ID_A)]]), "clean.skeleton"))
    assert not any("inferred" in w for w in clean.meta["warnings"])


def test_frames_with_zero_and_four_bodies_are_valid(tmp_path):
    ids = [str(72057594037931101 + 16 * k) for k in range(4)]
    frames = [[], [body(ids[0])], [body(i, k) for k, i in enumerate(ids)], []]
    path = write_text(tmp_path, ntu_text(frames))
    for seq in (read_ntu(path), parse_ntu_baseline(path)):
        assert seq.joints.shape == (4, 4, 25, 3)
        assert seq.bodies_per_frame().tolist() == [0, 1, 4, 0]
        assert any("no body" in w for w in seq.meta["warnings"])
        assert any("more than 2 bodies (up to 4)" in w for w in seq.meta["warnings"])


def test_writer_round_trip_is_lossless(tmp_path):
    seq = random_sequence()
    path = tmp_path / "round.skeleton"
    write(path, seq, "ntu")
    text = path.read_bytes()
    assert text.count(b"\r\n") == text.count(b"\n")  # Windows line ends throughout
    back = read(path)
    assert np.array_equal(back.joints, seq.joints) and np.array_equal(back.scores, seq.scores)
    assert back.meta["body_ids"] == seq.meta["body_ids"]
    for key in ("body_present", "body_info", "joint_extra"):
        assert np.array_equal(back.meta[key], seq.meta[key]), key
    again = tmp_path / "again.skeleton"
    write_ntu(again, back)  # read -> write -> read keeps everything, too
    assert_same(read_ntu(again), back)


def test_round_trip_of_a_hand_written_file_keeps_ids_and_extra_fields(tmp_path):
    block = [BODY_LINE.format(ID_A), "25", REAL_JOINT, *(joint_line(j, state=j % 3) for j in range(1, 25))]
    original = read_ntu(write_text(tmp_path, ntu_text([[block], [], [block, *[body(ID_B)]]])))
    copy = tmp_path / "copy.skeleton"
    write_ntu(copy, original)
    assert_same(read_ntu(copy), original)
    assert ID_A.encode() in copy.read_bytes() and REAL_JOINT.encode() in copy.read_bytes()


def test_writer_defaults_without_ntu_meta(tmp_path):
    joints = np.zeros((3, 1, 25, 3), dtype=np.float32)
    joints[1:] = 0.5
    write_ntu(tmp_path / "plain.skeleton", SkeletonSequence(joints, None, get_topology("ntu25"), 30.0, {}))
    seq = read_ntu(tmp_path / "plain.skeleton")
    assert np.array_equal(seq.joints, joints) and seq.bodies_per_frame().tolist() == [0, 1, 1]
    assert len(seq.meta["body_ids"][0]) == 17


def test_fast_reader_equals_baseline_and_takes_the_fast_path(tmp_path):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    write_ntu(path, random_sequence(frames=40, seed=3))
    data = path.read_bytes()
    fast, tokens = ntu._parse_fast(data), ntu._parse_tokens(data, path)  # the fast path handles writer output
    assert np.array_equal(fast.joint_values, tokens.joint_values) and fast.occ_id == tokens.occ_id
    assert_same(read_ntu(path), parse_ntu_baseline(path))
    snippet = write_text(tmp_path, ntu_text([[body(ID_A, states=[1] * 25)], [], [body(ID_A), body(ID_B, 0.5)]]))
    assert_same(read_ntu(snippet), parse_ntu_baseline(snippet))


def test_unusual_but_valid_spacing_falls_back_to_the_baseline(tmp_path):
    text = ntu_text([[body(ID_A)]]).replace("\r\n", "\n").replace(" 250.5 ", "  250.5\t")
    path = write_text(tmp_path, text)
    with pytest.raises(ntu._Irregular):
        ntu._parse_fast(path.read_bytes())
    assert_same(read_ntu(path), parse_ntu_baseline(path))


def _cases() -> list[tuple[str, str, int, str]]:
    good = ntu_text([[body(ID_A)], [body(ID_A), body(ID_B)]]).split("\r\n")
    # line numbers (1-based): 1 frames, 2 body count, 3 body, 4 joint count, 5-29 joints, 30 body count,
    # 31 body A, 32 count, 33-57 joints, 58 body B, 59 count, 60-84 joints
    def edit(number: int, new: str | None) -> str:
        lines = list(good)
        if new is None:
            del lines[number - 1]
        else:
            lines[number - 1] = new
        return "\r\n".join(lines)

    cut = "\r\n".join(good[:70]) + "\r\n" + good[70][:20]  # ends in the middle of line 71, a joint line
    return [
        ("truncated", cut, 71, "truncated"),
        ("truncated-frames", "\r\n".join(good[:57]) + "\r\n", 58, "truncated"),
        ("unparsable", edit(7, joint_line(2).replace("3", "3x", 1)), 7, "unparsable number"),
        ("nan", edit(9, joint_line(4).replace("250.5", "nan")), 9, "non-finite"),
        ("inf", edit(40, joint_line(4).replace("1000.125", "inf")), 40, "non-finite"),
        ("24-joints", edit(4, "24"), 4, "24 joints"),
        ("count-says-2-one-follows", edit(2, "2"), 30, "disagrees"),
        ("count-says-1-two-follow", edit(30, "1"), 58, "disagrees"),
        ("field-count", edit(12, joint_line(7) + " 5"), 12, "13 fields"),
        ("tracking-state", edit(13, joint_line(8, state=3)), 13, "tracking state"),
        ("extra-data", "\r\n".join(good[:-1] + ["1", "junk"]), 85, "after the last frame"),
        ("body-id", edit(3, BODY_LINE.format("7205759403793110x")), 3, "body id"),
        ("repeated-id", edit(58, BODY_LINE.format(ID_A)), 58, "twice"),
        ("frame-count", edit(1, "two"), 1, "frame count"),
        ("negative-count", edit(30, "-2"), 30, "negative"),
    ]


@pytest.mark.parametrize("text,line,reason", [case[1:] for case in _cases()], ids=[case[0] for case in _cases()])
@pytest.mark.parametrize("reader", [read_ntu, parse_ntu_baseline], ids=["read_ntu", "baseline"])
def test_bad_input_names_file_line_and_reason(tmp_path, reader, text, line, reason):
    path = write_text(tmp_path, text)
    with pytest.raises(SkeletonFormatError) as raised:
        reader(path)
    assert raised.value.path == str(path)
    assert (raised.value.line, reason in raised.value.reason) == (line, True), raised.value.reason


def test_writer_refuses_other_topologies_and_bad_meta(tmp_path):
    ucla = SkeletonSequence(np.zeros((1, 1, 20, 3), np.float32), None, get_topology("ucla20"), 30.0, {})
    with pytest.raises(ValueError, match="ntu25"):
        write_ntu(tmp_path / "x.skeleton", ucla)
    seq = random_sequence(frames=2, bodies=1)
    seq.meta["body_ids"] = ["not-a-number"]
    with pytest.raises(ValueError, match="body_ids"):
        write_ntu(tmp_path / "y.skeleton", seq)
