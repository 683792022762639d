"""Train one stage of SkeletonLLM (1 render warm-up, 2 Disc-FT, 3 CR-Distill, 4 refine) on the HF Trainer.

Everything defaults to what the config names, as `make run` leaves it: the MLLM results/models/<model.name>/,
the prepared dataset, the split, the hard negatives (stage 2), the teacher rationales (stage 3), the captions
dataset (stage 4, when train.refine_tasks has caption) and, from the
second configured stage on, the previous stage's directory results/train/<dataset>/<variant>/stage<N-1>/.
Hyperparameters come from the config's `train` section (epochs and learning rate per stage) with the overrides of
the --variant (an entry of `variants`, e.g. stages_1_4 or render_3d_velocity), tracking from `mlflow` (run name
<variant>/stage<N>/seed<S>).

A killed stage resumes from its last checkpoint (<out>.checkpoints/) when rerun with the same arguments.

Multi-GPU and multi-node: run the same command under `torchrun --nproc-per-node G [--nnodes N --node-rank R
--master-addr HOST --master-port PORT]` (or `accelerate launch`); the Trainer reads RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR and MASTER_PORT and trains with DDP (per-device batch train.batch_size). On SLURM the train rule starts
it with srun (see workflow/rules/train.smk).

Outputs in --out: mllm/ (merged MLLM and processor), draction.safetensors + draction.json, config.json (resolved
config), trainer_state.json, metrics.json (loss_first, loss_last, samples_per_s, peak_mb, seen_mqa_accuracy,
chance, trainable_params, ...) and loss.png.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from skeletonllm.config import DEFAULT_CONFIG, config_name, load_config
from skeletonllm.errors import CommandError
from skeletonllm.variants import VariantError, apply_variant


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm train`."""
    parser.add_argument("--stage", type=int, required=True, choices=[1, 2, 3, 4], help="stage to train")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="pipeline config (default: %(default)s); its train, model and mlflow sections apply")
    parser.add_argument("--variant",
                        help="ablation variant of the config's variants section to train (default: train.variant); "
                             "its overrides apply, and its runs go to <results>/train/<dataset>/<variant>/")
    parser.add_argument("--seed", type=int,
                        help="training seed (default: train.seed); another seed than the config's writes under "
                             "<variant>/seed<S>/")
    parser.add_argument("--out", type=Path,
                        help="stage directory (default: <results>/train/<dataset>/<variant>/stage<N>)")
    parser.add_argument("--init", type=Path,
                        help="previous stage's directory to start from (default: the previous configured stage)")
    parser.add_argument("--model", type=Path, help="MLLM folder of the first stage (default: <results>/models/<name>)")
    parser.add_argument("--data", type=Path, help="prepared dataset (default: <results>/data/<train.dataset>)")
    parser.add_argument("--split", type=Path, help="split JSON (default: from train.split)")
    parser.add_argument("--negatives", type=Path, help="hard_negatives.json for stage 2 (default: the dataset's)")
    parser.add_argument("--rationales", type=Path, help="rationales.jsonl for stage 3 (default: train.split's)")
    parser.add_argument("--captions-data", type=Path,
                        help="prepared HumanML3D-style dataset whose texts stage 4 learns to caption when "
                             "train.refine_tasks has caption (default: <results>/data/<captions.dataset>)")
    parser.add_argument("--captions-split", type=Path,
                        help="its split JSON; the training samples' texts are learnt (default: from captions.split, "
                             "else train.split)")


def run(args: argparse.Namespace) -> int:
    """Train the stage and print its metrics."""
    from skeletonllm.train.run import default_inputs, run_stage  # torch and transformers: not for --help
    from skeletonllm.train.stages import get_stage

    base = load_config(args.config)
    try:
        config = apply_variant(base, args.variant or base["train"]["variant"], args.seed)
    except VariantError as error:
        raise CommandError(f"{args.config}: {error}") from None
    stage = get_stage(args.stage)
    if stage.number not in config["train"]["stages"]:
        raise CommandError(f"variant {config['train']['variant']!r} has no stage {stage.number} (its train.stages: "
                           f"{config['train']['stages']})")
    inputs = default_inputs(config, stage.number, args.out, base_seed=base["train"]["seed"])
    overrides = {name: getattr(args, name) for name in ("init", "model", "data", "split", "negatives", "rationales",
                                                      "captions_data", "captions_split")
                 if getattr(args, name) is not None}
    inputs = replace(inputs, **overrides)
    metrics = run_stage(config, config_name(args.config), stage, inputs)
    if metrics:
        print(json.dumps(metrics, indent=2))
        print(f"wrote {inputs.out}")
    return 0
