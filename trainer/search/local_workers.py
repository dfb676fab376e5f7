"""The worker processes the fits run on: started in the background as soon as the recipe is read, so
the leakage detector and the search find them ready (joblib's reusable loky pool, one per process);
and work handed to a background thread."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)
T = TypeVar("T")

# Starting the pool costs each worker its imports (scikit-learn, the boosters: the first candidate
# waited 2.6 s for them in a default run), paid by the first parallel step while the main process
# waited. Started as soon as the command line's recipe is read (before the training's own imports,
# the store check and the contract), the workers import on the core the main process leaves idle.

# what each worker imports before its first fit, with the candidates' own libraries
MODULES = ("trainer.search.folds", "trainer.data.features", "trainer.leakage.detector", "sklearn.ensemble")


class WarmUp:
    """Worker processes being started in a background thread; `wait()` before the first parallel
    step (and on the way out, so no thread outlives the training). `pids`: the workers that ran
    the warm-up."""

    def __init__(self, thread: threading.Thread | None = None) -> None:
        self._thread = thread
        self.pids: list[int] = []

    def wait(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.join()
        with _lock:
            self._thread = None
            for key in [key for key, warm in _pending.items() if warm is self]:
                del _pending[key]

    close = wait  # `contextlib.closing(warm)`: waited for however the training ends

    @property
    def starting(self) -> bool:
        return self._thread is not None


# the warm-up started and not yet waited for, by n_jobs: `warm_up` hands it to a second caller in
# this process (the command line starts it before importing the training, which asks again)
_pending: dict[int, WarmUp] = {}
_lock = threading.Lock()


def local_pool() -> bool:
    """Whether joblib runs this thread's parallel work on local loky processes (not Dask, threads)."""
    from joblib._parallel_backends import LokyBackend
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()  # the main thread's: a parallel_config is per thread
    return isinstance(backend, LokyBackend)


def warm_up(
    n_jobs: int, factories: Sequence[Callable[[], object]], modules: Sequence[str] = MODULES
) -> WarmUp:
    """Start joblib's local worker processes and have each import `modules` and the candidates'
    libraries (calling their estimator `factories`). Nothing to do for one worker or another
    backend (Dask: its workers are already running). One started for the same `n_jobs` and not
    yet waited for is returned as it is."""
    from joblib import effective_n_jobs

    if not local_pool() or effective_n_jobs(n_jobs) < 2:
        return WarmUp()
    with _lock:
        started = _pending.get(n_jobs)
        if started is not None and started.starting:
            return started
        warm = _pending[n_jobs] = WarmUp()
        args = (n_jobs, effective_n_jobs(n_jobs), factories, modules, warm.pids)
        warm._thread = threading.Thread(target=_start, args=args, name="trainer-warm-up", daemon=True)
        warm._thread.start()
    return warm


@contextlib.contextmanager
def waited_on_failure(warm: WarmUp) -> Iterator[None]:
    """Wait for the warm-up if the block fails: its head start ends with the failure, not after."""
    try:
        yield
    except BaseException:
        warm.wait()
        raise


def warm_up_for(recipe_path: Path, schema_path: Path) -> None:
    """`warm_up` for a recipe file, from the command line before the training's imports (2.7 s on
    one core, during which the workers import on the other); the training takes the workers over.
    Only the recipe's `n_jobs` and candidate names are read here: checking the grids (the training
    does) builds every estimator, 2.2 s of imports before the workers would start. A recipe that
    cannot be read starts nothing: the training reports it."""
    from trainer.catalogue.classifiers import catalogue, task_of
    from trainer.data.schema import task_kind
    from trainer.errors import TrainerError
    from trainer.recipe.settings import load_recipe

    try:
        recipe = load_recipe(recipe_path)
    except TrainerError:
        return
    known = catalogue(task_of(task_kind(schema_path), recipe.candidates))
    warm_up(recipe.n_jobs, [known[name].make for name in recipe.candidates if name in known])


def _start(
    n_jobs: int,
    workers: int,
    factories: Sequence[Callable[[], object]],
    modules: Sequence[str],
    pids: list[int],
) -> None:
    from joblib import Parallel, delayed

    try:
        pids += Parallel(n_jobs=n_jobs)(delayed(_imported)(factories, modules) for _ in range(workers))
    except BaseException as exc:  # noqa: BLE001 - only a head start (even a Ctrl-C the workers saw): the main thread reports
        log.debug("warming up the worker processes failed: %s", exc)


def _imported(factories: Sequence[Callable[[], object]], modules: Sequence[str]) -> int:
    for module in modules:
        importlib.import_module(module)
    for make in factories:
        wrapped = getattr(make(), "wrapped_library", "")  # an adapter imports its library only to fit
        if wrapped:
            importlib.import_module(wrapped)
    return os.getpid()


def in_background(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start `fn(*args)` in a daemon thread with this thread's joblib backend and one-thread native
    libraries (both are per thread); the returned function waits for its result or raises its
    error. A thread nobody waits for (after a signal) never delays the process's exit."""
    from joblib import parallel_config
    from joblib.parallel import get_active_backend
    from threadpoolctl import threadpool_limits

    backend, _ = get_active_backend()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            with parallel_config(backend=backend), threadpool_limits(limits=1):
                outcome["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="trainer-background", daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result
