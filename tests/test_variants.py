"""Ablation variants: overrides applied to the config, the runs `rule all` asks for, and where each run's outputs go."""

from __future__ import annotations

import pytest

from skeletonllm.config import load_config
from skeletonllm.variants import (VariantError, ablation_runs, apply_variant, run_folder, seed_of, seed_part,
                                  teacher_folder)


@pytest.fixture(scope="module")
def config():
    return load_config()


def test_a_variant_overrides_its_keys_and_names_the_run(config):
    resolved = apply_variant(config, "stages_1_4", seed=2)
    assert resolved["train"]["stages"] == [1, 4] and resolved["train"]["variant"] == "stages_1_4"
    assert resolved["train"]["seed"] == 2
    assert {key: value for key, value in resolved["train"].items() if key not in ("stages", "variant", "seed")} == \
        {key: value for key, value in config["train"].items() if key not in ("stages", "variant", "seed")}
    assert config["train"]["stages"] == [1, 2, 3, 4] and config["train"]["variant"] == "full"  # not changed
    assert apply_variant(config, "render_3d_velocity")["train"]["renderer"] == "3d_velocity"
    assert apply_variant(config, "full")["train"] == config["train"]


def test_every_configured_variant_applies(config):
    for name in config["variants"]:
        assert apply_variant(config, name)["train"]["variant"] == name


@pytest.mark.parametrize("variants, message", [
    ({"typo": {"train": {"stagez": [1]}}}, "variants.typo.train.stagez: no such config key"),
    ({"mine": {"train": {"seed": 3}}}, "sets ['seed']"),
])
def test_bad_variants_are_named(config, variants, message):
    edited = {**config, "variants": variants}
    with pytest.raises(VariantError, match=message.replace("[", r"\[").replace("]", r"\]")):
        apply_variant(edited, next(iter(variants)))
    with pytest.raises(VariantError, match="unknown variant 'nope'"):
        apply_variant(config, "nope")


def test_the_runs_of_make_run_and_of_the_grid(config):
    assert ablation_runs(config) == [("full", 0), ("stages_1_4", 0), ("render_3d_velocity", 0)]
    grid = ablation_runs({**config, "ablation_grid": True})
    assert grid[0] == ("full", 0) and len(grid) == len(config["variants"]) * 3
    assert set(grid) == {(name, seed) for name in config["variants"] for seed in (0, 1, 2)}
    other_main = {**config, "train": {**config["train"], "variant": "frames_8"}}
    assert ablation_runs(other_main)[0] == ("frames_8", 0)  # the main run is always one
    with pytest.raises(VariantError, match=r"\['nope'\]"):
        ablation_runs({**config, "ablation": {**config["ablation"], "variants": ["nope"]}})


def test_seed_folders():
    assert run_folder("full", 0, 0) == "full" and run_folder("full", 2, 0) == "full/seed2"
    assert seed_part(1, 1) == "" and seed_part(0, 1) == "/seed0"
    assert seed_of("", 7) == 7 and seed_of("/seed3", 7) == 3
    with pytest.raises(ValueError, match="not a seed path part"):
        seed_of("seed3", 0)


def test_teacher_variants_read_rationales_of_their_own(config):
    own = apply_variant(config, "no_cond_label")
    assert own["teacher"]["condition_on_label"] is False and own["teacher"]["keep_final_label"] is True
    assert teacher_folder(own, "xsub/s19u5") == "xsub_s19u5-no_cond_label"
    assert teacher_folder(apply_variant(config, "stages_1_3_4"), "xsub/s19u5") == "xsub_s19u5"
    assert teacher_folder(config, "xview/s19u5") == "xview_s19u5"
