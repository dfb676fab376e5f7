"""Faults: killed, terminated and interrupted trainings, concurrency, broken stores, secrets.

Every test works on its own SQLite store under tmp_path, seeded (once per module) with version 1
of a small model holding `champion`, so "nothing moved" is a real check. Trainings run as
`python -m trainer` subprocesses (venv first on PATH) so signals hit a real process.

(integration layer)"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from helpers import (
    train_runs,
    using_store,
    versions,
)
from mlflow import MlflowClient
from support.faults import (  # noqa: F401 (fixtures)
    EXPERIMENT,
    MODEL,
    RAW_DIGEST,
    Base,
    Store,
    assert_nothing_promoted,
    base,
    passed_versions,
    store,
    train_args,
)


class Boom(Exception):
    pass


def _raise(exc: BaseException) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fail


def _fail_closing_the_run(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """The store write that closes the run as FINISHED fails (mlflow.end_run has popped the run)."""
    set_terminated = MlflowClient.set_terminated

    def terminate(self: MlflowClient, run_id: str, status: str | None = None, **kwargs: Any) -> None:
        if status in (None, "FINISHED") and "registered_version" in self.get_run(run_id).data.tags:
            raise exc  # the parent run, after registration (child runs close normally)
        set_terminated(self, run_id, status, **kwargs)

    monkeypatch.setattr(MlflowClient, "set_terminated", terminate)


def _patch_window(window: str, exc: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    import trainer.recording.steps
    import trainer.registry.validation_status

    if window == "model-card":  # inside registration, after create_model_version
        monkeypatch.setattr(MlflowClient, "update_model_version", _raise(exc))
    elif window == "timings":  # after registration, the run still open
        monkeypatch.setattr(trainer.recording.steps, "timings", _raise(exc))
    elif window == "closing-the-run":
        _fail_closing_the_run(monkeypatch, exc)
    else:  # "marking-passed": the run has closed, the last write fails
        monkeypatch.setattr(trainer.registry.validation_status, "mark_passed", _raise(exc))


WINDOWS = ["model-card", "timings", "closing-the-run", "marking-passed"]


SIGNALS = {"error": (Boom("disk full"), 1, "FAILED"), "ctrl-c": (KeyboardInterrupt(), 130, "KILLED")}


@pytest.mark.parametrize("how", list(SIGNALS))
@pytest.mark.parametrize("window", WINDOWS)
def test_no_version_outlives_its_failed_run(
    window: str,
    how: str,
    store: Store,
    base: Base,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failure (or Ctrl-C) in any window after version 2 exists withdraws it and fails the run."""
    from trainer.cli.main import main

    exc, exit_code, status = SIGNALS[how]
    _patch_window(window, exc, monkeypatch)
    with using_store(store.uri):
        code = main(train_args(base))

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == exit_code, caplog.text[-3000:]
    assert errors[0] == f"registration failed: version 2 of {MODEL} withdrawn", errors
    assert [str(v.version) for v in versions(store.client, MODEL)] == ["1"]  # deleted
    assert_nothing_promoted(store)
    run = train_runs(store.client, EXPERIMENT)[0]
    assert run.info.status == status
    reason = run.data.tags["failure_reason"]
    assert reason == "KeyboardInterrupt" or re.fullmatch(
        r"(unexpected|MLflow) error: Boom: disk full", reason
    )
    assert "registered_version" not in run.data.tags and "registered_model" not in run.data.tags


def test_withdrawal_that_cannot_delete_leaves_the_version_failed(
    store: Store, base: Base, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import trainer.recording.steps
    from trainer.cli.main import main

    monkeypatch.setattr(trainer.recording.steps, "timings", _raise(Boom("disk full")))
    monkeypatch.setattr(MlflowClient, "delete_model_version", _raise(Boom("store read-only")))
    with using_store(store.uri):
        assert main(train_args(base)) == 1

    v2 = versions(store.client, MODEL)[1]
    assert v2.tags["validation_status"] == "failed"
    assert f"registration failed: version 2 of {MODEL} marked failed (store read-only)" in caplog.text
    assert_nothing_promoted(store)
