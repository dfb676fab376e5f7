"""One registered model, one contract: every version under a name predicts the same target from the
same feature columns, each in the same role (a column's role types it in the model's signature:
numbers, or text for a category). Each version records them as tags (`target`, `feature_columns`,
`categorical_columns`); training and promotion refuse a schema that differs, in one line naming the
differences (exit 2)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from trainer.errors import ContractError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from trainer.data.schema import Schema

MAX_COLUMNS_TAG = 90_000  # characters (a registry tag holds 100,000); longer lists are digested


def _listed(columns: tuple[str, ...] | list[str]) -> str:
    listed = json.dumps(sorted(columns))
    return (
        "sha256:" + hashlib.sha256(listed.encode()).hexdigest() if len(listed) > MAX_COLUMNS_TAG else listed
    )


def contract_tags(schema: Schema) -> dict[str, str]:
    """What every version under one registered model must share: the target, the feature columns
    and which of them are categories."""
    return {
        "target": schema.target,
        "feature_columns": _listed(schema.feature_columns),
        "categorical_columns": _listed(schema.categorical),
    }


def contract_differences(tags: dict[str, str], schema: Schema, there: str = "there") -> list[str]:
    """How a version's recorded contract (`there`, e.g. "version 3") differs from `schema` (nothing
    where it recorded none: versions from before a tag existed)."""
    diffs = []
    if tags.get("target", schema.target) != schema.target:
        diffs.append(f"target '{tags['target']}' in {there}, '{schema.target}' in this schema")
    here = contract_tags(schema)
    columns = _set_differences(tags.get("feature_columns"), here["feature_columns"])
    if columns is None:
        return [*diffs, "different feature columns"]
    old, new = columns
    if old:
        diffs.append(f"feature(s) {old} only in {there}")
    if new:
        diffs.append(f"feature(s) {new} only in this schema")
    if diffs:
        return diffs  # roles are compared between the same columns
    roles = _set_differences(tags.get("categorical_columns"), here["categorical_columns"])
    if roles is None:
        return ["the same feature columns in other roles"]
    old, new = roles
    if old:
        diffs.append(f"{old} categorical in {there}, numerical or derived in this schema")
    if new:
        diffs.append(f"{new} categorical in this schema, numerical or derived in {there}")
    return diffs


def _set_differences(recorded: str | None, here: str) -> tuple[list[str], list[str]] | None:
    """(only recorded, only here) between two listed tags; ([], []) when equal or none was
    recorded; None when a digest hides which."""
    if recorded is None or recorded == here:
        return [], []
    if recorded.startswith("sha256:") or here.startswith("sha256:"):
        return None
    old, new = set(json.loads(recorded)), set(json.loads(here))
    return sorted(old - new), sorted(new - old)


def refuse_other_contract(mv: ModelVersion, schema: Schema) -> None:
    """One line (exit 2) when version `mv` was trained on another target or other feature columns."""
    diffs = contract_differences(mv.tags, schema, f"version {mv.version}")
    if diffs:
        raise ContractError(
            f"version {mv.version} of '{mv.name}' was trained on another contract than schema "
            f"{schema.path}: {'; '.join(diffs)}; one registered model holds one dataset's models "
            "(fix the schema if that is a mistake; another dataset's model gets its own name with "
            "registered_model: in its recipe)"
        )


def check_same_contract(name: str, schema: Schema) -> None:
    """Before any work: the schema must match the latest version under `name` that recorded one."""
    from mlflow import MlflowClient

    found = MlflowClient().search_model_versions(f"name = '{name}'")
    recorded = [mv for mv in found if "target" in mv.tags]
    if recorded:
        refuse_other_contract(max(recorded, key=lambda mv: int(mv.version)), schema)
