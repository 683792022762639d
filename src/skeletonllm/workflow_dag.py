"""The Snakemake workflow's Python side: dvc.yaml generated from the DAG, short config errors, and recording a
Snakemake run's outputs in DVC.

    python -m skeletonllm.workflow_dag                 # (re)write dvc.yaml for config/config.yaml
    python -m skeletonllm.workflow_dag --check         # exit 1, with a diff, when dvc.yaml disagrees with the DAG
    python -m skeletonllm.workflow_dag --configfile config/paper.yaml   # the research-scale pipeline

One DVC stage per Snakemake job (rule `all` aside). Its command runs that one job through Snakemake, so the
values it passes come from the config file at run time, never from dvc.yaml: what `dvc repro` runs is what the
lock records. Its deps are the job's inputs and the parts of the package its `skeletonllm` subcommand imports;
its outs are the job's outputs; its params are the config keys the rule reads through `ConfigValue`
(workflow/rules/common.smk). Thread counts (`workers`) change no output and are params in neither tool.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

HEADER = (
    "# Generated from the Snakemake DAG by `python -m skeletonllm.workflow_dag{args}`; do not edit by hand.\n"
    "# One stage per Snakemake job, run through Snakemake with the config below (values are read at run time);\n"
    "# deps: the job's inputs and the package code its command imports; outs: its outputs; params: its config keys.\n"
)
PACKAGE = "skeletonllm"
PACKAGE_DATA = "resources"  # read at run time (importlib.resources), so no import shows it
DVC_STAGE_ENV = "DVC_STAGE"  # set by DVC for every stage command it runs


def stage_name(rule: str, wildcards: Mapping[str, str]) -> str:
    """DVC stage name of a Snakemake job: the rule, then its non-empty wildcard values without slashes
    ("prepare-synth_ucla", "train_stage1-full-seed1" for variant "full" and seed "/seed1")."""
    return "-".join([rule, *(value.strip("/") for value in wildcards.values() if value)])


@dataclass(frozen=True)
class DagJob:
    """One job of the Snakemake DAG, as DVC needs it."""

    rule: str
    wildcards: dict[str, str]
    inputs: list[str]
    outputs: list[str]
    config_keys: list[str]  # dotted config keys the rule reads through ConfigValue params
    code: list[str]  # package folders and modules its `skeletonllm` subcommand imports, relative to the workdir

    @property
    def stage_name(self) -> str:
        """DVC stage name ("prepare-synth_ucla")."""
        return stage_name(self.rule, self.wildcards)


def _config_keys(job) -> list[str]:
    """The dotted config keys behind a job's ConfigValue params, wildcards filled in."""
    keys = [getattr(value, "config_key", None) for _, value in job.rule.params.items()]
    return sorted({key.format(**job.wildcards_dict) for key in keys if key})


def _subcommand_module(job) -> str:
    """The module of the `skeletonllm` subcommand a job's shell command runs: the command starts with `skeletonllm
    <command>`, or with a launcher whose arguments hold it (`launch_train.sh GPUS NODES skeletonllm train ...`)."""
    from skeletonllm.cli import COMMANDS

    words = job.rule.shellcmd.split()
    for word, command in zip(words[:4], words[1:5]):
        if word == PACKAGE and command in COMMANDS:
            return COMMANDS[command]
    raise ValueError(f"rule {job.rule.name}: its shell command must run `skeletonllm <command>`")


def _module_file(source: Path, module: str) -> Path | None:
    """The file of a dotted module under source (the folder holding the package), or None when there is none."""
    base = source.joinpath(*module.split("."))
    return next((path for path in (base.with_suffix(".py"), base / "__init__.py") if path.is_file()), None)


def _imported_modules(source: Path, module: str) -> set[str]:
    """The package modules one module of the package imports (anywhere in its code, lazy imports included)."""
    path = _module_file(source, module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parent = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join([*parent, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return {name for name in found if name.split(".")[0] == PACKAGE and _module_file(source, name)}


def code_deps(workdir: Path, modules: Iterable[str]) -> list[str]:
    """The top-level parts of the package (subpackage folders, modules) that modules import, transitively, as
    paths relative to workdir (whose src/ holds the package), plus its package data."""
    source = workdir / "src"
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):  # importing a module runs its packages' __init__ first
            name = ".".join(parts[:depth])
            if name not in seen:
                seen.add(name)
                todo.extend(_imported_modules(source, name))
    package_dir = source / PACKAGE
    tops = {_module_file(source, name).relative_to(package_dir).parts[0] for name in seen}
    tops |= {PACKAGE_DATA} if (package_dir / PACKAGE_DATA).is_dir() else set()
    return sorted((package_dir / top).relative_to(workdir).as_posix() for top in tops)


def snakemake_jobs(workdir: Path, configfiles: list[Path] | None = None, targets: tuple[str, ...] = ("all",)) -> list[DagJob]:
    """Every job of the DAG that builds targets (as if nothing existed yet), in rule-definition order.

    workdir holds the Snakefile and src/skeletonllm; configfiles, when given, replace its default config (as on the
    command line).
    """
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

    workdir = Path(workdir).resolve()
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=sys.maxsize),
            config_settings=ConfigSettings(configfiles=[Path(f).resolve() for f in configfiles or []]),
            snakefile=workdir / "Snakefile",
            workdir=workdir,
        )
        dag_api = workflow_api.dag(dag_settings=DAGSettings(targets=set(targets), forceall=True))
        workflow = dag_api.workflow_api._workflow  # the public API prints DAGs but does not return their jobs
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
        workflow._build_dag()
        rule_order = {rule.name: index for index, rule in enumerate(workflow.rules)}
        jobs = [
            DagJob(
                rule=job.rule.name,
                wildcards=dict(job.wildcards_dict),
                inputs=sorted(str(path) for path in job.input),
                outputs=[str(path) for path in job.output],
                config_keys=_config_keys(job),
                code=code_deps(workdir, [f"{PACKAGE}.cli", _subcommand_module(job)]),
            )
            for job in workflow.dag.jobs
            if not job.rule.norun
        ]
    return sorted(jobs, key=lambda job: (rule_order[job.rule], job.stage_name))


def _check_keys_in_file(jobs: list[DagJob], params_file: Path) -> None:
    """DVC reads params from the file itself, so every key a stage tracks must be written there (not defaulted)."""
    data = yaml.safe_load(params_file.read_text())
    for job in jobs:
        for key in job.config_keys:
            node = data
            for part in key.split("."):
                if not isinstance(node, dict) or part not in node:
                    raise ValueError(
                        f"{params_file}: key {key!r} (read by rule {job.rule}) is not written in the file; "
                        "DVC tracks params from the file only, so spell it out (its default is in the schema)"
                    )
                node = node[part]


def stage_command(job: DagJob, params_file: str) -> str:
    """The command of a job's DVC stage: Snakemake runs that one job (forced) with params_file as its config."""
    return (
        f"snakemake --force --cores all --allowed-rules {job.rule} --configfile {shlex.quote(params_file)}"
        f" -- {shlex.quote(job.outputs[0])}"
    )


def dvc_pipeline(jobs: list[DagJob], params_file: str) -> dict:
    """The dvc.yaml content: one stage per job; params name keys of params_file (path relative to the repo)."""
    stages = {}
    for job in jobs:
        stage: dict = {"cmd": stage_command(job, params_file), "deps": job.inputs + job.code}
        if job.config_keys:
            stage["params"] = [{params_file: job.config_keys}]
        stage["outs"] = job.outputs
        stages[job.stage_name] = stage
    return {"params": [params_file], "stages": stages}


def render(workdir: Path, configfile: str | None) -> str:
    """dvc.yaml text for the DAG of workdir's Snakefile with configfile (default: config/config.yaml)."""
    workdir = Path(workdir).resolve()
    params_file = configfile or "config/config.yaml"
    jobs = snakemake_jobs(workdir, [workdir / params_file])
    _check_keys_in_file(jobs, workdir / params_file)
    args = f" --configfile {configfile}" if configfile else ""
    body = yaml.safe_dump(dvc_pipeline(jobs, params_file), sort_keys=False, width=1 << 16)
    return HEADER.format(args=args) + body


def config_problem(config: dict, schema_file: Path) -> str | None:
    """The first problem of config against the JSON schema in schema_file (YAML) as one short line: the key's
    dotted path and what is wrong, without the schema dump of Snakemake's validate. None when config is valid."""
    import jsonschema
    from jsonschema.exceptions import best_match

    schema = yaml.safe_load(Path(schema_file).read_text())
    error = best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(config))
    if error is None:
        return None
    path = [str(part) for part in error.absolute_path]
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = [".".join([*path, key]) for key in error.instance if key not in allowed]
        return f"invalid config: unknown key {', '.join(map(repr, unknown))} (allowed there: {', '.join(allowed)})"
    # A failed combinator's message quotes whole subschemas; the schema's own description says it better.
    combinator = error.validator in ("not", "oneOf", "anyOf", "allOf") and "description" in error.schema
    message = " ".join(error.schema["description"].split()) if combinator else error.message
    return f"invalid config at {'.'.join(path)!r}: {message}" if path else f"invalid config: {message}"


def _dvc_params_file(workdir: Path) -> Path | None:
    """The config file dvc.yaml's stages read (its top-level params, as generated), or None where there is none."""
    pipeline = workdir / "dvc.yaml"
    params = yaml.safe_load(pipeline.read_text()).get("params") if pipeline.is_file() else None
    return (workdir / params[0]).resolve() if params else None


def recording_obstacle(workdir: Path, configfiles: list[Path], overrides: Mapping) -> str | None:
    """Why a run with these config files and --config overrides cannot be recorded under the params of workdir's
    dvc.yaml, or None when it can."""
    workdir = Path(workdir).resolve()
    params_file = _dvc_params_file(workdir)
    if params_file is None:
        return "there is no dvc.yaml generated by `make dvc` (which names the config file its stages read)"
    if overrides:
        return "--config overrides config keys, which dvc.yaml's params would not show"
    if [Path(path).resolve() for path in configfiles] != [params_file]:
        used = ", ".join(str(path) for path in configfiles)
        return (f"this run used {used}, dvc.yaml describes {params_file.relative_to(workdir)} "
                "(point it at this config with `python -m skeletonllm.workflow_dag --configfile FILE`)")
    return None


def record_in_dvc(
    stages: Iterable[str], configfiles: list[Path], overrides: Mapping, workdir: Path = Path(".")
) -> None:
    """Snakemake's onsuccess: record the outputs of the stages this run executed in DVC, without relinking them
    (`dvc commit --force --no-relink`), so that their mtimes, and so Snakemake's view, stay as they are.

    Nothing happens outside a DVC repository (no .dvc/) or inside `dvc repro` (which records its stage itself);
    where recording is impossible or fails, a warning says so and the run still succeeds.
    """
    workdir = Path(workdir).resolve()
    if not (workdir / ".dvc").is_dir() or DVC_STAGE_ENV in os.environ:
        return
    obstacle = recording_obstacle(workdir, configfiles, overrides)
    if obstacle:
        print(f"Outputs not recorded in DVC: {obstacle}.", file=sys.stderr)
        return
    known = yaml.safe_load((workdir / "dvc.yaml").read_text())["stages"]
    targets = sorted(set(stages) & set(known))
    if not targets:
        return
    command = [sys.executable, "-m", "dvc", "commit", "--force", "--no-relink", "--quiet", *targets]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"Outputs not recorded in DVC: `dvc commit` failed:\n{result.stdout}{result.stderr}", file=sys.stderr)
        return
    print(f"Recorded {len(targets)} DVC stage(s) of this run: dvc commit --force --no-relink", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Write dvc.yaml from the Snakemake DAG, or with --check report whether it is up to date."""
    parser = argparse.ArgumentParser(prog="python -m skeletonllm.workflow_dag", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("."), help="repository root holding the Snakefile")
    parser.add_argument("--configfile", help="config file relative to the workdir (default: config/config.yaml)")
    parser.add_argument("--out", type=Path, default=Path("dvc.yaml"), help="dvc.yaml path relative to the workdir")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 when the file differs")
    args = parser.parse_args(argv)
    text = render(args.workdir, args.configfile)
    target = args.workdir / args.out
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current == text:
            print(f"{target} agrees with the Snakemake DAG")
            return 0
        diff = difflib.unified_diff(current.splitlines(True), text.splitlines(True), str(target), "Snakemake DAG")
        sys.stdout.writelines(diff)
        print(f"{target} disagrees with the Snakemake DAG; regenerate it with `make dvc`", file=sys.stderr)
        return 1
    target.write_text(text)
    print(f"wrote {target} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
