"""The version's selection metric on a labelled batch, with a bootstrap interval, against the holdout
value it recorded at registration.

The interval resamples the batch's rows with replacement. For a batch larger than `RESAMPLE_ROWS`
each resample draws that many rows and its spread is scaled by sqrt(m / n) (the m-out-of-n
bootstrap: R² and ROC AUC are asymptotically normal, so their spread shrinks as 1 / sqrt(n)), which
keeps 200 resamples of a million rows within seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainer.recipe.task import Task

RESAMPLE_ROWS = 20_000


def metric(
    task: Task, y: np.ndarray, predictions: np.ndarray, proba: np.ndarray | None, classes: list[Any]
) -> float:
    """The task's selection metric (R² for a regressor; ROC AUC or log loss for a classifier)."""
    from sklearn import metrics as m

    if not task.is_classification:
        return float(m.r2_score(y, predictions))
    assert proba is not None
    if task.metric == "log_loss":
        return float(m.log_loss(y, proba, labels=classes))
    if task.binary:
        return float(m.roc_auc_score(y == task.positive_class, proba[:, classes.index(task.positive_class)]))
    return float(m.roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=classes))


@dataclass(frozen=True)
class MetricCheck:
    """The metric on the batch, its interval, the holdout value and how much worse the batch is."""

    name: str
    rows: int
    new: float
    low: float
    high: float
    holdout: float
    greater_is_better: bool

    @property
    def drop(self) -> float:
        """Holdout minus batch in the metric's better direction: positive when the batch scores worse."""
        return (self.holdout - self.new) if self.greater_is_better else (self.new - self.holdout)

    @property
    def beyond_interval(self) -> bool:
        """The holdout value lies on the better side of the batch's interval: the drop is not noise."""
        return self.holdout > self.high if self.greater_is_better else self.holdout < self.low

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "drop": self.drop, "beyond_interval": self.beyond_interval}


def _resample_values(
    task: Task, data: tuple[np.ndarray, np.ndarray, np.ndarray | None], classes: list[Any], draws: np.ndarray
) -> list[float]:
    y, predictions, proba = data
    values = []
    for rows in draws:
        sample_y = y[rows]
        if task.is_classification and len(np.unique(sample_y)) < 2:
            continue  # one class only: no AUC
        values.append(
            metric(task, sample_y, predictions[rows], None if proba is None else proba[rows], classes)
        )
    return values


def check_metric(
    task: Task,
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    classes: list[Any],
    holdout: dict[str, Any],
    settings: tuple[int, float],
) -> MetricCheck:
    """The batch's metric and its bootstrap interval (`settings`: resamples, confidence), seeded."""
    y, predictions, proba = data
    resamples, confidence = settings
    n = len(y)
    value = metric(task, y, predictions, proba, classes)
    m = min(n, RESAMPLE_ROWS)
    draws = np.random.default_rng(0).integers(0, n, size=(resamples, m))
    spread = (np.asarray(_resample_values(task, data, classes, draws)) - value) * math.sqrt(m / n)
    tail = (1 - confidence) / 2
    low, high = (value + np.quantile(spread, [tail, 1 - tail])) if spread.size else (value, value)
    return MetricCheck(
        holdout["name"],
        n,
        value,
        float(low),
        float(high),
        float(holdout["value"]),
        bool(holdout["greater_is_better"]),
    )
