"""`trainer promote`: move an alias to a version that scores at least as well as its holder."""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trainer import contract, tracking
from trainer.audit import PROMOTION_STATE, VALIDATION_TAG, alias_holder, get_version
from trainer.config import Recipe, load_recipe
from trainer.errors import ContractError, GateError
from trainer.files import file_digest
from trainer.progress import Progress
from trainer.schema import load_schema, with_names
from trainer.split import Split, split_data

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)


def _holdout(data: Path, schema_path: Path, recipe: Recipe) -> Split:
    """The holdout the versions are compared on: today's data, split as the recipe says."""
    schema = load_schema(schema_path)
    result = contract.validate(data, schema)
    if not result.success:
        raise ContractError(result.summary())
    return split_data(result.frame, schema, recipe.split)


def score_version(name: str, version: str | int, split: Split) -> float:
    """Holdout R² of a registered version, loaded from the configured registry."""
    import mlflow
    from sklearn.metrics import r2_score

    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    return float(r2_score(split.y_test, model.predict(split.X_test)))


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


def promote(request: PromotionRequest) -> None:
    """Move the alias to the version if it scores at least as well as the holder (within tolerance)."""
    import mlflow
    from mlflow import MlflowClient

    tracking.quiet_libraries()
    recipe = with_names(load_recipe(request.recipe), request.schema)
    name = request.name or str(recipe.registered_model)
    tracking.check_tracking_store()
    client = MlflowClient()
    mv = get_version(client, name, request.version)
    status = mv.tags.get(VALIDATION_TAG, "unknown")
    if status != "passed":
        raise GateError(
            f"version {request.version} of '{name}' has {VALIDATION_TAG}={status}: it can never be promoted"
        )
    with Progress(f"promote version {request.version} to '{request.alias}'"):
        split = _holdout(request.data, request.schema, recipe)
        # read the holder, compare and move the alias as one step: two promotions at once are serialised
        with tracking.sqlite_lock(mlflow.get_registry_uri(), "promote"):
            _move_alias(client, mv, request, split, recipe.promotion.tolerance)


def promote_on_register(request: PromotionRequest, split: Split, tolerance: float) -> bool:
    """`promotion.on_register: if_better`: the version just registered takes the alias through the
    same gate as `trainer promote` (no holder yet, or it scores at least as well); a refusal is a
    warning, not a failed training. Returns whether the alias moved."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    mv = get_version(client, str(request.name), request.version)
    try:
        with tracking.sqlite_lock(mlflow.get_registry_uri(), "promote"):
            _move_alias(client, mv, request, split, tolerance)
    except GateError as refused:
        log.warning("not promoted on registration: %s", refused)
        return False
    return True


def _move_alias(
    client: MlflowClient, mv: ModelVersion, request: PromotionRequest, split: Split, tolerance: float
) -> None:
    name, alias, version = mv.name, request.alias, str(mv.version)
    holder = alias_holder(client, name, alias)
    if holder is not None and str(holder.version) == version:
        _repair_record(client, mv, alias)
        log.info("'%s' already points at version %s of %s", alias, version, name)
        return
    candidate_r2 = score_version(name, version, split)
    holder_r2 = score_version(name, holder.version, split) if holder is not None else None
    forced = holder_r2 is not None and candidate_r2 < holder_r2 - tolerance
    if forced and not request.force:
        raise GateError(
            f"refused: version {version} scores R² {candidate_r2:.4f} on the holdout, below version "
            f"{holder.version if holder else '?'} ('{alias}') at {holder_r2:.4f} - tolerance {tolerance}; "
            "use --force to promote anyway"
        )
    record = {
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "promoted_alias": alias,
        "promoted_by": getpass.getuser(),
        "promoted_from_version": str(holder.version) if holder is not None else "none",
        "promotion_r2": f"{candidate_r2:.6f}",
        "promotion_previous_r2": f"{holder_r2:.6f}" if holder_r2 is not None else "none",
        "promotion_forced": str(forced).lower(),
        "promotion_data_digest": file_digest(request.data),
    }
    # the record is written before the alias moves and marked complete after: a kill in between
    # leaves a visible `pending` record, never a move nobody recorded (repaired by the next promote)
    _tag(client, mv, {**record, PROMOTION_STATE: "pending"})
    client.set_registered_model_alias(name, alias, version)
    _tag(client, mv, {PROMOTION_STATE: "complete"})
    log.info(
        "'%s' -> version %s of %s (R² %.4f%s)%s",
        alias,
        version,
        name,
        candidate_r2,
        f" vs {holder_r2:.4f} of version {holder.version}" if holder is not None else "",
        " FORCED" if forced else "",
    )


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
