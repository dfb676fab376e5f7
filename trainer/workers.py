"""The worker processes the fits run on: started in the background while the contract runs, so the
leakage detector and the search find them ready (joblib's reusable loky pool, one per process)."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

# what each worker imports before its first fit, with the candidates' own libraries
MODULES = ("trainer.folds", "trainer.features", "trainer.leakage", "sklearn.ensemble")

# Starting the pool costs each worker its imports (scikit-learn, the boosters: about 2 s on the
# 2-core host), paid by the first parallel step while the main process waited. Started before the
# contract, the workers import on the core the contract leaves idle.


class WarmUp:
    """Worker processes being started in a background thread; `wait()` before the first parallel
    step (and on the way out, so no thread outlives the training)."""

    def __init__(self, thread: threading.Thread | None = None) -> None:
        self._thread = thread

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    close = wait  # `contextlib.closing(warm)`: waited for however the training ends


def warm_up(
    n_jobs: int, factories: Sequence[Callable[[], object]], modules: Sequence[str] = MODULES
) -> WarmUp:
    """Start joblib's local worker processes and have each import `modules` and call `factories`
    (the candidates' estimator factories: their libraries are imported). Nothing to do for one
    worker or another backend (Dask: its workers are already running)."""
    from joblib import effective_n_jobs
    from joblib._parallel_backends import LokyBackend
    from joblib.parallel import get_active_backend

    workers = effective_n_jobs(n_jobs)
    backend, _ = get_active_backend()  # the main thread's: a parallel_config is per thread
    if workers < 2 or not isinstance(backend, LokyBackend):
        return WarmUp()
    thread = threading.Thread(
        target=_start, args=(n_jobs, workers, factories, modules), name="trainer-warm-up", daemon=True
    )
    thread.start()
    return WarmUp(thread)


def _start(
    n_jobs: int, workers: int, factories: Sequence[Callable[[], object]], modules: Sequence[str]
) -> None:
    from joblib import Parallel, delayed

    try:
        Parallel(n_jobs=n_jobs)(delayed(_imported)(factories, modules) for _ in range(workers))
    except Exception as exc:  # noqa: BLE001 - only a head start: the first parallel step reports any failure
        log.debug("warming up the worker processes failed: %s", exc)


def _imported(factories: Sequence[Callable[[], object]], modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(module)
    for make in factories:
        make()
