"""Renderer factory: every renderer keeps the output contract (3D and 2D poses, zero-padded batches), and each
fixed baseline shows what it promises: speed colours, limb colours, trajectories accumulating over time."""

from __future__ import annotations

import pytest
import torch
from test_draction import clip_of, project

from skeletonllm.formats.topology import get_topology
from skeletonllm.render.camera import sample_clip
from skeletonllm.render.renderers import RENDERERS, hue_to_rgb, limb_ids, make_renderer

SIZE, FRAMES = 40, 4
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def padded_batch(topology: str) -> torch.Tensor:
    """float [2, T, 2, J, C]: two real clips, the shorter zero-padded at the end (as a batch collates them)."""
    first, second = clip_of(topology, "wave right hand"), clip_of(topology, "kick with left leg")
    length = max(first.shape[1], second.shape[1])
    batch = torch.zeros(2, length, *first.shape[2:])
    batch[0, : first.shape[1]], batch[1, : second.shape[1]] = first[0], second[0]
    return batch


@pytest.mark.parametrize("topology", ["ntu25", "coco17"])
@pytest.mark.parametrize("name", RENDERERS)
def test_every_renderer_keeps_the_output_contract(name, topology):
    renderer = make_renderer(name, frames=FRAMES, size=SIZE, backend="torch")
    assert isinstance(renderer, torch.nn.Module)
    joints = padded_batch(topology)
    with torch.no_grad():
        images = renderer(joints, topology)
        rgb, alpha = renderer.render(joints, topology)
    assert images.shape == (2, FRAMES, 3, SIZE, SIZE) and images.dtype == torch.float32
    assert torch.isfinite(images).all()
    mean, std = torch.tensor(MEAN).reshape(3, 1, 1), torch.tensor(STD).reshape(3, 1, 1)
    torch.testing.assert_close(images, (rgb - mean) / std)  # normalized with the vision tower's mean/std
    background = (alpha == 0)[:, :, None].expand_as(images)  # nothing drawn: black, normalized
    torch.testing.assert_close(images[background], ((0 - mean) / std).expand_as(images)[background])
    assert (alpha.amax((-2, -1)) > 0.5).all()  # every frame of both clips shows the body
    with torch.no_grad():  # the zero padding changes nothing: clip 0 alone renders the same
        alone = renderer(joints[:1, : int(joints[0].flatten(1).any(1).nonzero().max()) + 1], topology)
    torch.testing.assert_close(alone, images[:1], atol=1e-5, rtol=0)


def test_fixed_renderers_have_no_parameters_and_draction_does():
    for name in RENDERERS:
        renderer = make_renderer(name, frames=FRAMES, size=SIZE)
        assert (sum(p.numel() for p in renderer.parameters()) > 0) == name.startswith("draction"), name
    assert make_renderer("draction").nfm is not None and make_renderer("draction_no_nfm").nfm is None
    with pytest.raises(ValueError, match="unknown renderer 'depth'"):
        make_renderer("depth")


def test_hues_and_limbs():
    torch.testing.assert_close(hue_to_rgb(torch.tensor([0.0, 1 / 3, 2 / 3])), torch.eye(3))
    topology = get_topology("ntu25")
    limbs = limb_ids(topology)
    legs = [[limbs[topology.index(f"{side} {part}")] for part in ("hip", "knee", "ankle", "foot")]
            for side in ("left", "right")]
    assert len(set(legs[0])) == 1 and len(set(legs[1])) == 1 and legs[0][0] != legs[1][0]


def _colour_at(rgb: torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
    x, y = pixel.round().long().tolist()
    return rgb[:, y, x]


def test_3d_velocity_paints_the_waving_hand_fast_and_the_feet_slow():
    joints = clip_of("ntu25", "wave right hand")[:, :, :1]
    frames = 12
    renderer = make_renderer("3d_velocity", frames=frames, size=64, backend="torch")
    topology = get_topology("ntu25")
    with torch.no_grad():
        rgb, _ = renderer.render(joints, topology)  # [1, F, 3, H, W]
    clip = sample_clip(joints, topology, frames, 60.0, 1)

    def red_minus_blue(joint: str) -> torch.Tensor:  # [F] at the joint's pixel in every frame
        pixels = project(clip.points[0, :, 0, topology.index(joint)], clip.viewmat[0], 64)  # [F, 2]
        colours = torch.stack([_colour_at(rgb[0, f], pixels[f]) for f in range(frames)])  # [F, 3]
        return colours[:, 0] - colours[:, 2]

    assert red_minus_blue("right wrist").max() > 0.5  # the waving wrist turns red when it is fastest
    assert (red_minus_blue("left ankle") < -0.5).all()  # the standing foot stays blue throughout


def test_2d_projection_gives_each_limb_its_own_constant_colour():
    joints = clip_of("ntu25", "wave right hand")[:, :, :1]
    renderer = make_renderer("2d_projection", frames=2, size=64, backend="torch")
    topology = get_topology("ntu25")
    with torch.no_grad():
        rgb, _ = renderer.render(joints, topology)
    clip = sample_clip(joints, topology, 2, 60.0, 1)
    knees = [project(clip.points[0, 0, 0, topology.index(f"{side} knee")], clip.viewmat[0], 64)
             for side in ("left", "right")]
    left, right = (_colour_at(rgb[0, 0], pixel) for pixel in knees)
    assert (left - right).abs().max() > 0.2
    later = project(clip.points[0, 1, 0, topology.index("left knee")], clip.viewmat[0], 64)
    torch.testing.assert_close(_colour_at(rgb[0, 1], later), left, atol=0.05, rtol=0)  # constant per limb


def test_jtm_accumulates_trajectories_with_time_hues():
    joints = clip_of("ntu25", "wave right hand")[:, :, :1]
    renderer = make_renderer("jtm", frames=5, size=64, backend="torch")
    with torch.no_grad():
        rgb, alpha = renderer.render(joints, "ntu25")  # [1, 5, 3, H, W], [1, 5, H, W]
    coverage = (alpha[0] > 0.05).sum((-2, -1))  # [F]
    assert (coverage[1:] >= coverage[:-1]).all() and coverage[-1] > coverage[0]
    first, last = rgb[0, 0], rgb[0, -1]
    lit_first = alpha[0, 0] > 0.5
    assert (first[0][lit_first] > first[2][lit_first]).all()  # frame 0: only the start of time, red
    assert (last[2] > last[0] + 0.3).any()  # the last frame also holds late, violet-blue samples
