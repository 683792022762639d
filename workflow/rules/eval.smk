"""Evaluation of the trained runs (rule evaluate, `skeletonllm evaluate`): one job per task and run, on the stage
eval.stage (default, or when the run's variant lacks it: the variant's last stage), over the samples of
train.dataset and train.split. The main run (train.variant at train.seed) is evaluated on every task of eval.tasks,
the other runs of the ablation on ablation.tasks;
crossformat tests the same checkpoint on eval.crossformat_targets, other skeleton formats, without retraining, and
caption reads captions.dataset (the one with reference texts) under captions.split (default train.split).

Outputs: <results>/eval/<train.dataset>/<variant>[/seed<S>]/<task>/ with metrics.json, predictions.jsonl and plots.
"""

EVAL = config["eval"]
if EVAL["stage"] is not None and EVAL["stage"] not in TRAIN["stages"]:
    raise ValueError(f"config: eval.stage is {EVAL['stage']}, which is not one of train.stages: {TRAIN['stages']}")
for _task in config["ablation"]["tasks"]:
    if _task not in EVAL["tasks"]:
        raise ValueError(f"config: ablation.tasks names {_task!r}, which is not one of eval.tasks: {EVAL['tasks']}")
for _target in EVAL["crossformat_targets"]:
    if _target not in config["datasets"]:
        raise ValueError(f"config: eval.crossformat_targets names {_target!r}, which is not one of datasets: {sorted(config['datasets'])}")
if "crossformat" in EVAL["tasks"] and not EVAL["crossformat_targets"]:
    raise ValueError("config: eval.tasks has crossformat, but eval.crossformat_targets names no dataset")


def task_dataset(task):
    """The dataset a task reads: captions.dataset for caption, else train.dataset."""
    return CAPTIONS["dataset"] if task == "caption" else TRAIN["dataset"]


def eval_stage(variant):
    """The stage evaluated of a variant: eval.stage where the variant trains it, else its last stage."""
    stages = variant_stages(variant)
    return EVAL["stage"] if EVAL["stage"] in stages else stages[-1]


def eval_dir(task, variant="{variant}", seed="{seed}"):
    """The output folder of one evaluation task of a run (a pattern with the run's wildcards by default)."""
    return results("eval", TRAIN["dataset"], variant + seed, task)


def run_tasks(variant, seed):
    """The tasks a run is evaluated on: eval.tasks for the main run (train.variant at train.seed), else
    ablation.tasks."""
    return EVAL["tasks"] if (variant, seed) == (TRAIN["variant"], "") else config["ablation"]["tasks"]


def eval_targets():
    """Every run's evaluation folders."""
    return [eval_dir(task, variant, seed) for variant, seed in RUNS for task in run_tasks(variant, seed)]


def evaluated_stage(wildcards):
    """The stage directory a run's evaluation reads."""
    return stage_dir(eval_stage(wildcards.variant), wildcards.variant, wildcards.seed)


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
        stage=evaluated_stage,
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
        log_path("evaluate", f"{TRAIN['dataset']}_{{variant}}{{seed}}_{{task}}"),
    resources:
        **rule_resources("evaluate"),
    shell:
        "skeletonllm evaluate --checkpoint {input.stage:q} --task {wildcards.task} {params.dataset} {params.caption_dataset}"
        " {params.split} {params.caption_split} --results {params.results:q} --samples {params.samples}"
        " --batch-size {params.batch_size} {params.targets} {params.features} --out {output:q} > {log:q} 2>&1"
