"""Cross-validation that keeps what it predicted: every (grid point, fold) fitted once, in parallel,
its held-out predictions kept and scored with the task's own sklearn scorers.

GridSearchCV keeps scores only, so the blend used to refit its members on the very folds their own
search had just fitted (23 s of a 95 s default run, measured on an idle machine). Here each fit
returns its out-of-fold predictions instead: a blend is scored from its members' predictions with no
fit at all, and the scores are those GridSearchCV gives (the same scorers on the same predictions).
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.metrics import get_scorer
from sklearn.utils.parallel import Parallel, delayed

from trainer.errors import TrainerError, typed_line
from trainer.recipe.task import sign
from trainer.search.results import CandidateResult, OutOfFold, param_label

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from trainer.recipe.task import Task

Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class FoldFit:
    """One fit of one grid point on one fold: its held-out predictions, or the error it raised."""

    point: int
    fold: int
    fit_time: float
    score_time: float
    predictions: np.ndarray | None
    probabilities: np.ndarray | None
    classes: np.ndarray | None
    error: str | None = None


class Predicted(BaseEstimator):
    """Stands in for a fitted model whose predictions are already known, so that sklearn's own
    scorers score them exactly as they would score the model."""

    def __init__(self, predictions: Any = None, probabilities: Any = None, classes: Any = None) -> None:
        self.predictions = predictions
        self.probabilities = probabilities
        self.classes = classes

    def fit(self, X: Any, y: Any) -> Predicted:
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.predictions)

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(self.probabilities)

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)


class PredictedRegressor(RegressorMixin, Predicted):
    """`Predicted` for a regressor."""


class PredictedClassifier(ClassifierMixin, Predicted):
    """`Predicted` for a classifier."""


def fold_indices(cv: Any, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None) -> Folds:
    """The CV splitter's (train, test) index pairs, in order."""
    return [(np.asarray(train), np.asarray(test)) for train, test in cv.split(X, y, groups)]


def fit_fold(
    pipeline: Pipeline,
    params: dict[str, Any],
    data: tuple[pd.DataFrame, np.ndarray],
    point: int,
    fold: int,
    folds: Folds,
) -> FoldFit:
    """Fit a clone at `params` on one fold's training rows and predict its held-out rows."""
    X, y = data
    train, test = folds[fold]
    model = clone(pipeline).set_params(**params)
    started = time.perf_counter()
    try:
        model.fit(X.iloc[train], y[train])
    except Exception as exc:  # noqa: BLE001 - reported by name with its grid point, never swallowed
        return FoldFit(point, fold, time.perf_counter() - started, 0.0, None, None, None, typed_line(exc))
    fitted = time.perf_counter()
    predictions = model.predict(X.iloc[test])
    classes = getattr(model, "classes_", None)
    probabilities = model.predict_proba(X.iloc[test]) if classes is not None else None
    return FoldFit(
        point, fold, fitted - started, time.perf_counter() - fitted, predictions, probabilities, classes
    )


def fit_folds(
    pipeline: Pipeline,
    points: list[dict[str, Any]],
    data: tuple[pd.DataFrame, np.ndarray],
    jobs: list[tuple[int, int]],
    folds: Folds,
    n_jobs: int,
) -> list[FoldFit]:
    """The (point, fold) fits of `jobs`, run on `n_jobs` workers (joblib, as GridSearchCV runs them)."""
    parallel = Parallel(n_jobs=n_jobs)
    return list(parallel(delayed(fit_fold)(pipeline, points[p], data, p, f, folds) for p, f in jobs))


def stream_fits(
    tasks: list[tuple[Pipeline, dict[str, Any], int, int]],
    data: tuple[pd.DataFrame, np.ndarray],
    folds: Folds,
    n_jobs: int,
) -> Generator[FoldFit]:
    """(pipeline, params, point, fold) fits of several candidates as one stream, in order: the next
    candidate's first folds start while this one's last fold runs. Searched one candidate at a time,
    5 folds on 2 workers leave one worker idle for the fifth fold of every candidate (a sixth of a
    one-point grid's time)."""
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    yield from parallel(delayed(fit_fold)(pipe, params, data, p, f, folds) for pipe, params, p, f in tasks)


def scores(task: Task, y: np.ndarray, folds: Folds, oof: OutOfFold) -> dict[str, list[float]]:
    """Every metric's score on every fold (sklearn's sign: a loss negated), from held-out predictions."""
    scorers = {m: get_scorer(s) for m, s in task.scorers().items()}
    out: dict[str, list[float]] = {m: [] for m in scorers}
    for _, test in folds:
        model = _predicted(task, oof, test)
        for metric, scorer in scorers.items():
            out[metric].append(float(scorer(model, np.zeros((len(test), 0)), y[test])))
    return out


def _predicted(task: Task, oof: OutOfFold, rows: np.ndarray) -> Predicted:
    if task.is_classification:
        assert oof.probabilities is not None
        return PredictedClassifier(oof.predictions[rows], oof.probabilities[rows], oof.classes)
    return PredictedRegressor(oof.predictions[rows])


def gather(fits: list[FoldFit], n_rows: int) -> OutOfFold:
    """One grid point's fold fits as held-out predictions on every row."""
    first = fits[0]
    assert first.predictions is not None
    predictions = np.empty(n_rows, dtype=first.predictions.dtype)
    probabilities = None
    if first.probabilities is not None:
        probabilities = np.empty((n_rows, first.probabilities.shape[1]), dtype=np.float64)
    return OutOfFold(predictions, probabilities, first.classes)


def out_of_fold(fits: list[FoldFit], folds: Folds, n_rows: int) -> OutOfFold:
    """Place each fold's held-out predictions at its rows."""
    oof = gather(fits, n_rows)
    for fit in fits:
        test = folds[fit.fold][1]
        oof.predictions[test] = fit.predictions
        if oof.probabilities is not None:
            oof.probabilities[test] = fit.probabilities
    return oof


def averaged(members: list[OutOfFold], classify: bool) -> OutOfFold:
    """The held-out predictions of an unweighted average of members, as VotingRegressor (mean of
    predictions) and soft VotingClassifier (mean of probabilities, then the likeliest class) make."""
    if not classify:
        return OutOfFold(np.average(np.column_stack([m.predictions for m in members]), axis=1))
    probabilities = np.average(np.asarray([m.probabilities for m in members]), axis=0)
    classes = members[0].classes
    assert classes is not None
    return OutOfFold(classes[np.argmax(probabilities, axis=1)], probabilities, classes)


def tabulate(
    points: list[dict[str, Any]], fits: list[FoldFit], folds: Folds, task: Task, y: np.ndarray
) -> tuple[pd.DataFrame, list[OutOfFold]]:
    """GridSearchCV's cv_results_ columns (params, mean/std/split scores and times) from fold fits,
    and each point's out-of-fold predictions."""
    rows, oofs = [], []
    for p, params in enumerate(points):
        mine = sorted((f for f in fits if f.point == p), key=lambda f: f.fold)
        oof = out_of_fold(mine, folds, len(y))
        oofs.append(oof)
        rows.append(cv_row(params, mine, scores(task, y, folds, oof), task))
    return pd.DataFrame(rows), oofs


def cv_row(
    params: dict[str, Any], fits: list[FoldFit], by_metric: dict[str, list[float]], task: Task
) -> dict[str, Any]:
    """One grid point's cv_results_ row (GridSearchCV's column names; std over folds with ddof 0, as it does)."""
    fit_times = [f.fit_time for f in fits] or [0.0]  # a blend fits nothing
    score_times = [f.score_time for f in fits] or [0.0]
    row: dict[str, Any] = {
        "mean_fit_time": np.mean(fit_times),
        "std_fit_time": np.std(fit_times),
        "mean_score_time": np.mean(score_times),
        "std_score_time": np.std(score_times),
        **{f"param_{k}": v for k, v in params.items()},
        "params": params,
    }
    for metric, values in by_metric.items():
        column = task.score_column(metric)
        row.update({f"split{i}_test_{column}": v for i, v in enumerate(values)})
        row[f"mean_test_{column}"], row[f"std_test_{column}"] = np.mean(values), np.std(values)
    return row


def summarize(
    name: str, complexity: int, results: pd.DataFrame, timing: tuple[float, float], task: Task, n_folds: int
) -> CandidateResult:
    """A candidate's result from its cv_results_: the best point (by the selection metric) and every
    metric there; `timing` is (seconds taken, wall-clock start)."""
    elapsed, wall = timing
    means = results[f"mean_test_{task.score_column()}"].to_numpy()
    if not np.all(np.isfinite(means)):
        raise TrainerError(f"candidate '{name}' produced a non-finite CV score")
    best = int(np.argmax(means))
    cv_metrics = {
        m: (
            sign(m) * float(results[f"mean_test_{task.score_column(m)}"].iloc[best]),
            float(results[f"std_test_{task.score_column(m)}"].iloc[best]),
        )
        for m in task.metrics
    }
    best_params = _unprefix(results["params"].iloc[best])
    results = results.assign(params=[param_label_raw(p) for p in results["params"]])
    estimator_seconds = float((results["mean_fit_time"] + results["mean_score_time"]).sum() * n_folds)
    return CandidateResult(
        name=name,
        complexity=complexity,
        grid_size=len(results),
        best_params=best_params,
        cv_mean=cv_metrics[task.metric][0],
        cv_std=cv_metrics[task.metric][1],
        fit_seconds=elapsed,
        estimator_seconds=estimator_seconds,
        cv_results=results,
        started_at=wall,
        metric=task.metric,
        greater_is_better=task.greater_is_better,
        cv_metrics=cv_metrics,
    )


def param_label_raw(params: dict[str, Any]) -> str:
    """`param_label` of a Pipeline-prefixed grid point."""
    return param_label(_unprefix(params))


def _unprefix(params: dict[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("model__"): _plain(v) for k, v in params.items()}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
