"""The search step as the user sees it: every candidate searched in turn, each recorded as a child
run with a progress line as it finishes; those the time budget left out are named."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from trainer import record
from trainer.errors import GateError
from trainer.progress import Progress
from trainer.search import planned_count, search_all

if TYPE_CHECKING:
    from mlflow.entities import Run

    from trainer.candidates import CandidateSpec
    from trainer.config import Recipe
    from trainer.plan import SearchPlan
    from trainer.results import CandidateResult
    from trainer.timing import PhaseTimer

log = logging.getLogger(__name__)


def searched(
    specs: list[CandidateSpec], recipe: Recipe, plan: SearchPlan, run: Run, timer: PhaseTimer
) -> list[CandidateResult]:
    """Every candidate's search, each recorded as a child run with a progress line as it finishes."""
    total = planned_count(specs, recipe)
    results = []
    with Progress("search", total) as progress:
        for i, result in enumerate(search_all(specs, recipe, plan), 1):
            progress.advance(result.name)
            results.append(_logged(i, total, result, run, timer))
    return scored(results, recipe)


def scored(results: list[CandidateResult], recipe: Recipe) -> list[CandidateResult]:
    """The candidates that were scored; those the time budget left out are named on the parent run.
    Without its baseline the gates cannot be judged (exit 3)."""
    left_out = [r.name for r in results if r.skipped]
    if left_out:
        record.skipped(left_out)
    kept = [r for r in results if not r.skipped]
    if recipe.gates.baseline not in {r.name for r in kept}:
        raise GateError(
            f"the time budget of {recipe.search.time_budget:.0f} s ended before the baseline "
            f"'{recipe.gates.baseline}' was scored: give --time-budget (or search.time_budget in "
            f"{recipe.path}) more seconds"
        )
    return kept


def _logged(i: int, total: int, result: CandidateResult, run: Run, timer: PhaseTimer) -> CandidateResult:
    """One candidate's child run, and its progress line `[ k/N] name ... cv_r2 ...`."""
    timer.add(f"search: {result.name}", result.fit_seconds)
    with timer.phase("logging"):
        record.candidate(result, run)
    if result.skipped:
        log.info("[%2d/%d] %-22s %s", i, total, result.name, result.skipped)
        return result
    log.info(
        "[%2d/%d] %-22s grid %3d  cv_%s %.4f ± %.4f  %6.1f s",
        i,
        total,
        result.name,
        result.grid_size,
        result.metric,
        result.cv_mean,
        result.cv_std,
        result.fit_seconds,
    )
    return result
