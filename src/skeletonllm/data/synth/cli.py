"""Write the synthetic dataset `synth` in the real file formats and pack it as OUT/synth.tar.gz with its sha256.

Parametric motions of named action classes (two-person interactions among them) on kinematic bodies with
per-subject proportions, varied in speed, amplitude, phase, noise and camera yaw. Each performance is written as
NTU .skeleton (one file per camera), NW-UCLA json (single-person classes, view = camera), Kinetics-skeleton json
(2D projection) and HumanML3D new_joints npy + texts (single-person classes, 20 fps). The same arguments give a
byte-identical archive, which `skeletonllm download --source OUT/synth.tar.gz --sha256-file
OUT/synth.tar.gz.sha256 --out RAW` verifies and unpacks like any downloaded dataset.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from skeletonllm.errors import CommandError


def _names(text: str) -> list[str | int]:
    """Comma-separated class names or 1-based ids."""
    return [int(item) if item.strip().isdigit() else item.strip() for item in text.split(",") if item.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm synth`."""
    from skeletonllm.data.synth.actions import ACTION_CLASSES

    parser.add_argument("--out", required=True, type=Path,
                        help="output directory; gets synth.tar.gz and synth.tar.gz.sha256")
    parser.add_argument("--seed", type=int, default=0, help="random seed; everything follows from it (default 0)")
    parser.add_argument("--subjects", type=int, default=10,
                        help="number of subjects, each with its own body proportions (default 10)")
    parser.add_argument("--repetitions", type=int, default=2,
                        help="performances per subject and class (default 2)")
    parser.add_argument("--cameras", type=int, default=3,
                        help="cameras per performance: 1 in front, 2 and 3 at +-45 degrees (default 3)")
    parser.add_argument("--classes", type=_names, default=None,
                        help="comma-separated class names or 1-based ids to generate (default: all, see below)")
    parser.add_argument("--formats", type=lambda text: [f.strip() for f in text.split(",") if f.strip()],
                        default=["ntu", "ucla", "kinetics", "humanml3d"],
                        help="comma-separated formats to write (default: ntu,ucla,kinetics,humanml3d)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes; the output does not depend on it (default 1)")
    parser.add_argument("--keep-raw", action="store_true",
                        help="keep the unpacked tree OUT/synth next to the archive (default: removed after packing)")
    parser.epilog = "classes (id: name, * = two-person):\n" + "\n".join(
        f"  {i:2d}: {c.name}{' *' if c.actors > 1 else ''}" for i, c in enumerate(ACTION_CLASSES, 1)
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of `skeletonllm synth`; bad options and an unusable --out are CommandErrors."""
    from skeletonllm.data.synth.dataset import generate_dataset, write_archive

    try:
        root = generate_dataset(args.out, seed=args.seed, subjects=args.subjects, repetitions=args.repetitions,
                                cameras=args.cameras, classes=args.classes, formats=args.formats,
                                workers=args.workers)
    except KeyError as exc:  # an unknown class
        raise CommandError(exc.args[0]) from None
    except (ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None
    files = sum(1 for path in root.rglob("*") if path.is_file())
    archive, sha256 = write_archive(args.out)
    if not args.keep_raw:
        shutil.rmtree(root)
    print(f"wrote {archive} ({archive.stat().st_size / 1e6:.1f} MB, {files} files), sha256 {sha256}")
    return 0
