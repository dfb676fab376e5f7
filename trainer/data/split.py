"""The holdout split: canonical row order, then the recipe's (optionally grouped) train/test split.

Training and promotion both use it, so a version is always scored on the rows it never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

from trainer.errors import ConfigError

if TYPE_CHECKING:
    from trainer.data.schema import Schema
    from trainer.recipe.settings import SplitSettings


@dataclass(frozen=True)
class Split:
    """Holdout split of the canonically ordered frame."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    groups: np.ndarray | None


def canonical_order(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Sort rows by the identifier columns so a reordered export gives the same model."""
    keys = [c for c in schema.identifiers if c in frame.columns]
    if not keys:
        keys = list(frame.columns)
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def split_data(frame: pd.DataFrame, schema: Schema, settings: SplitSettings) -> Split:
    """Holdout split by the recipe (optionally grouped so a group stays on one side; stratified by
    label for a classification target)."""
    frame = canonical_order(frame, schema)
    X = frame[list(schema.feature_columns)]
    classify = schema.task == "classification"
    # labels keep their own type: whole numbers in an object array are a target of 'unknown' type
    # to scikit-learn, which then refuses stratified folds; text labels come out as objects anyway
    y = frame[schema.target].to_numpy() if classify else frame[schema.target].to_numpy(dtype=np.float64)
    groups = None
    splitter: GroupShuffleSplit | ShuffleSplit
    if settings.group_by:
        if settings.group_by not in frame.columns:
            raise ConfigError(f"recipe: split.group_by column '{settings.group_by}' is not in the data")
        groups = frame[settings.group_by].to_numpy()
        splitter = GroupShuffleSplit(1, test_size=settings.test_size, random_state=settings.random_state)
    elif classify:
        splitter = StratifiedShuffleSplit(1, test_size=settings.test_size, random_state=settings.random_state)
    else:
        splitter = ShuffleSplit(1, test_size=settings.test_size, random_state=settings.random_state)
    train, test = next(splitter.split(X, y, groups))
    train, test = np.sort(train), np.sort(test)
    return Split(
        X_train=X.iloc[train].reset_index(drop=True),
        X_test=X.iloc[test].reset_index(drop=True),
        y_train=y[train],
        y_test=y[test],
        groups=None if groups is None else groups[train],
    )
