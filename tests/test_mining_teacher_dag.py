"""Rules mine and teach: config keys reach the `skeletonllm mine` / `teach` flags, the splits folder is a dependency
of teach, a dataset missing from `datasets` fails clearly, and a real run of the small default writes both outputs."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import REPO, write_config
from test_workflow import dry_run_jobs, load


def shell_of(jobs: list[dict], rule: str) -> list[str]:
    return [job["shell"] for job in jobs if job["rule"] == rule]


def test_config_keys_reach_mine_and_teach_flags(tmp_path, snakemake):
    config = load("config.yaml")
    config["mining"].update(backend="embedding", top_k=3, datasets=["synth", "synth_ucla"])
    config["teacher"].update(condition_on_label=False, keep_final_label=False, splits=["xsub/s19u5", "xsub/closed"])
    result = snakemake(tmp_path, "-n", "-p", "all", "--configfile", str(write_config(tmp_path / "c.yaml", config)))
    assert result.returncode == 0, result.stdout
    jobs = dry_run_jobs(result.stdout)
    mines = shell_of(jobs, "mine")
    assert sorted(re.search(r"--classes (\S+)", cmd)[1] for cmd in mines) == ["results/data/synth", "results/data/synth_ucla"]
    assert all("--backend embedding --top-k 3" in cmd for cmd in mines)
    teaches = shell_of(jobs, "teach")
    assert sorted(re.search(r"--split (\S+)", cmd)[1] for cmd in teaches) == [
        "results/splits/synth/xsub/closed.json", "results/splits/synth/xsub/s19u5.json"]
    assert all("--backend kinematic --no-condition-on-label --no-keep-final-label" in cmd for cmd in teaches)


def test_teach_depends_on_the_splits_folder():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    teach = stages["teach-synth-xsub-s19u5"]
    assert "results/splits/synth" in teach["deps"]
    assert teach["outs"] == ["results/teacher/synth/xsub_s19u5/rationales.jsonl"]
    assert teach["params"] == [{"config/config.yaml": ["teacher.backend", "teacher.condition_on_label",
                                                       "teacher.keep_final_label"]}]
    assert stages["mine-synth"]["params"] == [{"config/config.yaml": ["mining.backend", "mining.top_k"]}]


@pytest.mark.parametrize("section", ["mining", "teacher"])
def test_unconfigured_dataset_fails_clearly(tmp_path, snakemake, section):
    config = load("config.yaml")
    config[section]["datasets"] = ["ntu60"]
    result = snakemake(tmp_path, "-n", "all", "--configfile", str(write_config(tmp_path / "bad.yaml", config)))
    assert result.returncode != 0
    assert f"{section}.datasets names 'ntu60', which is not one of datasets" in result.stdout


@pytest.mark.slow
def test_small_default_writes_hard_negatives_and_rationales(tmp_path, small_config, snakemake):
    targets = ["results/mining/synth/hard_negatives.json", "results/teacher/synth/xsub_s19u5/rationales.jsonl"]
    result = snakemake(tmp_path, "--cores", "2", *targets, "--configfile", str(small_config))
    assert result.returncode == 0, result.stdout
    classes = json.loads((tmp_path / "results/data/synth/manifest.json").read_text())["classes"]
    mined = json.loads((tmp_path / targets[0]).read_text())
    assert list(mined) == classes and all(len(v) == 5 and k not in v for k, v in mined.items())
    assert (tmp_path / "results/mining/synth/hard_negatives.png").stat().st_size > 0
    train = json.loads((tmp_path / "results/splits/synth/xsub/s19u5.json").read_text())["train"]
    lines = [json.loads(line) for line in (tmp_path / targets[1]).read_text().splitlines()]
    assert [line["sample_id"] for line in lines] == list(train)
    assert all(line["rationale"].splitlines()[-1] == f"Label: {line['label_name']}" for line in lines)
