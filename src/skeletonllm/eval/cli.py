"""Evaluate a trained stage: open-vocabulary, generalized zero-shot, closed-set, cross-format recognition, captions, QA.

`skeletonllm evaluate --checkpoint results/train/synth/full/stage4 --task openvocab --out DIR` asks every test clip
of the task an MQA question (frames at the segment centres, candidates shuffled per sample from the seed) and scores
the answer two ways: the greedy generated answer matched exactly after normalization (the paper's way, `accuracy`)
and the candidates ranked by log-likelihood from one shared KV-cached prefix (`likelihood_accuracy`).

Tasks (the dataset and split default to the ones the stage was trained on, as its config.json records them):
  openvocab    unseen-class test samples, candidates every unseen class
  gzsl         seen + unseen test samples, candidates every class: seen, unseen and harmonic mean
  closed       seen-class test samples (held-out subjects or views), candidates every seen class
  crossformat  each --target dataset (another skeleton format, prepared) for the classes it shares with the seen
               classes, without retraining: DrAction renders any topology
  caption      every test sample of a dataset with reference texts (HumanML3D-style, e.g. --dataset
               synth_humanml3d): greedy captions scored by BLEU-4 (0-100), ROUGE-L, CIDEr and MiniLM similarity
  qa           every test sample: questions the measured motion answers (which limb moves most, how many people,
               ending lower, direction of travel), accuracy overall and per question type

DIR receives metrics.json (accuracy, chance, samples, ...; gzsl adds seen, unseen, harmonic_mean; crossformat a
`targets` entry per target), predictions.jsonl (sample, prompt, answer, parsed label, correct, likelihood choice),
a confusion-matrix PNG and a per-class bar chart (crossformat: one of each per target), and with --features the
pooled projector features (features.npz) and their t-SNE (tsne.png, unseen classes highlighted). The metrics are
logged into the stage's MLflow run (eval/<task>/<metric>), when the stage directory records one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from skeletonllm.errors import CommandError

TASKS = ("openvocab", "gzsl", "closed", "crossformat", "caption", "qa")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, required=True,
                        help="a stage directory written by `skeletonllm train` (e.g. results/train/synth/full/stage4)")
    parser.add_argument("--task", choices=TASKS, required=True, help="what to evaluate (see above)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--dataset", default=None,
                        help="prepared dataset name under <results>/data (default: the stage's train.dataset)")
    parser.add_argument("--split", default=None,
                        help="<protocol>/<class split>, a file of <results>/splits/<dataset>/ (default: the "
                             "stage's train.split)")
    parser.add_argument("--target", action="append", default=[], metavar="DATASET",
                        help="crossformat: a prepared dataset of another format to test on (repeatable)")
    parser.add_argument("--results", type=Path, default=None,
                        help="the results folder holding data/ and splits/ (default: the stage config's results)")
    parser.add_argument("--samples", type=int, default=0,
                        help="evaluate this many samples per dataset, spread evenly over it (default 0: all)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips rendered and generated together (default 8)")
    parser.add_argument("--seed", type=int, default=None, help="candidate orders (default: the stage's train.seed)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: cuda when torch sees one (default)")
    parser.add_argument("--no-generate", action="store_true",
                        help="score by likelihood only (accuracy is then the likelihood's)")
    parser.add_argument("--features", action="store_true",
                        help="also save the pooled projector features and their t-SNE plot")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log into the stage's MLflow run")


def stage_config(checkpoint: Path) -> dict:
    """The resolved config.json of a stage directory: {"config", "stage", "inputs"}."""
    path = checkpoint / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CommandError(f"{checkpoint}: no config.json (not a stage directory of `skeletonllm train`)") from None
    except json.JSONDecodeError as error:
        raise CommandError(f"{path}: not valid JSON ({error})") from None


def run(args: argparse.Namespace) -> int:
    """Evaluate and write the task's outputs."""
    if args.samples < 0 or args.batch_size < 1:
        raise CommandError("--samples must be >= 0 and --batch-size >= 1")
    if args.task == "crossformat" and not args.target:
        raise CommandError("--task crossformat needs at least one --target DATASET")
    from skeletonllm.eval.run import Evaluation, evaluate

    resolved = stage_config(args.checkpoint)
    config, train = resolved["config"], resolved["config"]["train"]
    evaluation = Evaluation(
        checkpoint=args.checkpoint, task=args.task, out=args.out,
        results=args.results or Path(config["results"]), dataset=args.dataset or train["dataset"],
        split=args.split or train["split"], targets=tuple(args.target), samples=args.samples,
        batch_size=args.batch_size, seed=train["seed"] if args.seed is None else args.seed, device=args.device,
        generate=not args.no_generate, features=args.features, variant=train["variant"],
        stage=resolved["stage"]["number"])
    metrics = evaluate(evaluation)
    if not args.no_mlflow:
        from skeletonllm.train.tracking import log_evaluation

        artifacts = sorted(path for path in args.out.rglob("*") if path.suffix in (".json", ".png"))
        run_id = log_evaluation(args.checkpoint, args.task, metrics, artifacts)
        print(f"logged into MLflow run {run_id}" if run_id else f"{args.checkpoint}: no MLflow run recorded")
    summary = {key: metrics[key] for key in ("accuracy", "likelihood_accuracy", "chance", "samples",
                                             "seen", "unseen", "harmonic_mean", "bleu4", "rouge_l", "cider",
                                             "embedding_similarity", "per_type") if key in metrics}
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")
    return 0
