"""The feature-based baseline that never sees images (`skeletonllm baseline`): rule baseline_train fits the
topology-aware joint encoder to the MiniLM embeddings of train.dataset's seen class names on train.split; rule
baseline_evaluate runs each recognition task of eval.tasks on the same samples as the SkeletonLLM evaluation (eval.samples,
spread evenly), crossformat through the shared body joints of eval.crossformat_targets.

Outputs: <results>/baseline/<train.dataset>/model/ and <results>/baseline/<train.dataset>/<task>/.
"""


def baseline_dir(*parts):
    """A folder of the baseline of the configured training dataset."""
    return results("baseline", TRAIN["dataset"], *parts)


BASELINE_TASKS = ("openvocab", "gzsl", "closed", "crossformat")  # the baseline ranks classes; it writes no text


def baseline_targets():
    """The baseline folder of every configured recognition task."""
    return [baseline_dir(task) for task in EVAL["tasks"] if task in BASELINE_TASKS]


rule baseline_train:
    input:
        manifest=os.path.join(TRAIN_DATA, "manifest.json"),
        splits=results("splits", TRAIN["dataset"]),
    output:
        directory(baseline_dir("model")),
    params:
        data=TRAIN_DATA,
        split=results("splits", TRAIN["dataset"], f"{PROTOCOL}/{CLASS_SPLIT}.json"),
        seed=ConfigValue("baseline.seed"),
        epochs=ConfigValue("baseline.epochs"),
        dataset=ConfigValue("train.dataset"),
        split_name=ConfigValue("train.split"),
    log:
        log_path("baseline_train", TRAIN["dataset"]),
    resources:
        **rule_resources("baseline"),
    shell:
        "skeletonllm baseline train --data {params.data:q} --split {params.split:q} --seed {params.seed}"
        " --epochs {params.epochs} --out {output:q} > {log:q} 2>&1"


rule baseline_evaluate:
    input:
        unpack(task_data),
        model=baseline_dir("model"),
    output:
        directory(baseline_dir("{task}")),
    params:
        data=TRAIN_DATA,
        split=results("splits", TRAIN["dataset"], f"{PROTOCOL}/{CLASS_SPLIT}.json"),
        samples=ConfigValue("eval.samples"),
        targets=ConfigValue("eval.crossformat_targets", convert_wildcards=True, convert=lambda names, wildcards: " ".join(
            f"--target {results('data', name)}" for name in names) if wildcards.task == "crossformat" else ""),
    wildcard_constraints:
        task="openvocab|gzsl|closed|crossformat",
    log:
        log_path("baseline_evaluate", f"{TRAIN['dataset']}_{{task}}"),
    resources:
        **rule_resources("baseline"),
    shell:
        "skeletonllm baseline evaluate --model {input.model:q} --data {params.data:q} --split {params.split:q}"
        " --task {wildcards.task} --samples {params.samples} {params.targets} --out {output:q} > {log:q} 2>&1"
