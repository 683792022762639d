"""MLflow tracking of one training stage, around the Trainer's own MLflow integration.

Every (variant, seed) is one parent run (`<variant>/seed<S>`, tag run_kind = variant_run) with a child run per stage
and per evaluation. The stage's run is opened here (tracking URI from config, experiment = the config's name unless
set, run name `<variant>/stage<N>/seed<S>`, tags stage/dataset/split/variant/seed/git commit) before `Trainer.train`; the
Trainer's MLflowCallback finds it active and logs into it the TrainingArguments and, per logging step, the loss
and learning rate. Afterwards the flattened resolved config (params, prefixed `config.`), the stage's final
metrics and its artifacts (metrics.json, the loss-curve PNG) are added and the run is closed. A resumed stage
reopens its run (the id is kept beside its checkpoints).

No secret reaches MLflow: every param and tag value that holds the value of a secret-looking environment variable
(a name containing KEY, TOKEN, SECRET or PASSWORD) is replaced by "<redacted>".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from skeletonllm.config import flatten

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 6  # shorter values (e.g. "1") would redact ordinary settings


def secret_values() -> list[str]:
    """The values of the environment's secret-looking variables."""
    return [value for name, value in os.environ.items() if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH]


def redact(values: dict[str, object], secrets: list[str]) -> dict[str, str]:
    """values as MLflow strings, each one that contains a secret replaced by REDACTED."""
    texts = {key: str(value) for key, value in values.items()}
    return {key: REDACTED if any(secret in text for secret in secrets) else text for key, text in texts.items()}


def git_commit() -> str:
    """The repository's HEAD commit ("unknown" outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_name(variant: str, stage: int, seed: int) -> str:
    """The MLflow run name of a stage: <variant>/stage<N>/seed<S>."""
    return f"{variant}/stage{stage}/seed{seed}"


def artifact_location(tracking_uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: mlartifacts/ beside a sqlite database (MLflow's default is
    ./mlruns in whatever directory the process runs in); None (the server decides) for any other store."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    return (Path(tracking_uri[len(prefix):]).resolve().parent / "mlartifacts").as_uri()


def use_experiment(tracking_uri: str, experiment: str) -> None:
    """Point MLflow at the store and the experiment, creating it with its artifact location when it is new."""
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        try:
            mlflow.create_experiment(experiment, artifact_location=artifact_location(tracking_uri))
        except MlflowException:  # another job created it meanwhile
            pass
    mlflow.set_experiment(experiment)


PARENT_KIND = "variant_run"  # the run_kind tag of a (variant, seed)'s parent run
EVALUATION_KIND = "evaluation"  # ... and of an evaluation's run


def parent_name(variant: str, seed: int) -> str:
    """The MLflow run name of a (variant, seed)'s parent run: <variant>/seed<S>."""
    return f"{variant}/seed{seed}"


def parent_run_id(experiment_id: str, tags: dict[str, object]) -> str:
    """The id of the parent run of tags' (dataset, split, variant, seed) in the experiment: found by its tags, or
    created (FINISHED: it only groups its children) when there is none yet."""
    import mlflow

    keys = {"run_kind": PARENT_KIND, **{key: str(tags[key]) for key in ("dataset", "split", "variant", "seed")}}
    query = " and ".join(f"tags.{key} = '{value}'" for key, value in keys.items())
    found = mlflow.search_runs([experiment_id], filter_string=query, output_format="list",
                               order_by=["attributes.start_time ASC"], max_results=1)
    if found:
        return found[0].info.run_id
    client = mlflow.MlflowClient()
    parent = client.create_run(experiment_id, run_name=parent_name(keys["variant"], keys["seed"]),
                               tags=redact(keys, secret_values()))
    client.set_terminated(parent.info.run_id)
    return parent.info.run_id


def start_run(tracking_uri: str, experiment: str, name: str, tags: dict[str, object], run_id_file: Path):
    """Open (or, when run_id_file names one, reopen) the stage's MLflow run, a child of its (variant, seed)'s parent
    run, and set its tags; returns the run."""
    import mlflow

    use_experiment(tracking_uri, experiment)
    previous = run_id_file.read_text().strip() if run_id_file.is_file() else None
    if previous:
        run = mlflow.start_run(run_id=previous)
    else:
        parent = parent_run_id(mlflow.get_experiment_by_name(experiment).experiment_id, tags)
        run = mlflow.start_run(run_name=name, parent_run_id=parent)
    run_id_file.parent.mkdir(parents=True, exist_ok=True)
    run_id_file.write_text(run.info.run_id + "\n")
    mlflow.set_tags(redact(tags, secret_values()))
    return run


def finish_run(config: dict, metrics: dict[str, float], artifacts: list[Path]) -> None:
    """Log the flattened config as params, the final numeric metrics and the artifacts, then close the run."""
    import mlflow

    params = redact({f"config.{key}": value for key, value in flatten(config).items()}, secret_values())
    items = list(params.items())
    for start in range(0, len(items), 100):  # MLflow takes at most 100 params per call
        mlflow.log_params(dict(items[start : start + 100]))
    mlflow.log_metrics({f"final/{key}": float(value) for key, value in metrics.items()
                        if isinstance(value, (int, float)) and not isinstance(value, bool)})
    for path in artifacts:
        mlflow.log_artifact(str(path))
    mlflow.end_run()


RUN_FILE = "mlflow_run.json"  # in a stage directory: where its MLflow run lives, for evaluations to log into


def write_run_file(directory: Path, tracking_uri: str, run_id: str) -> None:
    """Record the stage's MLflow run (tracking URI and run id) in its directory."""
    (directory / RUN_FILE).write_text(json.dumps({"tracking_uri": tracking_uri, "run_id": run_id}) + "\n")


def log_evaluation(stage_dir: Path, task: str, metrics: dict[str, object], artifacts: list[Path]) -> str | None:
    """Log an evaluation into MLflow: a child run of the stage's parent (variant, seed) run, named
    <variant>/eval/<task>/seed<S>, with the numeric metrics and the artifacts; and the metrics as eval/<task>/<key> on
    the stage's own run too, so that one row per stage compares training and evaluation (`skeletonllm runs`).
    Returns the evaluation run's id, or None when the stage directory records no run."""
    import mlflow

    path = Path(stage_dir) / RUN_FILE
    if not path.is_file():
        return None
    recorded = json.loads(path.read_text())
    mlflow.set_tracking_uri(recorded["tracking_uri"])
    client = mlflow.MlflowClient()
    stage = client.get_run(recorded["run_id"])
    numbers = {key: float(value) for key, value in metrics.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)}
    with mlflow.start_run(run_id=stage.info.run_id):
        mlflow.log_metrics({f"eval/{task}/{key}": value for key, value in numbers.items()})
    tags = {key: stage.data.tags[key] for key in ("dataset", "split", "variant", "seed", "stage") if key in
            stage.data.tags}
    name = f"{tags.get('variant')}/eval/{task}/seed{tags.get('seed')}"
    with mlflow.start_run(experiment_id=stage.info.experiment_id, run_name=name,
                          parent_run_id=stage.data.tags.get("mlflow.parentRunId"),
                          tags={**tags, "task": task, "run_kind": EVALUATION_KIND}) as run:
        mlflow.log_metrics(numbers)
        for artifact in artifacts:
            mlflow.log_artifact(str(artifact))
    return run.info.run_id
