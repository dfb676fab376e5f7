"""The leakage detector's model fits: a small HistGradientBoosting scored by 3-fold CV on a seeded
sample of the training part, for every feature alone, all the others without it, and all of them.

The score is the share of the target's variation a model explains out of fold: R² for a number,
and for classes the Brier skill score of a classifier's probabilities (the R² of the class
indicators; for yes/no, of the 1/0 target), since class codes have no order for a regression to
measure: a copy of the label scores about 1, an unrelated column about 0 or below. A classifier
overfits weak yes/no data less than a regressor on 1/0 (the all-features score of 2,500 rows at
8 % positives: -0.049 as R² on 1/0, 0.045 as the classifier's Brier skill; the same verdicts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from trainer.errors import TrainerError, typed_line
from trainer.text import some

FOLDS = 3
SEED = 0
MAX_BINS = 63  # the model's bins; a text column with more levels is scored as ordered codes
MIN_ROWS_FOR_SCORES = 30
SMALLEST_PROBABILITY = 1e-15  # a class absent from a fold's training rows is predicted with this
MODEL = {
    "max_iter": 40,
    "learning_rate": 0.2,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "max_bins": MAX_BINS,
    "early_stopping": False,
    "random_state": SEED,
}
# classes: smaller steps and leaves; a rare class still gets leaves of its own (measured on 600 rows
# of 4 classes, one at 2 %: a copy of the label 0.931 -> 0.963, honest features' overfit halved)
CLASSIFIER = {**MODEL, "learning_rate": 0.1, "max_leaf_nodes": 4, "min_samples_leaf": 5}


def sample(X: pd.DataFrame, y: np.ndarray, max_rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    """At most `max_rows` rows, drawn with the detector's seed."""
    if len(X) <= max_rows:
        return X, y
    keep = np.sort(np.random.default_rng(SEED).choice(len(X), max_rows, replace=False))
    return X.iloc[keep].reset_index(drop=True), y[keep]


def encoded(X: pd.DataFrame) -> tuple[pd.DataFrame, set[str]]:
    """Numbers as floats; any other column as category codes (categorical for the model when it has
    at most MAX_BINS levels, the most it takes; ordered codes beyond)."""
    columns, categorical = {}, set()
    for col in X.columns:
        series = X[col]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            columns[col] = series.astype("float64").to_numpy()
            continue
        codes = pd.Categorical(series.astype(object).where(series.notna(), None)).codes.astype("float64")
        codes[codes < 0] = np.nan
        columns[col] = codes
        if np.nanmax(codes, initial=0) < MAX_BINS:
            categorical.add(col)
    return pd.DataFrame(columns, index=X.index), categorical


def _cv_score(
    X: np.ndarray,
    y: np.ndarray,
    categorical: list[bool],
    folds: list[tuple[np.ndarray, np.ndarray]],
    columns: list[str],
    classes: bool = False,
) -> float:
    """The mean score of a small HistGradientBoosting on `columns` (the array `X`) over `folds`. A
    plain loop on a NumPy array: 2.1 s against 2.9 s for `cross_val_score` on the DataFrame (99
    fits on 480 rows), the same scores; a fit that fails is one line naming the columns."""
    if X.shape[1] == 0:
        return 0.0  # no features: the mean (or the class frequencies), 0 by definition
    scores = []
    for train, test in folds:
        try:
            scores.append(_fold_score(X, y, categorical, (train, test), classes))
        except Exception as exc:
            raise TrainerError(
                f"leakage detector: its model could not be fitted on {some(columns)}: {typed_line(exc)} "
                "(leakage: {enabled: false} in the recipe turns the detector off)"
            ) from exc
    return float(np.mean(scores))


def _fold_score(
    X: np.ndarray, y: np.ndarray, categorical: list[bool], fold: tuple[np.ndarray, np.ndarray], classes: bool
) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import r2_score

    train, test = fold
    if not classes:
        model = HistGradientBoostingRegressor(**MODEL, categorical_features=categorical).fit(
            X[train], y[train]
        )
        return float(r2_score(y[test], model.predict(X[test])))
    labels = np.unique(y)
    model = HistGradientBoostingClassifier(**CLASSIFIER, categorical_features=categorical).fit(
        X[train], y[train]
    )
    probabilities = np.full((len(test), len(labels)), SMALLEST_PROBABILITY)
    probabilities[:, np.searchsorted(labels, model.classes_)] = model.predict_proba(X[test])
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return brier_skill(
        y[test], probabilities, labels, prior=(y[train][:, None] == labels[None, :]).mean(axis=0)
    )


def brier_skill(y: np.ndarray, probabilities: np.ndarray, labels: np.ndarray, prior: np.ndarray) -> float:
    """1 - the Brier score of `probabilities` / that of always predicting the class frequencies
    `prior`: the R² of the class indicators (for two classes, the R² of the 1/0 target)."""
    from sklearn.metrics import brier_score_loss

    always = np.tile(prior, (len(y), 1))
    return float(
        1 - brier_score_loss(y, probabilities, labels=labels) / brier_score_loss(y, always, labels=labels)
    )


@dataclass(frozen=True)
class Encoded:
    """The detector's sample as its model sees it: numbers and category codes, the target (class
    codes when `classes`), and which columns are categorical."""

    frame: pd.DataFrame
    y: np.ndarray
    categorical: set[str]
    classes: bool = False


@dataclass(frozen=True)
class Scores:
    """Per column: alone, all the others, and the lift; per group: the same for its columns
    together; and the all-features score."""

    columns: dict[str, dict[str, float]]
    groups: list[dict[str, float]]
    all_score: float


def correlated_groups(X: pd.DataFrame, threshold: float) -> list[tuple[str, ...]]:
    """Numeric columns linked by |Spearman| >= `threshold` (directly or through each other), each
    group of two or more in column order; a group of every column is left out (nothing else to
    compare it with). Text columns are not grouped: their codes have no order."""
    numeric = [
        c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
    ]
    if len(numeric) < 2:
        return []
    linked = X[numeric].rank().corr().abs().to_numpy() >= threshold
    group = list(range(len(numeric)))  # union-find: each column's representative

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked, k=1)), strict=True):
        group[root(int(j))] = root(int(i))
    members: dict[int, list[str]] = {}
    for i, name in enumerate(numeric):
        members.setdefault(root(i), []).append(name)
    return [tuple(g) for g in members.values() if 1 < len(g) < len(X.columns)]


def model_scores(
    data: Encoded, n_jobs: int, alone_only: bool, groups: list[tuple[str, ...]] | None = None
) -> Scores:
    """Per column: alone, all the others, and the lift; the same for each group of columns together;
    plus the all-features score (`alone_only`: the first of each, the rest NaN). The fits are tiny
    (3-fold HistGB on <= 2,000 rows): one thread each, on the search's worker processes (already
    started: 2.0 s against 4.1 s in one process on the 2-core host, the same scores)."""
    from joblib import Parallel, delayed
    from sklearn.model_selection import KFold

    groups = groups or []
    if len(data.frame) < MIN_ROWS_FOR_SCORES:
        return Scores({}, [{} for _ in groups], float("nan"))
    folds = list(KFold(FOLDS, shuffle=True, random_state=SEED).split(data.frame))
    columns = list(data.frame.columns)
    alone = [[c] for c in columns] + [list(g) for g in groups]
    others = [[c for c in columns if c not in cols] for cols in alone]
    subsets = alone if alone_only else [columns, *others, *alone]  # the larger fits first
    fits = (
        delayed(_cv_score)(
            data.frame[cols].to_numpy(),
            data.y,
            [c in data.categorical for c in cols],
            folds,
            cols,
            data.classes,
        )
        for cols in subsets
    )
    with threadpool_limits(limits=1):  # in this process when n_jobs is 1: threads would only contend
        # one job: in this process whatever joblib's backend (under Dask, Parallel(n_jobs=1) still
        # sends its calls to the cluster)
        score = [fn(*args, **kwargs) for fn, args, kwargs in fits] if n_jobs == 1 else Parallel(n_jobs)(fits)
    n, nan = len(alone), float("nan")
    all_score, others_score = (nan, [nan] * n) if alone_only else (score[0], score[1 : n + 1])
    rows = [
        {"alone_r2": round(a, 4), "others_r2": round(o, 4), "lift": round(all_score - o, 4)}
        for a, o in zip(score[len(score) - n :], others_score, strict=True)
    ]
    return Scores(dict(zip(columns, rows, strict=False)), rows[len(columns) :], all_score)
