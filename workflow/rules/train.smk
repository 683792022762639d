"""The model phase of the DAG: build_model (the MLLM every variant starts from) and one rule per training stage,
train_stage1 to train_stage4, each starting from the previous stage of its run's variant.

A run is one ablation variant (`variants`, applied by `skeletonllm train --variant`) trained with one seed; `rule
all` asks for every run of ablation.variants x ablation.seeds (every variant x ablation.grid_seeds with
ablation_grid, as `make ablations` sets it). Wildcards: variant, and seed = "" for the config's
own train.seed or "/seed<S>" for another (skeletonllm.variants).

Outputs: <results>/models/<model.name>/ and <results>/train/<train.dataset>/<variant>[/seed<S>]/stage<N>/ for every
N in the variant's train.stages. A train job runs `skeletonllm train --stage N --config <this run's config file>` through
workflow/scripts/launch_train.sh: on the CPU with resources.train.gpu = 0, else srun + torchrun over
resources.train.nodes x gpu processes (DDP). A killed stage resumes from <stage>.checkpoints/ when rerun.
"""

TRAIN = config["train"]
TRAIN_CONFIGFILE = os.path.abspath((workflow.overwrite_configfiles or [DEFAULT_CONFIGFILE])[-1])
MODEL_DIR = results("models", config["model"]["name"])
TRAIN_DATA = results("data", TRAIN["dataset"])
PROTOCOL, CLASS_SPLIT = TRAIN["split"].split("/")
if TRAIN["dataset"] not in config["datasets"]:
    raise ValueError(f"config: train.dataset is {TRAIN['dataset']!r}, which is not one of datasets: {sorted(config['datasets'])}")
CAPTIONS = config["captions"]
CAPTIONED = "caption" in TRAIN["refine_tasks"] or "caption" in config["eval"]["tasks"]
if CAPTIONED and CAPTIONS["dataset"] not in config["datasets"]:
    raise ValueError(f"config: train.refine_tasks or eval.tasks has caption, but captions.dataset ({CAPTIONS['dataset']!r}) is not one of datasets: {sorted(config['datasets'])}")


wildcard_constraints:
    variant="[A-Za-z0-9_]+",
    seed="(/seed[0-9]+)?",


RUNS = [(name, seed_part(seed, TRAIN["seed"])) for name, seed in ablation_runs(config)]  # (variant, seed part)
for _variant in config["variants"]:
    apply_variant(config, _variant)  # an override of a key the config lacks stops the run here


def variant_stages(variant):
    """The sorted training stages of a variant."""
    return sorted(apply_variant(config, variant)["train"]["stages"])


def stage_dir(stage, variant="{variant}", seed="{seed}"):
    """The directory of a training stage of a run (a pattern with the variant and seed wildcards by default)."""
    return results("train", TRAIN["dataset"], variant + seed, f"stage{stage}")


def train_targets():
    """Every stage directory of every run (ablation variants x seeds)."""
    return [stage_dir(stage, variant, seed) for variant, seed in RUNS for stage in variant_stages(variant)]


def stage_inputs(stage):
    """An input function of stage N: the data, its split and, for the run's first stage the MLLM, else the run's
    previous stage; stage 2 also the hard negatives, stage 3 the teacher rationales, stage 4 the captions dataset
    and its splits when train.refine_tasks has caption."""

    def inputs(wildcards):
        stages = variant_stages(wildcards.variant)
        if stage not in stages:
            raise ValueError(f"variant {wildcards.variant!r} has no stage {stage} (its stages: {stages})")
        previous = [number for number in stages if number < stage]
        found = {
            "start": stage_dir(previous[-1], wildcards.variant, wildcards.seed) if previous else MODEL_DIR,
            "poses": os.path.join(TRAIN_DATA, "poses.npy"),
            "index": os.path.join(TRAIN_DATA, "index.parquet"),
            "manifest": os.path.join(TRAIN_DATA, "manifest.json"),
            "splits": results("splits", TRAIN["dataset"]),
        }
        if stage == 2:
            found["negatives"] = results("mining", TRAIN["dataset"], "hard_negatives.json")
        if stage == 3:
            folder = teacher_folder(apply_variant(config, wildcards.variant), TRAIN["split"])
            found["rationales"] = results("teacher", TRAIN["dataset"], folder, "rationales.jsonl")
        if stage == 4 and "caption" in TRAIN["refine_tasks"]:
            found["captions"] = results("data", CAPTIONS["dataset"], "manifest.json")
            found["captions_splits"] = results("splits", CAPTIONS["dataset"])
        return found

    return inputs


def stage_params(stage):
    """The config a stage reads beyond train, model and its variant: stage 4 reads captions when it learns them."""
    return {"captions": ConfigValue("captions")} if stage == 4 and "caption" in TRAIN["refine_tasks"] else {}


rule build_model:
    output:
        directory(MODEL_DIR),
    params:
        source=ConfigValue("model.source"),
        text_init=ConfigValue("model.text_init"),
        seed=ConfigValue("model.seed"),
    localrule: True
    log:
        log_path("build_model", config["model"]["name"]),
    resources:
        **rule_resources("build_model"),
    shell:
        "skeletonllm build-model --preset {params.source} --text-init {params.text_init} --seed {params.seed}"
        " --out {output:q} > {log:q} 2>&1"


for _stage in sorted({stage for name, _ in RUNS for stage in variant_stages(name)}):

    rule:
        name:
            f"train_stage{_stage}"
        input:
            unpack(stage_inputs(_stage)),
        output:
            directory(stage_dir(_stage)),
        params:
            stage=_stage,
            configfile=TRAIN_CONFIGFILE,
            launcher=os.path.join(workflow.basedir, "workflow", "scripts", "launch_train.sh"),
            run_seed=lambda wildcards: seed_of(wildcards.seed, TRAIN["seed"]),
            train=ConfigValue("train"),
            variant=ConfigValue("variants.{variant}"),
            model=ConfigValue("model"),
            gpus=ConfigValue("resources.train.gpu"),
            nodes=ConfigValue("resources.train.nodes"),
            **stage_params(_stage),
        threads: config["resources"]["train"]["cpus_per_task"]
        log:
            log_path("train", f"{TRAIN['dataset']}_{{variant}}{{seed}}_stage{_stage}"),
        resources:
            **rule_resources("train"),
        shell:
            "{params.launcher} {params.gpus} {params.nodes} skeletonllm train --stage {params.stage} --config {params.configfile:q}"
            " --variant {wildcards.variant} --seed {params.run_seed} --out {output:q} > {log:q} 2>&1"
