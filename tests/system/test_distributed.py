"""Dask: CV fits on a cluster give exactly the local results; a bad scheduler fails fast.

(system layer)"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from dask.distributed import LocalCluster
from helpers import RAW_CSV, SCHEMA, sha256

from trainer.cli.main import main
from trainer.errors import EXIT_ERROR, EXIT_OK, TrainerError
from trainer.search import dask_workers as distributed

pytest.importorskip("dask.distributed")


def train(data: Path, recipe: Path, *extra: str) -> int:
    return main(
        [
            "train",
            "--no-register",
            "--data",
            str(data),
            "--schema",
            str(SCHEMA),
            "--recipe",
            str(recipe),
            *extra,
        ]
    )


@pytest.fixture
def dask_recipe(make_recipe: Callable[..., Path]) -> Path:
    """dummy, linear, ridge (alpha 1, 10); 3 folds; n_jobs 2; min_cv_r2 0.3, min_improvement 0.05."""
    return make_recipe(n_jobs=2)


@pytest.fixture
def cluster() -> Iterator[Any]:
    """Two single-threaded in-process workers; the joblib backend is restored afterwards."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        try:
            yield c
        finally:
            distributed.stop_dask()


def _record(run: Any) -> dict[str, Any]:
    """What must not depend on where the fits ran: leaderboard, every fold score, winner, digest."""
    client = mlflow.MlflowClient()
    board = pd.read_csv(
        mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/leaderboard/leaderboard.csv")
    )
    folds = {}
    for child in client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    ):
        cv = pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{child.info.run_id}/cv_results.csv"))
        cols = sorted(c for c in cv.columns if c.startswith("split") and c.endswith("_test_score"))
        folds[child.info.run_name] = cv[["params", *cols, "mean_test_score", "std_test_score"]].to_dict(
            "list"
        )
    return {
        "leaderboard": board.drop(columns=["fit_seconds"]).to_dict("list"),
        "folds": folds,
        "winner": run.data.tags["selected_candidate"],
        "best_params": run.data.tags["best_params"],
        "feature_digest": run.data.tags["feature_digest"],
        "best_cv_r2": run.data.metrics["best_cv_r2"],
        "test_r2": run.data.metrics["test_r2"],
    }


def test_dask_run_matches_the_local_run_exactly(
    sqlite_store: str,
    sample_csv: Path,
    dask_recipe: Path,
    cluster: Any,
    all_runs: Callable[..., list[Any]],
) -> None:
    raw_before = sha256(RAW_CSV)
    assert train(sample_csv, dask_recipe) == EXIT_OK
    assert distributed.active_scheduler() is None

    assert train(sample_csv, dask_recipe, "--dask-scheduler", cluster.scheduler_address) == EXIT_OK
    assert distributed.active_scheduler() == cluster.scheduler_address

    # the fits really ran on the workers, not in this thread's default (loky) backend
    executed = sum(w.state.executed_count for w in cluster.workers.values())
    assert executed >= 4, executed
    prefixes = set(cluster.scheduler.task_prefixes)
    assert any("fit_fold" in prefix for prefix in prefixes), prefixes  # the search's CV fits
    assert not any("cv_r2" in prefix for prefix in prefixes), "the leakage detector's fits stay local"

    dask_run, local_run = all_runs("tags.trainer_command = 'train'")  # newest first
    assert dask_run.info.status == local_run.info.status == "FINISHED"
    local, remote = _record(local_run), _record(dask_run)
    assert local["winner"] in {"linear", "ridge"}
    assert set(local["folds"]) == {"dummy", "linear", "ridge"}
    assert remote == local  # exact: same floats, same winner, same feature digest
    assert sha256(RAW_CSV) == raw_before


def test_stop_dask_restores_the_local_backend(cluster: Any) -> None:
    from joblib.parallel import get_active_backend

    distributed.use_dask(cluster.scheduler_address)
    assert type(get_active_backend()[0]).__name__ == "DaskDistributedBackend"
    distributed.stop_dask()
    assert type(get_active_backend()[0]).__name__ != "DaskDistributedBackend"
    assert distributed.active_scheduler() is None


def test_unreachable_scheduler_exits_1_fast_with_one_line_and_no_runs(
    sqlite_store: str,
    sample_csv: Path,
    dask_recipe: Path,
    all_runs: Callable[..., list[Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert train(sample_csv, dask_recipe, "--dask-scheduler", "tcp://127.0.0.1:1") == EXIT_ERROR

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    # fast: the refused port was seen by the first plain connect (its errno), not after dask's own
    # connect had retried it until its timeout
    assert errors[0] == "dask scheduler tcp://127.0.0.1:1 is unreachable: Connection refused"
    assert "\n" not in errors[0]
    assert all_runs() == []  # failed before the parent run, so no child runs either
    assert distributed.active_scheduler() is None


def test_scheduler_from_the_environment(
    sqlite_store: str,
    sample_csv: Path,
    dask_recipe: Path,
    monkeypatch: pytest.MonkeyPatch,
    all_runs: Callable[..., list[Any]],
) -> None:
    monkeypatch.setenv("TRAINER_DASK_SCHEDULER", "tcp://127.0.0.1:1")
    assert train(sample_csv, dask_recipe) == EXIT_ERROR
    assert all_runs() == []


def test_a_port_that_is_not_a_dask_scheduler_fails_within_the_timeout() -> None:
    """An HTTP server (e.g. the MLflow port by mistake) must not hang the trainer forever."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        # the message proves the handshake timeout fired; result()'s timeout is only a hang guard
        pool = ThreadPoolExecutor(1)
        attempt = pool.submit(distributed.use_dask, address, timeout=1.0)
        with pytest.raises(TrainerError, match=r"is unreachable: no Dask handshake within 1 s"):
            attempt.result(timeout=120)
        pool.shutdown(wait=False)
    finally:
        for conn in accepted:
            conn.close()
        server.close()


def test_package_zip_is_importable_and_has_the_same_digest(tmp_path: Path) -> None:
    local = distributed.local_environment()
    archive = distributed.package_zip(tmp_path, local["trainer_digest"])
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import trainer, trainer.errors; "
        "from trainer.search.dask_workers import local_environment as env; "
        "print(trainer.__file__); print(env()['trainer_digest'])"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code, str(archive)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0].startswith(str(archive))
    assert out[1] == local["trainer_digest"]
