"""Ranking candidates by CV R², deterministic tie-breaking, and the quality gates."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from trainer.config import Recipe
from trainer.errors import GateError
from trainer.search import CandidateResult, param_label

TIE_DECIMALS = 10


@dataclass(frozen=True)
class Selection:
    """The winner, the baseline it beat, and the full ranked leaderboard."""

    winner: CandidateResult
    baseline: CandidateResult
    leaderboard: pd.DataFrame


def rank(results: list[CandidateResult]) -> list[CandidateResult]:
    """Highest mean CV R² first; ties go to the simpler model, then to the name."""
    return sorted(results, key=lambda r: (-round(r.cv_r2_mean, TIE_DECIMALS), r.complexity, r.name))


def gate_status(result: CandidateResult, baseline: CandidateResult, recipe: Recipe) -> str:
    """`passed`, or why this candidate may not be selected."""
    if result.name == baseline.name:
        return "baseline"
    if result.cv_r2_mean < recipe.min_cv_r2:
        return f"rejected: cv_r2 {result.cv_r2_mean:.4f} < min_cv_r2 {recipe.min_cv_r2}"
    margin = result.cv_r2_mean - baseline.cv_r2_mean
    if margin < recipe.min_improvement:
        return f"rejected: beats baseline by {margin:.4f} < {recipe.min_improvement}"
    return "passed"


def leaderboard(ranked: list[CandidateResult]) -> pd.DataFrame:
    """One row per candidate, in rank order."""
    return pd.DataFrame(
        {
            "rank": range(1, len(ranked) + 1),
            "candidate": [r.name for r in ranked],
            "cv_r2_mean": [round(r.cv_r2_mean, 6) for r in ranked],
            "cv_r2_std": [round(r.cv_r2_std, 6) for r in ranked],
            "grid_size": [r.grid_size for r in ranked],
            "fit_seconds": [round(r.fit_seconds, 2) for r in ranked],
            "status": [r.status for r in ranked],
            "best_params": [param_label(r.best_params) for r in ranked],
        }
    )


def select(results: list[CandidateResult], recipe: Recipe) -> Selection:
    """Pick the best candidate that passes both gates, or raise GateError (exit 3)."""
    by_name = {r.name: r for r in results}
    baseline = by_name[recipe.baseline]
    ranked = rank(results)
    for r in ranked:
        r.status = gate_status(r, baseline, recipe)
    passing = [r for r in ranked if r.status == "passed"]
    board = leaderboard(ranked)
    if not passing:
        best = next((r for r in ranked if r.name != baseline.name), baseline)
        error = GateError(
            f"no candidate passed the quality gates: best was '{best.name}' with CV R² "
            f"{best.cv_r2_mean:.4f} (min_cv_r2 {recipe.min_cv_r2}, baseline "
            f"'{baseline.name}' {baseline.cv_r2_mean:.4f} + {recipe.min_improvement})"
        )
        error.leaderboard = board
        raise error
    winner = passing[0]
    winner.status = "selected"
    board.loc[board["candidate"] == winner.name, "status"] = "selected"
    return Selection(winner=winner, baseline=baseline, leaderboard=board)
