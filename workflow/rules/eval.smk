"""Evaluation of the trained variant (rule evaluate, `skeletonllm evaluate`): one job per task of eval.tasks on
the stage eval.stage (default: the last configured one), over the samples of train.dataset and train.split;
crossformat tests the same checkpoint on eval.crossformat_targets, other skeleton formats, without retraining, and
caption reads captions.dataset (the one with reference texts) under captions.split (default train.split).

Outputs: <results>/eval/<train.dataset>/<train.variant>/<task>/ with metrics.json, predictions.jsonl and plots.
"""

EVAL = config["eval"]
EVAL_STAGE = EVAL["stage"] or max(TRAIN["stages"])
if EVAL_STAGE not in TRAIN["stages"]:
    raise ValueError(f"config: eval.stage is {EVAL_STAGE}, which is not one of train.stages: {TRAIN['stages']}")
for _target in EVAL["crossformat_targets"]:
    if _target not in config["datasets"]:
        raise ValueError(f"config: eval.crossformat_targets names {_target!r}, which is not one of datasets: {sorted(config['datasets'])}")
if "crossformat" in EVAL["tasks"] and not EVAL["crossformat_targets"]:
    raise ValueError("config: eval.tasks has crossformat, but eval.crossformat_targets names no dataset")


def task_dataset(task):
    """The dataset a task reads: captions.dataset for caption, else train.dataset."""
    return CAPTIONS["dataset"] if task == "caption" else TRAIN["dataset"]


def eval_dir(task):
    """The output folder of one evaluation task of the configured variant."""
    return results("eval", TRAIN["dataset"], TRAIN["variant"], task)


def eval_targets():
    """Every configured task's evaluation folder."""
    return [eval_dir(task) for task in EVAL["tasks"]]


def task_resources(rule_name):
    """A rule's SLURM request from config resources.<rule>, with gpu only when above 0."""
    requested = rule_resources(rule_name)
    if requested.get("gpu", 0) == 0:
        requested.pop("gpu", None)
    return requested


def task_data(wildcards):
    """The split files and the prepared data a task reads (every target's too for crossformat)."""
    datasets = EVAL["crossformat_targets"] if wildcards.task == "crossformat" else []
    dataset = task_dataset(wildcards.task)
    return {
        "splits": results("splits", dataset),
        "manifests": [results("data", name, "manifest.json") for name in [dataset, *datasets]],
    }


rule evaluate:
    input:
        unpack(task_data),
        stage=stage_dir(EVAL_STAGE),
    output:
        directory(eval_dir("{task}")),
    params:
        dataset=ConfigValue("train.dataset", convert_wildcards=True, convert=lambda name, wildcards: ""
            if wildcards.task == "caption" else f"--dataset {name}"),
        caption_dataset=ConfigValue("captions.dataset", convert_wildcards=True, convert=lambda name, wildcards:
            f"--dataset {name}" if wildcards.task == "caption" else ""),
        split=ConfigValue("train.split", convert_wildcards=True, convert=lambda name, wildcards: ""
            if wildcards.task == "caption" and CAPTIONS["split"] else f"--split {name}"),
        caption_split=ConfigValue("captions.split", convert_wildcards=True, convert=lambda name, wildcards:
            f"--split {name}" if wildcards.task == "caption" and name else ""),
        results=RESULTS,
        samples=ConfigValue("eval.samples"),
        batch_size=ConfigValue("eval.batch_size"),
        targets=ConfigValue("eval.crossformat_targets", convert_wildcards=True, convert=lambda names, wildcards: " ".join(
            f"--target {name}" for name in names) if wildcards.task == "crossformat" else ""),
        features=ConfigValue("eval.features", convert_wildcards=True, convert=lambda on, wildcards: "--features"
            if on and wildcards.task == "gzsl" else ""),
    wildcard_constraints:
        task="openvocab|gzsl|closed|crossformat|caption|qa",
    log:
        log_path("evaluate", f"{TRAIN['dataset']}_{TRAIN['variant']}_{{task}}"),
    resources:
        **task_resources("evaluate"),
    shell:
        "skeletonllm evaluate --checkpoint {input.stage:q} --task {wildcards.task} {params.dataset} {params.caption_dataset}"
        " {params.split} {params.caption_split} --results {params.results:q} --samples {params.samples}"
        " --batch-size {params.batch_size} {params.targets} {params.features} --out {output:q} > {log:q} 2>&1"
