"""SkeletonLLM pipeline: the one DAG (DESIGN section 3). This file is its table of contents.

    snakemake --cores 2 all                                          # embedded default (config/config.yaml)
    snakemake --profile slurm all --configfile config/paper.yaml     # research scale on SLURM

A --configfile on the command line replaces config/config.yaml instead of being merged into it; --config KEY=VALUE
overrides single keys. The config is validated against workflow/schemas/config.schema.yaml (which fills defaults).
"""

import os

from snakemake.utils import min_version, validate

min_version("9.0")

if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/mining.smk"
include: "workflow/rules/teacher.smk"
include: "workflow/rules/render.smk"


rule all:
    input:
        data_targets(),
        render_targets(),
        mining_targets(),
        teacher_targets(),
