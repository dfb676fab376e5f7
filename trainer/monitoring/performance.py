"""A labelled batch's metric against the holdout's: the version's selection metric on the batch with
its bootstrap interval, and the drop from the holdout value with an interval that counts both
samples' noise (the holdout's standard error was recorded in the training profile)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trainer.recipe.metric_interval import Scored, bootstrap
from trainer.recipe.task import Task


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
    drop_low: float
    drop_high: float

    @property
    def drop(self) -> float:
        """Holdout minus batch in the metric's better direction: positive when the batch scores worse."""
        return (self.holdout - self.new) if self.greater_is_better else (self.new - self.holdout)

    @property
    def beyond_interval(self) -> bool:
        """The drop's interval lies above zero: the batch scores worse, and not by chance."""
        return self.drop_low > 0

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "drop": self.drop, "beyond_interval": self.beyond_interval}


def check_metric(
    task: Task, scored: Scored, classes: list[Any], holdout: dict[str, Any], settings: tuple[int, float]
) -> MetricCheck:
    """The batch's metric and interval (`settings`: resamples, confidence), and the drop's interval:
    drop +- z * sqrt(se_batch^2 + se_holdout^2)."""
    from scipy.stats import norm

    resamples, confidence = settings
    new = bootstrap(task, scored, classes, resamples, confidence)
    better = bool(holdout["greater_is_better"])
    drop = (holdout["value"] - new.value) if better else (new.value - holdout["value"])
    half = norm.ppf(1 - (1 - confidence) / 2) * math.hypot(new.std_error, holdout.get("std_error") or 0.0)
    return MetricCheck(
        holdout["name"], len(scored[0]), new.value, new.low, new.high, float(holdout["value"]), better,
        float(drop - half), float(drop + half),
    )  # fmt: skip
