"""Training-step speed: one stage-1 optimizer step (render, MLLM forward, backward, AdamW) with DrAction's fast
rasterizer and with the dense reference.

The step is stage 1's (render warm-up): DrAction and the MLLM's projector train, as the paper has it, plus the base
parts --unfreeze names (the embedded default's config trains lm_head: `--unfreeze lm_head`); every other weight is
frozen. The batch holds
--batch MQA examples (the true class among 5 candidates, train.data.mqa_examples) over clips of --frames frames,
one frame drawn from each of F equal segments as training draws them. A step is SkeletonLLM's loss on the batch,
its backward, torch.optim.AdamW's step over the trainable parameters and zero_grad: what one Trainer step does,
without the Trainer.

The model: without --model-config, the tiny InternVL built in memory (model.build.tiny_mllm with --seed, float32);
with --model-config (a config.json, its folder, or 1B/2B/8B for InternVL3-{1B,2B,8B}-hf from model.presets) a
model of that architecture with random weights and no checkpoint, in bfloat16 on CUDA (float32 on the CPU). Its
prompts are tokenized with the model folder's own processor when the folder has one, else with the tiny model's
tokenizer, the token ids folded into the config's vocabulary and each image block given the config's
image_seq_length image tokens: the lengths of the real prompts up to the tokenization of their text.

The clips: --data's prepared dataset (`make run` writes results/data/<dataset>), the first samples spread evenly
over it; without --data, synthetic ntu25 clips of the synth generator (data.synth: one performance per class, seen
by camera 1, normalized as prepare does), so the benchmark runs on a fresh clone before any data is prepared.

Each backend runs in its own spawned process (its own peak memory) on the same model, batch and seeds: --warmup
untimed steps, then --steps timed ones (--dense-steps for the slow dense reference), whose median is reported. On
CUDA the device is synchronized around each step; the fast backend is what train.render_backend "auto" renders
with (gsplat where CUDA and gsplat are, else torch).

Figures:
  samples_per_s   batch / the fast backend's median step time: training throughput of one device.
  step_ms         median wall time of one optimizer step with the fast backend, in milliseconds.
  dense_step_ms   the same with the dense reference rasterizer (every Gaussian at every pixel).
  dense_ratio     dense_step_ms / step_ms: how much slower a step would be without the fast rasterizer.
  peak_mb         peak memory of the fast backend's process over its steps, in MB: torch.cuda.max_memory_allocated
                  on CUDA (weights, gradients, AdamW state, activations); on the CPU the peak resident set of the
                  steps (ru_maxrss, reset on Linux just before the first step, so that building the model does
                  not count) minus the resident set before the model was built: the same things plus allocator
                  slack and the libraries' lazily loaded code.
  model_mb        memory once model, renderer, batch and optimizer exist, before the first step
                  (torch.cuda.memory_allocated; on the CPU the resident set minus that before the model was built):
                  peak_mb - model_mb is what the steps add (activations, gradients, AdamW's state).
  memory          which of the two measures peak_mb is.
  device, threads, backend, dense_backend
                  where the step ran, torch's CPU threads (OMP_NUM_THREADS; on a busy machine more threads than
                  free cores can slow a step many times over), and the two rasterizers timed.
  model           what was timed: source, vision/text hidden sizes and layers, vocabulary, vision image size and
                  image tokens per frame, parameters (MLLM + DrAction), trainable parameters, dtype.
  frames, size, batch, tokens, answer_tokens
                  frames per clip, DrAction's image size (frames are then resized to the vision tower's image
                  size), clips per step, padded prompt length and the answer tokens the loss is taken over.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from skeletonllm.errors import CommandError
from skeletonllm.memory import peak_rss_mb, reset_peak_rss, rss_mb

CANDIDATES = 5
LEARNING_RATE = 1e-5
PRESETS = ("1B", "2B", "8B")
SYNTH_SUBJECTS = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm bench train-step`."""
    parser.add_argument("--model-config", default=None, metavar="PATH_OR_SIZE",
                        help="time a random-weight model of this architecture: a config.json, its folder, or "
                             f"{'/'.join(PRESETS)} (InternVL3-*-hf) (default: the tiny model, built in memory)")
    parser.add_argument("--batch", type=int, default=4, help="clips per step (default 4)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per backend; the median is reported "
                                                             "(default 5)")
    parser.add_argument("--dense-steps", type=int, default=1,
                        help="timed steps of the slow dense reference (default 1)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before them, per backend (default 1)")
    parser.add_argument("--frames", type=int, default=4, help="frames per clip, one image each (default 4)")
    parser.add_argument("--size", type=int, default=112, help="DrAction's image size in pixels (default 112)")
    parser.add_argument("--line-samples", type=int, default=10,
                        help="Gaussians along each bone, as train.line_samples (default 10)")
    parser.add_argument("--unfreeze", type=lambda text: [part for part in text.split(",") if part], default=[],
                        metavar="PARTS",
                        help="comma-separated base parts trained too, of vision, language and lm_head (the embedded "
                             "default's train.unfreeze is lm_head; default: none, DrAction + projector as the paper "
                             "trains stage 1)")
    parser.add_argument("--data", type=Path, default=None,
                        help="a prepared dataset to take the clips from (default: synthetic ntu25 clips)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="where to step (default: cuda if available, else cpu)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, the candidates and the frames")
    parser.add_argument("--json", action="store_true", help="print the figures (see above) as one JSON object")


def model_config(spec: str | None):
    """The InternVLConfig of --model-config (None for the tiny model) and the folder it came from (None for a
    preset); CommandError when it names nothing readable."""
    from transformers import InternVLConfig

    from skeletonllm.model.presets import internvl3_config

    if spec is None:
        return None, None
    if spec.upper() in PRESETS:
        return internvl3_config(spec.upper()), None
    path = Path(spec)
    file = path / "config.json" if path.is_dir() else path
    if not file.is_file():
        raise CommandError(f"--model-config {spec}: no such config.json, model folder or size "
                           f"({', '.join(PRESETS)})")
    try:
        config = InternVLConfig.from_pretrained(str(file), local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise CommandError(f"{file}: not an InternVL config.json ({error})") from None
    if getattr(config, "vision_config", None) is None or getattr(config, "text_config", None) is None:
        raise CommandError(f"{file}: not an InternVL config.json (no vision_config and text_config)")
    return config, file.parent


def build_model(spec: str | None, seed: int, device: str):
    """(mllm, processor, source, dtype name) of --model-config on `device`: the tiny model in memory, or random
    weights of the config (bfloat16 on CUDA) with its folder's processor, or the tiny model's tokenizer."""
    import torch

    from skeletonllm.model.build import tiny_mllm
    from skeletonllm.model.presets import mllm_from_config
    from skeletonllm.model.processor import SkeletonLLMProcessor, load_processor, make_image_processor
    from skeletonllm.model.tokenizer import make_tokenizer

    config, folder = model_config(spec)
    if config is None:
        mllm, processor = tiny_mllm(seed)
        return mllm.to(device), processor, f"tiny (built in memory, seed {seed})", "float32"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    default = torch.get_default_dtype()
    torch.manual_seed(seed)
    torch.set_default_dtype(dtype)
    try:
        mllm = mllm_from_config(config, device=device)
    finally:
        torch.set_default_dtype(default)
    if folder is not None and (folder / "tokenizer_config.json").is_file():
        processor = load_processor(folder)
    else:
        tokenizer = make_tokenizer()
        image_size = vision_image_size(config)
        processor = SkeletonLLMProcessor(make_image_processor(image_size), tokenizer,
                                         image_seq_length=config.image_seq_length,
                                         chat_template=tokenizer.chat_template)
    source = f"InternVL3-{spec.upper()}-hf preset" if folder is None else str(folder / "config.json")
    return mllm, processor, f"{source} (random weights)", str(dtype).removeprefix("torch.")


def vision_image_size(config) -> int:
    """The vision tower's square input size of an InternVLConfig."""
    size = config.vision_config.image_size
    return int(size[0] if isinstance(size, (list, tuple)) else size)


def fold_ids(ids, context_id: int, image_id: int, vocab: int):
    """Token ids of the tokenizer that built the prompts -> ids of the model: the image context token becomes the
    model's image token, every other id is folded into [0, vocab) and kept off the image token (an identity for
    the model's own tokenizer)."""
    folded = ids % vocab
    folded[folded == image_id] = (image_id + 1) % vocab
    folded[ids == context_id] = image_id
    return folded


def synthetic_clips(count: int, seed: int) -> tuple[list[np.ndarray], list[str], list[str], str]:
    """(clips float32 [T, 2, 25, 3] each, their class names, every class name, "ntu25"): `count` performances of
    the synthetic generator, classes in turn, seen by camera 1 and normalized as prepare normalizes."""
    from skeletonllm.data.normalize import normalize_sequence
    from skeletonllm.data.synth.actions import ACTION_CLASSES
    from skeletonllm.data.synth.formats import NTU_FPS, ntu_sequence
    from skeletonllm.data.synth.scene import Sample, camera_for, perform

    clips, labels = [], []
    for i in range(count):
        sample = Sample(action=i % len(ACTION_CLASSES) + 1, subject=i // len(ACTION_CLASSES) % SYNTH_SUBJECTS + 1,
                        rep=1)
        people = perform(seed, sample, SYNTH_SUBJECTS, NTU_FPS)
        sequence = normalize_sequence(ntu_sequence(seed, sample, 1, camera_for(seed, sample, 1), people))
        clips.append(sequence.joints)
        labels.append(ACTION_CLASSES[sample.action - 1].name)
    return clips, labels, [cls.name for cls in ACTION_CLASSES], "ntu25"


def dataset_clips(path: Path, count: int) -> tuple[list[np.ndarray], list[str], list[str], str]:
    """(clips, class names, every class name, topology) of `count` labelled samples spread evenly over a prepared
    dataset."""
    from skeletonllm.data.prepared import PreparedDataset
    from skeletonllm.eval.samples import evenly

    dataset = PreparedDataset(path)
    labelled = [sample_id for sample_id, label in zip(dataset.index["sample_id"], dataset.index["label"])
                if dataset.class_name(int(label))]
    if not labelled:
        raise CommandError(f"{path}: no labelled sample to build MQA examples from")
    ids = evenly(labelled, count)
    ids = [ids[i % len(ids)] for i in range(count)]  # a dataset smaller than the batch repeats samples
    labels = [dataset.label_name(sample_id) for sample_id in ids]
    pool = [name for name in dataset.class_names() if name]
    return [dataset.joints(sample_id) for sample_id in ids], labels, pool, dataset.topology.name


def make_batch(spec: dict, processor, mllm) -> dict:
    """The step's batch on spec["device"]: joints float [B, F, M, J, C], topology, input_ids / attention_mask /
    labels long [B, L] of MQA examples."""
    import torch

    from skeletonllm.model.chat import IGNORE, encode, pad_batch
    from skeletonllm.train.data import example_rng, mqa_examples, segment_frames, topology_groups

    batch, frames, seed = spec["batch"], spec["frames"], spec["seed"]
    if spec["data"] is not None:
        clips, labels, pool, topology = dataset_clips(Path(spec["data"]), batch)
    else:
        clips, labels, pool, topology = synthetic_clips(batch, seed)
    joints = np.stack([clip[segment_frames(len(clip), frames, example_rng(seed, i, 0))]
                       for i, clip in enumerate(clips)])  # [B, F, M, J, C]
    examples = mqa_examples(labels, pool, CANDIDATES, seed)
    text = pad_batch([encode(processor, example, frames) for example in examples], processor.tokenizer.pad_token_id)
    config = mllm.config
    vocab, image_id = config.text_config.vocab_size, config.image_token_id
    context_id = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
    answer = text["labels"] != IGNORE
    text["input_ids"] = fold_ids(text["input_ids"], context_id, image_id, vocab)
    text["labels"] = torch.where(answer, fold_ids(text["labels"].clamp_min(0), context_id, image_id, vocab),
                                 text["labels"])
    device = spec["device"]
    clips = [{key: value.to(device) if torch.is_tensor(value) else value for key, value in group.items()}
             for group in topology_groups(list(joints), [topology] * len(joints))]
    return {"clips": clips, **{key: value.to(device) for key, value in text.items()}}


def time_backend(spec: dict, backend: str) -> dict:
    """Build model, renderer, batch and AdamW with `backend` and time spec["steps"] optimizer steps after
    spec["warmup"] untimed ones: {step_ms, steps_ms, peak_mb, model_mb, memory, ...the model's figures}. Runs
    in a fresh process so that its peak memory is its own."""
    import torch

    from skeletonllm.model.build import parameter_count
    from skeletonllm.model.chat import IGNORE
    from skeletonllm.model.skeleton_llm import SkeletonLLM
    from skeletonllm.render.renderers import make_renderer
    from skeletonllm.train.stages import STAGES, set_trainable

    device = spec["device"]
    cuda = device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    base_mb = 0.0 if cuda else rss_mb()

    def memory_mb() -> float:
        return torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mb() - base_mb

    mllm, processor, source, dtype = build_model(spec["model_config"], spec["seed"], device)
    image = processor.image_processor
    mean, std = tuple(image.image_mean), tuple(image.image_std)
    renderer = make_renderer("draction", spec["frames"], spec["size"], backend, seed=spec["seed"],
                             num_line_samples=spec["line_samples"], mean=mean, std=std).to(device)
    image_size = vision_image_size(mllm.config)
    model = SkeletonLLM(renderer, mllm, (image_size, image_size), mean, std).train()
    trainable = set_trainable(model, STAGES[1], spec["unfreeze"])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE)
    batch = make_batch(spec, processor, mllm)
    model_mb = torch.cuda.memory_allocated() / 2**20 if cuda else rss_mb() - base_mb
    if cuda:
        memory = "torch.cuda.max_memory_allocated"
    elif reset_peak_rss():  # the peak of the steps, not of building the model (which can be higher)
        memory = "peak resident set of the steps (ru_maxrss reset before them) minus that before the model was built"
    else:
        memory = "ru_maxrss growth from before the model was built (its build included)"

    def step() -> float:
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if not torch.isfinite(loss):
            raise RuntimeError(f"the {backend} step's loss is {float(loss)}")
        return (time.perf_counter() - start) * 1e3

    try:
        for _ in range(spec["warmup"]):
            step()
        steps_ms = [step() for _ in range(spec["dense_steps"] if backend == "dense" else spec["steps"])]
    except torch.OutOfMemoryError:
        return {"error": "out of memory", "model_mb": model_mb, "peak_mb": memory_mb()}
    vision, text = mllm.config.vision_config, mllm.config.text_config
    return {
        "step_ms": statistics.median(steps_ms), "steps_ms": steps_ms, "peak_mb": max(memory_mb(), 0.0),
        "model_mb": max(model_mb, 0.0), "memory": memory, "threads": torch.get_num_threads(),
        "tokens": int(batch["input_ids"].shape[1]), "answer_tokens": int((batch["labels"][:, 1:] != IGNORE).sum()),
        "model": {
            "source": source, "vision_hidden": vision.hidden_size, "vision_layers": vision.num_hidden_layers,
            "text_hidden": text.hidden_size, "text_layers": text.num_hidden_layers, "vocab_size": text.vocab_size,
            "image_size": image_size, "image_tokens": int(mllm.config.image_seq_length),
            "parameters": parameter_count(mllm) + parameter_count(renderer),
            "trainable_params": sum(trainable.values()), "dtype": dtype,
        },
    }


def benchmark(spec: dict, backends: list[str]) -> dict:
    """{backend: time_backend's figures}, each backend timed in its own spawned process."""
    results = {}
    for backend in backends:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            try:
                results[backend] = pool.submit(time_backend, spec, backend).result()
            except BrokenProcessPool:
                raise CommandError(f"the {backend} step's process died (out of memory?)") from None
    return results


def summary(spec: dict, fast: str, results: dict) -> dict:
    """The figures of the module docstring from the per-backend results."""
    first = results[fast]
    if "error" in first:
        raise CommandError(f"the {fast} step ran {first['error']} on {spec['device']}; try a smaller --batch, "
                           "--frames or --size")
    dense = results["dense"]
    dense_ms = dense.get("step_ms")
    return {
        "samples_per_s": spec["batch"] / (first["step_ms"] / 1e3), "step_ms": first["step_ms"],
        "dense_step_ms": dense_ms, "dense_ratio": dense_ms / first["step_ms"] if dense_ms else None,
        "peak_mb": first["peak_mb"], "model_mb": first["model_mb"], "dense_peak_mb": dense["peak_mb"],
        "dense_error": dense.get("error"), "memory": first["memory"], "device": spec["device"],
        "threads": first["threads"], "backend": fast,
        "dense_backend": "dense", "model": first["model"], "frames": spec["frames"], "size": spec["size"],
        "batch": spec["batch"], "tokens": first["tokens"], "answer_tokens": first["answer_tokens"],
        "unfreeze": spec["unfreeze"], "steps": spec["steps"], "dense_steps": spec["dense_steps"],
        "warmup": spec["warmup"],
        "steps_ms": {fast: first["steps_ms"], "dense": dense.get("steps_ms")},
    }


def print_table(figures: dict) -> None:
    """The figures as a few human-readable lines."""
    model = figures["model"]
    trained = " + ".join(["DrAction", "projector", *figures["unfreeze"]])
    print(f"train step (stage 1: {trained}) of {model['source']}")
    print(f"  vision {model['vision_hidden']} x {model['vision_layers']} layers at {model['image_size']} px "
          f"({model['image_tokens']} tokens/frame); text {model['text_hidden']} x {model['text_layers']} layers, "
          f"vocabulary {model['vocab_size']}; {model['parameters'] / 1e6:.1f} M parameters, "
          f"{model['trainable_params'] / 1e6:.2f} M trained, {model['dtype']}")
    print(f"  batch {figures['batch']} x {figures['frames']} frames rendered at {figures['size']} px; prompts "
          f"{figures['tokens']} tokens, {figures['answer_tokens']} answer tokens; median of {figures['steps']} steps "
          f"(dense: {figures['dense_steps']}) after {figures['warmup']} warm-up on {figures['device']}, "
          f"{figures['threads']} CPU thread(s)")
    dense = (f"{figures['dense_step_ms']:.1f}" if figures["dense_step_ms"] is not None
             else f"({figures['dense_error']})")
    ratio = f"{figures['dense_ratio']:.2f}x" if figures["dense_ratio"] is not None else "-"
    print(f"{'backend':<8} {'step ms':>10} {'samples/s':>10} {'peak MB':>9}")
    print(f"{figures['backend']:<8} {figures['step_ms']:>10.1f} {figures['samples_per_s']:>10.2f} "
          f"{figures['peak_mb']:>9.1f}")
    dense_rate = (f"{figures['batch'] / (figures['dense_step_ms'] / 1e3):>10.2f}" if figures["dense_step_ms"]
                  else f"{'-':>10}")
    print(f"{'dense':<8} {dense:>10} {dense_rate} {figures['dense_peak_mb']:>9.1f}")
    print(f"dense_ratio (dense / {figures['backend']} step time): {ratio}; model, batch and optimizer before the first "
          f"step: {figures['model_mb']:.1f} MB")
    print(f"peak memory: {figures['memory']}")


def run(args: argparse.Namespace) -> int:
    """Time the step with the fast backend and with dense, and print a table or JSON."""
    import torch

    from skeletonllm.render.rasterize import resolve_backend

    if min(args.batch, args.steps, args.dense_steps, args.frames, args.size) < 1 \
            or min(args.warmup, args.line_samples) < 0:
        raise CommandError("--batch, --steps, --dense-steps, --frames and --size must be >= 1, --warmup and "
                           "--line-samples >= 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CommandError("--device cuda, but torch sees no CUDA device")
    if args.data is not None and not args.data.is_dir():
        raise CommandError(f"--data {args.data}: no such prepared dataset folder")
    model_config(args.model_config)  # a bad --model-config fails here, not in a worker
    from skeletonllm.train.stages import BASE_PARTS

    if not set(args.unfreeze) <= set(BASE_PARTS):
        raise CommandError(f"--unfreeze {','.join(args.unfreeze)}: choose parts from {','.join(BASE_PARTS)}")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    spec = {"model_config": args.model_config, "batch": args.batch, "steps": args.steps,
            "dense_steps": args.dense_steps, "warmup": args.warmup, "frames": args.frames, "size": args.size,
            "line_samples": args.line_samples, "unfreeze": list(args.unfreeze),
            "data": str(args.data) if args.data else None, "device": device, "seed": args.seed}
    fast = resolve_backend("auto", cuda=device == "cuda")
    figures = summary(spec, fast, benchmark(spec, [fast, "dense"]))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    return 0
