"""One registered model, one contract: every version under a name predicts the same target from the
same feature columns. Each version records both as tags (`target`, `feature_columns`); training and
promotion refuse a schema that differs, in one line naming the differences (exit 2)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from trainer.errors import ContractError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from trainer.schema import Schema

MAX_COLUMNS_TAG = 90_000  # characters (a registry tag holds 100,000); longer lists are digested


def contract_tags(schema: Schema) -> dict[str, str]:
    """What every version under one registered model must share: the target and the feature columns."""
    columns = json.dumps(sorted(schema.feature_columns))
    if len(columns) > MAX_COLUMNS_TAG:
        columns = "sha256:" + hashlib.sha256(columns.encode()).hexdigest()
    return {"target": schema.target, "feature_columns": columns}


def contract_differences(tags: dict[str, str], schema: Schema) -> list[str]:
    """How a version's recorded contract differs from `schema` (nothing when it recorded none)."""
    diffs = []
    if tags.get("target", schema.target) != schema.target:
        diffs.append(f"target '{tags['target']}' there, '{schema.target}' here")
    recorded, here = tags.get("feature_columns"), contract_tags(schema)["feature_columns"]
    if recorded is None or recorded == here:
        return diffs
    if recorded.startswith("sha256:") or here.startswith("sha256:"):
        return [*diffs, "different feature columns"]
    old, new = set(json.loads(recorded)), set(schema.feature_columns)
    if old - new:
        diffs.append(f"feature(s) {sorted(old - new)} only there")
    if new - old:
        diffs.append(f"feature(s) {sorted(new - old)} only here")
    return diffs


def refuse_other_contract(mv: ModelVersion, schema: Schema) -> None:
    """One line (exit 2) when version `mv` was trained on another target or other feature columns."""
    diffs = contract_differences(mv.tags, schema)
    if diffs:
        raise ContractError(
            f"version {mv.version} of '{mv.name}' was trained on another contract than schema "
            f"{schema.path}: {'; '.join(diffs)}; one registered model holds one dataset's models "
            "(name this dataset's model with registered_model: in its recipe)"
        )


def check_same_contract(name: str, schema: Schema) -> None:
    """Before any work: the schema must match the latest version under `name` that recorded one."""
    from mlflow import MlflowClient

    found = MlflowClient().search_model_versions(f"name = '{name}'")
    recorded = [mv for mv in found if "target" in mv.tags]
    if recorded:
        refuse_other_contract(max(recorded, key=lambda mv: int(mv.version)), schema)
