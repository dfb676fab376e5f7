"""The audit trail of a registered version: URIs, lookups, code state, and `trainer explain`."""

from __future__ import annotations

import io
import json
import re
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from trainer.errors import ConfigError
from trainer.recipe.settings import did_you_mean
from trainer.tracking import runs as tracking

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# `pending` while a version is being registered, `passed` once complete, `failed` when withdrawn:
# only a `passed` version may ever be promoted
VALIDATION_TAG = "validation_status"
PROMOTION_STATE = "promotion_state"  # pending while an alias moves, complete once it has
DIGEST_TAGS = ("data_digest", "schema_digest", "suite_digest", "recipe_digest", "feature_digest")
METRIC_TAGS = ("cv_r2", "cv_r2_std", "baseline_cv_r2", "test_r2", "test_rmse", "test_mae")
TASK_TAGS = (
    "task",
    "labels",
    "positive_class",
    "selection_metric",
    "threshold",
    "threshold_source",
    "calibration",
)


def git_state(root: Path = PROJECT_ROOT) -> tuple[str, bool]:
    """(commit, dirty) of the project tree; ("unknown", True) outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown", True
    return commit, bool(status)


def get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    """A registered version, or a ConfigError naming it."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        missing = _no_model(client, name) or f"model version {version} of '{name}' not found in the registry"
        raise ConfigError(missing)


def alias_holder(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version `alias` points at, if any."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


URI_FORMS = (
    "models:/NAME/N, models:/NAME@alias, models:/NAME/latest, models:/m-<model_id> or runs:/<run_id>/model"
)


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """`models:/NAME/N` (or `/latest`) -> (NAME, N, None); `models:/NAME@alias` -> (NAME, None, alias)."""
    rest = uri.removeprefix("models:/") if uri.startswith("models:/") else ""
    if "@" in rest:
        name, alias = rest.split("@", 1)
        if name and alias:
            return name, None, alias
    else:
        name, _, version = rest.rpartition("/")
        if name and (version.isdigit() or version == "latest"):
            return name, version, None
    raise ConfigError(f"not a model URI: {uri!r} (expected {URI_FORMS})")


def resolve_version(uri: str) -> ModelVersion:
    """The registered model version any of MLflow's model URI forms names (see URI_FORMS)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    if uri.startswith("runs:/") or uri.startswith("models:/m-"):
        return _version_of_logged_model(client, uri)
    name, version, alias = parse_model_uri(uri)
    if version == "latest":
        found = client.search_model_versions(f"name = '{name}'")
        missing = "" if found else _no_model(client, name) or f"no version of '{name}' found"
        return _newest(client, found, missing)
    if version is not None:
        return get_version(client, name, version)
    holder = alias_holder(client, name, str(alias))
    if holder is None:
        raise ConfigError(_no_model(client, name) or f"no version of '{name}' holds alias '{alias}'")
    return holder


def _no_model(client: MlflowClient, name: str) -> str:
    """'no registered model NAME (did you mean ...?)' when there is none of that name, else ''."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
        return ""
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            return ""
        known = [m.name for m in client.search_registered_models(max_results=1000)]  # hints: one page
        return f"no registered model '{name}'{did_you_mean(name, known)}"


def _newest(client: MlflowClient, found: list[ModelVersion], missing: str) -> ModelVersion:
    """The highest version found, read in full (a search leaves out its aliases)."""
    if not found:
        raise ConfigError(missing)
    newest = max(found, key=lambda v: int(v.version))
    return get_version(client, newest.name, str(newest.version))


def _version_of_logged_model(client: MlflowClient, uri: str) -> ModelVersion:
    """The newest registered version of a logged model (`models:/m-ID`) or a run's (`runs:/ID/PATH`)."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

    key = uri.removeprefix("models:/") if uri.startswith("models:/") else uri.removeprefix("runs:/")
    key = key.split("/", 1)[0]
    if not re.fullmatch(r"[\w-]+", key):
        raise ConfigError(f"not a model URI: {uri!r} (expected {URI_FORMS})")
    if uri.startswith("runs:/"):
        return _newest(
            client, client.search_model_versions(f"run_id = '{key}'"), f"run {key} registered no model"
        )
    try:
        links = json.loads(client.get_logged_model(key).tags.get(MLFLOW_MODEL_VERSIONS) or "[]")
    except MlflowException:
        raise ConfigError(f"logged model {key} not found")
    found = [get_version(client, link["name"], str(link["version"])) for link in links]
    return _newest(client, found, f"logged model {key} is not registered")


def _run_artifact_text(client: MlflowClient, run_id: str, path: str) -> str | None:
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = client.download_artifacts(run_id, path, tmp)
            return Path(local).read_text()
    except Exception:  # noqa: BLE001 - an absent artifact is reported as missing
        return None


def training_run_id(mv: ModelVersion) -> str:
    """The run that trained a version; a version registered some other way has none to audit."""
    run_id = mv.tags.get("training_run_id") or mv.run_id
    if not run_id:
        raise ConfigError(
            f"version {mv.version} of '{mv.name}' was not registered by the trainer: it names no training run"
        )
    return str(run_id)


def typed(value: Any) -> Any:
    """A tag or param as what it means (MLflow keeps them as text): true/false as booleans, numbers
    as numbers, "none" as None; anything else unchanged."""
    if not isinstance(value, str):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if value.lower() in ("true", "false", "none"):
        return {"true": True, "false": False, "none": None}[value.lower()]
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _task_record(tags: dict[str, str]) -> dict[str, Any]:
    """A classifier's task tags as what they mean: the labels as a list, the positive class as the
    label itself (1, not "1"), the threshold as a number (None where there is none)."""
    record: dict[str, Any] = {k: tags.get(k) or None for k in TASK_TAGS}
    labels = json.loads(tags.get("labels") or "[]")
    record["labels"] = labels
    record["positive_class"] = next((v for v in labels if str(v) == tags.get("positive_class")), None)
    record["threshold"] = typed(record["threshold"])
    return record


def _version_record(tags: dict[str, str], aliases: list[str]) -> dict[str, Any]:
    """What the version's own tags say: digests, winner, metrics, code, promotion; an alias it holds
    without a complete promotion record for it was moved outside the trainer (not gated)."""
    classify = tags.get("task") == "classification"
    metric_keys = (
        [k for k in tags if k.startswith(("cv_", "test_", "baseline_cv_"))] if classify else list(METRIC_TAGS)
    )
    promotion = {
        k: v if k.endswith("digest") else typed(v) for k, v in tags.items() if k.startswith("promot")
    }
    return {
        "task": _task_record(tags) if classify else {"task": "regression"},
        "digests": {k: tags.get(k) for k in DIGEST_TAGS},
        "winner": {"candidate": tags.get("candidate"), "params": json.loads(tags.get("best_params", "{}"))},
        "metrics": {k: typed(tags.get(k)) for k in metric_keys},
        "code": {"git_commit": tags.get("git_commit"), "git_dirty": typed(tags.get("git_dirty"))},
        "serialization": tags.get("serialization"),
        "promotion": promotion,
        "alias_gated": {
            alias: tags.get("promoted_alias") == alias and tags.get(PROMOTION_STATE) == "complete"
            for alias in aliases
        },
        # the last `trainer monitor` check (its `monitor_*` tags); empty when never checked
        "monitoring": {
            k.removeprefix("monitor_"): v if k.endswith(("_id", "_at", "data", "crossed")) else typed(v)
            for k, v in tags.items()
            if k.startswith("monitor_")
        },
    }


def model_requirements(client: MlflowClient, mv: ModelVersion) -> list[str] | None:
    """The model's own requirements.txt (what serving it installs), from its artifacts."""
    from mlflow.artifacts import download_artifacts

    try:
        model_id = mv.model_id or str(mv.source).removeprefix("models:/")  # a local registry keeps no id
        location = client.get_logged_model(model_id).artifact_location
        with tempfile.TemporaryDirectory() as tmp:
            local = download_artifacts(artifact_uri=f"{location}/requirements.txt", dst_path=tmp)
            return [line for line in Path(local).read_text().splitlines() if line.strip()]
    except Exception:  # noqa: BLE001 - a version registered without one: reported as missing
        return None


def explain_record(uri: str) -> dict[str, Any]:
    """How a version was trained, gathered from the tracking server and registry only."""
    from mlflow import MlflowClient

    tracking.quiet_libraries()
    tracking.check_tracking_store(must_exist=True)
    client = MlflowClient()
    mv = resolve_version(uri)
    tags = dict(mv.tags)
    run_id = training_run_id(mv)
    run = client.get_run(run_id)
    params, run_tags, metrics = run.data.params, run.data.tags, run.data.metrics
    board_csv = _run_artifact_text(client, run_id, "leaderboard/leaderboard.csv")
    env_json = _run_artifact_text(client, run_id, "environment.json")
    record = {
        "model": f"models:/{mv.name}/{mv.version}",
        "model_requirements": model_requirements(client, mv),
        "aliases": list(mv.aliases or []),
        "validation_status": tags.get(VALIDATION_TAG),
        "training_run_id": run_id,
        "trained_at": datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(timespec="seconds"),
        "data": {
            "path": params.get("data_path"),
            "digest": tags.get("data_digest"),
            "rows": typed(params.get("data_rows")),
        },
        "contract": {
            "status": run_tags.get("contract_status"),
            "expectations": typed(metrics.get("contract_expectations")),
            "failed": typed(metrics.get("contract_failed")),
            "report": _run_artifact_text(client, run_id, "contract/report.md"),
        },
        "split": {
            "train_rows": typed(params.get("train_rows")),
            "test_rows": typed(params.get("test_rows")),
            "seed": typed(params.get("split.random_state", params.get("split_seed"))),
        },
        "leaderboard": pd.read_csv(io.StringIO(board_csv)).to_dict(orient="records") if board_csv else None,
        "dependencies": json.loads(env_json) if env_json else None,
    }
    return {**record, **_version_record(tags, list(mv.aliases or []))}
