"""Shared pieces of the rules: output paths under the results root, config look-ups that the DVC export can
trace back to their config keys, per-rule resources, the targets of `rule all`, and the DVC stages a run executed."""

import os

from skeletonllm.variants import ablation_runs, apply_variant, seed_of, seed_part, teacher_folder
from skeletonllm.workflow_dag import stage_name


RESULTS = config["results"]

wildcard_constraints:
    archive="[A-Za-z0-9_]+",
    dataset="[A-Za-z0-9_]+",


def results(*parts):
    """A path under the results root (a Snakemake pattern when parts hold {wildcards})."""
    return os.path.join(RESULTS, *parts)


def log_path(rule_name, name):
    """The log file of a rule's job, which gets the job's stdout and stderr: <results>/logs/<rule>/<name>.log."""
    return results("logs", rule_name, name + ".log")


class ConfigValue:
    """A rule parameter read from the config at a dotted key, e.g. "datasets.{dataset}.subdir".

    Wildcards in the key are filled in per job; convert, when given, maps the value (and, with
    convert_wildcards, the job's wildcards: convert(value, wildcards)) to what the rule needs. With of_variant,
    the key is read from the config with the job's {variant} applied (the rule should also track
    "variants.{variant}"). `skeletonllm.workflow_dag` reads `config_key` to list a DVC stage's params, so the keys
    a stage depends on are exactly the ones its rule reads.
    """

    def __init__(self, key, convert=None, convert_wildcards=False, of_variant=False):
        self.config_key = key
        self.convert = convert
        self.convert_wildcards = convert_wildcards
        self.of_variant = of_variant

    def __call__(self, wildcards):
        value = apply_variant(config, wildcards.variant) if self.of_variant else config
        for part in self.config_key.format(**dict(wildcards.items())).split("."):
            value = value[part]
        if self.convert is None:
            return value
        return self.convert(value, wildcards) if self.convert_wildcards else self.convert(value)


def rule_resources(rule_name):
    """A rule's SLURM request from config `resources.<rule>`: runtime (minutes), mem_mb and the rest, with gpu only
    where it is above 0 (a CPU job asks for none)."""
    requested = dict(config["resources"][rule_name])
    if requested.get("gpu", 0) == 0:
        requested.pop("gpu", None)
    return requested


def archive_of(dataset):
    """The name of the archive a dataset's raw files come from; fails clearly when the config lacks it."""
    name = config["datasets"][dataset]["archive"]
    if name not in config["archives"]:
        raise ValueError(
            f"config: datasets.{dataset}.archive is {name!r}, which is not one of archives: {sorted(config['archives'])}"
        )
    return name


def is_synth(archive):
    """Whether an archive is built by `skeletonllm synth` rather than fetched."""
    return config["archives"][archive]["source"] == "synth"


for _dataset in config["datasets"]:
    archive_of(_dataset)


def data_targets():
    """The last outputs of the data half of the DAG: the splits of each configured dataset."""
    return [results("splits", dataset) for dataset in config["datasets"]]


def finished_stages():
    """The DVC stage names of the jobs this run executed (rule `all` aside), for the Snakefile's onsuccess."""
    return [stage_name(job.rule.name, job.wildcards_dict) for job in workflow.dag.finished_jobs if not job.rule.norun]
