"""Hard-negative mining (rule mine, `skeletonllm mine`): each class's top-k most similar classes of one prepared
dataset, from the config's mining.backend (kinematic: per-class motion statistics of the prepared poses;
embedding: sentence embeddings of the class names, offline).

Outputs: <results>/mining/<dataset>/{hard_negatives.json, hard_negatives.md, hard_negatives.png} for every
dataset in mining.datasets.
"""


def mining_targets():
    """The hard-negative lists of every dataset in mining.datasets (each must be a configured dataset)."""
    for name in config["mining"]["datasets"]:
        if name not in config["datasets"]:
            raise ValueError(f"config: mining.datasets names {name!r}, which is not one of datasets: {sorted(config['datasets'])}")
    return [results("mining", name, "hard_negatives.json") for name in config["mining"]["datasets"]]


rule mine:
    input:
        poses=results("data", "{dataset}", "poses.npy"),
        index=results("data", "{dataset}", "index.parquet"),
        manifest=results("data", "{dataset}", "manifest.json"),
    output:
        json=results("mining", "{dataset}", "hard_negatives.json"),
        markdown=results("mining", "{dataset}", "hard_negatives.md"),
        png=results("mining", "{dataset}", "hard_negatives.png"),
    params:
        data=results("data", "{dataset}"),
        out=results("mining", "{dataset}"),
        backend=ConfigValue("mining.backend"),
        top_k=ConfigValue("mining.top_k"),
    log:
        log_path("mine", "{dataset}"),
    resources:
        **rule_resources("mine"),
    shell:
        "skeletonllm mine --classes {params.data:q} --backend {params.backend} --top-k {params.top_k}"
        " --out {params.out:q} > {log:q} 2>&1"
