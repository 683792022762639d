"""The tables (rule tables, `skeletonllm tables`): every evaluation's and the baseline's metrics.json, laid out as
the paper's tables (main, crossformat, gzsl, captioning, qa) with the paper's reported numbers in rows of their own.

Outputs: <results>/tables/ with <table>.md, .csv and .tex and index.md.
"""


rule tables:
    input:
        evaluations=eval_targets(),
        baseline=baseline_targets(),
    output:
        directory(results("tables")),
    params:
        results=RESULTS,
    localrule: True
    log:
        log_path("tables", "tables"),
    resources:
        **rule_resources("tables"),
    shell:
        "skeletonllm tables --results {params.results:q} --out {output:q} > {log:q} 2>&1"
