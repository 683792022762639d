"""DrAction: skinning geometry, framing, gradients to every parameter, determinism, bodies present and absent,
every topology kind, learning a colour on the moving limb, and the safetensors/json round trip.

Poses are real synthetic performances (the synth generator's kinematics seen through its format views),
normalized by the project's normalize_sequence, as prepare would store them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skeletonllm.data.normalize import normalize_sequence
from skeletonllm.data.synth.actions import SYNTH_CLASSES
from skeletonllm.data.synth.formats import humanml3d_sequence, kinetics_sequence, ntu_sequence, ucla_sequence
from skeletonllm.data.synth.scene import Sample, camera_for, perform
from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.formats.topology import from_hierarchy, get_topology
from skeletonllm.render.camera import frame_indices, intrinsics, sample_clip
from skeletonllm.render.draction import CONFIG_FILE, WEIGHTS_FILE, DrAction, DrActionConfig
from skeletonllm.render.gaussians import align_rotation, bone_transforms, make_layout, pose_gaussians, splat

SIZE, FRAMES = 48, 4
BVH_NAMES = ["Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot",
             "Spine2", "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder", "Head", "LeftArm",
             "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand"]  # smpl22 order, BVH names


def _performance(action: str, subject: int = 1):
    sample = Sample(SYNTH_CLASSES.index(action) + 1, subject, 1)
    return sample, perform(0, sample, 10, 30.0)


def clip_of(topology: str, action: str = "wave right hand") -> torch.Tensor:
    """Normalized joints float [1, T, 2, J, C] of a synthetic performance in the given topology."""
    sample, people = _performance(action)
    camera = camera_for(0, sample, 1)
    if topology == "ntu25":
        seq = ntu_sequence(0, sample, 1, camera, people)
    elif topology == "ucla20":
        seq = ucla_sequence(0, sample, 1, camera, people[0])
    elif topology == "smpl22":
        seq = humanml3d_sequence(0, sample, people[0])
    elif topology == "coco17":  # the Kinetics view's keypoints, picked by name into the COCO layout
        openpose = kinetics_sequence(0, sample, 1, camera, people)
        coco = get_topology("coco17")
        order = [openpose.topology.index(name) for name in coco.joint_names]
        seq = SkeletonSequence(openpose.joints[:, :, order], openpose.scores[:, :, order], coco, openpose.fps, {})
    elif topology == "bvh":
        smpl = humanml3d_sequence(0, sample, people[0])
        bvh = from_hierarchy("bvh_test_smpl", BVH_NAMES, list(smpl.topology.parents))
        seq = SkeletonSequence(smpl.joints, None, bvh, smpl.fps, {})
    else:
        raise KeyError(topology)
    return torch.from_numpy(normalize_sequence(seq).joints)[None]


def model_for(**kwargs) -> DrAction:
    return DrAction(DrActionConfig(frames=FRAMES, size=SIZE, backend="torch", **kwargs))


def project(points: torch.Tensor, viewmat: torch.Tensor, size: int) -> torch.Tensor:
    """float [..., 2] pixel coordinates (x, y) of world points [..., 3] under one clip's camera [4, 4]."""
    K = intrinsics(size, 60.0, 1)[0]
    cam = points @ viewmat[:3, :3].T + viewmat[:3, 3]
    return (cam @ K.T)[..., :2] / cam[..., 2:]


def alpha_centroid(alpha: torch.Tensor) -> torch.Tensor:
    """float [..., 2]: (x, y) centroid of alpha [..., H, W] in pixels."""
    height, width = alpha.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    total = alpha.sum((-2, -1))
    return torch.stack([(alpha * xs).sum((-2, -1)) / total, (alpha * ys).sum((-2, -1)) / total], -1)


def test_skinning_puts_samples_on_the_current_bones_and_turns_their_covariances():
    joints = clip_of("ntu25")
    topology = get_topology("ntu25")
    layout = make_layout(topology, 3)
    assert layout.num_gaussians == 25 + 3 * 24
    clip = sample_clip(joints, topology, FRAMES, 60.0)
    means, covs = pose_gaussians(layout, clip.points, clip.canonical)  # [1, F, 2, N, 3], [..., 3, 3]
    t = layout.t[:, None]
    expected = (1 - t) * clip.points[..., layout.start, :] + t * clip.points[..., layout.end, :]
    torch.testing.assert_close(means, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(means[..., :25, :], clip.points)  # joint Gaussians sit on their joints
    # a bone sample's longest axis follows the bone as posed now, not as in the template
    bone = layout.num_gaussians - 1  # a sample of the last bone
    direction = clip.points[0, -1, 0, layout.end[bone]] - clip.points[0, -1, 0, layout.start[bone]]
    axis = torch.linalg.eigh(covs[0, -1, 0, bone]).eigenvectors[:, -1]
    assert abs(float(axis @ direction / direction.norm())) > 0.999
    # supplying the shortest-arc rotations (as a format with joint orientations would) gives the same pose
    before = clip.canonical[:, None, :, layout.children] - clip.canonical[:, None, :, layout.parents]
    after = clip.points[..., layout.children, :] - clip.points[..., layout.parents, :]
    rotations = align_rotation((before / before.norm(dim=-1, keepdim=True).clamp_min(1e-8)).expand_as(after),
                               after / after.norm(dim=-1, keepdim=True).clamp_min(1e-8))
    assert torch.allclose(bone_transforms(layout, clip.points, clip.canonical, rotations),
                          bone_transforms(layout, clip.points, clip.canonical))
    flip = align_rotation(torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, -1.0, 0.0]))
    torch.testing.assert_close(flip @ torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, -1.0, 0.0]))
    torch.testing.assert_close(torch.linalg.det(flip), torch.tensor(1.0))


def test_frames_are_sampled_uniformly_up_to_the_last_body():
    present = torch.zeros(2, 30, 2, dtype=torch.bool)
    present[0, :] = True
    present[1, :21, 0] = True  # the second clip is zero-padded after frame 20
    assert frame_indices(present, 5).tolist() == [[0, 7, 14, 22, 29], [0, 5, 10, 15, 20]]


def test_a_loss_on_the_image_reaches_every_parameter():
    model = model_for()
    joints = clip_of("ntu25", "shake hands")  # two bodies, so both body embeddings are used
    images = model(joints, "ntu25")
    assert images.shape == (1, FRAMES, 3, SIZE, SIZE)
    (images - 0.3).square().mean().backward()
    names = {name for name, _ in model.named_parameters()}
    assert {"encoder.weight", "body_embedding", "depth_mix"} <= names and any(n.startswith("nfm.") for n in names)
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().max() > 0, name


def test_rendering_is_deterministic():
    joints = clip_of("ntu25", "shake hands")
    first, second = model_for()(joints, "ntu25"), model_for()(joints, "ntu25")
    assert torch.equal(first, second)
    assert not torch.equal(first, model_for(seed=1)(joints, "ntu25"))  # the seed sets the parameters


def test_two_bodies_both_render():
    joints = clip_of("ntu25", "walk towards each other")
    model, topology = model_for(), get_topology("ntu25")
    with torch.no_grad():
        _, alpha = model.render(joints, topology)  # [1, F, H, W]
    clip = sample_clip(joints, topology, FRAMES, 60.0)
    spine = topology.spine[1]
    centres = project(clip.points[0, :, :, spine], clip.viewmat[0], SIZE).round().long()  # [F, 2, 2]
    assert (centres[:, 0] - centres[:, 1]).abs().amax() > 6  # the bodies are apart in the image
    for frame in range(FRAMES):
        for body in range(2):
            x, y = centres[frame, body].tolist()
            assert alpha[0, frame, y - 1 : y + 2, x - 1 : x + 2].max() > 0.5, (frame, body)


def test_an_absent_body_renders_nothing():
    joints = clip_of("ntu25")  # one performer: the second slot is all zeros
    assert joints[:, :, 1].abs().max() == 0 and joints[:, :, 0].abs().max() > 0
    model = model_for()
    with torch.no_grad():
        torch.testing.assert_close(model(joints, "ntu25"), model(joints[:, :, :1], "ntu25"), atol=1e-6, rtol=0)
        partner = clip_of("ntu25", "shake hands")[:, :, 1:]  # a real second body changes the picture
        length = min(joints.shape[1], partner.shape[1])
        both = torch.cat([joints[:, :length, :1], partner[:, :length]], 2)
        assert not torch.allclose(model(both, "ntu25"), model(both[:, :, :1], "ntu25"), atol=1e-3)


@pytest.mark.parametrize("topology", ["ntu25", "ucla20", "coco17", "smpl22", "bvh"])
def test_every_topology_renders_a_centred_body(topology):
    joints = clip_of(topology)
    name = "bvh_test_smpl" if topology == "bvh" else topology
    model = model_for()
    with torch.no_grad():
        images = model(joints, name)
        _, alpha = model.render(joints, name)
    assert images.shape == (1, FRAMES, 3, SIZE, SIZE) and torch.isfinite(images).all()
    coverage = alpha.mean((-2, -1))  # [1, F]
    assert (coverage > 0.01).all() and (coverage < 0.5).all()
    offsets = (alpha_centroid(alpha) - SIZE / 2).abs()  # [1, F, 2]
    assert offsets.max() < 0.15 * SIZE


def test_fitting_learns_a_colour_on_the_moving_limb():
    size, frames = 32, 3
    model = DrAction(DrActionConfig(frames=frames, size=size, backend="torch", num_line_samples=4))
    topology = get_topology("ntu25")
    joints = clip_of("ntu25", "wave right hand")[:, :, :1]
    clip = sample_clip(joints, topology, frames, 60.0, 1)
    layout = model.layout(topology)
    means, covs = pose_gaussians(layout, clip.points, clip.canonical)
    travel = clip.points[0, 1:, 0].sub(clip.points[0, :-1, 0]).norm(dim=-1).sum(0)  # [J] path length per joint
    moving = travel > 0.5 * travel.max()  # the waving arm's joints
    assert moving[topology.index("right hand")] and not moving[topology.index("left hand")]
    on_limb = moving[layout.end] & moving[layout.start]  # [N]
    colors = torch.where(on_limb[:, None], torch.tensor([1.0, 0.1, 0.1]), torch.tensor([0.8, 0.8, 0.8]))
    K = intrinsics(size, 60.0, 1)
    target, _ = splat(means.flatten(2, 3), covs.flatten(2, 3), colors.expand(*means.shape[:-1], 3).flatten(2, 3),
                      torch.full(means.shape[:-1], 0.95).flatten(2, 3), K, clip.viewmat, size, "torch")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        loss = (model.render(joints, topology)[0] - target).square().mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"fit loss {losses[0]:.3g} -> {losses[-1]:.3g}")
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def test_save_and_load_give_identical_output(tmp_path):
    joints = clip_of("bvh")
    model = model_for(seed=3)
    with torch.no_grad():
        model.encoder.bias.add_(0.25)  # weights that differ from any fresh initialisation
        expected = model(joints, "bvh_test_smpl")
    model.save(tmp_path / "weights")
    assert (tmp_path / "weights" / WEIGHTS_FILE).is_file() and (tmp_path / "weights" / CONFIG_FILE).is_file()
    loaded = DrAction.load(tmp_path / "weights")
    assert loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(loaded(joints, "bvh_test_smpl"), expected)
    with pytest.raises(FileNotFoundError, match="draction.json: missing"):
        DrAction.load(tmp_path)
    (tmp_path / "weights" / CONFIG_FILE).write_text('{"config": {"topology": "ntu25", "frames": 4}}')
    with pytest.raises(ValueError, match="tied to one topology"):  # weights of the old per-topology DrAction
        DrAction.load(tmp_path / "weights")


def test_bad_input_is_refused_clearly():
    model = model_for()
    joints = clip_of("ntu25")
    with pytest.raises(ValueError, match="J=25, C=3"):
        model(joints[..., :20, :], "ntu25")
    with pytest.raises(ValueError, match="1..2 bodies"):
        model(torch.cat([joints, joints[:, :, :1]], 2), "ntu25")
    with pytest.raises(ValueError, match="non-finite"):
        model(joints * np.nan, "ntu25")
    with pytest.raises(KeyError, match="unknown topology 'kinect99'"):
        model(joints, "kinect99")
    with pytest.raises(ValueError, match="mean and std"):
        DrActionConfig(std=(0.2, 0.2, 0.0))
