"""The Snakemake workflow: config schema validation (as the Snakefile does it, with one-line errors), the dry-run
DAG, config flowing to CLI flags and resources, and the SLURM profile installed by `make` as the named profile
`slurm`."""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import jsonschema
import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO, write_config
from skeletonllm.variants import apply_variant
from skeletonllm.workflow_dag import config_problem

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def validated(config: dict) -> dict:
    """Validate a copy exactly like the Snakefile does (config_problem, then snakemake.utils.validate, which fills
    defaults) and return it."""
    config = copy.deepcopy(config)
    assert config_problem(config, SCHEMA) is None
    validate(config, str(SCHEMA))
    return config


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_validate(name):
    config = validated(load(name))
    assert config["datasets"] and config["archives"]
    assert set(config["resources"]) == {"synth", "download", "prepare", "splits", "render_preview", "mine", "teach",
                                        "build_model", "train", "evaluate", "baseline", "tables"}


def test_paper_config_covers_the_real_datasets():
    config = validated(load("paper.yaml"))
    assert set(config["datasets"]) == {"ntu60", "ntu120", "nwucla", "pkummd", "humanml3d", "kinetics"}
    text = (REPO / "config" / "paper.yaml").read_text()
    for name, archive in config["archives"].items():
        source_line = next(line for line in text.splitlines() if archive["source"] in line)
        assert "FILL IN" in source_line, f"archive {name}: its source path is not marked for the user to fill in"


def test_defaults_fill_what_a_config_leaves_out():
    config = validated({"archives": {"synth": {"source": "synth"}}, "datasets": {"synth": {"archive": "synth"}}})
    assert config["results"] == "results" and config["workers"] == 2
    assert config["synth"] == {"seed": 0, "subjects": 10, "repetitions": 2, "cameras": 3}
    assert config["datasets"]["synth"]["subdir"] == "."
    assert config["resources"]["prepare"] == {"runtime": 60, "mem_mb": 4000}
    assert config["mining"] == {"backend": "kinematic", "top_k": 5, "datasets": ["synth"]}
    assert config["teacher"] == {"backend": "kinematic", "condition_on_label": True, "keep_final_label": True,
                                 "datasets": ["synth"], "splits": ["xsub/s19u5"]}
    assert config["render"]["device"] == "cpu"


def test_schema_objects_are_all_closed():
    """additionalProperties: false on every object that lists properties (bar `if` conditions, which only test)."""
    schema = yaml.safe_load(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    open_objects = []

    def walk(node, where):
        if isinstance(node, dict):
            if "properties" in node and node.get("additionalProperties") is not False:
                open_objects.append(where)
            for key, value in node.items():
                if key != "if":
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(schema, "#")
    assert not open_objects


def test_schema_dataset_names_are_the_prepare_registry():
    from skeletonllm.data.datasets import DATASETS

    schema = yaml.safe_load(SCHEMA.read_text())
    assert sorted(schema["properties"]["datasets"]["propertyNames"]["enum"]) == sorted(DATASETS)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c.update(wrokers=3), "invalid config: unknown key 'wrokers' (allowed there: ablation, ablation_grid, archives, baseline, captions,"),
        (lambda c: c["datasets"]["synth"].update(subdirr="x"),
         "invalid config: unknown key 'datasets.synth.subdirr' (allowed there: archive, subdir)"),
        (lambda c: c["resources"]["prepare"].update(gpus=1), "unknown key 'resources.prepare.gpus'"),
        (lambda c: c["render"].update(device="tpu"), "invalid config at 'render.device': 'tpu' is not one of"),
        (lambda c: c.update(workers="two"), "invalid config at 'workers': 'two' is not of type 'integer'"),
        (lambda c: c["synth"].update(seed=1.5), "at 'synth.seed': 1.5 is not of type 'integer'"),
        (lambda c: c["datasets"].update(ntu61={"archive": "synth"}), "at 'datasets': 'ntu61' is not one of"),
        (lambda c: c["archives"]["synth"].update(sha256="a" * 64), "at 'archives.synth': The synth archive is"),
        (lambda c: c["archives"].update(x={"source": "/x.zip"}),
         "at 'archives.x': An archive other than synth needs exactly one of sha256 and sha256_file."),
        (lambda c: c["archives"].update(x={"source": "/x.zip", "sha256": "a" * 64, "sha256_file": "f"}),
         "needs exactly one of sha256 and sha256_file"),
        (lambda c: c["archives"].update(x={"source": "/x.zip", "sha256": "z" * 64}), "at 'archives.x.sha256':"),
        (lambda c: c["mining"].update(backend="bert"), "'bert' is not one of ['kinematic', 'embedding']"),
        (lambda c: c["teacher"].update(splits=["s19u5"]), "at 'teacher.splits.0': 's19u5' does not match"),
        (lambda c: c["teacher"].update(condition_on_label="yes"), "'yes' is not of type 'boolean'"),
        (lambda c: c.pop("archives"), "invalid config: 'archives' is a required property"),
    ],
)
def test_bad_config_fails_with_a_clear_message(edit, expected):
    config = load("config.yaml")
    edit(config)
    message = config_problem(config, SCHEMA)
    assert expected in message
    assert "\n" not in message and len(message) < 300  # one line: the key and what is wrong, no schema dump


def test_snakemake_refuses_bad_config_at_start(tmp_path, snakemake):
    """The Snakefile validates at start: an unknown key or a wrong type stops the run, naming the key and its path
    in one line, without the schema."""
    config = load("config.yaml")
    config["datasets"]["synth"]["subdirr"] = "x"
    result = snakemake(tmp_path, "-n", "all", "--configfile", str(write_config(tmp_path / "bad.yaml", config)))
    assert result.returncode != 0
    assert "invalid config: unknown key 'datasets.synth.subdirr' (allowed there: archive, subdir)" in result.stdout
    assert "additionalProperties" not in result.stdout and len(result.stdout.splitlines()) < 10, result.stdout

    config = load("config.yaml")
    config["synth"]["subjects"] = "ten"
    result = snakemake(tmp_path, "-n", "all", "--configfile", str(write_config(tmp_path / "bad.yaml", config)))
    assert result.returncode != 0
    assert "'ten' is not of type 'integer'" in result.stdout


def test_dataset_naming_a_missing_archive_fails_clearly(tmp_path, snakemake):
    config = load("config.yaml")
    config["datasets"]["synth"]["archive"] = "ntu"
    result = snakemake(tmp_path, "-n", "all", "--configfile", str(write_config(tmp_path / "bad.yaml", config)))
    assert result.returncode != 0
    assert "datasets.synth.archive is 'ntu', which is not one of archives: ['synth']" in result.stdout


def dry_run_jobs(output: str) -> list[dict]:
    """The jobs of `snakemake -n -p` output: rule, input, log, benchmark, resources and shell command.
    (A dry run does not mark local rules; tests/test_slurm.py shows download runs outside SLURM.)"""
    jobs = []
    for block in re.split(r"\n(?=\[[^\]]+\]\nrule )", output):
        header = re.search(r"^rule (\w+):", block, re.M)
        if not header:
            continue
        field = lambda name: (re.search(rf"^\s+{name}: (.*)$", block, re.M) or [None, None])[1]
        command = re.search(r"^Shell command: (.*)$", block, re.M)
        jobs.append({
            "rule": header[1], "input": field("input") or "", "log": field("log"), "benchmark": field("benchmark"),
            "resources": field("resources") or "", "shell": command[1] if command else None,
        })
    return jobs


def test_dry_run_dag_of_the_embedded_default(tmp_path, snakemake):
    result = snakemake(tmp_path, "-n", "-p", "--cores", "2", "all")
    assert result.returncode == 0, result.stdout
    jobs = dry_run_jobs(result.stdout)
    rules = ("synth", "download", "prepare", "splits", "render_preview", "mine", "teach", "build_model",
             "train_stage1", "train_stage2", "train_stage3", "train_stage4", "evaluate", "baseline_train",
             "baseline_evaluate", "tables")
    counts = {rule: sum(job["rule"] == rule for job in jobs) for rule in rules}
    # runs full (stages 1-4, every task), stages_1_4 and render_3d_velocity (1-4), these two on open-vocab and closed
    assert counts == {"synth": 1, "download": 1, "prepare": 4, "splits": 4, "render_preview": 5, "mine": 1, "teach": 1,
                      "build_model": 1, "train_stage1": 3, "train_stage2": 2, "train_stage3": 2, "train_stage4": 3,
                      "evaluate": 6 + 2 + 2, "baseline_train": 1, "baseline_evaluate": 4, "tables": 1}
    command_of = {"render_preview": "render", "build_model": "build-model", "baseline_train": "baseline train",
                  "baseline_evaluate": "baseline evaluate"}  # rules named unlike their command
    launcher = str(REPO / "workflow" / "scripts" / "launch_train.sh")
    for job in jobs:
        if job["rule"] == "all":
            continue
        assert job["log"] and job["shell"].endswith(f"> {job['log']} 2>&1"), job
        if job["rule"].startswith("train_stage"):  # on the CPU (resources.train.gpu 0): one process, no srun
            stage = job["rule"].removeprefix("train_stage")
            assert job["shell"].startswith(f"{launcher} 0 1 skeletonllm train --stage {stage} --config "), job
            variant = re.search(r"results/train/synth/(\w+)/stage", job["shell"])[1]
            assert f" --variant {variant} --seed 0 --out results/train/synth/{variant}/stage{stage} " in job["shell"]
        else:
            assert job["shell"].startswith(f"skeletonllm {command_of.get(job['rule'], job['rule'])} "), job
        assert re.search(r"runtime=\d+", job["resources"]) and re.search(r"mem_mb=\d+", job["resources"]), job
        assert "slurm_extra" not in job["resources"] and "gpu=" not in job["resources"], job
        assert bool(job["benchmark"]) == (job["rule"] == "prepare"), job
    renders = [job for job in jobs if job["rule"] == "render_preview"]
    assert all("--size 112 --backend auto --device cpu " in job["shell"] for job in renders)
    evaluations = {re.search(r"--task (\w+)", job["shell"])[1]: job["shell"] for job in jobs if job["rule"] == "evaluate"}
    assert re.search(r"--dataset synth_humanml3d +--split xsub/s19u5 ", evaluations["caption"])
    assert re.search(r"--dataset synth +--split xsub/s19u5 ", evaluations["qa"])
    assert evaluations["crossformat"].count("--target ") == 3 and "--features" in evaluations["gzsl"]
    stage4 = next(job for job in jobs if job["rule"] == "train_stage4" and "/full/" in job["shell"])  # learns captions
    ablated = [job["shell"] for job in jobs if job["rule"] == "evaluate" and "/full/" not in job["shell"]]
    assert sorted(re.search(r"results/eval/synth/(\w+)/(\w+) ", shell).groups() for shell in ablated) == [
        ("render_3d_velocity", "closed"), ("render_3d_velocity", "openvocab"), ("stages_1_4", "closed"),
        ("stages_1_4", "openvocab")]
    stages_1_4 = next(job for job in jobs if job["rule"] == "train_stage4" and "/stages_1_4/" in job["shell"])
    assert "results/train/synth/stages_1_4/stage1" in stages_1_4["input"]
    assert "results/data/synth_humanml3d/manifest.json" in stage4["input"] and "results/splits/synth_humanml3d" in \
        stage4["input"]
    stage3 = next(job for job in jobs if job["rule"] == "train_stage3" and "/full/" in job["shell"])
    assert "synth_humanml3d" not in stage3["input"]


def test_the_ablation_grid_runs_every_variant_with_three_seeds(tmp_path, snakemake):
    result = snakemake(tmp_path, "-n", "-p", "all", "--config", "ablation_grid=True")
    assert result.returncode == 0, result.stdout
    jobs = dry_run_jobs(result.stdout)
    variants = load("config.yaml")["variants"]
    stage4 = {re.search(r"results/train/synth/(\S+)/stage4 ", job["shell"])[1] for job in jobs
              if job["rule"] == "train_stage4"}
    assert stage4 == {f"{name}{seed}" for name in variants for seed in ("", "/seed1", "/seed2")}
    seeded = next(job["shell"] for job in jobs if job["rule"] == "train_stage1" and "/frames_8/seed2/" in job["shell"])
    assert " --variant frames_8 --seed 2 --out results/train/synth/frames_8/seed2/stage1 " in seeded
    assert sum(job["rule"] == "train_stage3" for job in jobs) == 3 * sum(
        3 in apply_variant(load("config.yaml"), name)["train"]["stages"] for name in variants)
    assert sum(job["rule"] == "evaluate" for job in jobs) == 6 + (3 * len(variants) - 1) * 2
    taught = {re.search(r"--out results/teacher/synth/(\S+) ", job["shell"])[1]: job["shell"] for job in jobs
              if job["rule"].startswith("teach")}
    assert set(taught) == {"xsub_s19u5", "xsub_s19u5-no_cond_label", "xsub_s19u5-no_final_label"}
    assert "--no-condition-on-label --keep-final-label" in taught["xsub_s19u5-no_cond_label"]
    assert "--condition-on-label --no-keep-final-label" in taught["xsub_s19u5-no_final_label"]
    assert "--condition-on-label --keep-final-label" in taught["xsub_s19u5"]
    stage3 = next(job for job in jobs if job["rule"] == "train_stage3" and "/no_final_label/seed1/" in job["shell"])
    assert "results/teacher/synth/xsub_s19u5-no_final_label/rationales.jsonl" in stage3["input"]


def test_captions_need_a_dataset_of_the_config(tmp_path, snakemake):
    config = load("config.yaml")
    config["captions"]["dataset"] = "humanml3d"
    result = snakemake(tmp_path, "-n", "all", "--configfile", str(write_config(tmp_path / "bad.yaml", config)))
    assert result.returncode != 0
    assert "train.refine_tasks or eval.tasks has caption, but captions.dataset ('humanml3d') is not one of datasets" \
        in result.stdout


def test_config_values_reach_the_cli_flags(tmp_path, snakemake):
    """yaml -> rule params -> CLI flags: overriding config keys changes exactly those flags (and render.device cuda
    asks one GPU per render job)."""
    config = load("config.yaml")
    config["synth"].update(seed=7, subjects=4)
    config["render"]["device"] = "cuda"
    configfile = write_config(tmp_path / "seed7.yaml", config)
    result = snakemake(tmp_path, "-n", "-p", "--cores", "8", "all", "--config", "workers=3", "--configfile", str(configfile))
    assert result.returncode == 0, result.stdout
    jobs = dry_run_jobs(result.stdout)
    synth = next(job for job in jobs if job["rule"] == "synth")
    assert "--seed 7 --subjects 4 --repetitions 2 --cameras 3" in synth["shell"]
    prepares = [job for job in jobs if job["rule"] == "prepare"]
    assert prepares and all("--workers 3" in job["shell"] for job in prepares)
    assert all("mem_mb=4000" in job["resources"] for job in prepares)
    renders = [job for job in jobs if job["rule"] == "render_preview"]
    assert renders and all("--device cuda" in job["shell"] and "gpu=1" in job["resources"] for job in renders)


def test_paper_config_replaces_the_default(tmp_path, snakemake):
    """--configfile config/paper.yaml is the whole config: no synth job or dataset is merged in from the default."""
    result = snakemake(tmp_path, "-n", "-p", "all", "--configfile", str(REPO / "config" / "paper.yaml"))
    assert result.returncode == 0, result.stdout
    jobs = dry_run_jobs(result.stdout)
    assert {job["rule"] for job in jobs} == {"download", "prepare", "splits", "render_preview", "mine", "teach",
                                             "build_model", "train_stage1", "train_stage2", "train_stage3",
                                             "train_stage4", "evaluate", "baseline_train", "baseline_evaluate",
                                             "tables", "all"}
    crossformat = next(job for job in jobs if job["rule"] == "evaluate" and "--task crossformat" in job["shell"])
    assert "--target nwucla" in crossformat["shell"] and "gpu=1" in crossformat["resources"]
    caption = next(job for job in jobs if job["rule"] == "evaluate" and "--task caption" in job["shell"])
    assert re.search(r"--dataset humanml3d +--split official/closed ", caption["shell"])  # HumanML3D's test list
    stage4 = next(job for job in jobs if job["rule"] == "train_stage4")
    assert "results/splits/humanml3d" in stage4["input"]
    prepared = sorted(re.search(r"--dataset (\w+)", job["shell"])[1] for job in jobs if job["rule"] == "prepare")
    assert prepared == ["humanml3d", "kinetics", "ntu120", "ntu60", "nwucla", "pkummd"]
    counts = {rule: sum(job["rule"] == rule for job in jobs) for rule in {job["rule"] for job in jobs}}
    assert counts == {"download": 5, "prepare": 6, "splits": 6, "render_preview": 5, "mine": 2, "teach": 4,
                      "build_model": 1, "train_stage1": 1, "train_stage2": 1, "train_stage3": 1, "train_stage4": 1,
                      "evaluate": 6, "baseline_train": 1, "baseline_evaluate": 4, "tables": 1, "all": 1}
    grid = snakemake(tmp_path, "-n", "all", "--configfile", str(REPO / "config" / "paper.yaml"), "--config",
                     "ablation_grid=True")
    assert grid.returncode == 0, grid.stdout
    variants = load("paper.yaml")["variants"]
    stats = dict(re.findall(r"^(train_stage\d|evaluate|teach_variant)\s+(\d+)$", grid.stdout, re.M))
    assert int(stats["train_stage1"]) == int(stats["train_stage4"]) == 3 * len(variants)  # every variant, 3 seeds
    assert int(stats["evaluate"]) == 6 + 2 * (3 * len(variants) - 1) and stats["teach_variant"] == "2"


def make_profile(config_home, env):
    return subprocess.run(
        ["make", "--no-print-directory", "profile", f"XDG_CONFIG_HOME={config_home}"],
        cwd=REPO, env=env, capture_output=True, text=True,
    )


def test_make_installs_the_named_slurm_profile(tmp_path, venv_env, snakemake):
    env = dict(venv_env, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    first = make_profile(tmp_path / "xdg", env)
    assert first.returncode == 0, first.stderr
    assert "installed Snakemake profile slurm" in first.stdout
    again = make_profile(tmp_path / "xdg", env)
    assert again.returncode == 0 and again.stdout == ""  # idempotent: nothing to do the second time

    # Snakemake's own lookup of `--profile slurm` (cwd first, then $XDG_CONFIG_HOME/snakemake) finds it.
    lookup = subprocess.run(
        [sys.executable, "-c", "from snakemake.cli import get_profile_dir; print(get_profile_dir('slurm')[1])"],
        cwd=REPO, env=env, capture_output=True, text=True,
    )
    assert lookup.returncode == 0, lookup.stderr
    found = lookup.stdout.strip()
    assert found == str(tmp_path / "xdg" / "snakemake" / "slurm" / "config.yaml")
    assert (tmp_path / "xdg" / "snakemake" / "slurm").resolve() == REPO / "workflow" / "profiles" / "slurm"

    # Every key of the profile is one Snakemake and the SLURM executor accept (a dry run parses them all).
    result = snakemake(tmp_path / "run", "--profile", "slurm", "-n", "all", env=env)
    assert result.returncode == 0, result.stdout


def test_make_profile_keeps_a_users_own_profile(tmp_path, venv_env):
    own = tmp_path / "xdg" / "snakemake" / "slurm"
    own.mkdir(parents=True)
    result = make_profile(tmp_path / "xdg", dict(venv_env, XDG_CONFIG_HOME=str(tmp_path / "xdg")))
    assert result.returncode != 0
    assert "exists and is not a link" in result.stderr
    assert own.is_dir() and not own.is_symlink()


def test_slurm_profile_settings():
    profile = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"
    assert profile["slurm-no-account"] is True and profile["rerun-incomplete"] is True
    assert {"slurm_partition", "runtime", "mem_mb"} <= set(profile["default-resources"])
    assert "slurm_extra" not in profile["default-resources"]
