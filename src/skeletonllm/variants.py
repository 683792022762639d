"""Ablation variants: named sets of config overrides, and where each (variant, seed) run's outputs go.

A variant is an entry of the config's `variants` section, e.g. `stages_1_4: {train: {stages: [1, 4]}}`: a nested
dict of keys that replace the config's own (only keys the config already has; `train.variant` and `train.seed` are
set by the run itself). The `ablation` section lists the variants and seeds that `rule all` trains, evaluates and
tables (`ablation_runs`).

A run's outputs sit under results/train/<dataset>/<variant>/ and results/eval/<dataset>/<variant>/ for the config's
own train.seed, and under <variant>/seed<S>/ for any other seed: the Snakemake wildcards are `variant` and `seed`,
the latter the path part "" or "/seed<S>" (`seed_part`, `seed_of`). Light on imports: the Snakefile uses it.
"""

from __future__ import annotations

import copy
import re

FIXED_KEYS = ("variant", "seed")  # train keys a variant cannot set: the run's name and seed
SEED_PART = re.compile(r"^(?:/seed(\d+))?$")


class VariantError(ValueError):
    """An unknown variant or an override of a key the config does not have."""


def ablation_runs(config: dict) -> list[tuple[str, int]]:
    """The (variant, seed) runs `rule all` trains, the main run (train.variant at train.seed) first: ablation.variants
    x ablation.seeds ([] = train.seed), or, with ablation_grid true (`make ablations`), every entry of variants x
    ablation.grid_seeds. VariantError for a variant that is not in variants."""
    ablation, train = config["ablation"], config["train"]
    names = list(config["variants"]) if config["ablation_grid"] else list(ablation["variants"])
    seeds = ablation["grid_seeds"] if config["ablation_grid"] else ablation["seeds"] or [train["seed"]]
    unknown = [name for name in names if name not in config["variants"]]
    if unknown:
        raise VariantError(f"config: ablation.variants names {unknown}, which are not in variants: "
                           f"{sorted(config['variants'])}")
    runs = [(train["variant"], train["seed"]), *((name, int(seed)) for name in names for seed in seeds)]
    return list(dict.fromkeys(runs))


def _merge(base: dict, overrides: dict, where: str) -> None:
    """Write overrides into base in place, recursing into dicts; VariantError for a key base does not have."""
    for key, value in overrides.items():
        if key not in base:
            raise VariantError(f"{where}.{key}: no such config key (a variant overrides keys the config has)")
        if isinstance(value, dict) and isinstance(base[key], dict) and base[key]:
            _merge(base[key], value, f"{where}.{key}")
        else:
            base[key] = copy.deepcopy(value)


def apply_variant(config: dict, name: str, seed: int | None = None) -> dict:
    """A copy of config with the variant's overrides applied, train.variant = name and train.seed = seed (when
    given); VariantError for an unknown variant, a key the config lacks, or one that sets train.variant/seed."""
    if name not in config["variants"]:
        raise VariantError(f"unknown variant {name!r}; the config's variants are {sorted(config['variants'])}")
    overrides = config["variants"][name] or {}
    fixed = [key for key in FIXED_KEYS if key in overrides.get("train", {})]
    if fixed:
        raise VariantError(f"variants.{name}.train sets {fixed}: a run's variant and seed come from the run itself")
    resolved = copy.deepcopy(config)
    _merge(resolved, overrides, f"variants.{name}")
    resolved["train"]["variant"] = name
    if seed is not None:
        resolved["train"]["seed"] = int(seed)
    return resolved


def seed_part(seed: int, base_seed: int) -> str:
    """The seed's path part after the variant folder: "" for the config's own train.seed, else "/seed<S>"."""
    return "" if int(seed) == int(base_seed) else f"/seed{int(seed)}"


def seed_of(part: str, base_seed: int) -> int:
    """The seed a path part of `seed_part` stands for; ValueError for anything else."""
    match = SEED_PART.match(part)
    if not match:
        raise ValueError(f"{part!r} is not a seed path part ('' or '/seed<S>')")
    return int(match[1]) if match[1] is not None else int(base_seed)


def run_folder(variant: str, seed: int, base_seed: int) -> str:
    """A run's folder under results/train/<dataset>/ and results/eval/<dataset>/: <variant>[/seed<S>]."""
    return variant + seed_part(seed, base_seed)


def teacher_folder(config: dict, split: str) -> str:
    """The folder under results/teacher/<dataset>/ of the rationales a run's stage 3 reads: <protocol>_<class
    split>, with -<variant> added when the run's variant (train.variant of a config apply_variant resolved)
    overrides teacher keys and so has rationales of its own."""
    variant = config["train"]["variant"]
    own = "teacher" in (config["variants"].get(variant) or {})
    return split.replace("/", "_") + (f"-{variant}" if own else "")
