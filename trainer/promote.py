"""`trainer promote`: move an alias to a version that scores at least as well as its holder."""

from __future__ import annotations

import getpass
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trainer import contract, tracking
from trainer.audit import VALIDATION_TAG, alias_holder, get_version
from trainer.config import Recipe, file_digest, load_recipe, load_schema
from trainer.errors import ContractError, GateError
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
    return split_data(result.frame, schema, recipe)


def score_version(name: str, version: str | int, split: Split) -> float:
    """Holdout R² of a registered version, loaded from the configured registry."""
    import mlflow
    from sklearn.metrics import r2_score

    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    return float(r2_score(split.y_test, model.predict(split.X_test)))


def promote(
    version: str,
    alias: str,
    name: str | None,
    force: bool,
    data: Path,
    schema_path: Path,
    recipe_path: Path,
) -> None:
    """Move `alias` to `version` if it scores at least as well as the holder (within tolerance)."""
    import mlflow
    from mlflow import MlflowClient

    tracking.quiet_libraries()
    recipe = load_recipe(recipe_path)
    name = name or recipe.registered_model
    tracking.check_tracking_store()
    client = MlflowClient()
    mv = get_version(client, name, version)
    status = mv.tags.get(VALIDATION_TAG, "unknown")
    if status != "passed":
        raise GateError(
            f"version {version} of '{name}' has {VALIDATION_TAG}={status}: it can never be promoted"
        )
    split = _holdout(data, schema_path, recipe)
    # read the holder, compare and move the alias as one step: two promotions at once are serialised
    with tracking.sqlite_lock(mlflow.get_registry_uri(), "promote"):
        _move_alias(client, name, mv, alias, split, recipe.promotion_tolerance, force, data)


def _move_alias(
    client: MlflowClient,
    name: str,
    mv: ModelVersion,
    alias: str,
    split: Split,
    tolerance: float,
    force: bool,
    data: Path,
) -> None:
    version = str(mv.version)
    holder = alias_holder(client, name, alias)
    if holder is not None and str(holder.version) == version:
        log.info("'%s' already points at version %s of %s", alias, version, name)
        return
    candidate_r2 = score_version(name, mv.version, split)
    holder_r2 = score_version(name, holder.version, split) if holder is not None else None
    forced = False
    if holder is not None and holder_r2 is not None and candidate_r2 < holder_r2 - tolerance:
        if not force:
            raise GateError(
                f"refused: version {version} scores R² {candidate_r2:.4f} on the holdout, below version "
                f"{holder.version} ('{alias}') at {holder_r2:.4f} - tolerance {tolerance}; "
                "use --force to promote anyway"
            )
        forced = True
    client.set_registered_model_alias(name, alias, mv.version)
    record = {
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "promoted_alias": alias,
        "promoted_by": getpass.getuser(),
        "promoted_from_version": str(holder.version) if holder is not None else "none",
        "promotion_r2": f"{candidate_r2:.6f}",
        "promotion_previous_r2": f"{holder_r2:.6f}" if holder_r2 is not None else "none",
        "promotion_forced": str(forced).lower(),
        "promotion_data_digest": file_digest(data),
    }
    for key, value in record.items():
        client.set_model_version_tag(name, mv.version, key, value)
    log.info(
        "'%s' -> version %s of %s (R² %.4f%s)%s",
        alias,
        mv.version,
        name,
        candidate_r2,
        f" vs {holder_r2:.4f} of version {holder.version}" if holder is not None else "",
        " FORCED" if forced else "",
    )
