"""SkeletonLLM pipeline: the one DAG (DESIGN section 3). This file is its table of contents.

    snakemake --cores 2 all                                          # embedded default (config/config.yaml)
    snakemake --profile slurm all --configfile config/paper.yaml     # research scale on SLURM

A --configfile on the command line replaces config/config.yaml instead of being merged into it; --config KEY=VALUE
overrides single keys. The config is validated against workflow/schemas/config.schema.yaml (which fills defaults);
a bad key stops the run with one line naming it. Where the working directory is a DVC repository, a successful run
records the outputs of the jobs it ran in DVC (see `record_in_dvc`), so that `dvc status` agrees with Snakemake.
"""

import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from skeletonllm.workflow_dag import config_problem, record_in_dvc

min_version("9.0")

DEFAULT_CONFIGFILE = os.path.join(workflow.basedir, "config", "config.yaml")
SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")

if not workflow.overwrite_configfiles:

    configfile: DEFAULT_CONFIGFILE


problem = config_problem(config, SCHEMA)
if problem:
    raise WorkflowError(problem)
validate(config, SCHEMA)  # fills in the schema's defaults


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/mining.smk"
include: "workflow/rules/teacher.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/eval.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/tables.smk"


rule all:
    input:
        data_targets(),
        render_targets(),
        mining_targets(),
        teacher_targets(),
        train_targets(),
        results("tables"),


onsuccess:
    record_in_dvc(
        finished_stages(), workflow.overwrite_configfiles or [DEFAULT_CONFIGFILE], workflow.config_settings.config
    )
