"""`skeletonllm bench prepare --json`: the contract keys, with positive figures and the fast parser ahead."""

from __future__ import annotations

import json

from skeletonllm.cli import main


def test_bench_prepare_json_reports_positive_figures_and_a_speedup(capsys):
    assert main(["bench", "prepare", "--json", "--files", "6", "--workers", "2", "--repeats", "1"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"files_per_s", "mb_per_s", "baseline_files_per_s", "speedup"}
    assert all(value > 0 for value in figures.values())
    assert figures["speedup"] > 1  # the compiled reader beats the plain-Python baseline


def test_bench_prepare_text_report_names_both_parsers(capsys):
    assert main(["bench", "prepare", "--files", "3", "--workers", "1", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "read + normalize" in out and "parse_ntu_baseline + normalize" in out and "speedup" in out
    assert "3 NTU files" in out
