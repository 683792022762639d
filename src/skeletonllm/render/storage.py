"""A renderer's files: any renderer of RENDERERS as directory/draction.safetensors (its state dict, empty for the
fixed baselines) and directory/draction.json ({"renderer": its name, "config": its DrActionConfig}).

A draction.json without "renderer" was written before the fixed renderers could be stored: it holds a DrAction
("draction", or "draction_no_nfm" when its config has use_nfm false).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from skeletonllm.render.base import DrActionConfig, SkeletonRenderer
from skeletonllm.render.draction import CONFIG_FILE, WEIGHTS_FILE, DrAction
from skeletonllm.render.renderers import FIXED_RENDERERS, RENDERERS, make_renderer


def draction_name(config: DrActionConfig) -> str:
    """The RENDERERS name of a DrAction with this config: "draction", or "draction_no_nfm" without the NFM."""
    return "draction" if config.use_nfm else "draction_no_nfm"


def build_renderer(name: str, frames: int, size: int, backend: str, seed: int, num_line_samples: int,
                   mean: Sequence[float], std: Sequence[float], preset: dict) -> SkeletonRenderer:
    """The renderer `name` (one of RENDERERS) a training stage starts with. DrAction kinds take the seed of their
    initialisation and the preset's settings (render.base.draction_preset); the fixed renderers have neither and
    ignore both. ValueError naming RENDERERS for an unknown name."""
    shared = {"num_line_samples": num_line_samples, "mean": tuple(mean), "std": tuple(std)}
    if name in FIXED_RENDERERS:
        return make_renderer(name, frames, size, backend, **shared)
    return make_renderer(name, frames, size, backend, seed=seed, **shared, **preset)  # refuses unknown names


def _is_renderer(renderer: SkeletonRenderer, name: str) -> bool:
    """Whether `renderer` is what load_renderer rebuilds for `name` (a name of RENDERERS)."""
    if name in FIXED_RENDERERS:
        return type(renderer) is FIXED_RENDERERS[name]
    return isinstance(renderer, DrAction) and draction_name(renderer.config) == name


def save_renderer(renderer: SkeletonRenderer, name: str, directory: str | Path) -> Path:
    """Write directory/draction.safetensors (the renderer's state dict) and directory/draction.json (its name and
    config); returns the directory. ValueError when `name` is not in RENDERERS or names another kind of renderer."""
    from safetensors.torch import save_file

    if name not in RENDERERS:
        raise ValueError(f"unknown renderer {name!r}; choose one of {', '.join(RENDERERS)}")
    if not _is_renderer(renderer, name):
        raise ValueError(f"a {type(renderer).__name__} (use_nfm={renderer.config.use_nfm}) is not renderer {name!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in renderer.state_dict().items()}, directory / WEIGHTS_FILE)
    stored = {"renderer": name, "config": asdict(renderer.config)}
    (directory / CONFIG_FILE).write_text(json.dumps(stored, indent=2) + "\n")
    return directory


def _rebuild(name: str, config: DrActionConfig) -> SkeletonRenderer:
    """A fresh renderer `name` from the settings of `config` it takes (a fixed renderer takes only a few)."""
    settings = asdict(config)
    if name in FIXED_RENDERERS:
        takes = inspect.signature(FIXED_RENDERERS[name]).parameters
        return make_renderer(name, **{key: value for key, value in settings.items() if key in takes})
    del settings["use_nfm"]  # given by the name
    return make_renderer(name, **settings)


def load_renderer(directory: str | Path) -> tuple[str, SkeletonRenderer]:
    """(name, renderer) from the files save_renderer (or DrAction.save) wrote, weights restored. Raises
    FileNotFoundError or ValueError naming the file that is missing or wrong."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (save_renderer writes it)")
    stored = json.loads(config_path.read_text())
    settings = stored.get("config", {})
    if "topology" in settings or "topology" in stored:
        raise ValueError(f"{config_path}: written by a DrAction tied to one topology (per-Gaussian "
                         "features); this DrAction serves every format and cannot load those weights")
    try:
        config = DrActionConfig(**settings)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{config_path}: {error}") from None
    name = stored.get("renderer", draction_name(config))
    if name not in RENDERERS:
        raise ValueError(f"{config_path}: unknown renderer {name!r}; choose one of {', '.join(RENDERERS)}")
    renderer = _rebuild(name, config)
    if renderer.config != config:
        wrong = ", ".join(f"{key}={value!r}" for key, value in asdict(config).items()
                          if value != getattr(renderer.config, key))
        raise ValueError(f"{config_path}: renderer {name!r} cannot have {wrong}")
    try:
        renderer.load_state_dict(load_file(weights_path))
    except RuntimeError as error:
        raise ValueError(f"{weights_path}: not the weights of renderer {name!r}: {error}") from None
    return name, renderer
