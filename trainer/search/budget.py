"""The time budget of a training run: when it ends, what the work left is estimated to cost, and
whether a candidate still fits in it (`search.time_budget` or `--time-budget`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainer.search.folds import FoldFit

# Kept back from the search for what follows it: selection, the holdout score and registration took
# 4-10 s of a default run on this 2-core machine; a tenth of the budget, at least this much.
MIN_RESERVE_SECONDS = 5.0
RESERVE_FRACTION = 0.1


@dataclass(frozen=True)
class Budget:
    """Seconds a run may take from `started` (perf_counter); no budget when `seconds` is None."""

    seconds: float | None = None
    started: float = 0.0
    workers: int = 1

    @property
    def limited(self) -> bool:
        return self.seconds is not None

    @property
    def deadline(self) -> float:
        """When the search must be done: the budget's end less the reserve for what follows it."""
        if self.seconds is None:
            return math.inf
        reserve = max(MIN_RESERVE_SECONDS, RESERVE_FRACTION * self.seconds)
        return self.started + self.seconds - reserve

    def left(self) -> float:
        """Seconds the search still has."""
        return self.deadline - time.perf_counter()

    def estimate(self, elapsed: float, probe: list[FoldFit], total: int, folds: int) -> float:
        """Seconds a candidate still needs: its remaining fits at the pace of its first ones, then
        the refit of its slowest fit on all training rows (folds/(folds-1) times the rows)."""
        remaining = total - len(probe)
        rounds = math.ceil(remaining / self.workers)
        pace = elapsed / max(1, math.ceil(len(probe) / self.workers))
        refit = max(f.fit_time for f in probe) * folds / max(1, folds - 1)
        return pace * rounds + refit

    def admits(self, seconds: float) -> bool:
        """Whether work estimated at `seconds` ends before the deadline."""
        return seconds <= self.left()

    def reason(self, seconds: float | None) -> str:
        """Why a candidate was skipped, in one line."""
        needs = "" if seconds is None else f"needs about {seconds:.0f} s more, "
        return f"skipped: {needs}{max(0.0, self.left()):.0f} s left of the {self.seconds:.0f} s time budget"
