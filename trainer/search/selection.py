"""Selection: the quality gates applied to the ranked candidates, and the leaderboard they produce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from trainer.errors import GateError
from trainer.search.results import CandidateResult, param_label, rank

if TYPE_CHECKING:
    from trainer.recipe.settings import GateSettings


@dataclass(frozen=True)
class Selection:
    """The winner, the baseline it beat, and the full ranked leaderboard."""

    winner: CandidateResult
    baseline: CandidateResult
    leaderboard: pd.DataFrame


class GatesFailed(GateError):
    """No candidate passed the gates; carries the leaderboard so it can still be recorded."""

    def __init__(self, message: str, leaderboard: pd.DataFrame):
        super().__init__(message)
        self.leaderboard = leaderboard


def gate_status(result: CandidateResult, baseline: CandidateResult, gates: GateSettings) -> str:
    """`passed`, or why this candidate may not be selected."""
    if result.name == baseline.name:
        return "baseline"
    floor = _floor(result, gates)
    if floor is not None and result.score < floor[2]:
        name, limit = floor[0], floor[1]
        relation = "<" if result.greater_is_better else ">"
        return f"rejected: cv_{result.metric} {result.cv_mean:.4f} {relation} {name} {limit}"
    margin = result.score - baseline.score
    if margin < gates.min_improvement:
        return f"rejected: beats baseline by {margin:.4f} < {gates.min_improvement}"
    return "passed"


def _floor(result: CandidateResult, gates: GateSettings) -> tuple[str, float, float] | None:
    """The gate's name, its value and its floor on the higher-is-better score (`min_cv_r2` for R²)."""
    if result.metric == "r2":
        return None if gates.min_cv_r2 is None else ("min_cv_r2", gates.min_cv_r2, gates.min_cv_r2)
    if gates.min_cv_score is None:
        return None
    limit = gates.min_cv_score
    return "min_cv_score", limit, limit if result.greater_is_better else -limit


def leaderboard(ranked: list[CandidateResult], statuses: list[str]) -> pd.DataFrame:
    """One row per candidate, in rank order (`cv_<metric>_mean/std` of the selection metric)."""
    metric = ranked[0].metric if ranked else "r2"
    return pd.DataFrame(
        {
            "rank": range(1, len(ranked) + 1),
            "candidate": [r.name for r in ranked],
            f"cv_{metric}_mean": [round(r.cv_mean, 6) for r in ranked],
            f"cv_{metric}_std": [round(r.cv_std, 6) for r in ranked],
            "grid_size": [r.grid_size for r in ranked],
            "fit_seconds": [round(r.fit_seconds, 2) for r in ranked],
            "status": statuses,
            "best_params": [param_label(r.best_params) for r in ranked],
        }
    )


def select(results: list[CandidateResult], gates: GateSettings, recipe_path: str = "the recipe") -> Selection:
    """Pick the best candidate that passes both gates, or raise GatesFailed (exit 3) naming the
    number to change and the recipe file it is in."""
    baseline = next(r for r in results if r.name == gates.baseline)
    ranked = rank(results)
    statuses = [gate_status(r, baseline, gates) for r in ranked]
    passing = [r for r, status in zip(ranked, statuses, strict=True) if status == "passed"]
    if not passing:
        best = next((r for r in ranked if r.name != baseline.name), baseline)
        floor = _floor(best, gates)
        limit = f"{floor[0]} {floor[1]}" if floor else "no absolute floor"
        raise GatesFailed(
            f"no candidate passed the quality gates: best was '{best.name}' with CV "
            f"{'R²' if best.metric == 'r2' else best.metric} {best.cv_mean:.4f} "
            f"({limit}, baseline '{baseline.name}' {baseline.cv_mean:.4f} + {gates.min_improvement}); "
            f"{_what_to_change(statuses[ranked.index(best)])} in {recipe_path}",
            leaderboard(ranked, statuses),
        )
    winner = passing[0]
    statuses[ranked.index(winner)] = "selected"
    return Selection(winner=winner, baseline=baseline, leaderboard=leaderboard(ranked, statuses))


def _what_to_change(status: str) -> str:
    for gate in ("min_cv_r2", "min_cv_score"):
        if gate in status:
            return f"to accept it, lower (or remove) gates.{gate}"
    if "beats baseline" in status:
        return "to accept it, lower gates.min_improvement"
    return "add candidates or check gates.baseline"
