"""Run a benchmark: `skeletonllm bench prepare` (NTU parse + normalize throughput), `render` (rasterizer speed) or
`train-step` (one stage-1 optimizer step, fast rasterizer vs dense) or `eval` (MQA candidate scoring from a
KV-cached prefix vs k full forwards).

Each benchmark is a module exporting add_arguments(parser) and run(args) -> int; the first line of its docstring
is its help.
"""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {"prepare": "skeletonllm.bench.prepare", "render": "skeletonllm.bench.render",
              "train-step": "skeletonllm.bench.train_step", "eval": "skeletonllm.bench.eval"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One sub-subcommand per benchmark."""
    benchmarks = parser.add_subparsers(dest="benchmark", required=True, metavar="<benchmark>")
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        summary = (module.__doc__ or "").strip().splitlines()[0]
        sub = benchmarks.add_parser(name, help=summary, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(_benchmark_run=module.run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark."""
    return int(args._benchmark_run(args) or 0)
