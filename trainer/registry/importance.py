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
    `n_jobs` (the same importances on any number).

    The shuffles, scores and numbers are sklearn's `permutation_importance` (same seed, same
    shuffles; tested equal to 1e-12), but each column's `REPEATS` shuffled copies are predicted in
    one call, since a prediction's fixed cost is most of it at holdout size. Measured on the default
    winner (LightGBM + CatBoost blend, 1216 rows, two alternating rounds, the same importances):
    sklearn's 5.2 / 7.3 s on one job and 5.2 / 4.0 s on two, these 3.7 / 4.2 s and 2.6 / 2.9 s.
    `scoring`: one scorer (a name or a callable), as the tasks give it."""
    from sklearn.metrics import check_scoring
    from sklearn.utils.parallel import Parallel, delayed

    X, y = holdout
    rows = sample_rows(len(X))
    X, y = X.iloc[rows], np.asarray(y)[rows]
    scorer = check_scoring(pipeline, scoring=scoring)
    baseline = scorer(pipeline, X, y)
    seed = np.random.RandomState(SEED).randint(np.iinfo(np.int32).max + 1)  # as sklearn draws it
    # one task per column on the recipe's n_jobs: a one-job recipe starts no worker processes here
    scores = Parallel(n_jobs=n_jobs)(
        delayed(_shuffled_scores)(pipeline, scorer, (X, y), column, seed) for column in range(X.shape[1])
    )
    lost = baseline - np.array(scores)
    log.debug(
        "permutation importance on %d of %d holdout rows, %d repeats", len(rows), len(holdout[0]), REPEATS
    )
    return pd.DataFrame(
        {"column": list(X.columns), "importance_mean": lost.mean(axis=1), "importance_std": lost.std(axis=1)}
    ).sort_values("importance_mean", ascending=False, kind="mergesort")


def stacked_copies(X: pd.DataFrame, column: int, seed: int) -> pd.DataFrame:
    """The `REPEATS` copies of X with `column` shuffled, one under the other, as sklearn's
    `permutation_importance` shuffles them: one RandomState(seed) per column, each repeat
    reshuffling the previous repeat's column."""
    rng = np.random.RandomState(seed)
    order = np.arange(len(X))
    shuffled, values = X.iloc[:, column], []
    for _ in range(REPEATS):
        rng.shuffle(order)
        shuffled = shuffled.iloc[order]
        values.append(shuffled)
    stacked = pd.concat([X] * REPEATS, ignore_index=True)
    stacked[X.columns[column]] = pd.concat(values, ignore_index=True)
    return stacked


def _shuffled_scores(
    pipeline: Pipeline, scorer: Any, holdout: tuple[pd.DataFrame, np.ndarray], column: int, seed: int
) -> list[float]:
    X, y = holdout
    served = Served(pipeline, stacked_copies(X, column, seed), len(X))
    scores = []
    for copy in range(REPEATS):
        scores.append(scorer(served, served.copy(copy), y))
    return scores


RESPONSES = ("predict", "predict_proba", "predict_log_proba", "decision_function")


class Served:
    """Stands in for the pipeline in a scorer's calls: each response method runs once on all the
    copies stacked (`rows` rows each), and a call on copy k (`copy(k)`) gets its slice; a call on
    any other frame goes to the pipeline itself."""

    def __init__(self, pipeline: Pipeline, stacked: pd.DataFrame, rows: int) -> None:
        self._pipeline, self._stacked, self._rows = pipeline, stacked, rows
        self._responses: dict[str, np.ndarray] = {}
        self._current: tuple[int, pd.DataFrame | None] = (0, None)

    def copy(self, k: int) -> pd.DataFrame:
        """Copy k of the stack, the frame to hand the scorer next."""
        frame = self._stacked.iloc[k * self._rows : (k + 1) * self._rows]
        self._current = (k, frame)
        return frame

    def __sklearn_tags__(self) -> Any:
        return self._pipeline.__sklearn_tags__()

    @property
    def classes_(self) -> np.ndarray:
        return self._pipeline.classes_

    def __getattr__(self, name: str) -> Any:
        if name not in RESPONSES or not hasattr(self._pipeline, name):
            raise AttributeError(name)

        def respond(X: pd.DataFrame) -> np.ndarray:
            k, frame = self._current
            if X is not frame:
                return getattr(self._pipeline, name)(X)
            if name not in self._responses:
                self._responses[name] = getattr(self._pipeline, name)(self._stacked)
            return self._responses[name][k * self._rows : (k + 1) * self._rows]

        respond.__name__ = name  # sklearn reads a probability's columns by the method's name
        return respond


def describe(rows: int) -> str:
    """The card's line on how importance was measured."""
    used = len(sample_rows(rows))
    sample = f"all {rows}" if used == rows else f"a seeded sample of {used} of the {rows}"
    return f"permutation importance: {sample} holdout rows, {REPEATS} repeats"
