"""Permutation importance of the registered model's raw input columns, on a bounded holdout sample."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

# Importance costs (columns x repeats + 1) predictions of the whole pipeline. A prediction has a fixed
# cost plus one per row (blend of CatBoost + HistGradientBoosting, one thread: 0.09 s at 100 rows,
# 0.11 s at 1000, 0.17 s at 2000, 0.48 s at 9728), so the rows are bounded: a 100k-row holdout would
# otherwise take minutes; the default data's 1216 holdout rows are all used (numbers unchanged).
MAX_ROWS = 2000
REPEATS = 5
SEED = 0  # the row sample and the shuffles: same inputs, same logged importances


def sample_rows(rows: int, limit: int = MAX_ROWS, seed: int = SEED) -> np.ndarray:
    """Positions of the holdout rows importance is measured on: all of them up to `limit`, else a
    seeded sample of `limit` (in holdout order)."""
    if rows <= limit:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))


def importance_by_column(
    pipeline: Pipeline, holdout: tuple[pd.DataFrame, np.ndarray], scoring: Any, n_jobs: int
) -> pd.DataFrame:
    """Permutation importance of every raw input column on (a bounded sample of) the holdout: the
    score (R², or the selection metric's) lost when the column is shuffled; on the recipe's
    `n_jobs` (the same importances on any number)."""
    from sklearn.inspection import permutation_importance

    X, y = holdout
    rows = sample_rows(len(X))
    # all the cores (default recipe): measured on the idle 2-core host (blend of LightGBM + CatBoost,
    # 1216 rows, two alternating rounds) 3.65 / 3.59 s against 5.65 / 5.10 s for n_jobs=1, identical
    # importances. A one-job recipe starts no worker processes here (each imports the libraries).
    result = permutation_importance(
        pipeline,
        X.iloc[rows],
        np.asarray(y)[rows],
        scoring=scoring,
        n_repeats=REPEATS,
        random_state=SEED,
        n_jobs=n_jobs,
    )
    log.debug("permutation importance on %d of %d holdout rows, %d repeats", len(rows), len(X), REPEATS)
    return pd.DataFrame(
        {
            "column": list(X.columns),
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        }
    ).sort_values("importance_mean", ascending=False, kind="mergesort")


def describe(rows: int) -> str:
    """The card's line on how importance was measured."""
    used = len(sample_rows(rows))
    sample = f"all {rows}" if used == rows else f"a seeded sample of {used} of the {rows}"
    return f"permutation importance: {sample} holdout rows, {REPEATS} repeats"
