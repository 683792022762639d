"""Result tables from the evaluation's metrics.json files: main, ablation, cross-format, GZSL, captioning and QA.

The runs are read from <results>/eval/**/metrics.json (SkeletonLLM) and <results>/baseline/**/metrics.json (feature
baseline). Runs that share a table cell (the seeds of one method, dataset, split and task) are shown as
"mean ± std (n=N)" with the sample standard deviation (ddof=1); a single run shows its value alone. The ablation
table has one row per SkeletonLLM variant, its cells aggregated over the variant's training seeds. The paper's
reported numbers sit in rows of their own ("reported (paper)", "<variant> (reported, paper)"), never mixed into
measured rows.

Every table is always written, as Markdown, CSV and LaTeX (booktabs): one whose task has no metrics is a single
line saying no run produced it in Markdown and headers only in CSV and LaTeX, so downstream files always exist
(the main, ablation and cross-format tables keep their reported rows, after that line).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from skeletonllm.errors import CommandError

# Top-1 accuracy (%) reported in the paper "Universal Skeleton Understanding via Differentiable Rendering and MLLMs"
# (arXiv 2603.18003): open-vocabulary recognition per (dataset, seen/unseen classes), cross-format transfer per
# (source, target), and the ablations per variant (open-vocab on ABLATION_SPLIT; render_3d_velocity: the paper's two
# fixed 3D+velocity settings). Shown only in the reported rows.
PAPER = {
    "openvocab": {("NTU-60", "55/5"): 87.37, ("NTU-60", "48/12"): 64.72, ("NTU-120", "110/10"): 76.05,
                  ("NTU-120", "96/24"): 67.20, ("NTU-60", "40/20"): 46.15, ("NTU-60", "30/30"): 37.84},
    "crossformat": {("NTU-60", "NW-UCLA"): 60.38},
    "ablation": {"full": 64.72, "stages_1_4": 62.09, "stages_1_2_4": 63.37, "render_3d_velocity": (56.18, 58.77),
                 "no_cond_label": 64.58, "no_final_label": 63.77},
}
ABLATION_SPLIT = ("NTU-60", "48/12")  # the (dataset, split) of the paper's ablation numbers
REPORTED = "reported (paper)"
REPORTED_SUFFIX = " (reported, paper)"  # ends the label of a reported row that names what it reports
OURS = "SkeletonLLM"  # the method whose variants the ablation table compares
FULL = "full"  # the variant the ablation table lists first
REQUIRED = ("method", "dataset", "task")  # a metrics.json without one of these is an error
MAIN_TASKS = {"openvocab": "open-vocab", "closed": "closed"}  # task -> column label, in column order
TITLES = {
    "main": "Main results: top-1 accuracy (%)",
    "ablation": "Ablations: top-1 accuracy (%) per SkeletonLLM variant, over its training seeds",
    "crossformat": "Cross-format transfer: top-1 accuracy on the shared classes",
    "gzsl": "Generalized zero-shot recognition (%)",
    "captioning": "Captioning (BLEU-4 on 0-100, ROUGE-L, CIDEr and similarity on 0-1, retrieval in %)",
    "qa": "Question answering: accuracy (%)",
}
NO_RUN = "_No run produced this table: no metrics.json of its task was found._"


@dataclass(frozen=True)
class Run:
    """The contents of one metrics.json (or of one object inside it) and where they came from, for error messages."""

    where: str
    metrics: Any

    def __post_init__(self) -> None:
        if not isinstance(self.metrics, dict):
            raise CommandError(f"{self.where}: not a JSON object")

    def __getitem__(self, key: str) -> Any:
        """The field `key`; a missing one is a CommandError naming the file."""
        if key not in self.metrics:
            raise CommandError(f"{self.where}: no {key!r} field")
        return self.metrics[key]

    def number(self, key: str) -> float:
        """The numeric field `key`."""
        value = self[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CommandError(f"{self.where}: {key!r} is not a number: {value!r}")
        return float(value)

    def part(self, key: str, name: str) -> Run:
        """The object key[name] (e.g. one target of a cross-format run) as a Run of its own."""
        value = self[key]
        if not isinstance(value, dict):
            raise CommandError(f"{self.where}: {key!r} is not a JSON object")
        return Run(f"{self.where}: {key}[{name!r}]", value[name])


def load_runs(results: Path) -> list[Run]:
    """Every <results>/eval/**/metrics.json and <results>/baseline/**/metrics.json, sorted by path. A file that is
    not a JSON object with method, dataset and task is a CommandError naming it; none at all asks to evaluate first."""
    paths = sorted([*(results / "eval").glob("**/metrics.json"), *(results / "baseline").glob("**/metrics.json")])
    if not paths:
        raise CommandError(f"no metrics.json under {results / 'eval'} or {results / 'baseline'}: "
                           "run the evaluation first")
    runs = []
    for path in paths:
        try:
            run = Run(str(path), json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            raise CommandError(f"{path}: not a readable JSON file ({error})") from error
        missing = [key for key in REQUIRED if key not in run.metrics]
        if missing:
            raise CommandError(f"{path}: no {', '.join(map(repr, missing))} field")
        runs.append(run)
    return runs


def method_label(run: Run) -> str:
    """A run's row label: the method with its variant and stage, e.g. "SkeletonLLM (full, stage 4)"; the feature
    baseline (variant "baseline", no stage) is its method name alone."""
    details = [] if run.metrics.get("variant") in (None, "baseline") else [str(run.metrics["variant"])]
    if run.metrics.get("stage") is not None:
        details.append(f"stage {run.metrics['stage']}")
    return f"{run['method']} ({', '.join(details)})" if details else str(run["method"])


def format_cell(values: Iterable[float], scale: float = 100.0, digits: int = 2) -> str:
    """One cell from its values (one per seed) times `scale`: "60.00 ± 14.14 (n=2)" (sample std) for several, the
    value alone for one, "" for none."""
    scaled = [value * scale for value in values]
    if not scaled:
        return ""
    if len(scaled) == 1:
        return f"{scaled[0]:.{digits}f}"
    return f"{statistics.mean(scaled):.{digits}f} ± {statistics.stdev(scaled):.{digits}f} (n={len(scaled)})"


def _method_order(label: str) -> tuple[bool, str]:
    """Sort key of row labels: SkeletonLLM rows first, then the others alphabetically."""
    return not label.startswith(OURS), label


def _in_row_order(groups: dict[tuple, list[Run]]) -> dict[tuple, list[Run]]:
    """`groups`, whose keys start with the method label, sorted into row order."""
    return dict(sorted(groups.items(), key=lambda item: (_method_order(item[0][0]), item[0][1:])))


def _groups(runs: list[Run], task: str, key: Callable[[Run], tuple]) -> dict[tuple, list[Run]]:
    """The runs of `task` grouped by key(run), whose first element is the row label (a method label but in the
    ablation table), in row order."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        if run["task"] == task:
            groups.setdefault(key(run), []).append(run)
    return _in_row_order(groups)


def _method_dataset_split(run: Run) -> tuple[str, str, str]:
    """Row key of the per-task tables: method label, dataset and split."""
    return method_label(run), str(run["dataset"]), str(run["split"])


def _distinct(values: Iterable[str]) -> str:
    """The distinct values of a cell that should not vary across seeds, joined by " / " (so a difference shows)."""
    return " / ".join(dict.fromkeys(values))


def _recognition_groups(runs: list[Run], label: Callable[[Run], str]) -> tuple[dict[str, dict[str, list[Run]]],
                                                                                list[str]]:
    """The runs of the recognition tasks (MAIN_TASKS) by row label(run) and column "<dataset> <split> <task label>"
    (e.g. "synth xsub/s19u5 open-vocab"), with the columns in order: dataset, split, then task as in MAIN_TASKS."""
    def key(run: Run) -> tuple[str, str, str]:
        return label(run), str(run["dataset"]), str(run["split"])

    groups: dict[str, dict[str, list[Run]]] = {}
    columns: dict[str, tuple] = {}
    for order, (task, task_label) in enumerate(MAIN_TASKS.items()):
        for (row, dataset, split), group in _groups(runs, task, key).items():
            column = f"{dataset} {split} {task_label}"
            columns[column] = (dataset, split, order)
            groups.setdefault(row, {})[column] = group
    return groups, sorted(columns, key=columns.__getitem__)


def _accuracy_cells(groups: dict[str, list[Run]], columns: list[str]) -> dict[str, str]:
    """One row's accuracy cells (%) from its runs per column (see _recognition_groups); "" where it has none."""
    return {column: format_cell(run.number("accuracy") for run in groups.get(column, [])) for column in columns}


def _reported_column(dataset: str, split: str) -> str:
    """The header of a column of the paper's open-vocab numbers, e.g. "NTU-60 48/12 open-vocab (reported)"."""
    return f"{dataset} {split} open-vocab (reported)"


def _reported_value(value: float | tuple[float, ...]) -> str:
    """A reported number as a cell: "64.72"; several (settings the paper reports side by side) joined by " / "."""
    return " / ".join(f"{number:.2f}" for number in (value if isinstance(value, tuple) else (value,)))


def main_table(runs: list[Run]) -> pd.DataFrame:
    """Accuracy (%) per method (rows) and dataset + split + task in {openvocab, closed} (columns, e.g. "synth
    xsub/s19u5 open-vocab"), then the "reported (paper)" row with the paper's numbers in columns of their own."""
    groups, measured = _recognition_groups(runs, method_label)
    paper = {_reported_column(dataset, split): _reported_value(value)
             for (dataset, split), value in PAPER["openvocab"].items()}
    rows = [{"method": label, **_accuracy_cells(groups[label], measured), **dict.fromkeys(paper, "")}
            for label in sorted(groups, key=_method_order)]
    rows.append({"method": REPORTED, **dict.fromkeys(measured, ""), **paper})
    return pd.DataFrame(rows, columns=["method", *measured, *paper])


def _variant_order(variant: str) -> tuple[bool, str]:
    """Sort key of the ablation's variants: FULL first, then the others alphabetically."""
    return variant != FULL, variant


def ablation_table(runs: list[Run]) -> pd.DataFrame:
    """One row per SkeletonLLM variant (FULL first, then alphabetically): the evaluated stage(s), accuracy (%) per
    dataset + split + task in {openvocab, closed} over the variant's seeds (columns as in the main table) and the
    number of distinct seeds; then one "<variant> (reported, paper)" row per ablation the paper reports, its number
    in a column of its own (two settings joined by " / ")."""
    groups, measured = _recognition_groups([run for run in runs if run["method"] == OURS],
                                           lambda run: str(run["variant"]))
    reported = _reported_column(*ABLATION_SPLIT)
    rows = []
    for variant in sorted(groups, key=_variant_order):
        variant_runs = [run for group in groups[variant].values() for run in group]
        rows.append({"variant": variant, "stage": _distinct(str(run["stage"]) for run in variant_runs),
                     **_accuracy_cells(groups[variant], measured),
                     "seeds": str(len({run["seed"] for run in variant_runs})), reported: ""})
    columns = ["variant", "stage", *measured, "seeds", reported]
    rows += [{**dict.fromkeys(columns, ""), "variant": variant + REPORTED_SUFFIX, reported: _reported_value(value)}
             for variant, value in sorted(PAPER["ablation"].items(), key=lambda item: _variant_order(item[0]))]
    return pd.DataFrame(rows, columns=columns)


def crossformat_table(runs: list[Run]) -> pd.DataFrame:
    """One row per method and "source -> target" pair (and source split): accuracy and chance (%) on the shared
    classes, samples and the number of shared classes; then the paper's reported transfer rows."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        if run["task"] == "crossformat":
            for target in run["targets"]:
                transfer = f"{run['dataset']} -> {target}"
                key = (method_label(run), transfer, str(run["split"]))
                groups.setdefault(key, []).append(run.part("targets", target))
    rows = [{"method": label, "source -> target": transfer, "split": split,
             "accuracy (%)": format_cell(result.number("accuracy") for result in results),
             "chance (%)": _distinct(f"{100 * result.number('chance'):.2f}" for result in results),
             "samples": _distinct(str(result["samples"]) for result in results),
             "shared classes": _distinct(str(len(result["classes"])) for result in results)}
            for (label, transfer, split), results in _in_row_order(groups).items()]
    columns = ["method", "source -> target", "split", "accuracy (%)", "chance (%)", "samples", "shared classes"]
    rows += [{**dict.fromkeys(columns, ""), "method": REPORTED,
              "source -> target": f"{source} -> {target}{REPORTED_SUFFIX}", "accuracy (%)": _reported_value(value)}
             for (source, target), value in PAPER["crossformat"].items()]
    return pd.DataFrame(rows, columns=columns)


# A column of the per-task tables: header, the value of one run (None: absent from that run), scale, digits.
Column = tuple[str, Callable[[Run], float | None], float, int]


def _field(key: str) -> Callable[[Run], float]:
    """Column value: the numeric field `key` of a run."""
    return lambda run: run.number(key)


def _task_table(runs: list[Run], task: str, columns: list[Column]) -> pd.DataFrame:
    """One row per method, dataset and split of `task`; each column's cell aggregates its value over the seeds."""
    rows = []
    for (label, dataset, split), group in _groups(runs, task, _method_dataset_split).items():
        row = {"method": label, "dataset": dataset, "split": split}
        for header, value, scale, digits in columns:
            row[header] = format_cell((v for v in map(value, group) if v is not None), scale, digits)
        rows.append(row)
    return pd.DataFrame(rows, columns=["method", "dataset", "split", *(column[0] for column in columns)])


def gzsl_table(runs: list[Run]) -> pd.DataFrame:
    """Generalized zero-shot accuracy (%) on seen and unseen classes and their harmonic mean."""
    return _task_table(runs, "gzsl", [("seen (%)", _field("seen"), 100.0, 2),
                                      ("unseen (%)", _field("unseen"), 100.0, 2),
                                      ("harmonic mean (%)", _field("harmonic_mean"), 100.0, 2)])


def captioning_table(runs: list[Run]) -> pd.DataFrame:
    """Captioning metrics on their own scales: BLEU-4 (0-100), ROUGE-L, CIDEr, embedding similarity, and the
    retrieval top 1 (%) with its chance (%)."""
    return _task_table(runs, "caption", [("BLEU-4", _field("bleu4"), 1.0, 2),
                                         ("ROUGE-L", _field("rouge_l"), 1.0, 4),
                                         ("CIDEr", _field("cider"), 1.0, 4),
                                         ("embedding similarity", _field("embedding_similarity"), 1.0, 4),
                                         ("R@1 of 32 (%)", _field("accuracy"), 100.0, 2),
                                         ("chance (%)", _field("chance"), 100.0, 2)])


def _question_type(name: str) -> Callable[[Run], float | None]:
    """Column value: a QA run's accuracy on one question type; None where the run asked none of that type."""
    def value(run: Run) -> float | None:
        per_type = Run(f"{run.where}: per_type", run["per_type"])
        return per_type.number(name) if name in per_type.metrics else None

    return value


def qa_table(runs: list[Run]) -> pd.DataFrame:
    """Question answering: overall accuracy (%) and one column per question type (%)."""
    types = sorted({name for run in runs if run["task"] == "qa" for name in run["per_type"]})
    columns = [("accuracy (%)", _field("accuracy"), 100.0, 2),
               *((f"{name} (%)", _question_type(name), 100.0, 2) for name in types)]
    return _task_table(runs, "qa", columns)


def build_tables(runs: list[Run]) -> dict[str, pd.DataFrame]:
    """All tables, by name (the keys of TITLES), with string cells."""
    return {"main": main_table(runs), "ablation": ablation_table(runs), "crossformat": crossformat_table(runs),
            "gzsl": gzsl_table(runs), "captioning": captioning_table(runs), "qa": qa_table(runs)}


def has_runs(frame: pd.DataFrame) -> bool:
    """Whether a table holds a measured row: one whose label (first column) is neither REPORTED nor ends with
    REPORTED_SUFFIX."""
    labels = frame[frame.columns[0]].astype(str)
    return bool((~(labels.eq(REPORTED) | labels.str.endswith(REPORTED_SUFFIX))).any())


def to_markdown(frame: pd.DataFrame) -> str:
    """A pipe table of `frame` ('|' in cells escaped), after the line NO_RUN when no run produced a row (the table
    then holds only reported rows); that line alone when the table has no rows at all."""
    if frame.empty:
        return NO_RUN + "\n"

    def line(cells: Iterable[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", r"\|") for cell in cells) + " |"

    rows = [line(frame.columns), line(["---"] * len(frame.columns)), *map(line, frame.itertuples(index=False))]
    table = "\n".join(rows) + "\n"
    return table if has_runs(frame) else f"{NO_RUN}\n\n{table}"


def to_latex(frame: pd.DataFrame) -> str:
    """A booktabs tabular of `frame`, LaTeX special characters escaped, "±" and "->" as math symbols."""
    return frame.to_latex(index=False, escape=True).replace("±", r"$\pm$").replace("->", r"$\rightarrow$")


def index_markdown(tables: dict[str, pd.DataFrame]) -> str:
    """<out>/index.md: a link to each table's Markdown, CSV and LaTeX file, noting those no run produced."""
    lines = ["# Result tables", ""]
    for name, frame in tables.items():
        note = "" if has_runs(frame) else " (no run produced it)"
        lines.append(f"- [{TITLES[name]}]({name}.md){note}: [CSV]({name}.csv), [LaTeX]({name}.tex)")
    return "\n".join(lines) + "\n"


def write_tables(tables: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """Write <out>/<name>.md, .csv and .tex for every table, then <out>/index.md; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        markdown, csv, latex = (out / f"{name}.{extension}" for extension in ("md", "csv", "tex"))
        markdown.write_text(f"# {TITLES[name]}\n\n{to_markdown(frame)}", encoding="utf-8")
        frame.to_csv(csv, index=False, encoding="utf-8")
        latex.write_text(to_latex(frame), encoding="utf-8")
        written += [markdown, csv, latex]
    index = out / "index.md"
    index.write_text(index_markdown(tables), encoding="utf-8")
    return [*written, index]
