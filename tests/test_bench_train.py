"""`skeletonllm bench train-step`: the JSON figures of one stage-1 step on the tiny model (positive, with the model
it timed), a --model-config of a custom config.json timed at that file's sizes, the text table, and the options'
checks. Each timed run spawns two processes (one per rasterizer) and takes 20-40 s on two busy cores, hence
`slow`. No timing is asserted (machines are noisy): only that every figure is there and positive."""

from __future__ import annotations

import json

import pytest

from skeletonllm.cli import main

SMALL = ["--steps", "2", "--dense-steps", "2", "--warmup", "1", "--batch", "2", "--frames", "2", "--size", "24",
         "--line-samples", "2"]
FIGURES = {"samples_per_s", "step_ms", "dense_step_ms", "dense_ratio", "peak_mb", "model_mb", "memory", "device",
           "backend", "dense_backend", "model", "frames", "size", "batch", "tokens", "answer_tokens"}
MODEL = {"source", "vision_hidden", "vision_layers", "text_hidden", "text_layers", "vocab_size", "image_size",
         "image_tokens", "parameters", "trainable_params", "dtype"}


def bench_json(capsys, *args: str) -> dict:
    assert main(["bench", "train-step", "--json", *SMALL, *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_train_step_json_reports_positive_figures_and_the_tiny_model(capsys):
    figures = bench_json(capsys)
    assert FIGURES <= set(figures) and MODEL <= set(figures["model"])
    assert figures["samples_per_s"] > 0 and figures["peak_mb"] > 0 and figures["dense_ratio"] > 0
    assert figures["step_ms"] > 0 and figures["dense_step_ms"] > 0
    assert figures["device"] == "cpu" and figures["backend"] == "torch" and figures["dense_backend"] == "dense"
    assert (figures["frames"], figures["size"], figures["batch"]) == (2, 24, 2)
    model = figures["model"]
    assert model["source"].startswith("tiny") and model["dtype"] == "float32"
    assert (model["vision_hidden"], model["vision_layers"], model["text_hidden"], model["text_layers"]) == \
        (64, 2, 192, 2)
    assert model["image_size"] == 112 and model["image_tokens"] == 16
    assert model["parameters"] > model["trainable_params"] > 0  # DrAction + projector of a frozen MLLM
    assert figures["tokens"] > figures["frames"] * model["image_tokens"] and figures["answer_tokens"] > 0


@pytest.fixture
def custom_config(tmp_path):
    """A config.json of an InternVL smaller than the tiny one, with its own vocabulary of 1,000 tokens (smaller than
    the tokenizer that builds the prompts) and its own image token id."""
    from transformers import InternVLConfig, InternVLVisionConfig, Qwen2Config

    from skeletonllm.model.presets import INTERNVIT_300M

    vision = InternVLVisionConfig(**{**INTERNVIT_300M, **dict(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, image_size=[56, 56],
        patch_size=[14, 14])})
    text = Qwen2Config(vocab_size=1000, hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                       num_key_value_heads=2, intermediate_size=96, max_position_embeddings=1024,
                       tie_word_embeddings=False, pad_token_id=0, eos_token_id=1)
    config = InternVLConfig(vision_config=vision, text_config=text, image_token_id=997, image_seq_length=4,
                            downsample_ratio=0.5, tie_word_embeddings=False)
    config.save_pretrained(tmp_path / "custom")
    return tmp_path / "custom" / "config.json"


@pytest.mark.slow
def test_model_config_times_that_architecture(capsys, custom_config):
    from skeletonllm.bench.train_step import model_config

    figures = bench_json(capsys, "--model-config", str(custom_config.parent))
    model = figures["model"]
    assert (model["vision_hidden"], model["vision_layers"], model["text_hidden"], model["text_layers"]) == \
        (32, 1, 48, 3)
    assert (model["vocab_size"], model["image_size"], model["image_tokens"]) == (1000, 56, 4)
    assert str(custom_config) in model["source"] and "random weights" in model["source"]
    assert model["dtype"] == "float32"  # bfloat16 on CUDA only
    assert figures["samples_per_s"] > 0 and figures["dense_ratio"] > 0
    assert model_config(str(custom_config))[0].to_dict() == model_config(str(custom_config.parent))[0].to_dict()


@pytest.mark.slow
def test_train_step_table_with_unfrozen_base(capsys):
    assert main(["bench", "train-step", *SMALL, "--unfreeze", "vision,language,lm_head"]) == 0
    out = capsys.readouterr().out
    assert "stage 1: DrAction + projector + vision + language + lm_head" in out and "dense_ratio" in out
    assert "torch" in out and "dense" in out and "samples/s" in out and "peak memory" in out
    assert "12.59 M trained" in out  # every weight of the tiny MLLM and DrAction


def test_train_step_option_checks(capsys, tmp_path):
    assert main(["bench", "train-step", "--model-config", str(tmp_path / "missing")]) == 1
    assert "no such config.json" in capsys.readouterr().err
    assert main(["bench", "train-step", "--steps", "0"]) == 1
    assert "must be >= 1" in capsys.readouterr().err
    assert main(["bench", "train-step", "--unfreeze", "lm_head,projector"]) == 1
    assert "choose parts from vision,language,lm_head" in capsys.readouterr().err
