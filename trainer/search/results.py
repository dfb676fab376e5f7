"""A candidate's search outcome and the one rule that ranks candidates (shared by search and select)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TIE_DECIMALS = 10


@dataclass(frozen=True)
class OutOfFold:
    """A model's held-out predictions on every training row (each row predicted by the fold that
    left it out); class probabilities in `classes` order for a classifier."""

    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: np.ndarray | None = None


@dataclass(frozen=True)
class CandidateResult:
    """One candidate's search outcome (what the leaderboard and selection read)."""

    name: str
    complexity: int
    grid_size: int
    best_params: dict[str, Any]
    cv_mean: float  # the selection metric's mean over the folds, in its own units
    cv_std: float
    fit_seconds: float
    estimator_seconds: float
    cv_results: pd.DataFrame = field(repr=False, compare=False)
    started_at: float = 0.0  # wall-clock start of its search (epoch seconds), for its MLflow run
    metric: str = "r2"  # the selection metric
    greater_is_better: bool = True
    cv_metrics: dict[str, tuple[float, float]] = field(default_factory=dict)  # every metric: (mean, std)
    oof: OutOfFold | None = field(default=None, repr=False, compare=False)  # at the best point
    skipped: str = ""  # why the time budget left it out (no score then)

    @property
    def cv_r2_mean(self) -> float:
        """The selection metric's mean (R² for regression, the name its callers know)."""
        return self.cv_mean

    @property
    def cv_r2_std(self) -> float:
        return self.cv_std

    @property
    def score(self) -> float:
        """The CV mean turned higher-is-better (a loss negated): what ranking and gates compare."""
        return self.cv_mean if self.greater_is_better else -self.cv_mean


def rank_key(result: CandidateResult) -> tuple[float, int, str]:
    """Best mean CV score first (R²; AUC; the lowest log loss); ties (to 10 decimals) go to the simpler
    model, then to the name."""
    return (-round(result.score, TIE_DECIMALS), result.complexity, result.name)


def rank(results: list[CandidateResult]) -> list[CandidateResult]:
    """Candidates best first, by `rank_key`."""
    return sorted(results, key=rank_key)


def param_label(params: dict[str, Any]) -> str:
    """A grid point as a short run name, e.g. `alpha=1.0, l1_ratio=0.5` (or `default`)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "default"
