"""The worker processes: started in the background (or not at all for one worker or for Dask), reused
by the parallel steps that follow, and the leakage detector's scores the same on them as in one
process."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from joblib import Parallel, delayed, parallel_config

from trainer.catalogue.regressors import CATALOGUE
from trainer.leakage.detector import detect
from trainer.recipe.settings import LeakageSettings
from trainer.search.local_workers import WarmUp, warm_up


def test_one_worker_or_another_backend_starts_nothing() -> None:
    assert warm_up(1, [])._thread is None
    with parallel_config(backend="threading"):
        assert warm_up(2, [])._thread is None


def test_the_started_workers_are_the_ones_the_next_step_uses() -> None:
    warm = warm_up(2, [CATALOGUE["ridge"].make, CATALOGUE["catboost"].make])
    assert warm._thread is not None
    warm.wait()
    warm.wait()  # waiting twice (the training waits again on its way out) is harmless
    # (one worker may run both warm-up tasks when an earlier test left the pool already warm)
    started = _child_processes()
    assert len(warm.pids) == 2 and set(warm.pids) <= started and os.getpid() not in warm.pids
    used = set(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(8)))
    assert used <= started, "the next step starts no worker of its own"


def test_a_warm_up_not_yet_waited_for_is_handed_to_the_next_caller() -> None:
    # the command line starts the workers before the training's imports; the training asks again
    first = warm_up(2, [CATALOGUE["ridge"].make])
    assert warm_up(2, [CATALOGUE["ridge"].make]) is first
    first.wait()
    second = warm_up(2, [CATALOGUE["ridge"].make])
    assert second is not first, "once waited for, the next training starts (and waits for) its own"
    second.wait()


def test_a_failure_before_the_training_takes_the_workers_over_waits_for_them() -> None:
    from trainer.search import local_workers as workers

    warm = warm_up(2, [CATALOGUE["ridge"].make])
    with pytest.raises(RuntimeError, match="store unavailable"), workers.waited_on_failure(warm):
        raise RuntimeError("store unavailable")
    assert not warm.starting and warm not in workers._pending.values(), "nothing left for the next run"


def _child_processes() -> set[int]:
    import psutil

    return {child.pid for child in psutil.Process().children(recursive=True)}


def test_background_work_keeps_the_callers_backend_and_returns_or_raises() -> None:
    from trainer.search.local_workers import in_background

    with parallel_config(backend="threading"):
        done = in_background(lambda: Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(4)))
    assert set(done()) == {os.getpid()}, "threads of this process, as the caller asked"

    def broken() -> None:
        raise ValueError("bad column")

    with pytest.raises(ValueError, match="bad column"):
        in_background(broken)()


def test_a_failed_warm_up_is_only_a_lost_head_start() -> None:
    def broken() -> object:
        raise RuntimeError("no such library")

    warm = warm_up(2, [broken])
    warm.wait()  # logged at debug level, never raised: the first parallel step reports real failures
    assert isinstance(warm, WarmUp)


def test_leakage_scores_are_the_same_on_workers_as_in_one_process() -> None:
    rng = np.random.default_rng(1)
    n = 600
    a, b, c = rng.normal(size=(3, n))
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = a + 2 * b + c * (colour == "red") + rng.normal(size=n)
    X = pd.DataFrame({"a": a, "b": b, "c": c, "colour": colour})
    alone = detect(X, y, LeakageSettings(), n_jobs=1)
    parallel = detect(X, y, LeakageSettings(), n_jobs=2)
    pd.testing.assert_frame_equal(alone.table, parallel.table)
    assert alone.all_r2 == parallel.all_r2
