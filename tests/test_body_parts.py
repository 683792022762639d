"""The shared body vocabulary: every topology's joints map onto the same parts and sides, by name or, for a rig
whose names say nothing, by the geometry of its rest pose; DrAction's descriptors are built from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skeletonllm.data.normalize import normalize_sequence
from skeletonllm.data.synth.actions import SYNTH_CLASSES
from skeletonllm.data.synth.formats import humanml3d_sequence
from skeletonllm.data.synth.scene import Sample, perform
from skeletonllm.formats.body_parts import PARTS, SIDES, joint_labels, name_kind, needs_geometry
from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.formats.topology import TOPOLOGIES, from_hierarchy, get_topology
from skeletonllm.render.descriptors import DESCRIPTOR_DIM, gaussian_descriptors
from skeletonllm.render.draction import DrAction, DrActionConfig
from skeletonllm.render.gaussians import make_layout

CMU_NAMES = ["Hips", "LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RHipJoint", "RightUpLeg",
             "RightLeg", "RightFoot", "RightToeBase", "LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head",
             "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftFingerBase", "LeftHandIndex1", "LThumb",
             "RightShoulder", "RightArm", "RightForeArm", "RightHand", "RightFingerBase", "RightHandIndex1", "RThumb"]
CMU_PARENTS = [-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 15, 13, 17, 18, 19, 20, 21, 20, 13, 24, 25, 26,
               27, 28, 27]
# (joint in Kinect/SMPL words, CMU BVH name whose incoming bone is the same segment) -> part
SAME_SEGMENT = {("left elbow", "LeftForeArm"): "upper arm", ("left wrist", "LeftHand"): "forearm",
                ("right knee", "RightLeg"): "thigh", ("right ankle", "RightFoot"): "shin", ("head", "Head"): "head"}


def _labels(topology, name):
    parts, sides = joint_labels(topology)
    index = topology.index(name)
    return parts[index], sides[index]


def test_every_registered_topology_speaks_the_shared_vocabulary():
    cmu = from_hierarchy("bvh_test_cmu", CMU_NAMES, CMU_PARENTS)
    for topology in [*TOPOLOGIES.values()]:
        parts, sides = joint_labels(topology)
        assert set(parts) <= set(PARTS) and set(sides) <= set(SIDES), topology.name
        assert not needs_geometry(topology), topology.name  # every name says what the joint is
    for (kinect, bvh), part in SAME_SEGMENT.items():
        side = "left" if "left" in kinect else "right" if "right" in kinect else "centre"
        for name in ("ntu25", "ucla20", "smpl22"):
            if kinect in get_topology(name).joint_names:
                assert _labels(get_topology(name), kinect) == (part, side), (name, kinect)
        assert _labels(cmu, bvh) == (part, side), bvh
    assert _labels(get_topology("coco17"), "left knee") == ("thigh", "left")
    assert _labels(get_topology("openpose18"), "right wrist") == ("forearm", "right")
    assert _labels(get_topology("openpose18"), "nose") == ("head", "centre")
    assert cmu.shoulders == (CMU_NAMES.index("LeftArm"), CMU_NAMES.index("RightArm"))
    assert cmu.spine[0] == 0 and CMU_NAMES[cmu.spine[-1]] == "Head"
    assert name_kind("mixamorig:LeftForeArm") == "elbow" and name_kind("joint_7") == "unknown"


def _anonymous_smpl():
    """A HumanML3D-shaped body whose joint names say nothing, and the same body with SMPL's names."""
    sample = Sample(SYNTH_CLASSES.index("wave right hand") + 1, 1, 1)
    named = normalize_sequence(humanml3d_sequence(0, sample, perform(0, sample, 10, 30.0)[0]))
    smpl = named.topology
    anonymous = from_hierarchy("bvh_test_anonymous", [f"joint{i}" for i in range(smpl.num_joints)],
                               list(smpl.parents))
    return named, SkeletonSequence(named.joints, None, anonymous, named.fps, {})


def test_a_rig_without_telling_names_is_read_from_its_rest_pose():
    named, anonymous = _anonymous_smpl()
    assert needs_geometry(anonymous.topology)
    rest = anonymous.joints[0, 0]  # [J, 3] canonical frame: y up, the body's right at +x
    geometric, named_labels = joint_labels(anonymous.topology, rest), joint_labels(named.topology)
    smpl = named.topology
    for joint in ("left knee", "right ankle", "head", "left elbow", "right wrist"):
        index = smpl.index(joint)
        assert geometric[0][index] == named_labels[0][index], joint  # the same part
        assert geometric[1][index] == named_labels[1][index], joint  # and side
    agree = np.mean([g == n for g, n in zip(geometric[0], named_labels[0])])
    assert agree >= 0.75  # the spine's split into torso/neck is the geometry's best guess


def test_descriptors_have_one_width_for_every_topology_and_draction_draws_any_rig():
    named, anonymous = _anonymous_smpl()
    joints = torch.from_numpy(named.joints)[None]  # [1, T, 2, 22, 3]
    for seq in (named, anonymous):
        layout = make_layout(seq.topology, 3)
        descriptors = gaussian_descriptors(layout, joints[:, 0], planar=False)  # [1, 2, N, K]
        assert descriptors.shape == (1, 2, layout.num_gaussians, DESCRIPTOR_DIM)
        one_hot = descriptors[0, 0, :, : len(PARTS) + len(SIDES)]
        assert torch.equal(one_hot.sum(-1), torch.full((layout.num_gaussians,), 2.0))  # one part, one side each
        head = seq.topology.index("head") if "head" in seq.topology.joint_names else 15
        height = descriptors[0, 0, :, -2]
        assert height[head] == height.max()  # the head is the highest point of the rest pose
    model = DrAction(DrActionConfig(frames=2, size=32, backend="torch"))
    shapes = {name: tuple(p.shape) for name, p in model.state_dict().items()}
    with torch.no_grad():
        images = model(joints, anonymous.topology)
    assert images.shape == (1, 2, 3, 32, 32) and torch.isfinite(images).all()
    assert {name: tuple(p.shape) for name, p in model.state_dict().items()} == shapes  # nothing grew per topology


@pytest.mark.parametrize("topology", ["ntu25", "ucla20", "smpl22", "coco17", "openpose18"])
def test_left_and_right_pairs_get_opposite_sides(topology):
    topology = get_topology(topology)
    _, sides = joint_labels(topology)
    assert topology.left_right
    for left, right in topology.left_right:
        assert (sides[left], sides[right]) == ("left", "right"), topology.joint_names[left]
