"""The pipeline config outside Snakemake: a YAML file checked against workflow/schemas/config.schema.yaml, with the
schema's defaults filled in exactly as the Snakefile does (config_problem for a one-line error, then Snakemake's
validate)."""

from __future__ import annotations

from pathlib import Path

import yaml

from skeletonllm.errors import CommandError

REPOSITORY = Path(__file__).resolve().parents[2]
SCHEMA = REPOSITORY / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = REPOSITORY / "config" / "config.yaml"


def load_config(path: str | Path = DEFAULT_CONFIG) -> dict:
    """The validated config of a YAML file, defaults filled in; CommandError names the first problem."""
    from snakemake.utils import validate

    from skeletonllm.workflow_dag import config_problem

    path = Path(path)
    if not SCHEMA.is_file():
        raise CommandError(f"{SCHEMA}: the config schema is missing (install the project from its repository, "
                           "`pip install -e .`)")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise CommandError(f"{path}: no such config file") from None
    except yaml.YAMLError as error:
        raise CommandError(f"{path}: not valid YAML ({error})") from None
    problem = config_problem(config, SCHEMA)
    if problem:
        raise CommandError(f"{path}: {problem}")
    validate(config, str(SCHEMA))
    return config


def config_name(path: str | Path) -> str:
    """A config's name (its file stem), e.g. "config" or "paper": the MLflow experiment by default."""
    return Path(path).stem


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat

