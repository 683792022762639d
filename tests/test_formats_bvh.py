"""BVH: hierarchy parsing, forward kinematics under any channel and rotation order, topology, errors."""

from __future__ import annotations

import numpy as np
import pytest

from skeletonllm.formats import SkeletonFormatError, detect_format, get_topology, read

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
    # frame 2: root moved to (1, 2, 3) and turned 90 degrees about z (x -> y, y -> -x)
    path = bvh_file(tmp_path, [REST, "1 2 3 90 0 0 0 0 0 0 0 0 0 0 0"])
    assert detect_format(path) == "bvh"
    seq = read(path)
    assert seq.meta["format"] == "bvh" and seq.fps == pytest.approx(1 / 0.0333333)
    assert seq.topology.joint_names == ("Hips", "Spine", "Head", "LeftUpLeg")  # End Sites are not joints
    assert seq.topology.parents == (-1, 0, 1, 0) and seq.topology.dims == 3
    assert seq.joints.shape == (2, 1, 4, 3) and seq.scores is None
    assert np.allclose(seq.joints[0, 0], [[0, 0, 0], [0, 10, 0], [0, 15, 0], [2, 0, 0]])
    assert np.allclose(seq.joints[1, 0], [[1, 2, 3], [-9, 2, 3], [-14, 2, 3], [1, 4, 3]], atol=1e-5)


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
