"""Candidate-scoring speed: ranking k MQA candidates from one KV-cached prefix against k full forwards.

For each of --clips clips (synthetic ntu25 performances, frames at the segment centres) the MQA prompt over
--candidates class names is scored both ways: `eval.score.candidate_logprobs` (images and prompt encoded once,
the k candidates continued from a copy of the prefix's KV cache) and `eval.score.naive_candidate_logprobs` (k
forwards over images, prompt and candidate). Each clip is timed --repeats times per way, after one warm-up; the
figures are medians over clips of the per-clip median, and `ratio` is the naive time over the cached time, both
measured in this run. `max_abs_diff` is the largest difference between the two ways' log-likelihoods.

The model is the tiny InternVL built in memory (random weights, --seed) unless --model-config names an InternVL
config (a config.json, its folder, or 1B/2B/8B), built with random weights as `bench train-step` builds it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from skeletonllm.errors import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clips", type=int, default=8, help="clips scored (default 8)")
    parser.add_argument("--candidates", type=int, default=10, help="k, candidates per clip (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per clip and way (default 3)")
    parser.add_argument("--frames", type=int, default=4, help="frames per clip (default 4)")
    parser.add_argument("--size", type=int, default=112, help="render size in pixels (default 112)")
    parser.add_argument("--model-config", default=None,
                        help="an InternVL config.json, its folder, or 1B/2B/8B (default: the tiny model)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available")
    parser.add_argument("--seed", type=int, default=0, help="model weights and clips (default 0)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def median_ms(function, repeats: int, sync) -> float:
    """Median wall time of `function()` in milliseconds over `repeats` calls, after one untimed call."""
    function()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        function()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def benchmark(args: argparse.Namespace, device: str) -> dict:
    """Time both ways over the clips; returns the figures."""
    import numpy as np
    import torch

    from skeletonllm.bench.train_step import build_model, synthetic_clips, vision_image_size
    from skeletonllm.eval import score
    from skeletonllm.model import prompts
    from skeletonllm.render.renderers import make_renderer
    from skeletonllm.train.data import segment_frames
    from skeletonllm.train.run import assemble

    mllm, processor, source, dtype = build_model(args.model_config, args.seed, device)
    image = processor.image_processor
    renderer = make_renderer("draction", args.frames, args.size, "auto", seed=args.seed,
                             mean=tuple(image.image_mean), std=tuple(image.image_std)).to(device)
    model = assemble(renderer, mllm.eval(), processor)
    size = vision_image_size(mllm.config)
    model.image_size = (size, size)
    clips, labels, pool, topology = synthetic_clips(args.clips, args.seed)
    if args.candidates > len(pool):
        raise CommandError(f"--candidates {args.candidates}: the synthetic classes are only {len(pool)}")
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    cached, naive, differences, prompt_tokens = [], [], [], []
    with torch.no_grad():
        for i, (clip, label) in enumerate(zip(clips, labels)):
            joints = torch.from_numpy(clip[segment_frames(len(clip), args.frames)][None]).to(device)
            pixel_values = model.pixel_values(joints, topology)  # [F, 3, H, W]
            candidates = prompts.pick_candidates(label, pool, args.candidates, np.random.default_rng([args.seed, i]))
            prompt = score.prompt_ids(processor, prompts.mqa(label, candidates).question, args.frames)
            answers = score.answer_ids(processor, list(candidates))
            fast = score.candidate_logprobs(model, pixel_values, prompt, answers)
            slow = score.naive_candidate_logprobs(model, pixel_values, prompt, answers)
            differences.append(float((fast - slow).abs().max()))
            prompt_tokens.append(len(prompt))
            cached.append(median_ms(lambda: score.candidate_logprobs(model, pixel_values, prompt, answers),
                                    args.repeats, sync))
            naive.append(median_ms(lambda: score.naive_candidate_logprobs(model, pixel_values, prompt, answers),
                                   args.repeats, sync))
    cached_ms, naive_ms = statistics.median(cached), statistics.median(naive)
    return {"ratio": naive_ms / cached_ms, "cached_ms_per_clip": cached_ms, "naive_ms_per_clip": naive_ms,
            "max_abs_diff": max(differences), "clips": args.clips, "candidates": args.candidates,
            "repeats": args.repeats, "frames": args.frames, "prompt_tokens": statistics.median(prompt_tokens),
            "model": source, "dtype": dtype, "device": device, "threads": torch.get_num_threads()}


def run(args: argparse.Namespace) -> int:
    """Time both ways and print a table or JSON."""
    import torch

    if min(args.clips, args.repeats, args.frames, args.size) < 1 or args.candidates < 2:
        raise CommandError("--clips, --repeats, --frames and --size must be >= 1 and --candidates >= 2")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CommandError("--device cuda, but torch sees no CUDA device")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    figures = benchmark(args, device)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"MQA candidate scoring, {figures['candidates']} candidates, {figures['clips']} clips x {figures['frames']} "
          f"frames, prompts of {figures['prompt_tokens']:.0f} tokens; {figures['model']}, {figures['dtype']} on "
          f"{figures['device']} ({figures['threads']} threads); medians of {figures['repeats']} timings per clip")
    print(f"{'way':<24} {'ms per clip':>12}")
    print(f"{'KV-cached prefix':<24} {figures['cached_ms_per_clip']:>12.1f}")
    print(f"{'k full forwards':<24} {figures['naive_ms_per_clip']:>12.1f}")
    print(f"ratio (full / cached): {figures['ratio']:.2f}x; largest log-likelihood difference "
          f"{figures['max_abs_diff']:.2e}")
    return 0
