"""The data half of the DAG: synth (the embedded default's archive) -> download (verify, extract) ->
prepare (parse + normalize into the array store) -> splits (protocols x open-vocabulary class splits).

Outputs: <results>/synth/synth.tar.gz, <results>/raw/<archive>/, <results>/data/<dataset>/{poses.npy,
index.parquet, rejected.csv, manifest.json} and <results>/splits/<dataset>/ (index.json and one json per split).
"""

import shlex

SYNTH_ARCHIVE = results("synth", "synth.tar.gz")


def download_flags(archive):
    """`skeletonllm download` flags naming an archive's source and its expected checksum."""
    if archive["source"] == "synth":
        return f"--source {shlex.quote(SYNTH_ARCHIVE)} --sha256-file {shlex.quote(SYNTH_ARCHIVE + '.sha256')}"
    if "sha256" in archive:
        checksum = f"--sha256 {archive['sha256']}"
    else:
        checksum = f"--sha256-file {shlex.quote(archive['sha256_file'])}"
    return f"--source {shlex.quote(archive['source'])} {checksum}"


def raw_dir(dataset):
    """The folder `prepare` reads: the dataset's subdir of its extracted archive."""
    return os.path.normpath(results("raw", dataset["archive"], dataset["subdir"]))


localrules:
    download,


rule synth:
    output:
        archive=SYNTH_ARCHIVE,
        sha256=SYNTH_ARCHIVE + ".sha256",
    params:
        out=results("synth"),
        seed=ConfigValue("synth.seed"),
        subjects=ConfigValue("synth.subjects"),
        repetitions=ConfigValue("synth.repetitions"),
        cameras=ConfigValue("synth.cameras"),
    log:
        log_path("synth", "synth"),
    resources:
        **rule_resources("synth"),
    shell:
        "skeletonllm synth --out {params.out:q} --seed {params.seed} --subjects {params.subjects}"
        " --repetitions {params.repetitions} --cameras {params.cameras} > {log:q} 2>&1"


rule download:
    input:
        lambda wildcards: [SYNTH_ARCHIVE, SYNTH_ARCHIVE + ".sha256"] if is_synth(wildcards.archive) else [],
    output:
        directory(results("raw", "{archive}")),
    params:
        source=ConfigValue("archives.{archive}", download_flags),
        cache=results("downloads"),
    log:
        log_path("download", "{archive}"),
    resources:
        **rule_resources("download"),
    shell:
        "skeletonllm download {params.source} --out {output:q} --cache {params.cache:q} > {log:q} 2>&1"


rule prepare:
    input:
        raw=lambda wildcards: results("raw", archive_of(wildcards.dataset)),
    output:
        poses=results("data", "{dataset}", "poses.npy"),
        index=results("data", "{dataset}", "index.parquet"),
        rejected=results("data", "{dataset}", "rejected.csv"),
        denoise=results("data", "{dataset}", "denoise.csv"),
        manifest=results("data", "{dataset}", "manifest.json"),
    params:
        raw=ConfigValue("datasets.{dataset}", raw_dir),
        out=results("data", "{dataset}"),
        canonical=ConfigValue("prepare.canonical_frame", lambda on: "" if on else "--no-canonical-frame"),
    threads: config["workers"]  # no param in Snakemake or DVC: it changes no output
    log:
        log_path("prepare", "{dataset}"),
    benchmark:
        results("benchmarks", "prepare", "{dataset}.tsv")
    resources:
        **rule_resources("prepare"),
    shell:
        "skeletonllm prepare --dataset {wildcards.dataset} --raw {params.raw:q} --out {params.out:q}"
        " {params.canonical} --workers {threads} > {log:q} 2>&1"


rule splits:
    input:
        index=results("data", "{dataset}", "index.parquet"),
    output:
        directory(results("splits", "{dataset}")),
    params:
        data=results("data", "{dataset}"),
    log:
        log_path("splits", "{dataset}"),
    resources:
        **rule_resources("splits"),
    shell:
        "skeletonllm splits --dataset {wildcards.dataset} --data {params.data:q} --out {output:q} > {log:q} 2>&1"
