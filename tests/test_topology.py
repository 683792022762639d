"""The topology registry: every entry is a valid tree with consistent landmarks and mirrored pairs."""

import numpy as np
import pytest

from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.formats.topology import TOPOLOGIES, from_hierarchy, get_topology, register

EXPECTED = {"ntu25": (25, 3), "ucla20": (20, 3), "coco17": (17, 2), "openpose18": (18, 2), "smpl22": (22, 3)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registry_entry_is_a_tree_with_landmarks(name):
    topology = get_topology(name)
    assert (topology.num_joints, topology.dims) == EXPECTED[name]
    assert len(topology.bones) == topology.num_joints - 1
    for joint in range(topology.num_joints):  # every joint reaches the root without cycles
        seen = set()
        while joint != topology.root:
            assert joint not in seen
            seen.add(joint)
            joint = topology.parents[joint]
    left_shoulder, right_shoulder = topology.shoulders
    assert "left" in topology.joint_names[left_shoulder] and "right" in topology.joint_names[right_shoulder]
    assert (left_shoulder, right_shoulder) in topology.left_right
    for left, right in topology.left_right:
        assert topology.joint_names[left].replace("left", "right") == topology.joint_names[right]


def test_unknown_topology_names_the_known_ones():
    with pytest.raises(KeyError, match="ntu25"):
        get_topology("kinect_v3")


def test_from_hierarchy_finds_landmarks_and_registers_once():
    names = ["Hips", "Spine", "Neck", "Head", "LeftShoulder", "LeftArm", "RightShoulder", "RightArm",
             "LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg"]
    parents = [-1, 0, 1, 2, 2, 4, 2, 6, 0, 8, 0, 10]
    topology = from_hierarchy("bvh_test", names, parents)
    assert get_topology("bvh_test") is topology
    # the shoulder joints proper (CMU's "LeftArm"; its "LeftShoulder" is the clavicle), the spine up to the head
    assert topology.shoulders == (5, 7) and topology.hips == (8, 10) and topology.root == 0
    assert topology.spine == (0, 1, 2, 3)
    assert (5, 7) in topology.left_right
    assert from_hierarchy("bvh_test", names, parents) == topology
    with pytest.raises(ValueError, match="already registered"):
        register(type(topology)(
            "bvh_test", tuple(names), tuple(parents), 2, 0, (0,), (4, 6), (8, 10), ()))


def test_sequence_rejects_arrays_that_do_not_match_the_topology():
    topology = TOPOLOGIES["ntu25"]
    with pytest.raises(ValueError, match="24"):
        SkeletonSequence(np.zeros((3, 1, 24, 3), np.float32), None, topology, 30.0)
    sequence = SkeletonSequence(np.zeros((3, 2, 25, 3), np.float32), None, topology, 30.0)
    sequence.joints[1, 0, 4] = 1.0
    assert sequence.bodies_per_frame().tolist() == [0, 1, 0]
