"""`trainer promote`: move an alias to a version that scores at least as well as its holder."""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.data import contract
from trainer.data.schema import load_schema, with_names
from trainer.data.split import Split, split_data
from trainer.errors import ConfigError, ContractError, GateError, one_line
from trainer.files import file_digest
from trainer.recipe.settings import Recipe, load_recipe
from trainer.recipe.task import Task, make_task
from trainer.registry.audit import PROMOTION_STATE, VALIDATION_TAG, alias_holder, get_version
from trainer.registry.consistency import refuse_other_contract
from trainer.tracking import runs as tracking
from trainer.tracking.launcher import described_launcher_run
from trainer.tracking.progress import Progress

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)


def _holdout(data: Path, schema_path: Path, recipe: Recipe) -> Holdout:
    """The holdout the versions are compared on (today's data, split as the recipe says), and the task
    whose selection metric compares them."""
    schema = load_schema(schema_path)
    result = contract.validate(data, schema)
    if not result.success:
        raise ContractError(result.summary())
    task = make_task(schema.task, result.labels, schema.positive_class, recipe.classification.metric)
    return Holdout(split_data(result.frame, schema, recipe.split), task)


def score_version(name: str, version: str | int, split: Split, task: Task | None = None) -> float:
    """Holdout R² (or the task's selection metric) of a registered version, loaded from the registry."""
    import mlflow

    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    try:
        return (task or Task()).score(model, split.X_test, split.y_test)
    except (ValueError, KeyError) as exc:  # e.g. a version recorded no contract and needs other columns
        raise ContractError(f"version {version} of '{name}' cannot score this data: {one_line(exc)}")


@dataclass(frozen=True)
class Holdout:
    """The rows every version is scored on and the task whose selection metric scores them."""

    split: Split
    task: Task


@dataclass(frozen=True)
class PromotionRequest:
    """What `trainer promote` was asked: which version takes which alias, judged on which data."""

    version: str
    alias: str
    name: str | None
    force: bool
    data: Path
    schema: Path
    recipe: Path


def check_request(request: PromotionRequest) -> None:
    """A version number and an alias MLflow accepts, before anything is read (one line otherwise)."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_alias_name, _validate_model_alias_name_reserved

    version = request.version
    if not (version.isascii() and version.isdigit() and int(version) > 0):
        raise ConfigError(f"--version must be a model version number (1, 2, ...), got {version!r:.80}")
    try:
        _validate_model_alias_name(request.alias)
        _validate_model_alias_name_reserved(request.alias)
    except MlflowException as exc:
        raise ConfigError(f"--alias {request.alias!r:.80}: {one_line(exc)}")


def _promote(request: PromotionRequest, learned: dict[str, str]) -> None:
    import mlflow
    from mlflow import MlflowClient

    tracking.quiet_libraries()
    check_request(request)
    recipe = with_names(load_recipe(request.recipe), request.schema)
    name = learned["registered_model"] = request.name or str(recipe.registered_model)
    tracking.check_tracking_store(must_exist=True)
    client = MlflowClient()
    mv = get_version(client, name, request.version)
    status = mv.tags.get(VALIDATION_TAG, "unknown")
    if status != "passed":
        raise GateError(
            f"version {request.version} of '{name}' has {VALIDATION_TAG}={status}: it can never be promoted"
        )
    refuse_other_contract(mv, load_schema(request.schema))  # before any scoring
    with Progress(f"promote version {request.version} to '{request.alias}'"):
        holdout = _holdout(request.data, request.schema, recipe)
        # read the holder, compare and move the alias as one step: two promotions at once are serialised
        with tracking.sqlite_lock(mlflow.get_registry_uri(), "promote"):
            _move_alias(client, mv, request, holdout, recipe.promotion.tolerance)


def promote(request: PromotionRequest) -> None:
    """Move the alias to the version if it scores at least as well as the holder (within tolerance);
    under `mlflow run`, the run it opened says what was promoted, or why not."""
    tags = {"trainer_command": "promote", "version": request.version, "alias": request.alias}
    title = f"promote version {request.version} to '{request.alias}'"
    done = f"**Promoted**: version {request.version} holds alias '{request.alias}' (its record: the version's promotion_* tags)."
    with described_launcher_run(title, tags, done) as learned:
        _promote(request, learned)


def promote_on_register(request: PromotionRequest, holdout: Holdout, tolerance: float) -> bool:
    """`promotion.on_register: if_better`: the version just registered takes the alias through the
    same gate as `trainer promote` (no holder yet, or it scores at least as well); a refusal is a
    warning, not a failed training. Returns whether the alias moved."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    mv = get_version(client, str(request.name), request.version)
    try:
        with tracking.sqlite_lock(mlflow.get_registry_uri(), "promote"):
            _move_alias(client, mv, request, holdout, tolerance)
    except GateError as refused:
        log.warning("not promoted on registration: %s", refused)
        return False
    return True


def _move_alias(
    client: MlflowClient,
    mv: ModelVersion,
    request: PromotionRequest,
    holdout: Holdout,
    tolerance: float,
) -> None:
    name, alias, version = mv.name, request.alias, str(mv.version)
    holder = alias_holder(client, name, alias)
    if holder is not None and str(holder.version) == version:
        _repair_record(client, mv, alias)
        log.info("'%s' already points at version %s of %s", alias, version, name)
        return
    split, task = holdout.split, holdout.task
    candidate_r2 = score_version(name, version, split, task)
    holder_r2 = score_version(name, holder.version, split, task) if holder is not None else None
    forced = holder_r2 is not None and worse(candidate_r2, holder_r2, tolerance, task)
    label = "R²" if task.metric == "r2" else task.metric
    if forced and not request.force:
        raise GateError(
            f"refused: version {version} scores {label} {candidate_r2:.4f} on the holdout, worse than version "
            f"{holder.version if holder else '?'} ('{alias}') at {holder_r2:.4f} - tolerance {tolerance}; "
            "use --force to promote anyway"
        )
    record = {
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "promoted_alias": alias,
        "promoted_by": getpass.getuser(),
        "promoted_from_version": str(holder.version) if holder is not None else "none",
        f"promotion_{task.metric}": f"{candidate_r2:.6f}",
        f"promotion_previous_{task.metric}": f"{holder_r2:.6f}" if holder_r2 is not None else "none",
        "promotion_forced": str(forced).lower(),
        "promotion_data_digest": file_digest(request.data),
    }
    # the record is written before the alias moves and marked complete after: a kill in between
    # leaves a visible `pending` record, never a move nobody recorded (repaired by the next promote)
    _tag(client, mv, {**record, PROMOTION_STATE: "pending"})
    client.set_registered_model_alias(name, alias, version)
    _tag(client, mv, {PROMOTION_STATE: "complete"})
    log.info(
        "'%s' -> version %s of %s (%s %.4f%s)%s",
        alias,
        version,
        name,
        label,
        candidate_r2,
        f" vs {holder_r2:.4f} of version {holder.version}" if holder is not None else "",
        " FORCED" if forced else "",
    )
    _say_threshold_change(mv, holder)


def _say_threshold_change(mv: ModelVersion, holder: ModelVersion | None) -> None:
    """The selection metric ranks probabilities: the labels served change with the threshold alone."""
    before, after = (_threshold(holder) if holder is not None else ""), _threshold(mv)
    if holder is not None and before != after:
        log.info("its decision threshold %s replaces %s: the labels it serves change", after, before)


def _threshold(mv: ModelVersion) -> str:
    """A yes/no version's decision threshold and how it was set, e.g. `0.114 (f1)`; empty otherwise."""
    value = mv.tags.get("threshold", "")
    return f"{float(value):.3f} ({mv.tags.get('threshold_source', '?')})" if value else ""


def worse(candidate: float, holder: float, tolerance: float, task: Task) -> bool:
    """Whether the candidate scores worse than the holder by more than the tolerance (a loss such as
    log_loss is worse when higher)."""
    if task.greater_is_better:
        return candidate < holder - tolerance
    return candidate > holder + tolerance


def _tag(client: MlflowClient, mv: ModelVersion, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(mv.name, str(mv.version), key, value)


def _repair_record(client: MlflowClient, mv: ModelVersion, alias: str) -> None:
    """The alias already points here: complete an interrupted record, or say the move was not gated."""
    tags = mv.tags
    if tags.get("promoted_alias") == alias and tags.get(PROMOTION_STATE) == "pending":
        _tag(client, mv, {PROMOTION_STATE: "complete"})
        log.warning("completed the interrupted promotion record of version %s ('%s')", mv.version, alias)
    elif tags.get("promoted_alias") != alias:
        log.warning(
            "'%s' was moved to version %s of %s outside the trainer: no promotion gate was applied",
            alias,
            mv.version,
            mv.name,
        )
