"""Teacher rationales (rule teach, `skeletonllm teach`): one step-by-step rationale ending in "Label: <label>" per
training sample of a split, from the config's teacher.backend (kinematic: grounded in the sample's measured motion,
offline). The answer cache <out>/cache.jsonl is not a declared output, so a rerun resumes from it.

Outputs: <results>/teacher/<dataset>/<protocol>_<class split>/rationales.jsonl for every dataset in
teacher.datasets and split "<protocol>/<class split>" in teacher.splits; a variant that overrides teacher keys (e.g.
no_cond_label) gets its own, <protocol>_<class split>-<variant>/rationales.jsonl (rule teach_variant), which its
stage 3 reads.
"""


wildcard_constraints:
    protocol="[A-Za-z0-9]+",
    classsplit="[A-Za-z0-9]+",


def teacher_targets():
    """The rationales of every (dataset, split) pair of teacher.datasets x teacher.splits."""
    targets = []
    for name in config["teacher"]["datasets"]:
        if name not in config["datasets"]:
            raise ValueError(f"config: teacher.datasets names {name!r}, which is not one of datasets: {sorted(config['datasets'])}")
        for split in config["teacher"]["splits"]:
            protocol, classsplit = split.split("/")
            targets.append(results("teacher", name, f"{protocol}_{classsplit}", "rationales.jsonl"))
    return targets


def flag(name):
    """A converter of a boolean config value to `--name` / `--no-name`."""
    return lambda value: f"--{name}" if value else f"--no-{name}"


rule teach:
    input:
        poses=results("data", "{dataset}", "poses.npy"),
        index=results("data", "{dataset}", "index.parquet"),
        manifest=results("data", "{dataset}", "manifest.json"),
        splits=results("splits", "{dataset}"),
    output:
        results("teacher", "{dataset}", "{protocol}_{classsplit}", "rationales.jsonl"),
    params:
        data=results("data", "{dataset}"),
        split=results("splits", "{dataset}", "{protocol}", "{classsplit}.json"),
        out=results("teacher", "{dataset}", "{protocol}_{classsplit}"),
        backend=ConfigValue("teacher.backend"),
        condition=ConfigValue("teacher.condition_on_label", flag("condition-on-label")),
        keep=ConfigValue("teacher.keep_final_label", flag("keep-final-label")),
    log:
        log_path("teach", "{dataset}_{protocol}_{classsplit}"),
    resources:
        **rule_resources("teach"),
    shell:
        "skeletonllm teach --dataset {wildcards.dataset} --data {params.data:q} --split {params.split:q}"
        " --backend {params.backend} {params.condition} {params.keep} --out {params.out:q} > {log:q} 2>&1"


use rule teach as teach_variant with:
    output:
        results("teacher", "{dataset}", "{protocol}_{classsplit}-{variant}", "rationales.jsonl"),
    params:
        data=results("data", "{dataset}"),
        split=results("splits", "{dataset}", "{protocol}", "{classsplit}.json"),
        out=results("teacher", "{dataset}", "{protocol}_{classsplit}-{variant}"),
        backend=ConfigValue("teacher.backend", of_variant=True),
        condition=ConfigValue("teacher.condition_on_label", flag("condition-on-label"), of_variant=True),
        keep=ConfigValue("teacher.keep_final_label", flag("keep-final-label"), of_variant=True),
        variant=ConfigValue("variants.{variant}"),
    log:
        log_path("teach", "{dataset}_{protocol}_{classsplit}-{variant}"),
