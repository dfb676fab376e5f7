"""The search step as the user sees it: every candidate searched in turn, each recorded as a child
run with a progress line as it finishes; those the time budget left out are named."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainer.errors import GateError, TrainerError, typed_line
from trainer.recording import steps as record
from trainer.search.candidate_search import planned_count, search_all
from trainer.text import code
from trainer.tracking.progress import Progress

if TYPE_CHECKING:
    from mlflow.entities import Run

    from trainer.catalogue.regressors import CandidateSpec
    from trainer.recipe.settings import Recipe
    from trainer.search.plan import SearchPlan
    from trainer.search.results import CandidateResult
    from trainer.tracking.timing import PhaseTimer

log = logging.getLogger(__name__)


class ChildRuns:
    """The candidates' child runs, written by one background thread while the search and the refit
    go on (the last candidates of a stream finish within a second of each other: their 1.3 s of
    store writes came after the search). `check()` raises a failure already known, `wait()` the
    first one. Once a write has failed the rest are not attempted: a store that refused one would
    keep each of the others waiting through its retries. Leaving the `with` block, before the parent
    run ends, waits for every write, also after a failure or a signal: each candidate searched
    before it keeps its run (a few tenths of a second each, as when they were written in turn); a
    second signal skips those not yet started, and a write that failed is named in a warning."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="trainer-child-runs")
        self._pending: list[tuple[str, Future[Any]]] = []
        self._failed = False

    def __enter__(self) -> ChildRuns:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            self._pool.shutdown(wait=True)
        except BaseException:  # a second signal while waiting: the writes not yet started are skipped
            self._failed = True
            raise
        if exc_type is not None:  # the training's own failure is reported; a lost write is named too
            for what, future in self._pending:
                error = future.exception()
                if error is not None:
                    log.warning("%s failed: %s", what, typed_line(error))
                    break

    def submit(self, what: str, fn: Any, *args: Any) -> None:
        """Run `fn(*args)` in the background, unless a write has failed; `what` names it in a failure."""
        self._pending.append((what, self._pool.submit(self._unless_failed, fn, *args)))

    def _unless_failed(self, fn: Any, *args: Any) -> None:
        if self._failed:
            return
        try:
            fn(*args)
        except BaseException:
            self._failed = True
            raise

    def check(self) -> None:
        """Raise the failure of a write that has already ended, if any."""
        for what, future in self._pending:
            if future.done():
                _result(what, future)

    def wait(self) -> None:
        pending, self._pending = self._pending, []
        for what, future in pending:
            _result(what, future)


@dataclass(frozen=True)
class ParentRun:
    """The training's parent MLflow run as the steps record into it: the run, the timer of its
    phases and the writer of its candidates' child runs (in the background)."""

    run: Run
    timer: PhaseTimer
    children: ChildRuns


def _result(what: str, future: Future[Any]) -> None:
    try:
        future.result()
    except Exception as exc:
        raise TrainerError(f"{what} failed: {typed_line(exc)}") from exc


def searched(
    specs: list[CandidateSpec],
    recipe: Recipe,
    plan: SearchPlan,
    run: Run,
    timer: PhaseTimer,
    children: ChildRuns,
) -> list[CandidateResult]:
    """Every candidate's search with a progress line as it finishes, each recorded as a child run
    by `children`."""
    total = planned_count(specs, recipe)
    results = []
    with Progress("search", total) as progress:
        for i, result in enumerate(search_all(specs, recipe, plan), 1):
            progress.advance(result.name)
            timer.add(f"search: {result.name}", result.fit_seconds)
            results.append(_logged(i, total, result, run, children))
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


def _logged(i: int, total: int, result: CandidateResult, run: Run, children: ChildRuns) -> CandidateResult:
    """One candidate's child run (in the background), and its progress line `[ k/N] name ... cv_r2 ...`."""
    children.submit(
        f"recording candidate '{result.name}' in the tracking store", record.candidate, result, run
    )
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


def mark_winner(winner: CandidateResult, baseline: CandidateResult, parent: Run) -> None:
    """The winning candidate's child run says so: tag `selected: true` and its description."""
    from mlflow import MlflowClient
    from mlflow.entities import RunTag

    client = MlflowClient()
    query = f"tags.mlflow.parentRunId = '{parent.info.run_id}' and tags.level = 'candidate'"
    note = (
        f"**Selected**: the winner of this training, CV {winner.metric} {winner.cv_mean:.4f} ± "
        f"{winner.cv_std:.4f} against the baseline {code(baseline.name)}'s {baseline.cv_mean:.4f}."
    )
    tags = [RunTag("selected", "true"), RunTag("mlflow.note.content", note)]
    for child in client.search_runs([parent.info.experiment_id], query):
        if child.data.tags.get("candidate") == winner.name:
            client.log_batch(child.info.run_id, tags=tags)  # one store write
