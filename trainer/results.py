"""A candidate's search outcome and the one rule that ranks candidates (shared by search and select)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

TIE_DECIMALS = 10


@dataclass(frozen=True)
class CandidateResult:
    """One candidate's search outcome (what the leaderboard and selection read)."""

    name: str
    complexity: int
    grid_size: int
    best_params: dict[str, Any]
    cv_r2_mean: float
    cv_r2_std: float
    fit_seconds: float
    estimator_seconds: float
    cv_results: pd.DataFrame = field(repr=False, compare=False)
    started_at: float = 0.0  # wall-clock start of its search (epoch seconds), for its MLflow run


def rank_key(result: CandidateResult) -> tuple[float, int, str]:
    """Highest mean CV R² first; ties (to 10 decimals) go to the simpler model, then to the name."""
    return (-round(result.cv_r2_mean, TIE_DECIMALS), result.complexity, result.name)


def rank(results: list[CandidateResult]) -> list[CandidateResult]:
    """Candidates best first, by `rank_key`."""
    return sorted(results, key=rank_key)


def param_label(params: dict[str, Any]) -> str:
    """A grid point as a short run name, e.g. `alpha=1.0, l1_ratio=0.5` (or `default`)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "default"
