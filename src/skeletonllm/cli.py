"""The single console script ``skeletonllm``: one subcommand per pipeline phase.

Each subcommand lives in its own module, which exports ``add_arguments(parser)`` and ``run(args) -> int``;
the first line of that module's docstring is its one-line help.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from skeletonllm.errors import ERROR_STATUS, CommandError

COMMANDS = {
    "inspect": "skeletonllm.formats.inspect",
    "synth": "skeletonllm.data.synth.cli",
    "download": "skeletonllm.data.download",
    "prepare": "skeletonllm.data.prepare",
    "splits": "skeletonllm.data.splits",
    "mine": "skeletonllm.mining.cli",
    "teach": "skeletonllm.teacher.cli",
    "render": "skeletonllm.render.cli",
    "build-model": "skeletonllm.model.build_cli",
    "train": "skeletonllm.train.cli",
    "evaluate": "skeletonllm.eval.cli",
    "baseline": "skeletonllm.baseline.cli",
    "tables": "skeletonllm.eval.tables_cli",
    "runs": "skeletonllm.runs_cli",
    "predict": "skeletonllm.eval.predict",
    "bench": "skeletonllm.bench.cli",
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand's options."""
    parser = argparse.ArgumentParser(
        prog="skeletonllm",
        description="SkeletonLLM pipeline: skeleton files, datasets (synthesis, download, preparation, splits), "
        "rendering, hard-negative mining, teacher rationales, the model and its training, evaluation, the feature "
        "baseline, tables, prediction and benchmarks. Every Snakemake rule calls one of these "
        "subcommands; run `skeletonllm <command> --help` for details.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        summary = (module.__doc__ or "").strip().splitlines()[0]
        sub = subparsers.add_parser(
            name, help=summary, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand; returns its exit status. An expected failure
    (errors.CommandError) prints one line, ``skeletonllm <command>: error: <message>``, and returns ERROR_STATUS."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CommandError as error:
        print(f"skeletonllm {args.command}: error: {error}", file=sys.stderr)
        return ERROR_STATUS


if __name__ == "__main__":
    sys.exit(main())
