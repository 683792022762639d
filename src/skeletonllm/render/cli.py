"""Render skeleton clips with DrAction or a baseline renderer to PNG frames, an animated GIF and a contact sheet.

A CLIP is a raw skeleton file of any supported format (ntu .skeleton, NW-UCLA json, PKU-MMD txt, HumanML3D npy,
Kinetics-skeleton json, BVH; normalized as prepare does) or PREPARED_DIR:SAMPLE_ID, a sample of a prepared
dataset (the output folder of `skeletonllm prepare`). With --data PREPARED_DIR, a bare SAMPLE_ID names a sample
of that dataset, and --preview N adds N samples of it from different classes.

Renderers (skeletonllm.render.renderers.RENDERERS): draction (DrAction, as initialized unless --weights),
draction_no_nfm (DrAction without the neural feature modulator), 3d_velocity (3D skeleton coloured by velocity),
2d_projection (2D projection), jtm (joint trajectory maps).

Output: for one clip, OUT/frame_00.png ... OUT/frame_{F-1}.png, OUT/render.gif (F frames, looping, with a thin
progress bar below the picture) and OUT/contact_sheet.png (all frames tiled); for several clips (or --preview),
the same files in OUT/<name>/ per clip, where name is the sample id or the file's stem.

    skeletonllm render S001C001P001R001A001.skeleton --renderer draction --frames 12 --size 224 --out out/
    skeletonllm render results/data/synth:S001C001P001R001A001 --renderer jtm --out out/
    skeletonllm render --data results/data/synth --preview 3 --renderer 3d_velocity --size 112 --out previews/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from skeletonllm.errors import CommandError
from skeletonllm.formats import FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm render`."""
    parser.add_argument("clips", nargs="*", metavar="CLIP",
                        help="raw skeleton file, PREPARED_DIR:SAMPLE_ID, or (with --data) a SAMPLE_ID")
    parser.add_argument("--renderer", required=True, metavar="NAME",
                        help="draction, draction_no_nfm, 3d_velocity, 2d_projection or jtm")
    parser.add_argument("--out", required=True, type=Path, help="output folder (one sub-folder per clip when several)")
    parser.add_argument("--frames", type=int, default=None,
                        help="frames sampled uniformly in time (default 12, or the --weights' value)")
    parser.add_argument("--size", type=int, default=None,
                        help="height = width in pixels (default 448, or the --weights' value)")
    parser.add_argument("--backend", default="auto", metavar="NAME",
                        help="rasterizer: auto (gsplat on CUDA where the gpu extra is installed, else torch, with a "
                        "warning on CUDA), torch, dense (slow reference) or gsplat (needs --device cuda and gsplat); "
                        "default: auto")
    parser.add_argument("--weights", type=Path, default=None,
                        help="folder with draction.safetensors + draction.json (DrAction.save) for draction renderers")
    parser.add_argument("--data", type=Path, default=None, help="prepared dataset folder for bare sample ids and --preview")
    parser.add_argument("--preview", type=int, default=0, metavar="N",
                        help="also render N samples of --data, the first of N classes spread over the labels")
    parser.add_argument("--format", choices=FORMATS, default=None, help="read raw files as this format (no detection)")
    parser.add_argument("--frame-ms", type=int, default=200, help="GIF frame duration in milliseconds (default 200)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")


def _check_options(args: argparse.Namespace) -> None:
    """Raise CommandError naming the first problem with the numeric and combined options."""
    for name in ("frames", "size", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CommandError(f"--{name} must be at least 1, got {value}")
    if args.preview < 0:
        raise CommandError(f"--preview must be at least 0, got {args.preview}")
    if args.frame_ms < 10:
        raise CommandError(f"--frame-ms must be at least 10 (GIF delays count in 10 ms steps), got {args.frame_ms}")
    if args.preview and args.data is None:
        raise CommandError("--preview needs --data PREPARED_DIR (the dataset whose samples it picks)")
    if not args.clips and not args.preview:
        raise CommandError("name at least one CLIP, or --data PREPARED_DIR --preview N")


def _load_clips(args: argparse.Namespace) -> list:
    """The Clips named on the command line, then the preview samples, each once; fails when two different clips
    have one name (they would share an output folder)."""
    from skeletonllm.render.samples import ClipError, ClipLoader

    loader = ClipLoader(args.data, args.format)
    specs = list(args.clips) + (loader.data.preview_ids(args.preview) if args.preview else [])
    by_source = {}
    for spec in specs:
        clip = loader.load(spec)
        by_source.setdefault(clip.source, clip)
    clips = list(by_source.values())
    names = [clip.name for clip in clips]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ClipError(f"several clips would share the output folder(s) {repeated}; render them one at a time")
    return clips


class RendererError(CommandError):
    """The renderer cannot be built as asked (unknown name, weights that do not fit the renderer or the clip)."""


def _weighted_draction(args: argparse.Namespace):
    """DrAction from --weights, re-configured for this run's frames, size and backend (none of them is learned).
    The same weights render every format."""
    from dataclasses import replace

    from skeletonllm.render.draction import DrAction

    if args.renderer not in ("draction", "draction_no_nfm"):
        raise RendererError(f"--weights holds DrAction weights; renderer {args.renderer!r} has no weights")
    try:
        stored = DrAction.load(args.weights)
    except (FileNotFoundError, ValueError) as error:
        raise RendererError(f"--weights: {error}") from None
    config = stored.config
    if config.use_nfm != (args.renderer == "draction"):
        expected = "draction" if config.use_nfm else "draction_no_nfm"
        raise RendererError(f"{args.weights} holds weights of {expected}; use --renderer {expected}")
    config = replace(config, frames=args.frames or config.frames, size=args.size or config.size, backend=args.backend)
    model = DrAction(config)
    model.load_state_dict(stored.state_dict())
    return model


def _check_renderer(args: argparse.Namespace) -> None:
    """Refuse an unknown renderer or backend, and a device or backend this machine cannot run. (--backend auto on
    CUDA without gsplat renders with the torch backend, with a warning: rasterize.resolve_backend.)"""
    import torch

    from skeletonllm.render.rasterize import BACKENDS, gsplat_missing
    from skeletonllm.render.renderers import RENDERERS

    if args.renderer not in RENDERERS:
        raise RendererError(f"unknown renderer {args.renderer!r}; choose one of {', '.join(RENDERERS)}")
    if args.backend not in BACKENDS:
        raise RendererError(f"unknown backend {args.backend!r}; choose one of {', '.join(BACKENDS)}")
    cuda = str(args.device).startswith("cuda")
    if args.backend == "gsplat" and not cuda:
        raise RendererError("--backend gsplat renders on CUDA only; add --device cuda or use --backend torch")
    missing = gsplat_missing() if args.backend == "gsplat" else None
    if missing:
        raise RendererError(f"--backend gsplat: {missing}")
    if cuda and not torch.cuda.is_available():
        raise RendererError(f"--device {args.device}: CUDA is not available on this machine")


def _renderer(args: argparse.Namespace):
    """The renderer named by --renderer (one for clips of every topology), in eval mode on --device."""
    from skeletonllm.render.renderers import make_renderer

    if args.weights is not None:
        model = _weighted_draction(args)
    else:
        given = {name: getattr(args, name) for name in ("frames", "size") if getattr(args, name) is not None}
        model = make_renderer(args.renderer, backend=args.backend, **given)  # defaults: 12, 448
    return model.to(args.device).eval()


def draw_clips(clips: list, args: argparse.Namespace) -> list[dict]:
    """Render each clip and write its images: into --out for one clip named on the command line, else (several
    clips, or --preview) into --out/<name>/.

    Returns, per clip, the paths `images.write_clip_images` wrote. One renderer draws clips of every topology.
    """
    import torch

    from skeletonllm.progress import progress
    from skeletonllm.render.images import rendered_frames, write_clip_images

    _check_renderer(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    renderer, written = _renderer(args), []
    nested = len(clips) > 1 or args.preview > 0
    for clip in progress(clips, f"render {args.renderer}", unit="clip", disable=len(clips) == 1):
        frames = rendered_frames(renderer, clip.joints, clip.topology, args.device)  # [F, H, W, 3]
        out = args.out / clip.name if nested else args.out
        written.append(write_clip_images(frames, out, args.frame_ms))
    return written


def run(args: argparse.Namespace) -> int:
    """Load the clips, render each with the chosen renderer and write its PNGs, GIF and contact sheet. An expected
    failure (bad options, an unreadable clip, a renderer or device this machine cannot run) raises CommandError."""
    from skeletonllm.data.normalize import EmptySequenceError
    from skeletonllm.data.prepared import DatasetError
    from skeletonllm.formats import SkeletonFormatError

    _check_options(args)
    try:
        clips = _load_clips(args)
    except (DatasetError, SkeletonFormatError, EmptySequenceError, OSError) as error:  # DatasetError: ClipError too
        raise CommandError(str(error)) from None
    written = draw_clips(clips, args)
    for clip, paths in zip(clips, written):
        label = f" ({clip.label})" if clip.label else ""
        print(f"{clip.source}{label}: {len(paths['frames'])} frames -> {paths['gif'].parent}")
    return 0
