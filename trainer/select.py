"""Selection: the quality gates applied to the ranked candidates, and the leaderboard they produce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from trainer.errors import GateError
from trainer.results import CandidateResult, param_label, rank

if TYPE_CHECKING:
    from trainer.config import GateSettings


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
    if gates.min_cv_r2 is not None and result.cv_r2_mean < gates.min_cv_r2:
        return f"rejected: cv_r2 {result.cv_r2_mean:.4f} < min_cv_r2 {gates.min_cv_r2}"
    margin = result.cv_r2_mean - baseline.cv_r2_mean
    if margin < gates.min_improvement:
        return f"rejected: beats baseline by {margin:.4f} < {gates.min_improvement}"
    return "passed"


def leaderboard(ranked: list[CandidateResult], statuses: list[str]) -> pd.DataFrame:
    """One row per candidate, in rank order."""
    return pd.DataFrame(
        {
            "rank": range(1, len(ranked) + 1),
            "candidate": [r.name for r in ranked],
            "cv_r2_mean": [round(r.cv_r2_mean, 6) for r in ranked],
            "cv_r2_std": [round(r.cv_r2_std, 6) for r in ranked],
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
        floor = "no min_cv_r2" if gates.min_cv_r2 is None else f"min_cv_r2 {gates.min_cv_r2}"
        raise GatesFailed(
            f"no candidate passed the quality gates: best was '{best.name}' with CV R² "
            f"{best.cv_r2_mean:.4f} ({floor}, baseline '{baseline.name}' {baseline.cv_r2_mean:.4f} + "
            f"{gates.min_improvement}); {_what_to_change(statuses[ranked.index(best)])} in {recipe_path}",
            leaderboard(ranked, statuses),
        )
    winner = passing[0]
    statuses[ranked.index(winner)] = "selected"
    return Selection(winner=winner, baseline=baseline, leaderboard=leaderboard(ranked, statuses))


def _what_to_change(status: str) -> str:
    if "min_cv_r2" in status:
        return "to accept it, lower (or remove) gates.min_cv_r2"
    if "beats baseline" in status:
        return "to accept it, lower gates.min_improvement"
    return "add candidates or check gates.baseline"
