"""`skeletonllm tables`: known metrics.json files in, exact numbers back from the CSVs (seeds as mean ± std, the
paper's rows kept apart, the ablation per variant over seeds, cross-format targets, GZSL, captioning, QA), every
file written even for a task without runs, and broken or missing metrics as a CommandError."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from skeletonllm.errors import CommandError
from skeletonllm.eval import tables, tables_cli

SPLIT = "xsub/s19u5"
OPEN = f"synth {SPLIT} open-vocab"
CLOSED = f"synth {SPLIT} closed"
ABLATION_REPORTED = "NTU-60 48/12 open-vocab (reported)"
OURS = "SkeletonLLM (full, stage 4)"
BASELINE = "feature baseline"
TABLES = ("main", "ablation", "crossformat", "gzsl", "captioning", "qa")


def write(results: Path, relative: str, task: str, method: str = "SkeletonLLM", seed: int = 0, **fields) -> None:
    """Write <results>/<relative>/metrics.json for `task` with the contract's common fields, then `fields`."""
    variant, stage = ("baseline", None) if method == BASELINE else ("full", 4)
    metrics = {"method": method, "dataset": "synth", "split": SPLIT, "task": task, "variant": variant, "seed": seed,
               "stage": stage, "samples": 20, **fields}
    path = results / relative / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics))


def run_tables(results: Path, out: Path | None = None) -> int:
    """Call the command as the CLI does: parse its own options, then run."""
    parser = argparse.ArgumentParser()
    tables_cli.add_arguments(parser)
    argv = ["--results", str(results)] + (["--out", str(out)] if out else [])
    return tables_cli.run(parser.parse_args(argv))


def read(out: Path, name: str) -> pd.DataFrame:
    """A written CSV with every cell as a string ("" where empty)."""
    return pd.read_csv(out / f"{name}.csv", dtype=str, keep_default_na=False)


def cell(frame: pd.DataFrame, column: str, **where: str) -> str:
    """The one cell of `column` in the row matching `where`."""
    rows = frame
    for key, value in where.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, f"{len(rows)} rows match {where}"
    return rows[column].iloc[0]


@pytest.fixture
def results(tmp_path) -> Path:
    """Two seeds of SkeletonLLM and one baseline (open-vocab), one cross-format run with two targets, and one run
    each of GZSL, captioning and QA."""
    root = tmp_path / "results"
    write(root, "eval/synth/full/seed0/openvocab", "openvocab", accuracy=0.5, chance=0.2)
    write(root, "eval/synth/full/seed1/openvocab", "openvocab", seed=1, accuracy=0.7, chance=0.2)
    write(root, "eval/synth/full/closed", "closed", accuracy=0.9, chance=0.05)
    write(root, "baseline/synth/openvocab", "openvocab", method=BASELINE, accuracy=0.25, chance=0.2)
    targets = {"ntu60": {"accuracy": 0.4, "chance": 0.1, "samples": 50, "classes": ["a", "b", "c"], "topology": "ntu"},
               "ucla": {"accuracy": 0.6, "chance": 0.25, "samples": 30, "classes": ["a", "b"], "topology": "ucla"}}
    write(root, "eval/synth/full/crossformat", "crossformat", accuracy=0.5, chance=0.175, targets=targets)
    write(root, "eval/synth/full/gzsl", "gzsl", accuracy=0.6, chance=0.04, seen=0.8, unseen=0.4, harmonic_mean=0.5333)
    write(root, "eval/synth/full/caption", "caption", bleu4=12.345, rouge_l=0.3, cider=0.45, embedding_similarity=0.6,
          accuracy=0.25, chance=0.03125)
    write(root, "eval/synth/full/qa", "qa", accuracy=0.55, chance=0.25, per_type={"count": 0.5, "direction": 0.625})
    return root


@pytest.fixture
def ablation_results(tmp_path) -> Path:
    """SkeletonLLM variants as the pipeline lays them out (first seed in <variant>/, others in <variant>/seed<S>/):
    full over seeds 0, 1, 2 (open-vocab) plus a closed run, stages_1_4 and frames_8 (which sorts before "full") over
    one seed, render_3d_velocity over two; and a feature-baseline run that the ablation leaves out."""
    root = tmp_path / "results"
    for seed, accuracy in ((0, 0.6), (1, 0.7), (2, 0.8)):
        folder = "full" if seed == 0 else f"full/seed{seed}"
        write(root, f"eval/synth/{folder}/openvocab", "openvocab", seed=seed, accuracy=accuracy, chance=0.2)
    write(root, "eval/synth/full/closed", "closed", accuracy=0.9, chance=0.05)
    write(root, "eval/synth/stages_1_4/openvocab", "openvocab", variant="stages_1_4", accuracy=0.55, chance=0.2)
    write(root, "eval/synth/frames_8/openvocab", "openvocab", variant="frames_8", accuracy=0.3, chance=0.2)
    write(root, "eval/synth/render_3d_velocity/openvocab", "openvocab", variant="render_3d_velocity", accuracy=0.4,
          chance=0.2)
    write(root, "eval/synth/render_3d_velocity/seed1/openvocab", "openvocab", variant="render_3d_velocity", seed=1,
          accuracy=0.5, chance=0.2)
    write(root, "baseline/synth/openvocab", "openvocab", method=BASELINE, accuracy=0.25, chance=0.2)
    return root


REPORTED_ABLATIONS = ["full (reported, paper)", "no_cond_label (reported, paper)", "no_final_label (reported, paper)",
                      "render_3d_velocity (reported, paper)", "stages_1_2_4 (reported, paper)",
                      "stages_1_4 (reported, paper)"]


def test_ablation_table_has_one_row_per_variant_over_its_seeds(ablation_results, tmp_path):
    out = tmp_path / "tables"
    assert run_tables(ablation_results, out) == 0
    ablation = read(out, "ablation")
    assert list(ablation.columns) == ["variant", "stage", OPEN, CLOSED, "seeds", ABLATION_REPORTED]
    assert list(ablation["variant"]) == ["full", "frames_8", "render_3d_velocity", "stages_1_4", *REPORTED_ABLATIONS]
    assert cell(ablation, OPEN, variant="full") == "70.00 ± 10.00 (n=3)"
    assert cell(ablation, OPEN, variant="render_3d_velocity") == "45.00 ± 7.07 (n=2)"
    assert cell(ablation, OPEN, variant="stages_1_4") == "55.00"
    assert cell(ablation, OPEN, variant="frames_8") == "30.00"
    assert cell(ablation, CLOSED, variant="full") == "90.00"
    assert cell(ablation, CLOSED, variant="stages_1_4") == ""
    assert [cell(ablation, "seeds", variant=name) for name in ("full", "render_3d_velocity", "stages_1_4")] \
        == ["3", "2", "1"]
    assert [cell(ablation, "stage", variant=name) for name in ("full", "render_3d_velocity", "stages_1_4")] \
        == ["4", "4", "4"]
    assert "25.00" not in set(ablation[OPEN]) and BASELINE not in set(ablation["variant"])


def test_ablation_reported_numbers_sit_in_their_own_rows_and_column(ablation_results, tmp_path):
    out = tmp_path / "tables"
    run_tables(ablation_results, out)
    ablation = read(out, "ablation")
    reported = {"full": "64.72", "no_cond_label": "64.58", "no_final_label": "63.77",
                "render_3d_velocity": "56.18 / 58.77", "stages_1_2_4": "63.37", "stages_1_4": "62.09"}
    assert {name: cell(ablation, ABLATION_REPORTED, variant=f"{name} (reported, paper)") for name in reported} \
        == reported
    measured = ablation[~ablation["variant"].isin(REPORTED_ABLATIONS)]
    assert len(measured) == 4 and set(measured[ABLATION_REPORTED]) == {""}
    paper = ablation[ablation["variant"].isin(REPORTED_ABLATIONS)]
    assert {column: set(paper[column]) for column in ("stage", OPEN, CLOSED, "seeds")} \
        == dict.fromkeys(("stage", OPEN, CLOSED, "seeds"), {""})
    markdown = (out / "ablation.md").read_text()
    assert tables.NO_RUN not in markdown and "| full | 4 | 70.00 ± 10.00 (n=3) | 90.00 | 3 |  |" in markdown
    assert r"70.00 $\pm$ 10.00 (n=3)" in (out / "ablation.tex").read_text()


def test_ablation_without_skeletonllm_runs_keeps_only_the_reported_rows(tmp_path):
    results = tmp_path / "results"
    write(results, "baseline/synth/openvocab", "openvocab", method=BASELINE, accuracy=0.25, chance=0.2)
    run_tables(results)
    out = results / "tables"
    ablation = read(out, "ablation")
    assert list(ablation.columns) == ["variant", "stage", "seeds", ABLATION_REPORTED]
    assert list(ablation["variant"]) == REPORTED_ABLATIONS
    markdown = (out / "ablation.md").read_text()
    assert tables.NO_RUN in markdown and "| render_3d_velocity (reported, paper) |  |  | 56.18 / 58.77 |" in markdown
    assert "(ablation.md) (no run produced it)" in (out / "index.md").read_text()
    assert tables.NO_RUN not in (out / "main.md").read_text()


def test_main_table_aggregates_seeds_and_keeps_the_baseline_and_closed_columns(results, tmp_path, capsys):
    out = tmp_path / "tables"
    assert run_tables(results, out) == 0
    main = read(out, "main")
    assert list(main["method"]) == [OURS, BASELINE, tables.REPORTED]
    assert cell(main, OPEN, method=OURS) == "60.00 ± 14.14 (n=2)"
    assert cell(main, OPEN, method=BASELINE) == "25.00"
    assert cell(main, f"synth {SPLIT} closed", method=OURS) == "90.00"
    assert cell(main, f"synth {SPLIT} closed", method=BASELINE) == ""
    printed = capsys.readouterr().out
    assert f"| {OURS} | 60.00 ± 14.14 (n=2) | 90.00 |" in printed
    assert str(out / "main.csv") in printed and str(out / "index.md") in printed


def test_reported_paper_numbers_sit_in_their_own_row_and_columns(results, tmp_path):
    out = tmp_path / "tables"
    run_tables(results, out)
    main = read(out, "main")
    reported = {"NTU-60 55/5": "87.37", "NTU-60 48/12": "64.72", "NTU-120 110/10": "76.05", "NTU-120 96/24": "67.20",
                "NTU-60 40/20": "46.15", "NTU-60 30/30": "37.84"}
    for split, value in reported.items():
        column = f"{split} open-vocab (reported)"
        assert cell(main, column, method=tables.REPORTED) == value
        assert set(main.loc[main["method"] != tables.REPORTED, column]) == {""}
    assert cell(main, OPEN, method=tables.REPORTED) == ""
    assert cell(main, f"synth {SPLIT} closed", method=tables.REPORTED) == ""


def test_crossformat_rows_per_target_and_the_reported_transfer(results, tmp_path):
    out = tmp_path / "tables"
    run_tables(results, out)
    cross = read(out, "crossformat")
    ntu = {"method": OURS, "source -> target": "synth -> ntu60"}
    ucla = {"method": OURS, "source -> target": "synth -> ucla"}
    assert [cell(cross, column, **ntu) for column in ("accuracy (%)", "chance (%)", "samples", "shared classes")] \
        == ["40.00", "10.00", "50", "3"]
    assert [cell(cross, column, **ucla) for column in ("accuracy (%)", "chance (%)", "samples", "shared classes")] \
        == ["60.00", "25.00", "30", "2"]
    assert cell(cross, "split", **ntu) == SPLIT
    reported = cross[cross["source -> target"] == "NTU-60 -> NW-UCLA (reported, paper)"]
    assert list(reported["method"]) == [tables.REPORTED] and list(reported["accuracy (%)"]) == ["60.38"]
    assert len(cross) == 3


def test_gzsl_captioning_and_qa_tables(results, tmp_path):
    out = tmp_path / "tables"
    run_tables(results, out)
    gzsl = read(out, "gzsl")
    assert [cell(gzsl, column, method=OURS) for column in ("seen (%)", "unseen (%)", "harmonic mean (%)")] \
        == ["80.00", "40.00", "53.33"]
    captions = read(out, "captioning")
    columns = ("BLEU-4", "ROUGE-L", "CIDEr", "embedding similarity", "R@1 of 32 (%)", "chance (%)")
    assert [cell(captions, column, method=OURS) for column in columns] \
        == ["12.35", "0.3000", "0.4500", "0.6000", "25.00", "3.12"]
    qa = read(out, "qa")
    assert list(qa.columns) == ["method", "dataset", "split", "accuracy (%)", "count (%)", "direction (%)"]
    assert [cell(qa, column, method=OURS) for column in ("accuracy (%)", "count (%)", "direction (%)")] \
        == ["55.00", "50.00", "62.50"]


def test_every_file_is_written_and_tasks_without_runs_say_so(tmp_path):
    results = tmp_path / "results"
    write(results, "eval/synth/full/openvocab", "openvocab", accuracy=0.5, chance=0.2)
    assert run_tables(results) == 0
    out = results / "tables"  # the default
    for name in TABLES:
        assert all((out / f"{name}.{extension}").is_file() for extension in ("md", "csv", "tex"))
    assert (out / "qa.csv").read_text().strip() == "method,dataset,split,accuracy (%)"
    assert tables.NO_RUN in (out / "qa.md").read_text()
    assert tables.NO_RUN in (out / "crossformat.md").read_text()
    assert tables.NO_RUN not in (out / "main.md").read_text()
    assert r"\toprule" in (out / "gzsl.tex").read_text()
    index = (out / "index.md").read_text()
    assert all(f"({name}.md)" in index and f"({name}.csv)" in index for name in TABLES)
    assert "(gzsl.md) (no run produced it)" in index and "(main.md) (no run produced it)" not in index


def test_latex_escapes_and_typesets_mean_and_std(results, tmp_path):
    out = tmp_path / "tables"
    run_tables(results, out)
    latex = (out / "main.tex").read_text()
    assert r"60.00 $\pm$ 14.14 (n=2)" in latex and r"\begin{tabular}" in latex
    assert r"accuracy (\%)" in (out / "crossformat.tex").read_text()


def test_format_cell():
    assert tables.format_cell([0.5]) == "50.00"
    assert tables.format_cell([0.5, 0.7]) == "60.00 ± 14.14 (n=2)"
    assert tables.format_cell([12.345, 12.345, 12.345], scale=1.0) == "12.35 ± 0.00 (n=3)"
    assert tables.format_cell([]) == ""


def test_broken_json_names_the_file(results, tmp_path):
    broken = results / "eval/synth/full/seed2/openvocab/metrics.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"method": "SkeletonLLM", ')
    with pytest.raises(CommandError, match="seed2/openvocab/metrics.json"):
        run_tables(results, tmp_path / "tables")


def test_a_file_without_its_task_names_the_file(results, tmp_path):
    path = results / "baseline/synth/closed/metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"method": BASELINE, "dataset": "synth", "accuracy": 0.3}))
    with pytest.raises(CommandError, match=r"baseline/synth/closed/metrics.json: no 'task' field"):
        run_tables(results, tmp_path / "tables")


def test_a_missing_table_field_names_the_file(results, tmp_path):
    write(results, "eval/synth/full/seed3/gzsl", "gzsl", seed=3, accuracy=0.6, chance=0.04, seen=0.8, unseen=0.4)
    with pytest.raises(CommandError, match=r"seed3/gzsl/metrics.json: no 'harmonic_mean' field"):
        run_tables(results, tmp_path / "tables")


def test_no_metrics_asks_to_run_the_evaluation_first(tmp_path):
    (tmp_path / "results" / "eval").mkdir(parents=True)
    with pytest.raises(CommandError, match="run the evaluation first"):
        run_tables(tmp_path / "results", tmp_path / "tables")
    assert not (tmp_path / "tables").exists()
