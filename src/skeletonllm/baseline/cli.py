"""Feature baseline without images: train a skeleton encoder aligned with class-name embeddings, or evaluate it.

A small topology-aware encoder (graph and temporal convolutions over 13 shared body joints: positions and
velocities) is aligned with the all-MiniLM-L6-v2 embeddings of the class names ("a person {name}") by a cosine
softmax over the seen classes; a clip's class is the candidate whose name embedding is nearest. Every skeleton
format is mapped onto the shared joints through the joint names (skeletonllm.formats.body_parts), so one model
reads all formats: the falsification test of SkeletonLLM's claim that rendering is what makes understanding
universal. It runs the same splits and tasks as `skeletonllm evaluate`, and its metrics.json files (method
"feature baseline", variant "baseline") go into the same tables.

  skeletonllm baseline train --data results/data/synth --split results/splits/synth/xsub/s19u5.json \\
      --out results/baseline/synth/xsub_s19u5/seed0
  skeletonllm baseline evaluate --model results/baseline/synth/xsub_s19u5/seed0 --data results/data/synth \\
      --split results/splits/synth/xsub/s19u5.json --task openvocab \\
      --out results/baseline/synth/xsub_s19u5/seed0/openvocab
  skeletonllm baseline evaluate ... --task crossformat --target results/data/synth_ucla \\
      --target results/data/synth_kinetics --target results/data/synth_humanml3d --out ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from skeletonllm.errors import CommandError

TASKS = ("openvocab", "gzsl", "closed", "crossformat")  # = evaluate.TASKS, kept here so --help imports no torch


def _add_train(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm baseline train` (defaults: baseline/train.py's TrainSettings)."""
    parser.add_argument("--data", type=Path, required=True,
                        help="prepared dataset to train on (results/data/<dataset>)")
    parser.add_argument("--split", type=Path, required=True,
                        help="split JSON (results/splits/<dataset>/<protocol>/<class split>.json); trains on its "
                             "`train` samples over its seen classes")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder: model.pt, config.json and history.json")
    parser.add_argument("--seed", type=int, default=0, help="random seed of initialization, order and augmentation "
                                                            "(default 0)")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per batch (default 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate, decayed to 0 by a cosine "
                                                                "(default 1e-3)")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay (default 1e-4)")
    parser.add_argument("--depth-dropout", type=float, default=0.5,
                        help="probability that a 3D training clip's depth channel is zeroed, as 2D formats arrive, "
                             "so that one model reads 3D and 2D formats (default 0.5)")
    parser.add_argument("--frames", type=int, default=32, help="frames per clip, spread over the whole clip "
                                                                "(default 32)")
    _add_threads(parser)


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: the encoder is too small for more to pay)")


def _add_evaluate(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm baseline evaluate`."""
    parser.add_argument("--model", type=Path, required=True, help="folder of `skeletonllm baseline train --out`")
    parser.add_argument("--data", type=Path, required=True,
                        help="prepared dataset the split belongs to (for crossformat: the training dataset)")
    parser.add_argument("--split", type=Path, required=True, help="split JSON the model was trained on")
    parser.add_argument("--task", choices=TASKS, required=True,
                        help="openvocab: unseen-class test samples over the unseen classes; gzsl: all test samples "
                             "over all classes; closed: seen-class test samples over the seen classes; crossformat: "
                             "each --target's samples of the training classes it holds, over those classes")
    parser.add_argument("--target", type=Path, action="append", default=[],
                        help="crossformat: a prepared dataset of another format (repeat for several)")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder: metrics.json, predictions.jsonl, confusion.png, per_class.png "
                             "(crossformat: the figures per target in OUT/<target>/)")
    parser.add_argument("--samples", type=int, default=0,
                        help="evaluate this many samples per task (per target), spread evenly over them, as "
                             "`skeletonllm evaluate --samples` picks them (default 0: all)")
    parser.add_argument("--batch-size", type=int, default=64, help="clips embedded at once (default 64)")
    _add_threads(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm baseline`: the actions train and evaluate."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="<action>")
    train = actions.add_parser("train", help="train the encoder on a split's training samples",
                               description=_add_train.__doc__)
    _add_train(train)
    evaluate = actions.add_parser("evaluate", help="evaluate a trained encoder on one task",
                                  description=_add_evaluate.__doc__)
    _add_evaluate(evaluate)


def run(args: argparse.Namespace) -> int:
    """Entry point of `skeletonllm baseline`: prints the training summary or the task's metrics as JSON."""
    if args.action == "train":
        from skeletonllm.baseline.train import TrainSettings, train_baseline

        settings = TrainSettings(seed=args.seed, epochs=args.epochs, batch_size=args.batch_size,
                                 learning_rate=args.lr, weight_decay=args.weight_decay,
                                 depth_dropout=args.depth_dropout, frames=args.frames, threads=args.threads)
        result = train_baseline(args.data, args.split, args.out, settings)
    elif args.action == "evaluate":
        from skeletonllm.baseline.evaluate import evaluate_baseline

        if args.batch_size < 1 or args.threads < 1 or args.samples < 0:
            raise CommandError(f"--batch-size and --threads must be at least 1 and --samples at least 0, got "
                               f"{args.batch_size}, {args.threads} and {args.samples}")
        if args.target and args.task != "crossformat":
            raise CommandError(f"--target is for --task crossformat, not {args.task}")
        result = evaluate_baseline(args.model, args.data, args.split, args.task, args.out, args.target,
                                   args.batch_size, args.threads, args.samples)
        result = {key: value for key, value in result.items() if key != "per_class"}
    else:
        raise CommandError(f"unknown action {args.action!r}")
    print(json.dumps(result, indent=2))
    return 0
