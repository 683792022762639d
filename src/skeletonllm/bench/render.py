"""Rasterizer speed: forward and forward+backward per backend on a skeleton clip, against the dense reference.

The clip is F frames of 2 synthetic ntu25 bodies (skeletonllm.data.synth.body, arms moving) about 3.5 m in front of
a 60-degree pinhole camera, each body as 25 joint Gaussians plus 10 along each of its 24 bones (265 per body), at
SxS pixels. Every backend runs in its own spawned process on the same clip; times are medians over repeats (the
dense reference, being slow, gets its own --dense-repeats). Peak memory is the growth of the process's peak resident
set (resource.getrusage ru_maxrss) over its level once the clip is built, on CPU, and
torch.cuda.max_memory_allocated on CUDA. Speedups are dense time / backend time from the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from skeletonllm.errors import CommandError
from skeletonllm.memory import peak_rss_mb

LINE_SAMPLES = 10
BODY_DISTANCE = 3.5  # metres from the camera to the bodies
FIELD_OF_VIEW_DEG = 60.0
KEYS = ("fwd_ms", "fwdbwd_ms", "peak_mb", "speedup_fwd", "speedup_fwdbwd")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm bench render`."""
    parser.add_argument("--size", type=int, default=448, help="image height and width in pixels (default 448)")
    parser.add_argument("--frames", type=int, default=12, help="frames per clip (default 12)")
    parser.add_argument("--clips", type=int, default=1, help="clips rendered as one batch (default 1)")
    parser.add_argument("--backends", default=None,
                        help="comma-separated backends, must include dense (default: torch,dense, plus gsplat "
                             "when CUDA and gsplat are available)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per backend; the median is reported")
    parser.add_argument("--dense-repeats", type=int, default=1, help="timed runs of the slow dense reference")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="device of the dense and torch backends (default: cuda if available, else cpu); "
                             "gsplat always runs on cuda")
    parser.add_argument("--json", action="store_true",
                        help='print {"<backend>": {"fwd_ms", "fwdbwd_ms", "peak_mb", "speedup_fwd", '
                             '"speedup_fwdbwd"}} as JSON')


def skeleton_clip(frames: int, size: int, clips: int = 1, seed: int = 0):
    """Gaussians of `clips` x `frames` frames of two moving ntu25 bodies, as rasterize() inputs (float32, CPU):
    means [B, N, 3], covs [B, N, 3, 3], colors [B, N, 3], opacities [B, N], K [B, 3, 3], viewmat [B, 4, 4]
    with B = clips * frames and N = 2 * (25 + 24 * LINE_SAMPLES)."""
    import torch

    from skeletonllm.data.synth.body import forward_kinematics, make_body
    from skeletonllm.data.synth.motion import deg, rest
    from skeletonllm.formats import get_topology

    topology = get_topology("ntu25")
    count = clips * frames
    phase = np.linspace(0.0, 1.0, count)  # [B]
    bodies = []
    for subject, (side, shift) in enumerate((("r", -0.45), ("l", 0.45)), start=1):
        pose = rest(count)
        pose[f"{side}_shoulder_elev"] = deg(20.0 + 130.0 * np.sin(np.pi * phase))
        pose[f"{side}_elbow"] = deg(30.0 + 60.0 * phase)
        pose["root_x"] = np.full(count, shift)
        pose["root_yaw"] = np.full(count, np.pi)  # facing the camera
        joints = forward_kinematics(make_body(seed, subject), pose).joints  # [B, J, 3], y up
        bodies.append(joints * np.array([1.0, -1.0, 1.0]) + np.array([0.0, 0.9, BODY_DISTANCE]))  # camera: y down
    joints = np.stack(bodies, axis=1)  # [B, M, J, 3]
    child, parent = np.array(topology.bones).T  # [E], [E]
    steps = (np.arange(LINE_SAMPLES) + 1.0) / (LINE_SAMPLES + 1.0)  # [S]
    start, end = joints[:, :, parent], joints[:, :, child]  # [B, M, E, 3]
    lines = start[..., None, :] + steps[:, None] * (end - start)[..., None, :]  # [B, M, E, S, 3]
    bone_length = np.linalg.norm(end - start, axis=-1)  # [B, M, E]
    line_sigma = np.clip(0.12 * bone_length, 0.012, 0.03)[..., None].repeat(LINE_SAMPLES, -1)  # [B, M, E, S]
    means = np.concatenate([joints, lines.reshape(count, 2, -1, 3)], axis=2).reshape(count, -1, 3)  # [B, N, 3]
    sigma = np.concatenate([np.full(joints.shape[:3], 0.03), line_sigma.reshape(count, 2, -1)], 2)  # [B, M, N/M]
    sigma = sigma.reshape(count, -1)  # [B, N]
    rng = np.random.default_rng(seed)
    gaussians = means.shape[1]
    colors = np.broadcast_to(rng.uniform(0.1, 1.0, size=(1, gaussians, 3)), (count, gaussians, 3))  # [B, N, 3]
    focal = 0.5 * size / math.tan(math.radians(FIELD_OF_VIEW_DEG) / 2)
    intrinsics = np.array([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1]])  # [3, 3]
    as_tensor = lambda array: torch.tensor(np.ascontiguousarray(array), dtype=torch.float32)  # noqa: E731
    return (as_tensor(means), as_tensor(sigma[..., None, None] ** 2 * np.eye(3)), as_tensor(colors),
            torch.full((count, gaussians), 0.8), as_tensor(np.broadcast_to(intrinsics, (count, 3, 3))),
            torch.eye(4).expand(count, 4, 4).contiguous())


def time_backend(backend: str, frames: int, size: int, clips: int, repeats: int, device: str) -> dict:
    """Median forward (no grad) and forward+backward (sum of rgb) milliseconds of one backend, and its peak
    memory in MB with how it was measured. Runs in a fresh process so the peak is this backend's own."""
    import torch

    from skeletonllm.render.rasterize import rasterize

    device = "cuda" if backend == "gsplat" else device
    clip = [tensor.to(device) for tensor in skeleton_clip(frames, size, clips)]
    inputs, camera = clip[:4], clip[4:]
    cuda = device == "cuda"

    def clock(work) -> float:
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        work()
        if cuda:
            torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1e3

    def forward(frames=slice(None), pixels=size):
        intrinsics = camera[0][frames] * torch.tensor([[pixels / size], [pixels / size], [1.0]], device=device)
        with torch.no_grad():
            rasterize(*(t[frames] for t in inputs), intrinsics, camera[1][frames], pixels, pixels, backend=backend)

    def forward_backward(frames=slice(None), pixels=size):
        intrinsics = camera[0][frames] * torch.tensor([[pixels / size], [pixels / size], [1.0]], device=device)
        leaves = [tensor[frames].detach().requires_grad_() for tensor in inputs]
        rgb, alpha = rasterize(*leaves, intrinsics, camera[1][frames], pixels, pixels, backend=backend)
        (rgb.sum() + alpha.sum()).backward()

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    base_mb = torch.cuda.memory_allocated() / 2**20 if cuda else peak_rss_mb()
    forward(slice(0, 1), 16), forward_backward(slice(0, 1), 16)  # cheap warm-up: lazy initialisation, kernels
    if repeats > 1:  # full warm-up (allocator); the slow reference, timed once, is not worth one
        forward(), forward_backward()
    fwd = [clock(forward) for _ in range(repeats)]
    fwdbwd = [clock(forward_backward) for _ in range(repeats)]
    peak_mb = (torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mb()) - base_mb
    return {"fwd_ms": statistics.median(fwd), "fwdbwd_ms": statistics.median(fwdbwd), "peak_mb": max(peak_mb, 0.0),
            "memory": "torch.cuda.max_memory_allocated" if cuda else "ru_maxrss growth", "device": device}


def _available_backends() -> list[str]:
    """torch and dense always; gsplat when CUDA and the gsplat package are present."""
    import importlib.util

    import torch

    names = ["torch", "dense"]
    if torch.cuda.is_available() and importlib.util.find_spec("gsplat") is not None:
        names.append("gsplat")
    return names


def benchmark(backends: list[str], frames: int, size: int, clips: int, repeats: int, dense_repeats: int,
              device: str) -> dict:
    """Per-backend figures with speedups over dense: {backend: {fwd_ms, fwdbwd_ms, peak_mb, speedup_fwd,
    speedup_fwdbwd, memory, device}}; each backend is timed in its own spawned process."""
    results = {}
    for backend in backends:  # a fresh process per backend; a worker killed (e.g. out of memory) raises here
        count = dense_repeats if backend == "dense" else repeats
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            results[backend] = pool.submit(time_backend, backend, frames, size, clips, count, device).result()
    dense = results["dense"]
    for figures in results.values():
        figures["speedup_fwd"] = dense["fwd_ms"] / figures["fwd_ms"]
        figures["speedup_fwdbwd"] = dense["fwdbwd_ms"] / figures["fwdbwd_ms"]
    return results


def run(args: argparse.Namespace) -> int:
    """Time the requested backends and print JSON or a table."""
    import torch

    from skeletonllm.render.rasterize import BACKENDS

    backends = args.backends.split(",") if args.backends else _available_backends()
    unknown = [name for name in backends if name not in BACKENDS or name == "auto"]
    if unknown:
        raise CommandError(f"unknown backend(s) {unknown}; choose from torch, dense, gsplat")
    if "dense" not in backends:
        raise CommandError("--backends must include dense, the reference the speedups are relative to")
    if "gsplat" in backends and not torch.cuda.is_available():
        raise CommandError("the gsplat backend needs CUDA, which this machine lacks")
    if min(args.size, args.frames, args.clips, args.repeats, args.dense_repeats) < 1:
        raise CommandError("--size, --frames, --clips, --repeats and --dense-repeats must be >= 1")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    results = benchmark(backends, args.frames, args.size, args.clips, args.repeats, args.dense_repeats, device)
    if args.json:
        print(json.dumps({name: {key: figures[key] for key in KEYS} for name, figures in results.items()}, indent=2))
        return 0
    gaussians = 2 * (25 + 24 * LINE_SAMPLES)
    print(f"rasterize: {args.clips} clip(s) x {args.frames} frames at {args.size}x{args.size}, {gaussians} Gaussians "
          f"per frame; medians of {args.repeats} runs (dense: {args.dense_repeats})")
    print(f"{'backend':<8} {'device':<6} {'fwd ms':>10} {'fwd+bwd ms':>11} {'peak MB':>9} {'speedup fwd':>12} "
          f"{'speedup fwd+bwd':>16}  memory measured by")
    for name, f in results.items():
        print(f"{name:<8} {f['device']:<6} {f['fwd_ms']:>10.1f} {f['fwdbwd_ms']:>11.1f} {f['peak_mb']:>9.1f} "
              f"{f['speedup_fwd']:>11.1f}x {f['speedup_fwdbwd']:>15.1f}x  {f['memory']}")
    return 0
