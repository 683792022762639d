"""The four stages' trainable sets, gradients into DrAction, stage 4's task mix (captions of another skeleton format,
motion questions) in batches of mixed topologies, the LoRA merge and LoRA's placement on an InternVL3-8B-sized
model; each on the real tiny model and the small synth data of the train_inputs fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from skeletonllm.cli import main
from skeletonllm.config import load_config
from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.errors import ERROR_STATUS, CommandError
from skeletonllm.eval.caption import references
from skeletonllm.eval.qa import question_answers
from skeletonllm.model.presets import internvl3_config, mllm_from_config
from skeletonllm.train.data import Split
from skeletonllm.render.renderers import VelocityRenderer
from skeletonllm.train.run import (StageInputs, default_inputs, last_complete_checkpoint, load_stage, setup_stage,
                                  write_stage)
from skeletonllm.train.stages import STAGES, attach_lora, merge_lora, set_trainable
from skeletonllm.variants import apply_variant


@pytest.fixture(autouse=True)
def mlflow_in_tmp(tmp_path, monkeypatch):
    """The Trainer's MLflow callback opens its own run when none is active: keep it in tmp_path."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")


def stage_config(workdir, captions: dict | None = None, **train):
    """The fixture's config with train (and captions) overrides, validated like the CLI's."""
    config = yaml.safe_load((workdir / "train.yaml").read_text())
    config["train"].update(train)
    config["captions"].update(captions or {})
    path = workdir / f"config_{abs(hash(json.dumps([train, captions], sort_keys=True)))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_config(path)


def stage_inputs(config, stage: int, tmp_path) -> StageInputs:
    """Inputs for `stage` that start from the tiny MLLM and a fresh DrAction (init None), whatever the stage."""
    inputs = default_inputs(config, stage, tmp_path / f"stage{stage}")
    return StageInputs(**{**inputs.__dict__, "init": None})


def snapshot(model) -> dict[str, torch.Tensor]:
    return {name: parameter.detach().clone() for name, parameter in model.named_parameters()}


@pytest.mark.parametrize("stage", [1, 2, 3, 4])
def test_one_step_changes_exactly_the_trainable_set(stage, train_inputs, tmp_path):
    config = stage_config(train_inputs, unfreeze=[], weight_decay=0.0, warmup_ratio=0.0, learning_rate=[1e-2] * 4)
    setup = setup_stage(config, STAGES[stage], stage_inputs(config, stage, tmp_path), "cpu")
    model = setup.model
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    before = snapshot(model)
    setup.trainer.args.max_steps = 2  # LoRA's A moves from the second step on (its B starts at zero)
    setup.trainer.train()
    after = snapshot(model)
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed == trainable
    renderer = {name for name in before if name.startswith("renderer.")}
    projector = {name for name in before if "multi_modal_projector" in name}
    lora = {name for name in before if "lora_" in name}
    expected = projector | lora | (renderer if stage < 4 else set())
    assert trainable == expected
    assert bool(lora) == (stage >= 3)
    assert not any(name for name in changed if "vision_tower" in name or ("language_model" in name and
                                                                           "lora_" not in name))


@pytest.mark.parametrize("stage", [1, 2, 3, 4])
def test_gradients_reach_draction_in_stages_1_to_3_only(stage, train_inputs, tmp_path):
    config = stage_config(train_inputs, unfreeze=[])
    setup = setup_stage(config, STAGES[stage], stage_inputs(config, stage, tmp_path), "cpu")
    batch = setup.trainer.data_collator([setup.examples[i] for i in range(2)])
    setup.model(**batch).loss.backward()
    grads = [parameter.grad for parameter in setup.model.renderer.parameters()]
    if stage < 4:
        assert all(grad is not None for grad in grads)
        assert sum(float(grad.abs().sum()) for grad in grads) > 0
    else:
        assert all(grad is None for grad in grads)


def answer_text(setup, batch, row: int) -> str:
    """The answer tokens of one batch row, decoded without the end-of-turn token."""
    labels = batch["labels"][row]
    return setup.processor.tokenizer.decode(labels[labels >= 0], skip_special_tokens=True).strip()


def test_stage4_mixes_captions_of_another_format_and_motion_questions(train_inputs, tmp_path):
    config = stage_config(train_inputs, refine_tasks=["caption", "qa"], captions={"dataset": "synth_humanml3d"})
    inputs = stage_inputs(config, 4, tmp_path)
    setup = setup_stage(config, STAGES[4], inputs, "cpu")
    texts = PreparedDataset(inputs.captions_data)
    captioned = Split.load(inputs.captions_split).parts["train"]
    counts = setup.examples.counts
    assert counts["mqa"] == len(setup.split.parts["train"]) and counts["caption"] == len(captioned) > 0
    assert 0 < counts["qa"] <= counts["mqa"] and len(setup.examples) == sum(counts.values())
    starts = setup.examples.cumulative_sizes  # ends of the mqa, caption and qa parts
    items = [setup.examples[0], setup.examples[starts[0]], setup.examples[starts[1]], setup.examples[starts[0] + 1]]
    batch = setup.trainer.data_collator(items)
    groups = {group["topology"]: group["rows"].tolist() for group in batch["clips"]}
    assert groups == {"ntu25": [0, 2], "smpl22": [1, 3]}
    assert answer_text(setup, batch, 0) == setup.dataset.label_name(setup.split.parts["train"][0])
    assert answer_text(setup, batch, 1) in references(texts, captioned[:1])[0]
    qa_clip = setup.examples.datasets[2].sample_ids[0]
    assert answer_text(setup, batch, 2) in {answer for _, _, answer in question_answers(setup.dataset, qa_clip)}
    loss = setup.model(**batch).loss
    loss.backward()
    projector = setup.model.mllm.get_base_model().model.multi_modal_projector
    assert torch.isfinite(loss) and all(p.grad is not None and p.grad.abs().sum() > 0 for p in projector.parameters())


def test_a_mixed_batch_renders_each_clip_as_it_would_alone(train_inputs, tmp_path):
    config = stage_config(train_inputs, refine_tasks=["caption"], captions={"dataset": "synth_humanml3d"})
    setup = setup_stage(config, STAGES[4], stage_inputs(config, 4, tmp_path), "cpu")
    start = setup.examples.cumulative_sizes[0]
    items = [setup.examples[start], setup.examples[0], setup.examples[start + 1], setup.examples[1]]
    batch = setup.trainer.data_collator(items)
    model = setup.model.eval()
    with torch.no_grad():
        mixed = model.batch_pixel_values(batch["clips"]).unflatten(0, (4, -1))  # [4, F, 3, H, W]
        alone = [model.pixel_values(torch.from_numpy(item["joints"])[None], item["topology"]) for item in items]
    for row, pixels in enumerate(alone):
        torch.testing.assert_close(mixed[row], pixels)
    broken = [{**group, "rows": group["rows"] * 0} for group in batch["clips"]]
    with pytest.raises(ValueError, match="not each batch row once"):
        model.batch_pixel_values(broken)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_only_stage4_mixes_tasks(stage, train_inputs, tmp_path):
    config = stage_config(train_inputs, refine_tasks=["caption", "qa"], captions={"dataset": "synth_humanml3d"})
    inputs = stage_inputs(config, stage, tmp_path)
    assert inputs.captions_data is None
    setup = setup_stage(config, STAGES[stage], inputs, "cpu")
    assert list(setup.examples.counts) == [STAGES[stage].task]


def test_stage4_without_refine_tasks_trains_mqa_only(train_inputs, tmp_path):
    config = stage_config(train_inputs, refine_tasks=[])
    setup = setup_stage(config, STAGES[4], stage_inputs(config, 4, tmp_path), "cpu")
    assert setup.examples.counts == {"mqa": len(setup.split.parts["train"])}


def test_captions_without_a_dataset_or_texts_are_clear_errors(train_inputs, tmp_path):
    config = stage_config(train_inputs, refine_tasks=["caption"], captions={"dataset": None})
    with pytest.raises(CommandError, match="captions.dataset names no dataset"):
        default_inputs(config, 4)
    config = stage_config(train_inputs, refine_tasks=["caption"], captions={"dataset": "synth_ucla"})
    with pytest.raises(CommandError, match="no 'captions' column"):
        setup_stage(config, STAGES[4], stage_inputs(config, 4, tmp_path), "cpu")


def test_a_fixed_renderer_variant_trains_the_mllm_and_is_stored_with_its_stage(train_inputs, tmp_path):
    config = stage_config(train_inputs, renderer="3d_velocity", weight_decay=0.0, warmup_ratio=0.0)
    inputs = stage_inputs(config, 1, tmp_path)
    setup = setup_stage(config, STAGES[1], inputs, "cpu")
    assert isinstance(setup.model.renderer, VelocityRenderer) and setup.trainable["renderer"] == 0
    projector = {name: value for name, value in snapshot(setup.model).items() if "multi_modal_projector" in name}
    setup.trainer.args.max_steps = 1
    setup.trainer.train()
    after = snapshot(setup.model)
    assert all(not torch.equal(value, after[name]) for name, value in projector.items())
    write_stage(inputs, setup.model, setup.processor, config, STAGES[1], setup.trainer, {}, [(1, 1.0)])
    loaded, _ = load_stage(inputs.out, "auto")
    assert isinstance(loaded.renderer, VelocityRenderer)
    batch = setup.trainer.data_collator([setup.examples[0]])
    with torch.no_grad():
        torch.testing.assert_close(loaded.batch_pixel_values(batch["clips"]),
                                   setup.model.batch_pixel_values(batch["clips"]))


def test_a_variant_and_a_seed_choose_the_run_folder_and_its_stages(train_inputs, capsys):
    config = stage_config(train_inputs)
    root = Path(config["results"]) / "train" / "synth"
    inputs = default_inputs(apply_variant(config, "stages_1_4", 1), 4, base_seed=config["train"]["seed"])
    assert (inputs.out, inputs.init) == (root / "stages_1_4/seed1/stage4", root / "stages_1_4/seed1/stage1")
    inputs = default_inputs(apply_variant(config, "stages_1_4"), 4)
    assert (inputs.out, inputs.init) == (root / "stages_1_4/stage4", root / "stages_1_4/stage1")
    configfile = next(train_inputs.glob("config_*.yaml"))
    assert main(["train", "--stage", "2", "--config", str(configfile), "--variant", "stages_1_4"]) == ERROR_STATUS
    assert "variant 'stages_1_4' has no stage 2 (its train.stages: [1, 4])" in capsys.readouterr().err
    assert main(["train", "--stage", "1", "--config", str(configfile), "--variant", "nope"]) == ERROR_STATUS
    assert "unknown variant 'nope'" in capsys.readouterr().err


def test_unfreeze_trains_the_named_base_parts(train_inputs, tmp_path):
    config = stage_config(train_inputs, unfreeze=["vision", "language", "lm_head"])
    setup = setup_stage(config, STAGES[4], stage_inputs(config, 4, tmp_path), "cpu")
    assert setup.trainable["vision"] > 0 and setup.trainable["language"] > 0 and setup.trainable["lm_head"] > 0
    assert setup.trainable["renderer"] == 0
    assert not any(parameter.requires_grad for parameter in setup.model.renderer.parameters())


def test_the_tiny_default_trains_lm_head_and_keeps_the_llm_layers_and_vision_tower_frozen(train_inputs, tmp_path):
    config = stage_config(train_inputs)
    assert config["train"]["unfreeze"] == ["lm_head"]
    setup = setup_stage(config, STAGES[1], stage_inputs(config, 1, tmp_path), "cpu")
    assert setup.trainable["lm_head"] == setup.model.mllm.lm_head.weight.numel()
    assert setup.trainable["vision"] == 0 and setup.trainable["language"] == 0
    assert setup.trainable["renderer"] > 0 and setup.trainable["projector"] > 0


def test_unfreeze_rejects_an_unknown_part(train_inputs, tmp_path):
    config = stage_config(train_inputs)
    setup = setup_stage(config, STAGES[1], stage_inputs(config, 1, tmp_path), "cpu")
    with pytest.raises(ValueError, match="unknown part.*'projector'"):
        set_trainable(setup.model, STAGES[1], ["projector"])


def test_lora_starts_from_the_seed_whatever_ran_before(train_inputs, tmp_path):
    config = stage_config(train_inputs)
    first = snapshot(setup_stage(config, STAGES[3], stage_inputs(config, 3, tmp_path), "cpu").model)
    torch.rand(1000)  # other work in the process moves the global generator
    again = snapshot(setup_stage(config, STAGES[3], stage_inputs(config, 3, tmp_path), "cpu").model)
    lora_a = [name for name in first if "lora_A" in name]
    assert lora_a and all(first[name].abs().sum() > 0 for name in lora_a)
    assert all(torch.equal(first[name], again[name]) for name in first)


def test_merged_lora_model_matches_the_unmerged_one(train_inputs, tmp_path):
    config = stage_config(train_inputs)
    setup = setup_stage(config, STAGES[3], stage_inputs(config, 3, tmp_path), "cpu")
    model = setup.model.eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.mllm.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.05)  # a trained adapter, not the zero start
    batch = setup.trainer.data_collator([setup.examples[i] for i in range(3)])
    pixel_values = model.batch_pixel_values(batch["clips"]).detach()
    inputs = {key: batch[key] for key in ("input_ids", "attention_mask", "labels")}
    with torch.no_grad():
        unmerged = model.answer_logits(pixel_values, **inputs)[0]
        model.mllm = merge_lora(model.mllm)
        merged = model.answer_logits(pixel_values, **inputs)[0]
    assert not any("lora_" in name for name, _ in model.mllm.named_parameters())
    assert unmerged.abs().max() > 0.1
    torch.testing.assert_close(merged, unmerged, atol=1e-4, rtol=0)


def test_stage3_lora_attaches_to_every_llm_projection_of_internvl3_8b():
    mllm = mllm_from_config(internvl3_config("8B"), device="meta")
    text = mllm.config.text_config
    hidden, inter, layers = text.hidden_size, text.intermediate_size, text.num_hidden_layers
    kv = text.num_key_value_heads * (hidden // text.num_attention_heads)
    r = 32
    wrapped = attach_lora(mllm, r=r, alpha=64, dropout=0.05)
    lora = {name: parameter for name, parameter in wrapped.named_parameters() if "lora_" in name}
    per_layer = r * ((hidden + hidden) * 2 + (hidden + kv) * 2 + (hidden + inter) * 3)  # q,o + k,v + gate,up,down
    assert sum(parameter.numel() for parameter in lora.values()) == layers * per_layer == 80_740_352
    assert all(".language_model.layers." in name for name in lora)
    assert not any("vision_tower" in name or "multi_modal_projector" in name for name in lora)


def test_resume_passes_over_a_checkpoint_cut_off_mid_save(tmp_path):
    assert last_complete_checkpoint(tmp_path / "none") is None
    (tmp_path / "checkpoint-2").mkdir()
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text(json.dumps({"global_step": 2}))
    (tmp_path / "checkpoint-10").mkdir()  # killed after the weights, before trainer_state.json
    (tmp_path / "checkpoint-10" / "model.safetensors").write_bytes(b"")
    (tmp_path / "checkpoint-11").mkdir()
    (tmp_path / "checkpoint-11" / "trainer_state.json").write_text("{\"global_st")  # cut off while written
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
