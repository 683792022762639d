"""One training stage on the HF Trainer: load what the stage starts from, set its trainable parameters, train
(resuming from the last checkpoint of a killed run), merge LoRA, write the stage directory, score the seen-class
MQA accuracy and track it all in MLflow.

A stage directory holds:
- mllm/: the (merged) MLLM and its processor (`save_pretrained`; `load_mllm` and `load_processor` read it);
- draction.safetensors, draction.json: the renderer (train.renderer: DrAction, or a fixed one without weights);
- config.json: the resolved config and the stage's inputs; trainer_state.json; metrics.json (with the examples per
  task of stage 4's mix); loss.png;
- mlflow_run.json: the stage's MLflow run, which evaluations of the stage log into.
Resumable checkpoints go to <out>.checkpoints/ (outside the output, which Snakemake clears before a rerun) and are
removed once the stage has finished.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import torch

from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.errors import CommandError
from skeletonllm.eval.caption import references
from skeletonllm.eval.qa import qa_examples
from skeletonllm.eval.samples import evenly
from skeletonllm.memory import peak_rss_mb
from skeletonllm.model import prompts
from skeletonllm.model.build import load_mllm
from skeletonllm.model.processor import load_processor
from skeletonllm.model.skeleton_llm import SkeletonLLM
from skeletonllm.render.base import draction_preset
from skeletonllm.render.storage import build_renderer, load_renderer, save_renderer
from skeletonllm.train import data, tracking
from skeletonllm.train.evaluate import mqa_accuracy
from skeletonllm.train.plots import plot_loss
from skeletonllm.train.stages import Stage, attach_lora, get_stage, merge_lora, set_trainable
from skeletonllm.variants import run_folder, teacher_folder

MLLM_DIR = "mllm"
RUN_ID_FILE = "mlflow_run_id"


@dataclass(frozen=True)
class StageInputs:
    """Where a stage reads from and writes to. init: the previous stage's directory (None for the first stage,
    which starts from `model` and a fresh renderer); captions_data and captions_split: the HumanML3D-style dataset
    and split whose training texts stage 4 learns to caption (None when it does not)."""

    model: Path
    data: Path
    split: Path
    negatives: Path
    rationales: Path
    init: Path | None
    out: Path
    captions_data: Path | None = None
    captions_split: Path | None = None

    @property
    def checkpoints(self) -> Path:
        """The Trainer's output_dir: resumable checkpoints beside the stage directory."""
        return self.out.with_name(self.out.name + ".checkpoints")


def default_inputs(config: dict, stage: int, out: Path | None = None, base_seed: int | None = None) -> StageInputs:
    """The inputs the config names for a stage (as `make run` leaves them) and its output directory: the run's
    folder is <results>/train/<dataset>/<train.variant>, with /seed<S> added when train.seed is not base_seed (the
    config file's own seed, before a run's --seed; default train.seed)."""
    train = config["train"]
    root = Path(config["results"])
    protocol, class_split = train["split"].split("/")
    base_seed = train["seed"] if base_seed is None else base_seed
    variant_dir = root / "train" / train["dataset"] / run_folder(train["variant"], train["seed"], base_seed)
    stages = sorted(train["stages"])
    previous = [number for number in stages if number < stage]
    captions = config["captions"]
    captioned = get_stage(stage).mixes and "caption" in train["refine_tasks"]
    if captioned and not captions["dataset"]:
        raise CommandError("config: train.refine_tasks has caption, but captions.dataset names no dataset")
    caption_split = (captions["split"] or train["split"]) + ".json"
    return StageInputs(
        model=root / "models" / config["model"]["name"],
        data=root / "data" / train["dataset"],
        split=root / "splits" / train["dataset"] / protocol / f"{class_split}.json",
        negatives=root / "mining" / train["dataset"] / "hard_negatives.json",
        rationales=root / "teacher" / train["dataset"] / teacher_folder(config, train["split"]) / "rationales.jsonl",
        init=variant_dir / f"stage{previous[-1]}" if previous else None,
        out=out or variant_dir / f"stage{stage}",
        captions_data=root / "data" / captions["dataset"] if captioned else None,
        captions_split=root / "splits" / captions["dataset"] / caption_split if captioned else None,
    )


def resolve_device(name: str) -> str:
    """cpu or cuda from the config's train.device (auto = cuda when available)."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise CommandError("train.device is cuda, but torch sees no CUDA device")
    return name


def assemble(renderer, mllm, processor) -> SkeletonLLM:
    """SkeletonLLM of a renderer and an MLLM, at the image size and normalization of the MLLM's processor."""
    image = processor.image_processor
    size = (image.size["height"], image.size["width"])
    return SkeletonLLM(renderer, mllm, size, tuple(image.image_mean), tuple(image.image_std))


def load_stage(directory: Path, backend: str) -> tuple[SkeletonLLM, object]:
    """(SkeletonLLM, processor) of a stage directory that `skeletonllm train` wrote; CommandError when it is not
    one."""
    directory = Path(directory)
    if not (directory / MLLM_DIR).is_dir() or not (directory / "draction.json").is_file():
        raise CommandError(f"{directory}: not a stage directory of `skeletonllm train` (needs {MLLM_DIR}/ and "
                           f"draction.json); train the stage first")
    processor = load_processor(directory / MLLM_DIR)
    _, renderer = load_renderer(directory)
    renderer.config.backend = backend
    return assemble(renderer, load_mllm(directory / MLLM_DIR), processor), processor


def load_start(config: dict, inputs: StageInputs, backend: str) -> tuple[SkeletonLLM, object]:
    """(SkeletonLLM, processor) the stage starts from: the previous stage's directory, or the MLLM folder and a
    fresh renderer of train.renderer (DrAction from the config's preset, or a fixed renderer)."""
    train = config["train"]
    if inputs.init is not None:
        if not (inputs.init / MLLM_DIR).is_dir():
            raise CommandError(f"{inputs.init / MLLM_DIR}: no such model folder (run the previous stage first)")
        model, processor = load_stage(inputs.init, backend)
    else:
        if not inputs.model.is_dir():
            raise CommandError(f"{inputs.model}: no such model folder (build it with `skeletonllm build-model`)")
        processor = load_processor(inputs.model)
        image = processor.image_processor
        renderer = build_renderer(train["renderer"], train["frames"], train["render_size"], backend, train["seed"],
                                  train["line_samples"], tuple(image.image_mean), tuple(image.image_std),
                                  draction_preset(train["draction_preset"]))
        model = assemble(renderer, load_mllm(inputs.model), processor)
    if model.frames != train["frames"]:
        raise CommandError(f"{inputs.init}: its renderer draws {model.frames} frames, the config asks "
                           f"for train.frames = {train['frames']}")
    return model, processor


def stage_examples(config: dict, stage: Stage, inputs: StageInputs, dataset: PreparedDataset,
                   split: data.Split) -> tuple[list[str], Callable[[int], list]]:
    """(sample ids, epoch -> examples) of the stage's task over the split's training samples of the seen classes."""
    train = config["train"]
    seed, k, pool = train["seed"], train["candidates"], split.seen
    ids = split.parts["train"]
    labels = [dataset.label_name(sample_id) for sample_id in ids]
    if stage.task == "mqa":
        return ids, partial(data.mqa_examples, labels, pool, k, seed)
    if stage.task == "disc":
        negatives = data.load_negatives(inputs.negatives)
        return [i for i in ids for _ in range(2)], partial(data.disc_examples, labels, negatives, pool, seed)
    rationales = data.load_rationales(inputs.rationales)
    taught = [(sample_id, label) for sample_id, label in zip(ids, labels) if sample_id in rationales]
    if not taught:
        raise CommandError(f"{inputs.rationales}: no rationale for any training sample of {inputs.split}")
    return [sample_id for sample_id, _ in taught], partial(
        data.reasoning_examples, [label for _, label in taught], [rationales[sample_id] for sample_id, _ in taught],
        pool, k, seed)


def refine_mix(config: dict, inputs: StageInputs, dataset: PreparedDataset, split: data.Split,
               processor) -> dict[str, data.ClipExamples]:
    """The example sets stage 4 adds to its MQA (train.refine_tasks): caption, one reference text per training
    sample of inputs.captions_split (drawn per epoch); qa, one question the measured motion answers per training
    sample of the split that has one (drawn per epoch). CommandError when a set would be empty."""
    train = config["train"]
    frames, seed = train["frames"], train["seed"]
    parts = {}
    if "caption" in train["refine_tasks"]:
        texts = PreparedDataset(inputs.captions_data)
        ids = data.Split.load(inputs.captions_split).parts["train"]
        if not ids:
            raise CommandError(f"{inputs.captions_split}: no training samples to learn captions from")
        captions = [[prompts.caption(text) for text in refs] for refs in references(texts, ids)]
        parts["caption"] = data.ClipExamples(texts, ids, partial(data.one_per_clip, captions, seed), processor, frames,
                                             seed, train=True)
    if "qa" in train["refine_tasks"]:
        asked: dict[str, list] = {}  # sample id -> the questions its motion answers (clips with none are left out)
        for item in qa_examples(dataset, split.parts["train"]):
            asked.setdefault(item.sample, []).append(item.example)
        if not asked:
            raise CommandError(f"{inputs.split}: the measured motion answers no question for any training sample")
        parts["qa"] = data.ClipExamples(dataset, list(asked), partial(data.one_per_clip, list(asked.values()), seed),
                                        processor, frames, seed, train=True)
    return parts


def training_arguments(config: dict, stage: Stage, inputs: StageInputs, device: str):
    """The Trainer's arguments of a stage, from config."""
    from transformers import TrainingArguments

    train, index = config["train"], stage.number - 1
    return TrainingArguments(
        output_dir=str(inputs.checkpoints),
        run_name=tracking.run_name(train["variant"], stage.number, train["seed"]),
        per_device_train_batch_size=train["batch_size"],
        gradient_accumulation_steps=train["gradient_accumulation"],
        num_train_epochs=train["epochs"][index],
        learning_rate=train["learning_rate"][index],
        weight_decay=train["weight_decay"],
        warmup_steps=train["warmup_ratio"],
        lr_scheduler_type="cosine",
        logging_steps=train["logging_steps"],
        logging_first_step=True,
        save_strategy="steps",
        save_steps=train["save_steps"],
        save_total_limit=1,
        seed=train["seed"],
        data_seed=train["seed"],
        report_to=["mlflow"],
        bf16=train["bf16"],
        deepspeed=train["deepspeed"],
        use_cpu=device == "cpu",
        dataloader_num_workers=0,
        remove_unused_columns=False,
        ddp_find_unused_parameters=False,
        disable_tqdm=not sys.stderr.isatty(),
    )


def epoch_callback(dataset: data.TaskMix):
    """A TrainerCallback that tells the dataset the epoch at its start, for the per-epoch draws of candidates,
    negatives and frames."""
    from transformers import TrainerCallback

    class EpochDraws(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            dataset.set_epoch(math.floor(state.epoch + 1e-6) if state.epoch else 0)

    return EpochDraws()


def last_complete_checkpoint(directory: Path) -> Path | None:
    """The newest checkpoint-N in directory that the Trainer finished writing (its trainer_state.json, written
    last, parses), passing over one cut off by a kill mid-save (the Trainer writes over it when it gets there
    again); None when there is none."""
    found = sorted((path for path in directory.glob("checkpoint-*") if path.name.split("-")[-1].isdigit()),
                   key=lambda path: int(path.name.split("-")[-1]), reverse=True) if directory.is_dir() else []
    for path in found:
        try:
            json.loads((path / "trainer_state.json").read_text())
            return path
        except (OSError, json.JSONDecodeError):
            continue
    return None


def peak_memory_mb(device: str) -> float:
    """Peak memory of this process in MB: CUDA's max allocated on a GPU, else the peak resident set size."""
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return peak_rss_mb()


def logged_losses(log_history: list[dict]) -> list[tuple[int, float]]:
    """(step, loss) of every logging step of the Trainer's log history."""
    return [(entry["step"], float(entry["loss"])) for entry in log_history if "loss" in entry]


@dataclass
class StageSetup:
    """Everything a stage trains with: the model, its processor, the data and the Trainer."""

    model: SkeletonLLM
    processor: object
    dataset: PreparedDataset
    split: data.Split
    examples: data.TaskMix
    trainer: object
    trainable: dict[str, int]


def setup_stage(config: dict, stage: Stage, inputs: StageInputs, device: str) -> StageSetup:
    """Load the stage's start, attach LoRA where the stage has it, set the trainable parameters and build the
    Trainer over the stage's examples."""
    from transformers import Trainer

    train = config["train"]
    dataset = PreparedDataset(inputs.data)
    split = data.Split.load(inputs.split)
    model, processor = load_start(config, inputs, train["render_backend"])
    if stage.lora:
        lora = train["lora"]
        torch.manual_seed(train["seed"])  # LoRA's A starts random: seeded, not left to what ran before in the process
        model.mllm = attach_lora(model.mllm, lora["r"], lora["alpha"], lora["dropout"])
    trainable = set_trainable(model, stage, train["unfreeze"])
    if train["gradient_checkpointing"]:
        model.mllm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    ids, examples = stage_examples(config, stage, inputs, dataset, split)
    parts = {stage.task: data.ClipExamples(dataset, ids, examples, processor, train["frames"], train["seed"],
                                           train=True)}
    if stage.mixes:
        parts.update(refine_mix(config, inputs, dataset, split, processor))
    examples_set = data.TaskMix(parts)
    collator = data.ClipCollator(processor.tokenizer.pad_token_id)
    trainer = Trainer(model=model, args=training_arguments(config, stage, inputs, device), train_dataset=examples_set,
                      data_collator=collator, callbacks=[epoch_callback(examples_set)])
    return StageSetup(model, processor, dataset, split, examples_set, trainer, trainable)


def run_stage(config: dict, config_name: str, stage: Stage, inputs: StageInputs) -> dict:
    """Train one stage and write its directory; returns its metrics (empty on processes other than the first)."""
    train = config["train"]
    device = resolve_device(train["device"])
    setup = setup_stage(config, stage, inputs, device)
    trainer, model = setup.trainer, setup.model
    main = trainer.is_world_process_zero()
    checkpoint = last_complete_checkpoint(inputs.checkpoints)
    if main:
        tags = {"stage": stage.number, "dataset": train["dataset"], "split": train["split"],
                "variant": train["variant"], "seed": train["seed"], "git_commit": tracking.git_commit()}
        run = tracking.start_run(config["mlflow"]["tracking_uri"], config["mlflow"]["experiment"] or config_name,
                                 trainer.args.run_name, tags, inputs.checkpoints / RUN_ID_FILE)
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if not main:
        return {}
    model.mllm = merge_lora(model.mllm)
    evaluation = mqa_accuracy(model, setup.processor, setup.dataset,
                              evenly(setup.split.parts["test_seen"], train["eval_samples"]), setup.split.seen,
                              train["candidates"], train["seed"], train["batch_size"], device)
    losses = logged_losses(trainer.state.log_history)
    metrics = {
        "stage": stage.number, "task": stage.task, "variant": train["variant"], "seed": train["seed"],
        "loss_first": losses[0][1], "loss_last": losses[-1][1], "steps": trainer.state.global_step,
        "examples": len(setup.examples), "examples_by_task": setup.examples.counts,
        "samples_per_s": result.metrics["train_samples_per_second"],
        "train_seconds": result.metrics["train_runtime"], "peak_mb": peak_memory_mb(device), "device": device,
        "seen_mqa_accuracy": evaluation["accuracy"], "chance": evaluation["chance"],
        "eval_samples": evaluation["samples"], "trainable_params": sum(setup.trainable.values()),
        "trainable_by_part": setup.trainable, "resumed_from": Path(checkpoint).name if checkpoint else None,
    }
    write_stage(inputs, model, setup.processor, config, stage, trainer, metrics, losses)
    tracking.write_run_file(inputs.out, config["mlflow"]["tracking_uri"], run.info.run_id)
    tracking.finish_run(config, metrics, [inputs.out / "metrics.json", inputs.out / "loss.png"])
    shutil.rmtree(inputs.checkpoints, ignore_errors=True)
    return metrics


def write_stage(inputs: StageInputs, model: SkeletonLLM, processor, config: dict, stage: Stage, trainer,
                metrics: dict, losses: list[tuple[int, float]]) -> None:
    """Write the stage directory (see the module docstring)."""
    out = inputs.out
    out.mkdir(parents=True, exist_ok=True)
    model.mllm.save_pretrained(out / MLLM_DIR)
    processor.save_pretrained(out / MLLM_DIR)
    save_renderer(model.renderer, config["train"]["renderer"], out)
    resolved = {"config": config, "stage": asdict(stage),
                "inputs": {key: str(value) if value is not None else None for key, value in asdict(inputs).items()}}
    (out / "config.json").write_text(json.dumps(resolved, indent=2) + "\n")
    trainer.state.save_to_json(str(out / "trainer_state.json"))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_loss(losses, out / "loss.png", f"stage {stage.number} ({stage.name}), variant {config['train']['variant']}")
