"""Wall-clock seconds per phase of a command, measured with a context manager."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class PhaseTimer:
    """Adds up wall seconds per named phase, in the order phases first ran."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block under `name` (repeated blocks add up)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> None:
        """Count `seconds` towards `name`."""
        self.phases[name] = self.phases.get(name, 0.0) + seconds

    def elapsed(self) -> float:
        """Seconds since the timer started."""
        return time.perf_counter() - self.started

    def with_total(self) -> dict[str, float]:
        """The phases and the total since the timer started."""
        return {**self.phases, "total": self.elapsed()}
