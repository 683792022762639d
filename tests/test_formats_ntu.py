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


def assert_bit_identical(a, b) -> None:
    """Two parser results (_Parsed) with the same counts, ids and bit-identical float64 values (-0.0 included)."""
    assert a.frames == b.frames and a.occ_id == b.occ_id and np.array_equal(a.occ_frame, b.occ_frame)
    for key in ("body_values", "joint_values"):
        x, y = getattr(a, key), getattr(b, key)
        assert x.shape == y.shape and np.array_equal(x.view(np.uint64), y.view(np.uint64)), key


def test_fast_reader_equals_baseline_and_takes_the_fast_path(tmp_path):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    write_ntu(path, random_sequence(frames=40, seed=3))
    data = path.read_bytes()
    fast, tokens = ntu._parse_fast(data), ntu._parse_tokens(data, path)  # the fast path handles writer output
    assert_bit_identical(fast, tokens)
    assert_same(read_ntu(path), parse_ntu_baseline(path))
    snippet = write_text(tmp_path, ntu_text([[body(ID_A, states=[1] * 25)], [], [body(ID_A), body(ID_B, 0.5)]]))
    assert_same(read_ntu(snippet), parse_ntu_baseline(snippet))


def test_read_ntu_takes_the_scanner_and_falls_back_only_on_irregular_input(tmp_path, monkeypatch):
    token_parser = ntu._parse_tokens
    calls = []

    def counting_token_parser(data, path):
        calls.append(path)
        return token_parser(data, path)

    monkeypatch.setattr(ntu, "_parse_tokens", counting_token_parser)
    written = tmp_path / "written.skeleton"
    write_ntu(written, random_sequence(frames=30, seed=5))
    assert read_ntu(written).meta["body_ids"] and calls == []  # the scanner read it, no fallback
    tabbed = write_text(tmp_path, ntu_text([[body(ID_A)]]).replace(" 250.5 ", "\t250.5 "), "tabbed.skeleton")
    assert read_ntu(tabbed).joints.shape == (1, 1, 25, 3) and calls == [tabbed]


def test_writer_output_of_extreme_values_is_read_bit_identically(tmp_path):
    """Tiny, huge, negative-zero and many-digit float32 values: the writer's shortest texts ("3.2e-7", "1e+20",
    "0.000012345678", "123456790", "-0") all stay on the scanner and read back exactly."""
    seq = random_sequence(frames=6, seed=9)
    rng = np.random.default_rng(9)
    extremes = np.float32([3.2e-7, -1.5e-12, 1.2345678e-5, 123456789.0, -1e20, 4.5e-21, -0.0, 0.1, 16777217.0])
    present = seq.meta["body_present"]
    seq.meta["joint_extra"][present] = rng.choice(extremes, size=(int(present.sum()), 25, 8))
    path = tmp_path / "extreme.skeleton"
    write_ntu(path, seq)
    data = path.read_bytes()
    assert b"e-" in data and b"e+" in data  # exponents were written
    fast = ntu._parse_fast(data)  # no _Irregular: the scanner converts exponents itself
    assert_bit_identical(fast, ntu._parse_tokens(data, path))
    back = read_ntu(path)
    assert np.array_equal(back.meta["joint_extra"].view(np.uint32), seq.meta["joint_extra"].view(np.uint32))


@pytest.mark.parametrize(
    "spellings,scanned",
    [
        (["1", "-0.5", "1e-3", "+2.5", "5.", ".5", "-0", "1E+2", "0.000012345678901", "-1234567.25", "2.5e-21"], True),
        (["0.123456789012345", "12345678.5", "9007199254740992", "-7.5E-1", "00012.5000", "1e22", "-0.0", "0.1",
          "3.785547", "1036.233", "-0.05349901"], True),
        (["123456789012345678", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"], False),  # mantissa > 2**53
        (["1e23", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"], False),  # beyond the exact power-of-ten range
        (["2.5e-22", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"], False),
        (["9007199254740993", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"], False),
    ],
)
def test_number_spellings_read_as_python_float_reads_them(tmp_path, spellings, scanned):
    """Hand-made joint coordinates in many spellings: bit-identical to float(); the scanner converts what is
    within the exact fast path (mantissa <= 2**53, power of ten within +-22) and leaves the rest to the baseline."""
    joints = [joint_line(j) for j in range(25)]
    joints[3] = " ".join(spellings) + " 2"
    block = [BODY_LINE.format(ID_A).replace(" 0.02764709 ", f" {spellings[1]} "), "25", *joints]
    path = write_text(tmp_path, ntu_text([[block]]))
    data = path.read_bytes()
    tokens = ntu._parse_tokens(data, path)
    expected = np.float64([float(v) for v in spellings])  # [11]
    assert np.array_equal(tokens.joint_values[0, 3, :11].view(np.uint64), expected.view(np.uint64))
    if scanned:
        assert_bit_identical(ntu._parse_fast(data), tokens)
    else:
        with pytest.raises(ntu._Irregular):
            ntu._parse_fast(data)
    assert_same(read_ntu(path), parse_ntu_baseline(path))


def test_unusual_but_valid_layouts_fall_back_to_the_baseline(tmp_path):
    text = ntu_text([[body(ID_A)], [body(ID_B)]])
    variants = {
        "lf-tab": text.replace("\r\n", "\n").replace(" 250.5 ", "  250.5\t"),
        "leading-spaces": text.replace("\r\n25\r\n", "\r\n  25\r\n"),
        "trailing-blank-lines": text + "\r\n\r\n  \r\n",
        "no-final-line-end": text.rstrip("\r\n"),
    }
    for name, variant in variants.items():
        path = write_text(tmp_path, variant, f"{name}.skeleton")
        if name in ("lf-tab", "leading-spaces"):
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
        ("blank-line", edit(10, "\r\n" + joint_line(5)), 10, "0 fields"),
        ("split-joint-line", edit(12, joint_line(7).replace(" 250.5 ", "\r\n 250.5 ", 1)), 12, "3 fields"),
        ("exponent-in-bad-line", edit(20, joint_line(15).replace("250.5", "2.5e+2 7")), 20, "13 fields"),
        ("long-number-bad-state", edit(21, joint_line(16).replace("250.5", "1234567890123456789") + "0"), 21, "state"),
        ("duplicate-then-fine", edit(58, BODY_LINE.format(ID_A).replace(" 0 1 1 ", " 1e-3 1 1 ")), 58, "twice"),
        # a deleted joint line: the body's joints end one line early, on the next count or body line
        ("missing-joint-before-count", edit(10, None), 29, f"joint line missing: body {ID_A} of frame 1 has 24 of "
         "25 joint lines (line 29 holds 1 field, a count line, where joint 25 was expected)"),
        ("missing-joint-before-body", edit(57, None), 57, f"joint line missing: body {ID_A} of frame 2 has 24 of "
         "25 joint lines (line 57 holds 10 fields, a body line, where joint 25 was expected)"),
        ("missing-first-joint-before-body", edit(33, None), 57, "body line, where joint 25 was expected"),
        ("missing-last-joint-of-the-file", edit(84, None), 84, "truncated: file ends where joint 25"),
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
