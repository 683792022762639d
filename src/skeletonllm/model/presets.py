"""InternVL3 configurations without the checkpoints: the architecture of OpenGVLab/InternVL3-{1B,2B,8B}-hf, for
benchmarks and memory estimates on random or meta-device weights.

Facts (config.json of the -hf checkpoints and transformers' InternVL conversion script): vision tower
InternViT-300M-448px-V2.5 (hidden 1024, 24 layers, 16 heads, MLP 4096, GELU, LayerNorm eps 1e-6, biased qkv, no
qk-norm, layer scale 0.1, mean pooling, absolute position embeddings, 448x448 images in 14x14 patches); pixel
shuffle with downsample ratio 0.5 (256 tokens per 448x448 tile); projector LayerNorm -> Linear -> GELU -> Linear;
language model Qwen2.5-0.5B / 1.5B / 7B with InternVL's 151,674-token vocabulary, <IMG_CONTEXT> = 151667,
<|endoftext|> = 151643 (bos), <|im_end|> = 151645 (eos), rope theta 1e6, 32k positions, untied lm_head.
"""

from __future__ import annotations

from pathlib import Path

VOCAB_SIZE = 151674
IMAGE_TOKEN_ID, BOS_TOKEN_ID, EOS_TOKEN_ID = 151667, 151643, 151645
INTERNVIT_300M = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                      hidden_act="gelu", norm_type="layer_norm", layer_norm_eps=1e-6, attention_bias=True,
                      use_qk_norm=False, layer_scale_init_value=0.1, use_mean_pooling=True,
                      use_absolute_position_embeddings=True, image_size=[448, 448], patch_size=[14, 14])
QWEN25 = {  # size -> the Qwen2.5 base LLM's shape (hidden, intermediate, layers, heads, key/value heads)
    "1B": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
               num_key_value_heads=2),
    "2B": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
               num_key_value_heads=2),
    "8B": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4),
}
ROPE = {"1B": {"rope_type": "dynamic", "factor": 2.0}}  # InternVL3-1B-hf's config.json; the others: plain RoPE


def hub_id(size: str) -> str:
    """The hub repository of an InternVL3 size, e.g. "8B" -> "OpenGVLab/InternVL3-8B-hf"."""
    return f"OpenGVLab/InternVL3-{size}-hf"


def internvl3_config(size: str):
    """The InternVLConfig of OpenGVLab/InternVL3-{size}-hf, size "1B", "2B" or "8B" (ValueError otherwise)."""
    from transformers import InternVLConfig, InternVLVisionConfig, Qwen2Config

    if size not in QWEN25:
        raise ValueError(f"unknown InternVL3 size {size!r}; choose one of {', '.join(QWEN25)}")
    text = Qwen2Config(**QWEN25[size], vocab_size=VOCAB_SIZE, hidden_act="silu", max_position_embeddings=32768,
                       rms_norm_eps=1e-6, rope_parameters={"rope_theta": 1e6, **ROPE.get(size, {"rope_type": "default"})},
                       use_sliding_window=False, tie_word_embeddings=False, bos_token_id=BOS_TOKEN_ID,
                       eos_token_id=EOS_TOKEN_ID)
    return InternVLConfig(vision_config=InternVLVisionConfig(**INTERNVIT_300M), text_config=text,
                          image_token_id=IMAGE_TOKEN_ID, image_seq_length=256, downsample_ratio=0.5,
                          projector_hidden_act="gelu", vision_feature_layer=-1,
                          vision_feature_select_strategy="default", tie_word_embeddings=False)


def mllm_from_config(config_or_path, device: str = "meta"):
    """An InternVLForConditionalGeneration built from an InternVLConfig, or from a config.json file or its folder,
    on `device`: "meta" gives shapes without memory (parameter counts, benchmarks without weights), a real device
    random weights."""
    import torch
    from transformers import InternVLConfig, InternVLForConditionalGeneration

    config = config_or_path
    if isinstance(config_or_path, (str, Path)):
        config = InternVLConfig.from_pretrained(str(config_or_path), local_files_only=True)
    with torch.device(device):
        return InternVLForConditionalGeneration(config)
