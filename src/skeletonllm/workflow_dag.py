"""Export the Snakemake DAG as a DVC pipeline: dvc.yaml is generated from the Snakefile, never written by hand.

    python -m skeletonllm.workflow_dag                 # (re)write dvc.yaml for config/config.yaml
    python -m skeletonllm.workflow_dag --check         # exit 1, with a diff, when dvc.yaml disagrees with the DAG
    python -m skeletonllm.workflow_dag --configfile config/paper.yaml   # the research-scale pipeline

One DVC stage per Snakemake job (rule `all` aside): the same command (minus the `> log 2>&1` redirection, which
every rule ends with), the same inputs as deps, the same outputs as outs, and as params the config keys the rule
reads through `ConfigValue` (workflow/rules/common.smk). This module needs Snakemake only, not the rest of the
package.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

HEADER = (
    "# Generated from the Snakemake DAG by `python -m skeletonllm.workflow_dag{args}`; do not edit by hand.\n"
    "# One stage per Snakemake job: same command (without its log redirection), inputs, outputs and config keys.\n"
)
_LOG_REDIRECT = re.compile(r"\s*>\s*(?P<log>\S+)\s+2>&1\s*$")


@dataclass(frozen=True)
class DagJob:
    """One job of the Snakemake DAG, as DVC needs it."""

    rule: str
    wildcards: dict[str, str]
    inputs: list[str]
    outputs: list[str]
    command: str  # the shell command without its trailing "> LOG 2>&1"
    config_keys: list[str]  # dotted config keys the rule reads (ConfigValue params and threads)

    @property
    def stage_name(self) -> str:
        """DVC stage name: the rule, then its wildcard values ("prepare-synth_ucla")."""
        return "-".join([self.rule, *self.wildcards.values()])


def _config_keys(job) -> list[str]:
    """The dotted config keys behind a job's ConfigValue params and thread count, wildcards filled in."""
    threads = job.rule.resources.get("_cores")  # a snakemake Resource wrapping the rule's `threads:`
    raw_values = [value for _, value in job.rule.params.items()] + [getattr(threads, "_evaluator", None)]
    keys = [getattr(value, "config_key", None) for value in raw_values]
    return sorted({key.format(**job.wildcards_dict) for key in keys if key})


def _command(job) -> str:
    """The job's shell command without its "> LOG 2>&1" suffix; every rule must log that way."""
    shellcmd = " ".join(job.shellcmd.split())
    match = _LOG_REDIRECT.search(shellcmd)
    logs = [str(path) for path in job.log]
    if match is None or match["log"].strip("'\"") not in logs:
        raise ValueError(f"rule {job.rule.name}: its shell command must end with '> {{log}} 2>&1', got: {shellcmd}")
    return shellcmd[: match.start()]


def snakemake_jobs(workdir: Path, configfiles: list[Path] | None = None, targets: tuple[str, ...] = ("all",)) -> list[DagJob]:
    """Every job of the DAG that builds targets (as if nothing existed yet), in rule-definition order.

    workdir holds the Snakefile; configfiles, when given, replace its default config (as on the command line).
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
                command=_command(job),
                config_keys=_config_keys(job),
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


def dvc_pipeline(jobs: list[DagJob], params_file: str) -> dict:
    """The dvc.yaml content: one stage per job; params name keys of params_file (path relative to the repo)."""
    stages = {}
    for job in jobs:
        stage: dict = {"cmd": job.command}
        if job.inputs:
            stage["deps"] = job.inputs
        if job.config_keys:
            stage["params"] = [{params_file: job.config_keys}]
        stage["outs"] = job.outputs
        stages[job.stage_name] = stage
    return {"stages": stages}


def render(workdir: Path, configfile: str | None) -> str:
    """dvc.yaml text for the DAG of workdir's Snakefile with configfile (default: config/config.yaml)."""
    workdir = Path(workdir).resolve()
    params_file = configfile or "config/config.yaml"
    jobs = snakemake_jobs(workdir, [workdir / configfile] if configfile else None)
    _check_keys_in_file(jobs, workdir / params_file)
    args = f" --configfile {configfile}" if configfile else ""
    body = yaml.safe_dump(dvc_pipeline(jobs, params_file), sort_keys=False, width=1 << 16)
    return HEADER.format(args=args) + body


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
