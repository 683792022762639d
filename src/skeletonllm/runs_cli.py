"""Compare the training runs tracked in MLflow: a table in the terminal, or a JSON list with --json.

Reads the runs of one MLflow experiment (tracking URI and experiment from the config, as `skeletonllm train` logs
them, unless --tracking-uri / --experiment say otherwise): each training stage is one run, named
<variant>/stage<N>/seed<S> and tagged variant, stage, seed, dataset and split; its evaluations add eval/<task>/<metric>
metrics. Only finished runs by default (--all adds running, failed and killed ones, with their status).

The table has one row per run, sorted by variant, stage and seed, and one column per chosen metric (--metrics; a name
matches the metric itself or, for the stage's final metrics, final/<name>; metrics no run has are left out), numbers
to 4 significant digits. When a (variant, stage) has runs of several seeds, a second table gives per metric
"mean ± std (n=N)" over its runs (sample standard deviation).

--json prints instead a list of runs, each {"run_id", "run_name", "variant", "stage", "seed", "status", "dataset",
"split", "metrics": {name: last logged value, for every metric of the run}} (stage and seed as integers; null where
a run lacks them; NaN and infinite values as null).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import socket
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from skeletonllm.config import DEFAULT_CONFIG
from skeletonllm.errors import CommandError
from skeletonllm.train.tracking import EVALUATION_KIND, PARENT_KIND

DEFAULT_METRICS = ("seen_mqa_accuracy", "eval/openvocab/accuracy", "eval/closed/accuracy", "loss_last",
                   "samples_per_s")
FINAL_PREFIX = "final/"  # tracking.finish_run logs a stage's final metrics under this prefix
RUN_NAME = re.compile(r"^(?P<variant>.+)/stage(?P<stage>\d+)/seed(?P<seed>-?\d+)$")
MISSING = "-"
TEXT_COLUMNS = ("run", "variant", "status", "seeds")  # left-aligned in the tables; the others hold numbers
PAGE_SIZE = 1000
SERVER_TIMEOUT_S = 10  # to open a connection to a tracking server


@dataclass
class TrackedRun:
    """One MLflow run of a training stage, as this command shows it."""

    run_id: str
    run_name: str
    variant: str | None
    stage: int | None
    seed: int | None
    status: str
    dataset: str | None
    split: str | None
    metrics: dict[str, float] = field(default_factory=dict)

    def sort_key(self) -> tuple:
        """Variant, stage, seed (runs lacking one first), then the run name."""
        return (self.variant or "", -1 if self.stage is None else self.stage,
                -1 if self.seed is None else self.seed, self.run_name)

    def metric(self, name: str) -> float | None:
        """The value of `name`, or of final/<name> when the run has no metric `name`; None when it has neither."""
        if name in self.metrics:
            return self.metrics[name]
        return self.metrics.get(FINAL_PREFIX + name)

    def to_json(self) -> dict:
        """The run as one element of --json's list."""
        return {"run_id": self.run_id, "run_name": self.run_name, "variant": self.variant, "stage": self.stage,
                "seed": self.seed, "status": self.status, "dataset": self.dataset, "split": self.split,
                "metrics": {name: json_number(value) for name, value in sorted(self.metrics.items())}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm runs`."""
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="PATH",
                        help="config whose mlflow section names the store and experiment (default: %(default)s)")
    parser.add_argument("--tracking-uri", metavar="URI",
                        help="MLflow tracking URI (default: the config's mlflow.tracking_uri; a sqlite:/// path is "
                        "relative to the working directory)")
    parser.add_argument("--experiment", metavar="NAME",
                        help="MLflow experiment (default: the config's mlflow.experiment, or the config file's name)")
    parser.add_argument("--variant", action="append", metavar="NAME",
                        help="only runs of this variant (repeat for several)")
    parser.add_argument("--stage", type=int, metavar="N", help="only runs of training stage N")
    parser.add_argument("--metrics", metavar="A,B,...",
                        help="comma-separated metric columns of the table (default: "
                        f"{','.join(DEFAULT_METRICS)}; only those some run has)")
    parser.add_argument("--all", action="store_true",
                        help="include runs that did not finish (running, failed, killed) and show the status")
    parser.add_argument("--json", action="store_true", help="print a JSON list of the runs instead of the table")


def run(args: argparse.Namespace) -> int:
    """Read the experiment's runs, filter them and print the table or the JSON list."""
    requested = parse_metrics(args.metrics)
    tracking_uri, experiment = resolve_target(args.config, args.tracking_uri, args.experiment)
    runs = load_runs(tracking_uri, experiment)
    runs = select(runs, args.variant, args.stage, args.all)
    if args.json:
        print(json.dumps([tracked.to_json() for tracked in runs], indent=2, allow_nan=False))
        return 0
    if not runs:
        print(f"No {'' if args.all else 'finished '}runs{describe_filters(args.variant, args.stage)} in experiment "
              f"{experiment!r} at {tracking_uri}.")
        return 0
    columns = [name for name in requested if any(tracked.metric(name) is not None for tracked in runs)]
    absent = [name for name in requested if name not in columns]
    if absent and args.metrics is not None:
        print(f"skeletonllm runs: no run has the metric(s) {', '.join(absent)}", file=sys.stderr)
    print(runs_table(runs, columns, args.all))
    summary = seeds_table(runs, columns)
    if summary:
        print()
        print("Mean ± std over seeds:")
        print(summary)
    return 0


def parse_metrics(text: str | None) -> list[str]:
    """The metric names of --metrics (the defaults without it); CommandError when it names none."""
    if text is None:
        return list(DEFAULT_METRICS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise CommandError("--metrics names no metric (give comma-separated names, e.g. seen_mqa_accuracy,loss_last)")
    return list(dict.fromkeys(names))


def resolve_target(config_path: Path, tracking_uri: str | None, experiment: str | None) -> tuple[str, str]:
    """(tracking URI, experiment): the options, else the config's mlflow section (experiment: its name, else the
    config file's stem) exactly as `skeletonllm train` chooses them. The config is read only when needed."""
    if tracking_uri is None or experiment is None:
        from skeletonllm.config import config_name, load_config

        mlflow_config = load_config(config_path)["mlflow"]
        tracking_uri = tracking_uri or mlflow_config["tracking_uri"]
        experiment = experiment or mlflow_config["experiment"] or config_name(config_path)
    return tracking_uri, experiment


def local_store(tracking_uri: str) -> Path | None:
    """The file or folder a local tracking URI (sqlite:///PATH, file:PATH or a plain path) points at; None for a
    server or any other database."""
    if tracking_uri.startswith("sqlite:///"):
        path = tracking_uri[len("sqlite:///"):].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "":
        return Path(tracking_uri)
    return None


def check_server(tracking_uri: str) -> None:
    """CommandError when an http(s) tracking URI's server takes no connection (MLflow itself would retry for
    minutes before failing)."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        with socket.create_connection((parsed.hostname, port), timeout=SERVER_TIMEOUT_S):
            pass
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot reach the MLflow tracking server at {tracking_uri} ({error}); start it "
                           "(`mlflow server`) or pass --tracking-uri") from None


def load_runs(tracking_uri: str, experiment: str) -> list[TrackedRun]:
    """Every active (not deleted) stage run of the experiment, any status (not the parent runs that group a
    variant's stages, nor the evaluation runs, whose metrics the stage runs carry as eval/<task>/*); CommandError
    when the store cannot be read or has no such experiment."""
    store = local_store(tracking_uri)
    if store is not None and not store.exists():
        raise CommandError(f"no MLflow tracking store at {tracking_uri} ({store} does not exist); run "
                           f"`skeletonllm train` first, or pass --tracking-uri")
    check_server(tracking_uri)
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        found = client.get_experiment_by_name(experiment)
        if found is None or found.lifecycle_stage != "active":
            names = sorted(item.name for item in client.search_experiments())
            known = f" (it has: {', '.join(names)})" if names else " (it has none)"
            raise CommandError(f"no MLflow experiment {experiment!r} at {tracking_uri}{known}; run `skeletonllm "
                               "train` first, or pass --experiment")
        runs, token = [], None
        while True:
            page = client.search_runs([found.experiment_id], run_view_type=ViewType.ACTIVE_ONLY,
                                      max_results=PAGE_SIZE, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                break
    except MlflowException as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(f"cannot read the MLflow tracking store at {tracking_uri}: {message}") from None
    stages = [item for item in runs if item.data.tags.get("run_kind") not in (PARENT_KIND, EVALUATION_KIND)]
    return sorted((tracked_run(item) for item in stages), key=TrackedRun.sort_key)


def as_int(text: str | None) -> int | None:
    """int of a tag value (MLflow stores tags as strings), None when absent or not an integer."""
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def tracked_run(mlflow_run) -> TrackedRun:
    """A TrackedRun of an MLflow Run: variant, stage and seed from its tags, else from its run name."""
    tags = mlflow_run.data.tags
    name = mlflow_run.info.run_name or tags.get("mlflow.runName") or ""
    parsed = RUN_NAME.match(name)
    from_name = parsed.groupdict() if parsed else {}
    variant = tags.get("variant") or from_name.get("variant")
    stage = as_int(tags.get("stage")) if as_int(tags.get("stage")) is not None else as_int(from_name.get("stage"))
    seed = as_int(tags.get("seed")) if as_int(tags.get("seed")) is not None else as_int(from_name.get("seed"))
    return TrackedRun(run_id=mlflow_run.info.run_id, run_name=name, variant=variant, stage=stage, seed=seed,
                      status=mlflow_run.info.status, dataset=tags.get("dataset"), split=tags.get("split"),
                      metrics=dict(mlflow_run.data.metrics))


def select(runs: list[TrackedRun], variants: list[str] | None, stage: int | None,
           include_unfinished: bool) -> list[TrackedRun]:
    """The runs of the given variants (any when None) and stage (any when None), finished ones only unless
    include_unfinished."""
    return [tracked for tracked in runs
            if (include_unfinished or tracked.status == "FINISHED")
            and (not variants or tracked.variant in variants)
            and (stage is None or tracked.stage == stage)]


def describe_filters(variants: list[str] | None, stage: int | None) -> str:
    """" of variant a, b at stage N" for the message of an empty selection."""
    parts = []
    if variants:
        parts.append(f" of variant {', '.join(variants)}")
    if stage is not None:
        parts.append(f" at stage {stage}")
    return "".join(parts)


def json_number(value: float) -> float | None:
    """value, or None for NaN and infinities (JSON has neither)."""
    return value if math.isfinite(value) else None


def format_number(value: float | None) -> str:
    """A table cell: 4 significant digits, trailing zeros kept (0.5000, 12.00, 1234; whole numbers from 10000 on),
    MISSING for None."""
    if value is None:
        return MISSING
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 10_000:
        return f"{value:.0f}"
    return f"{value:#.4g}".rstrip(".")


def text_table(rows: list[dict[str, str]], columns: list[str], left: tuple[str, ...] = TEXT_COLUMNS) -> str:
    """The rows as aligned plain text, two spaces between columns: the `left` columns (text) left-aligned, the
    others (numbers) right-aligned, each header aligned as its column."""
    cells = [columns] + [[row[name] for name in columns] for row in rows]
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) if name in left else cell.rjust(width)
                  for name, cell, width in zip(columns, line, widths)).rstrip()
        for line in cells)


def runs_table(runs: list[TrackedRun], metrics: list[str], with_status: bool) -> str:
    """One row per run: run name, variant, stage, seed (and status), then the metrics."""
    columns = ["run", "variant", "stage", "seed"] + (["status"] if with_status else []) + metrics
    rows = []
    for tracked in runs:
        row = {"run": tracked.run_name or tracked.run_id, "variant": tracked.variant or MISSING,
               "stage": MISSING if tracked.stage is None else str(tracked.stage),
               "seed": MISSING if tracked.seed is None else str(tracked.seed), "status": tracked.status}
        row.update({name: format_number(tracked.metric(name)) for name in metrics})
        rows.append(row)
    return text_table(rows, columns)


def mean_std(values: list[float]) -> str:
    """"mean ± std (n=N)" (sample std) of several values, "value (n=1)" for one, MISSING for none."""
    if not values:
        return MISSING
    if len(values) == 1:
        return f"{format_number(values[0])} (n=1)"
    return (f"{format_number(statistics.mean(values))} ± {format_number(statistics.stdev(values))} "
            f"(n={len(values)})")


def seeds_table(runs: list[TrackedRun], metrics: list[str]) -> str | None:
    """Per (variant, stage) with runs of at least two seeds: its seeds and, per metric, mean ± std over its runs;
    None when no (variant, stage) has several seeds."""
    groups: dict[tuple, list[TrackedRun]] = {}
    for tracked in runs:
        groups.setdefault((tracked.variant, tracked.stage), []).append(tracked)
    rows = []
    for (variant, stage), members in groups.items():
        seeds = sorted({tracked.seed for tracked in members if tracked.seed is not None})
        if len(seeds) < 2:
            continue
        row = {"variant": variant or MISSING, "stage": MISSING if stage is None else str(stage),
               "seeds": ",".join(str(seed) for seed in seeds)}
        for name in metrics:
            values = [tracked.metric(name) for tracked in members]
            row[name] = mean_std([value for value in values if value is not None and math.isfinite(value)])
        rows.append(row)
    if not rows:
        return None
    return text_table(rows, ["variant", "stage", "seeds"] + metrics)
