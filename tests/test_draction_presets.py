"""DrAction's starting-point settings: Gaussian shape and size, initial depth-colour share, depth range and opacity,
and the named presets ("ours", the defaults; "official", the paper's released code) that config files ask for.

Poses are the synthetic performances of test_draction (normalized as prepare stores them); a two-joint probe body
isolates one Gaussian on the image's centre pixel.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_draction import FRAMES, clip_of, model_for

from skeletonllm.formats.topology import Topology, get_topology
from skeletonllm.render.base import DRACTION_PRESETS, DrActionConfig, draction_preset, sigmoid
from skeletonllm.render.camera import camera_depth
from skeletonllm.render.descriptors import gaussian_descriptors
from skeletonllm.render.draction import CONFIG_FILE, FAR_COLOR, NEAR_COLOR, DrAction, depth_fraction
from skeletonllm.render.gaussians import TORSO_METRES, make_layout, pose_gaussians

TODAY = {"gaussian_shape": "bone", "gaussian_size": 0.02, "depth_share": 1.0 / (1.0 + math.exp(2.0)),
         "depth_range": "clip", "opacity": 1.0 / (1.0 + math.exp(-2.0))}  # the settings before presets existed
PROBE = Topology("probe_two_joints", ("pelvis", "head"), (-1, 0), 3, 0, (0, 1), (0, 0), (0, 0), ())
PROBE_SIZE = 49  # odd, so the framed centre (where the probe's bone sample sits) is a pixel centre


def appearance_of(model: DrAction, joints: torch.Tensor, topology: Topology):
    """(clip, means [B, F, M, N, 3], colors [B, F, M, N, 3], alpha [B, F, M, N]) of the model's Gaussians."""
    clip = model.sample(joints, topology)
    layout = model.layout(topology)
    means, _ = pose_gaussians(layout, clip.points, clip.canonical)
    descriptors = gaussian_descriptors(layout, clip.canonical, topology.dims == 2)
    colors, alpha = model.appearance(clip, means, descriptors)
    return clip, means, colors, alpha


def at_depth_extreme(colors: torch.Tensor, depth: torch.Tensor, pick) -> torch.Tensor:
    """float [B, F, M, 3]: colors [B, F, M, N, 3] of each body's Gaussian at pick(depth [B, F, M, N]) (argmin/max)."""
    index = pick(depth, -1)[..., None, None].expand(*depth.shape[:-1], 1, 3)  # [B, F, M, 1, 3]
    return colors.gather(3, index)[..., 0, :]


def test_defaults_are_todays_settings_bit_for_bit():
    config = DrActionConfig()
    assert {name: getattr(config, name) for name in TODAY} == TODAY
    assert draction_preset("ours") == {}
    model = model_for()
    assert model.depth_mix.item() == -2.0 and model.head[-1].bias[3].item() == 2.0
    assert make_layout(get_topology("ntu25"), 3).shape == "bone"
    explicit = model_for(**TODAY)
    for topology in ("ntu25", "coco17"):
        joints = clip_of(topology)
        with torch.no_grad():
            for ours, today in zip(model.render(joints, topology), explicit.render(joints, topology)):
                assert torch.equal(ours, today), topology


@pytest.mark.parametrize("topology, std", [("ntu25", 0.03), ("coco17", 0.03 / TORSO_METRES)])
def test_isotropic_gaussians_are_spheres_of_the_configured_std(topology, std):
    """3D poses are in metres; 2D poses in torso lengths, so the std is divided by TORSO_METRES (0.5 m)."""
    topology = get_topology(topology)
    model = model_for(gaussian_shape="isotropic", gaussian_size=0.03)
    joints = clip_of(topology.name)
    clip = model.sample(joints, topology)
    _, covs = pose_gaussians(model.layout(topology), clip.points, clip.canonical)  # [1, F, M, N, 3, 3]
    assert covs.shape[1] == FRAMES
    assert torch.equal(covs, (std**2 * torch.eye(3)).expand_as(covs))
    _, bone_covs = pose_gaussians(model_for().layout(topology), clip.points, clip.canonical)
    assert not torch.allclose(bone_covs, covs)
    with torch.no_grad():
        assert not torch.allclose(model.render(joints, topology)[1], model_for().render(joints, topology)[1])


def test_initial_depth_share_and_opacity_follow_the_config():
    model = DrAction(DrActionConfig(frames=1, size=PROBE_SIZE, backend="torch", use_nfm=False, num_line_samples=1,
                                    gaussian_shape="isotropic", depth_share=0.3, opacity=0.6))
    torch.testing.assert_close(torch.sigmoid(model.depth_mix), torch.tensor(0.3))
    torch.testing.assert_close(torch.sigmoid(model.head[-1].bias[3]), torch.tensor(0.6))
    with torch.no_grad():
        model.head[-1].weight.zero_()  # every Gaussian takes the head's biases: alpha = the configured opacity
        # a bone tilted in depth; its one sample sits at the framed centre, at mid depth, alone on its pixel
        joints = torch.tensor([[0.0, -0.5, -0.2], [0.0, 0.5, 0.2]])[None, None, None]  # [1, 1, 1, 2, 3]
        rgb, alpha = model.render(joints, PROBE)  # [1, 1, 3, H, W], [1, 1, H, W]
        base = torch.sigmoid(model.head[-1].bias[:3])  # [3]
    centre = PROBE_SIZE // 2
    torch.testing.assert_close(alpha[0, 0, centre, centre], torch.tensor(0.6))
    mid_depth = torch.lerp(torch.tensor(NEAR_COLOR), torch.tensor(FAR_COLOR), 0.5)  # [3]
    torch.testing.assert_close(rgb[0, 0, :, centre, centre], 0.6 * (0.7 * base + 0.3 * mid_depth))


def test_body_frame_depth_runs_from_each_body_nearest_to_its_farthest_gaussian():
    topology = get_topology("ntu25")
    joints = clip_of("ntu25", "walk towards each other")  # two bodies at different depths
    colors = {}
    for depth_range in ("body_frame", "clip"):
        model = model_for(depth_range=depth_range)
        with torch.no_grad():
            model.depth_mix.fill_(30.0)  # the depth colour alone (its share rounds to 1)
            clip, means, colors[depth_range], _ = appearance_of(model, joints, topology)
    assert clip.present.all()
    depth = camera_depth(means, clip.viewmat)  # [1, F, 2, N]
    near, far = torch.tensor(NEAR_COLOR), torch.tensor(FAR_COLOR)
    assert torch.equal(at_depth_extreme(colors["body_frame"], depth, torch.argmin), near.expand(1, FRAMES, 2, 3))
    assert torch.equal(at_depth_extreme(colors["body_frame"], depth, torch.argmax), far.expand(1, FRAMES, 2, 3))
    assert not torch.allclose(at_depth_extreme(colors["clip"], depth, torch.argmin), near.expand(1, FRAMES, 2, 3))
    flat = get_topology("coco17")  # 2D poses have no depth: they sit midway
    clip, means, _, _ = appearance_of(model_for(depth_range="body_frame"), clip_of("coco17"), flat)
    assert torch.equal(depth_fraction(clip, means, "body_frame"), torch.full(means.shape[:-1], 0.5))


def test_presets_name_config_overrides():
    official = draction_preset("official")
    assert official == {"gaussian_shape": "isotropic", "gaussian_size": 0.02, "depth_share": sigmoid(-0.5),
                        "depth_range": "body_frame", "opacity": 0.5}
    official["opacity"] = 0.9
    assert DRACTION_PRESETS["official"]["opacity"] == 0.5  # each call gives a fresh dict
    with pytest.raises(ValueError, match="unknown DrAction preset 'paper'; choose one of ours, official"):
        draction_preset("paper")
    model = model_for(**draction_preset("official"))
    assert model.head[-1].bias[3].item() == 0.0 and model.depth_mix.item() == pytest.approx(-0.5)
    for topology in ("ntu25", "coco17"):
        with torch.no_grad():
            images = model(clip_of(topology), topology)
            _, alpha = model.render(clip_of(topology), topology)
        assert torch.isfinite(images).all() and (alpha.mean((-2, -1)) > 0.005).all(), topology


def test_save_load_keeps_the_settings_and_reads_files_written_before_them(tmp_path):
    joints = clip_of("ntu25")
    model = model_for(**draction_preset("official"))
    model.save(tmp_path / "official")
    stored = json.loads((tmp_path / "official" / CONFIG_FILE).read_text())["config"]
    assert {name: stored[name] for name in TODAY} == draction_preset("official")
    loaded = DrAction.load(tmp_path / "official")
    assert loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(loaded(joints, "ntu25"), model(joints, "ntu25"))

    model_for(seed=2).save(tmp_path / "old")  # as written before these settings existed: no such keys
    path = tmp_path / "old" / CONFIG_FILE
    settings = json.loads(path.read_text())
    settings["config"] = {name: value for name, value in settings["config"].items() if name not in TODAY}
    path.write_text(json.dumps(settings))
    old = DrAction.load(tmp_path / "old")
    assert {name: getattr(old.config, name) for name in TODAY} == TODAY
    with torch.no_grad():
        assert torch.equal(old(joints, "ntu25"), model_for(seed=2)(joints, "ntu25"))


@pytest.mark.parametrize("setting, message", [
    ({"gaussian_shape": "cube"}, "unknown gaussian_shape 'cube'; choose one of bone, isotropic"),
    ({"depth_range": "scene"}, "unknown depth_range 'scene'; choose one of clip, body_frame"),
    ({"gaussian_size": 0.0}, "gaussian_size must be a finite std > 0"),
    ({"gaussian_size": -0.02}, "gaussian_size must be a finite std > 0"),
    ({"gaussian_size": math.nan}, "gaussian_size must be a finite std > 0"),
    ({"depth_share": 0.0}, "depth_share must lie strictly between 0 and 1"),
    ({"depth_share": 1.0}, "depth_share must lie strictly between 0 and 1"),
    ({"opacity": 1.5}, "opacity must lie strictly between 0 and 1"),
    ({"opacity": -0.1}, "opacity must lie strictly between 0 and 1"),
    ({"opacity": math.nan}, "opacity must lie strictly between 0 and 1"),
])
def test_bad_settings_are_refused_clearly(setting, message):
    with pytest.raises(ValueError, match=message):
        DrActionConfig(**setting)


def test_a_layout_refuses_an_unknown_shape():
    with pytest.raises(ValueError, match="unknown Gaussian shape 'cube'"):
        make_layout(get_topology("ntu25"), 3, "cube")
