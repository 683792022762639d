"""Renderer files: every renderer of RENDERERS survives save_renderer -> load_renderer (name, config, weights and
images), DrAction files written before the renderer name was stored still load, and wrong files are refused
clearly."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch
from safetensors.torch import load_file, save_file

from skeletonllm.formats.topology import get_topology
from skeletonllm.render.base import DrActionConfig, SkeletonRenderer, draction_preset
from skeletonllm.render.draction import CONFIG_FILE, WEIGHTS_FILE, DrAction
from skeletonllm.render.renderers import FIXED_RENDERERS, RENDERERS, make_renderer
from skeletonllm.render.storage import build_renderer, load_renderer, save_renderer

FRAMES, SIZE = 2, 32
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)  # not the defaults: a load that forgot them would differ


def joints() -> torch.Tensor:
    """float [1, 4, 1, J, 3]: an ntu25 skeleton (each bone a random direction of 0.15 m) 3 m out, moving slightly."""
    topology = get_topology("ntu25")
    generator = torch.Generator().manual_seed(0)
    bones = 0.15 * torch.nn.functional.normalize(torch.randn(topology.num_joints, 3, generator=generator), dim=-1)
    pose = torch.zeros(topology.num_joints, 3)
    for joint in range(topology.num_joints):  # the sum of the bones from the root down to the joint
        walk = joint
        while walk != topology.root:
            pose[joint] += bones[walk]
            walk = topology.parents[walk]
    motion = 0.02 * torch.randn(4, topology.num_joints, 3, generator=generator).cumsum(0)
    return (pose + torch.tensor([0.0, 0.0, 3.0]) + motion)[None, :, None]


def built(name: str) -> SkeletonRenderer:
    return build_renderer(name, FRAMES, SIZE, "torch", seed=5, num_line_samples=3, mean=MEAN, std=STD,
                          preset=draction_preset("official"))


@pytest.mark.parametrize("name", RENDERERS)
def test_every_renderer_round_trips(name, tmp_path):
    renderer = built(name)
    with torch.no_grad():  # weights no fresh initialisation has
        for parameter in renderer.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    assert save_renderer(renderer, name, tmp_path / "stage") == tmp_path / "stage"
    stored = json.loads((tmp_path / "stage" / CONFIG_FILE).read_text())
    assert stored == json.loads(json.dumps({"renderer": name, "config": asdict(renderer.config)}))
    loaded_name, loaded = load_renderer(tmp_path / "stage")
    assert loaded_name == name and type(loaded) is type(renderer)
    assert loaded.config == renderer.config
    expected, actual = renderer.state_dict(), loaded.state_dict()
    assert expected.keys() == actual.keys() and all(torch.equal(expected[k], actual[k]) for k in expected)
    pose, topology = joints(), get_topology("ntu25")
    with torch.no_grad():
        images, (rgb, alpha) = renderer(pose, topology), renderer.render(pose, topology)
        assert torch.equal(loaded(pose, topology), images)
        loaded_rgb, loaded_alpha = loaded.render(pose, topology)
    assert torch.equal(loaded_rgb, rgb) and torch.equal(loaded_alpha, alpha)
    assert images.shape == (1, FRAMES, 3, SIZE, SIZE) and (alpha > 0.5).any()  # the skeleton is in view


def test_build_gives_draction_the_seed_and_preset_and_fixed_renderers_only_shared_settings():
    official = draction_preset("official")
    for name in RENDERERS:
        config = built(name).config
        assert (config.frames, config.size, config.backend, config.num_line_samples, config.mean, config.std) == \
            (FRAMES, SIZE, "torch", 3, MEAN, STD), name
        if name in FIXED_RENDERERS:
            assert config.seed == 0 and config.gaussian_shape == DrActionConfig.gaussian_shape, name
        else:
            assert config.seed == 5 and {k: getattr(config, k) for k in official} == official, name
            assert config.use_nfm == (name == "draction")
    with pytest.raises(ValueError, match="unknown renderer 'depth'; choose one of draction, draction_no_nfm"):
        built("depth")


@pytest.mark.parametrize("use_nfm, name", [(True, "draction"), (False, "draction_no_nfm")])
def test_draction_files_without_a_renderer_name_load_as_draction(use_nfm, name, tmp_path):
    model = DrAction(DrActionConfig(frames=FRAMES, size=SIZE, backend="torch", use_nfm=use_nfm, seed=3))
    model.save(tmp_path)  # then rewritten as DrAction.save wrote it before the name was stored
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"config": asdict(model.config)}, indent=2) + "\n")
    loaded_name, loaded = load_renderer(tmp_path)
    assert loaded_name == name and isinstance(loaded, DrAction) and loaded.config == model.config
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())
    assert DrAction.load(tmp_path).config == model.config


def test_draction_save_stores_its_name_and_fixed_files_hold_no_weights(tmp_path):
    make_renderer("draction_no_nfm", frames=FRAMES, size=SIZE).save(tmp_path / "draction")
    assert json.loads((tmp_path / "draction" / CONFIG_FILE).read_text())["renderer"] == "draction_no_nfm"
    renderer = built("jtm")
    assert list(renderer.parameters()) == [] and renderer.state_dict() == {}
    save_renderer(renderer, "jtm", tmp_path / "jtm")
    assert load_file(tmp_path / "jtm" / WEIGHTS_FILE) == {}
    with pytest.raises(ValueError, match="holds renderer 'jtm', not DrAction weights"):
        DrAction.load(tmp_path / "jtm")


def test_wrong_names_and_files_are_refused_clearly(tmp_path):
    renderer = built("3d_velocity")
    with pytest.raises(ValueError, match="unknown renderer 'depth'; choose one of draction, draction_no_nfm"):
        save_renderer(renderer, "depth", tmp_path / "a")
    with pytest.raises(ValueError, match="VelocityRenderer .* is not renderer 'jtm'"):
        save_renderer(renderer, "jtm", tmp_path / "a")
    with pytest.raises(ValueError, match="is not renderer 'draction'"):  # a DrAction without the NFM
        save_renderer(built("draction_no_nfm"), "draction", tmp_path / "a")
    assert not (tmp_path / "a").exists()
    with pytest.raises(FileNotFoundError, match="draction.json: missing"):
        load_renderer(tmp_path)
    save_renderer(renderer, "3d_velocity", tmp_path / "a")
    path = tmp_path / "a" / CONFIG_FILE
    stored = json.loads(path.read_text())

    def refused(changed: dict, message: str) -> None:
        path.write_text(json.dumps(changed))
        with pytest.raises(ValueError, match=message) as error:
            load_renderer(tmp_path / "a")
        assert str(path) in str(error.value)

    refused({**stored, "renderer": "depth"}, "unknown renderer 'depth'; choose one of draction, .*, jtm")
    refused({**stored, "config": {**stored["config"], "topology": "ntu25"}}, "tied to one topology")
    refused({**stored, "config": {**stored["config"], "seed": 4}}, "'3d_velocity' cannot have seed=4")
    refused({**stored, "renderer": "draction"}, "'draction' cannot have use_nfm=False")
    refused({**stored, "config": {**stored["config"], "size": 0}}, "must be >= 1")
    path.write_text(json.dumps(stored))
    save_file(built("draction_no_nfm").state_dict(), tmp_path / "a" / WEIGHTS_FILE)  # weights under a fixed name
    with pytest.raises(ValueError, match="draction.safetensors: not the weights of renderer '3d_velocity'"):
        load_renderer(tmp_path / "a")
    (tmp_path / "a" / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="draction.safetensors: missing"):
        load_renderer(tmp_path / "a")
