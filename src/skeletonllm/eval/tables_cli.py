"""Write the result tables (main, ablation, cross-format, GZSL, captioning, QA) as Markdown, CSV and LaTeX.

Reads every metrics.json the evaluation wrote: <results>/eval/<dataset>/<variant>[/seed<S>]/<task>/metrics.json
(SkeletonLLM) and <results>/baseline/<dataset>[/seed<S>]/<task>/metrics.json (feature baseline). Writes
<out>/<table>.md, <table>.csv and <table>.tex for the tables main, ablation (one row per SkeletonLLM variant),
crossformat, gzsl, captioning and qa, and <out>/index.md linking them. A table that no run produced is still
written (a one-line note in Markdown, headers only in CSV and LaTeX). Seeds sharing a cell show as
"mean ± std (n=N)"; the paper's reported numbers sit in rows of their own. Prints the main table in Markdown and
the paths written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from skeletonllm.eval import tables


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm tables`."""
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder holding eval/ and baseline/ (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="folder for the tables (default: <results>/tables)")


def run(args: argparse.Namespace) -> int:
    """Read the metrics, write the tables and print the main one with the paths written."""
    runs = tables.load_runs(args.results)
    built = tables.build_tables(runs)
    written = tables.write_tables(built, args.out or args.results / "tables")
    print(tables.to_markdown(built["main"]))
    print(f"Read {len(runs)} metrics.json files; wrote:")
    for path in written:
        print(f"  {path}")
    return 0
