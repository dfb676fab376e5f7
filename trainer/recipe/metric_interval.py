"""A task's selection metric on fixed predictions, and its bootstrap interval: what registration
records for the holdout and `trainer monitor` computes for a labelled batch, so that a drop between
the two can be told from noise.

The interval resamples the rows with replacement. For more than `RESAMPLE_ROWS` rows each resample
draws that many and its spread is scaled by sqrt(m / n) (the m-out-of-n bootstrap: R² and ROC AUC
are asymptotically normal, their spread shrinking as 1 / sqrt(n)), which keeps 200 resamples of a
million rows within seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from trainer.recipe.task import Task

RESAMPLE_ROWS = 20_000
Scored = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]  # truth, predictions, class probabilities


def metric(task: Task, scored: Scored, classes: list[Any]) -> float:
    """The task's selection metric: R² for a regressor; ROC AUC (one-vs-rest weighted for more than two
    classes) or log loss for a classifier (probabilities' columns in `classes` order)."""
    from sklearn import metrics as m

    y, predictions, proba = scored
    if not task.is_classification:
        return float(m.r2_score(y, predictions))
    assert proba is not None
    if task.metric == "log_loss":
        return float(m.log_loss(y, proba, labels=classes))
    if task.binary:
        return float(m.roc_auc_score(y == task.positive_class, proba[:, classes.index(task.positive_class)]))
    return float(m.roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=classes))


@dataclass(frozen=True)
class Interval:
    """A metric's value, its bootstrap interval and standard error."""

    value: float
    low: float
    high: float
    std_error: float


def bootstrap(task: Task, scored: Scored, classes: list[Any], resamples: int, confidence: float) -> Interval:
    """The metric with its percentile interval over `resamples` seeded resamples."""
    y, predictions, proba = scored
    n = len(y)
    value = metric(task, scored, classes)
    m = min(n, RESAMPLE_ROWS)
    values = []
    for rows in np.random.default_rng(0).integers(0, n, size=(resamples, m)):
        if task.is_classification and len(np.unique(y[rows])) < 2:
            continue  # one class only: no AUC
        values.append(
            metric(task, (y[rows], predictions[rows], None if proba is None else proba[rows]), classes)
        )
    spread = (np.asarray(values) - value) * math.sqrt(m / n)
    if not spread.size:
        return Interval(value, value, value, 0.0)
    tail = (1 - confidence) / 2
    low, high = value + np.quantile(spread, [tail, 1 - tail])
    return Interval(value, float(low), float(high), float(spread.std()))
