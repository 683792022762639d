"""Turn rendered clips into image files: uint8 frames, frame_XX.png, an animated render.gif and a contact sheet.

Renderers return float [F, 3, H, W] images normalized with the vision tower's mean and std (per channel);
`to_uint8_frames` undoes that normalization. The GIF gets a thin progress bar below the picture: it shows where
playback is, and it keeps consecutive frames distinct, since pillow merges identical consecutive GIF frames
(a still pose would otherwise give a GIF with fewer than F frames).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

GIF_NAME = "render.gif"
SHEET_NAME = "contact_sheet.png"
FRAME_FILE = re.compile(r"frame_\d+\.png")
PROGRESS_BAR_ROWS = 4
PROGRESS_COLOR = (230, 230, 230)


def to_uint8_frames(images, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 [F, H, W, 3] from normalized images float [F, 3, H, W] (a torch tensor or numpy array).

    Each channel c is mapped back by x * std[c] + mean[c], clipped to [0, 1] and scaled to 0..255 (rounded).
    """
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.ndim != 4 or array.shape[1] != 3:
        raise ValueError(f"expected images of shape [F, 3, H, W], got {list(array.shape)}")
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"mean and std need 3 values each (RGB), got {list(mean)} and {list(std)}")
    if not np.isfinite(array).all():
        raise ValueError("the rendered images contain non-finite values")
    scale = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    shift = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    rgb = np.clip(array.astype(np.float32) * scale + shift, 0.0, 1.0)  # [F, 3, H, W]
    return np.rint(rgb * 255.0).astype(np.uint8).transpose(0, 2, 3, 1).copy()  # [F, H, W, 3]


def rendered_frames(renderer, joints: np.ndarray, topology, device: str = "cpu") -> np.ndarray:
    """uint8 [F, H, W, 3]: the frames `renderer` draws of one normalized clip joints [T, M, J, C] of `topology`.

    The one way to get a clip's pictures (render CLI, teachers): the renderer's unnormalized RGB in [0, 1], with
    no round trip through the vision tower's mean and std.
    """
    import torch

    clip = torch.from_numpy(np.ascontiguousarray(joints)).to(device)[None]  # [1, T, M, J, C]
    with torch.no_grad():
        rgb, _ = renderer.render(clip, topology)  # [1, F, 3, H, W]
    return to_uint8_frames(rgb[0], (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def frame_names(count: int) -> list[str]:
    """frame_00.png, frame_01.png, ...: zero-padded to at least 2 digits (more when count > 100), so they sort."""
    digits = max(2, len(str(count - 1)))
    return [f"frame_{index:0{digits}d}.png" for index in range(count)]


def _check_frames(frames: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] == 0:
        raise ValueError(f"expected uint8 frames [F, H, W, 3] with F >= 1, got {frames.dtype} {list(frames.shape)}")


def write_pngs(frames: np.ndarray, out_dir: Path) -> list[Path]:
    """Write frames uint8 [F, H, W, 3] as out_dir/frame_00.png ...; returns the paths in frame order.

    frame_<digits>.png files of an earlier render into out_dir are removed first, so out_dir holds this clip only.
    """
    from PIL import Image

    _check_frames(frames)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("frame_*.png"):
        if FRAME_FILE.fullmatch(stale.name):
            stale.unlink()
    paths = [out_dir / name for name in frame_names(len(frames))]
    for frame, path in zip(frames, paths):
        Image.fromarray(frame, "RGB").save(path)
    return paths


def with_progress_bar(frames: np.ndarray) -> np.ndarray:
    """uint8 [F, H + PROGRESS_BAR_ROWS, W, 3]: frames with a bar below, filled to (i + 1) / F of the width in frame i."""
    _check_frames(frames)
    count, height, width, _ = frames.shape
    bar = np.zeros((count, PROGRESS_BAR_ROWS, width, 3), dtype=np.uint8)  # [F, rows, W, 3]
    for index in range(count):
        bar[index, 1:, : math.ceil(width * (index + 1) / count)] = PROGRESS_COLOR
    return np.concatenate([frames, bar], axis=1)


def write_gif(frames: np.ndarray, path: Path, frame_ms: int = 200) -> Path:
    """Write frames uint8 [F, H, W, 3] as an animated GIF that loops forever, frame_ms per frame, one GIF frame
    per input frame (with the progress bar of `with_progress_bar` below the picture)."""
    from PIL import Image

    if frame_ms < 10:
        raise ValueError(f"frame_ms must be at least 10 (GIF delays are in 10 ms units), got {frame_ms}")
    images = [Image.fromarray(frame, "RGB") for frame in with_progress_bar(frames)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0, optimize=False)
    return path


def contact_sheet(frames: np.ndarray, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """uint8 [rows * (H + gap) - gap, columns * (W + gap) - gap, 3]: all frames [F, H, W, 3] tiled left to right,
    top to bottom, on black, with `gap` pixels between them; columns defaults to ceil(sqrt(F))."""
    _check_frames(frames)
    count, height, width, _ = frames.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    sheet = np.zeros((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), dtype=np.uint8)
    for index, frame in enumerate(frames):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        sheet[top : top + height, left : left + width] = frame
    return sheet


def write_clip_images(frames: np.ndarray, out_dir: Path, frame_ms: int = 200) -> dict[str, object]:
    """Write a clip's frame PNGs, render.gif and contact_sheet.png into out_dir; returns their paths
    ({"frames": [...], "gif": path, "sheet": path})."""
    from PIL import Image

    out_dir = Path(out_dir)
    pngs = write_pngs(frames, out_dir)
    gif = write_gif(frames, out_dir / GIF_NAME, frame_ms)
    sheet = out_dir / SHEET_NAME
    Image.fromarray(contact_sheet(frames), "RGB").save(sheet)
    return {"frames": pngs, "gif": gif, "sheet": sheet}
