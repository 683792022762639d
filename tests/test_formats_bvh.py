"""BVH: hierarchy parsing, forward kinematics under any channel and rotation order, topology, a leading rest
T-pose, fps rounding, errors."""

from __future__ import annotations

import numpy as np
import pytest

from skeletonllm.data.synth.formats import humanml3d_sequence
from skeletonllm.data.synth.scene import Sample, perform
from skeletonllm.formats import SkeletonFormatError, detect_format, get_topology, read, round_fps
from skeletonllm.formats.bvh_writer import write_bvh

BVH = """HIERARCHY
ROOT Hips
{
\tOFFSET 0.0 0.0 0.0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Spine
\t{
\t\tOFFSET 0.0 10.0 0.0
\t\tCHANNELS 3 %(spine)s
\t\tJOINT Head
\t\t{
\t\t\tOFFSET 0.0 5.0 0.0
\t\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 0.0 3.0 0.0
\t\t\t}
\t\t}
\t}
\tJOINT LeftUpLeg
\t{
\t\tOFFSET 2.0 0.0 0.0
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.0 -8.0 0.0
\t\t}
\t}
}
MOTION
Frames: %(frames)d
Frame Time: 0.0333333
%(motion)s
"""
REST = "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"


def bvh_file(tmp_path, motion: list[str], spine: str = "Zrotation Xrotation Yrotation", name: str = "clip.bvh",
             frames: int | None = None):
    path = tmp_path / name
    text = BVH % {"spine": spine, "frames": len(motion) if frames is None else frames, "motion": "\n".join(motion)}
    path.write_text(text)
    return path


def test_hierarchy_topology_and_forward_kinematics(tmp_path):
    # frame 1: root moved to (1, 2, 3) and turned 90 degrees about z (x -> y, y -> -x); frame 2: the rest pose
    path = bvh_file(tmp_path, ["1 2 3 90 0 0 0 0 0 0 0 0 0 0 0", REST])
    assert detect_format(path) == "bvh"
    seq = read(path)
    assert seq.meta["format"] == "bvh" and seq.fps == 30.0  # Frame Time 0.0333333
    assert seq.topology.joint_names == ("Hips", "Spine", "Head", "LeftUpLeg")  # End Sites are not joints
    assert seq.topology.parents == (-1, 0, 1, 0) and seq.topology.dims == 3
    assert seq.joints.shape == (2, 1, 4, 3) and seq.scores is None
    assert np.allclose(seq.joints[0, 0], [[1, 2, 3], [-9, 2, 3], [-14, 2, 3], [1, 4, 3]], atol=1e-5)
    assert np.allclose(seq.joints[1, 0], [[0, 0, 0], [0, 10, 0], [0, 15, 0], [2, 0, 0]])
    assert seq.meta["dropped_rest_frame"] is False and seq.meta["warnings"] == []


def test_a_leading_rest_t_pose_is_dropped_and_reported(tmp_path):
    """A CMU-style file (the T-pose, all channels zero, as frame 1) reads like the same motion written without it."""
    seq = humanml3d_sequence(0, Sample(1, 1, 1), perform(0, Sample(1, 1, 1), 10, 20.0)[0])
    cmu, plain = tmp_path / "cmu.bvh", tmp_path / "plain.bvh"
    write_bvh(cmu, seq, rest_frame=True)
    write_bvh(plain, seq)
    assert f"Frames: {seq.num_frames + 1}" in cmu.read_text()
    with_rest, without = read(cmu), read(plain)
    assert with_rest.num_frames == without.num_frames == seq.num_frames
    assert np.array_equal(with_rest.joints, without.joints)
    order = [with_rest.topology.joint_names.index(name.replace(" ", "_")) for name in seq.topology.joint_names]
    assert np.allclose(with_rest.joints[:, :, order], seq.joints, atol=1e-4)  # the file lists joints depth-first
    assert with_rest.meta["dropped_rest_frame"] is True
    assert with_rest.meta["warnings"] == ["frame 1 is a rest T-pose (all rotations zero); dropped"]
    assert without.meta["dropped_rest_frame"] is False and without.meta["warnings"] == []


@pytest.mark.parametrize("motion,frames,dropped", [
    ([REST, "0 0 0 0 -0.00001 0 30 0 0 0 0 0 0 0 0"], 1, True),  # within the tolerance of zero
    ([REST.replace("0", "0.00001"), "0 0 0 0 0 0 30 0 0 0 0 0 0 0 0"], 1, True),
    ([REST], 1, False),  # the only frame
    ([REST, REST, REST], 3, False),  # no motion after it
    ([REST, "1 2 3 0 0 0 0 0 0 0 0 0 0 0 0"], 2, False),  # the root moves, nothing ever rotates
    (["0 0 0 0 0 0 0.001 0 0 0 0 0 0 0 0", "0 0 0 0 0 0 30 0 0 0 0 0 0 0 0"], 2, False),  # frame 1 rotates
    ([REST, REST, "0 0 0 0 0 0 30 0 0 0 0 0 0 0 0"], 3, False),  # only a lone leading rest frame is dropped
])
def test_rest_frame_is_dropped_only_before_motion(tmp_path, motion, frames, dropped):
    seq = read(bvh_file(tmp_path, motion))
    assert (seq.num_frames, seq.meta["dropped_rest_frame"]) == (frames, dropped)
    assert any("rest T-pose" in warning for warning in seq.meta["warnings"]) == dropped


@pytest.mark.parametrize("fps,expected", [
    (1 / 0.0083333, 120.0), (1 / 0.033333, 30.0), (1 / 0.008333, 120.0), (20.0, 20.0), (119.95, 120.0),
    (29.97, None), (1 / (1 / 29.97), None), (59.94, None), (119.9, None), (0.5, None),  # None: kept as it is
])
def test_round_fps_snaps_to_an_integer_within_0_05_percent(fps, expected):
    assert round_fps(fps) == (fps if expected is None else expected)


@pytest.mark.parametrize("frame_time,fps", [("0.0083333", 120.0), ("0.033333", 30.0), ("0.0333667", 1 / 0.0333667)])
def test_fps_from_frame_time_is_rounded(tmp_path, frame_time, fps):
    path = bvh_file(tmp_path, ["1 2 3 90 0 0 0 0 0 0 0 0 0 0 0"])
    path.write_text(path.read_text().replace("Frame Time: 0.0333333", f"Frame Time: {frame_time}"))
    seq = read(path)
    assert seq.fps == fps and seq.meta["frame_time"] == float(frame_time)


@pytest.mark.parametrize("order,angles,head", [
    ("Zrotation Xrotation Yrotation", {"z": 90, "x": 90, "y": 0}, (0, 10, 5)),
    ("Xrotation Zrotation Yrotation", {"z": 90, "x": 90, "y": 0}, (-5, 10, 0)),
    ("Yrotation Xrotation Zrotation", {"y": 90, "x": 90, "z": 0}, (5, 10, 0)),
    ("Xrotation Yrotation Zrotation", {"y": 90, "x": 90, "z": 0}, (0, 10, 5)),
])
def test_rotation_order_is_honoured(tmp_path, order, angles, head):
    spine_values = " ".join(str(angles[channel[0].lower()]) for channel in order.split())
    path = bvh_file(tmp_path, [f"0 0 0 0 0 0 {spine_values} 0 0 0 0 0 0"], spine=order)
    assert np.allclose(read(path).joints[0, 0, 2], head, atol=1e-5)


def test_position_channels_in_any_order(tmp_path):
    text = (BVH % {"spine": "Xposition Zrotation Yposition", "frames": 1,
                   "motion": "0 0 0 0 0 0 4 90 1 0 0 0 0 0 0"})
    text = text.replace("CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation",
                        "CHANNELS 6 Zrotation Xrotation Yrotation Xposition Yposition Zposition")
    path = tmp_path / "positions.bvh"
    path.write_text(text)
    seq = read(path)
    # spine: offset (0, 10, 0) + positions (4, 1, 0); then its z-rotation turns the head offset to (-5, 0, 0)
    assert np.allclose(seq.joints[0, 0, 1], [4, 11, 0]) and np.allclose(seq.joints[0, 0, 2], [-1, 11, 0], atol=1e-5)


def test_topology_name_is_stable_and_follows_the_hierarchy(tmp_path):
    first = read(bvh_file(tmp_path, [REST], name="a.bvh"))
    second = read(bvh_file(tmp_path, [REST, REST], name="b.bvh"))
    assert first.topology.name == second.topology.name and first.topology.name.startswith("bvh_")
    assert get_topology(first.topology.name) == first.topology  # registered
    renamed = tmp_path / "c.bvh"
    renamed.write_text((tmp_path / "a.bvh").read_text().replace("LeftUpLeg", "LeftThigh"))
    assert read(renamed).topology.name != first.topology.name
    assert first.topology.hips[0] == first.topology.index("LeftUpLeg")


@pytest.mark.parametrize("motion,frames,line,reason", [  # the motion lines start at line 33
    ([REST], 2, 34, "truncated: 1 of 2 frames"),
    ([REST, "0 0 0 0 0 0 0 0 0 0 0 0 0 0"], None, 34, "14 values, expected 15"),
    ([REST, REST.replace("0", "abc", 1)], None, 34, "unparsable number 'abc'"),
    ([REST.replace("0", "nan", 1)], None, 33, "non-finite"),
    ([REST, REST, REST], 2, 35, "more motion lines"),
])
def test_bad_motion_is_an_error_with_its_line(tmp_path, motion, frames, line, reason):
    path = bvh_file(tmp_path, motion, frames=frames)
    with pytest.raises(SkeletonFormatError) as raised:
        read(path)
    assert (raised.value.path, raised.value.line) == (str(path), line), raised.value
    assert reason in raised.value.reason


@pytest.mark.parametrize("edit,line,reason", [
    (lambda t: t.replace("3 Zrotation Xrotation Yrotation\n\t\tJOINT", "3 Wrotation Xrotation Yrotation\n\t\tJOINT"),
     9, "unknown channel 'wrotation'"),
    (lambda t: t.replace("OFFSET 2.0 0.0 0.0", "OFFSET 2.0 zero 0.0"), 22, "unparsable OFFSET value 'zero'"),
    (lambda t: t[: t.index("MOTION")], 29, "no MOTION section"),  # named at the last line
    (lambda t: t.replace("\t}\n}\nMOTION", "MOTION"), 27, "truncated"),  # two closing braces cut
])
def test_bad_hierarchy_is_an_error_with_its_line(tmp_path, edit, line, reason):
    path = tmp_path / "bad.bvh"
    path.write_text(edit(BVH % {"spine": "Zrotation Xrotation Yrotation", "frames": 1, "motion": REST}))
    with pytest.raises(SkeletonFormatError) as raised:
        read(path)
    assert raised.value.line == line and reason in raised.value.reason, raised.value
