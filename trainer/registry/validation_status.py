"""A training's model version is `passed` last or not at all.

The version is created `pending`; `validation_status=passed` is the very last write of a training,
after everything else (timings, closing the run). Any failure or signal before that withdraws every
version the run created: deleted, or at least tagged `failed`, and the run is left FAILED.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainer.registry.audit import VALIDATION_TAG, parse_model_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

RUN_TAGS = ("registered_model", "registered_version")
OPEN_RUN = ("RUNNING", "SCHEDULED", "FINISHED")


@dataclass
class Registration:
    """What the guard needs: the run that may create a version (set before it can), and its URI."""

    run_id: str | None = None
    uri: str | None = None


@contextmanager
def passed_last() -> Iterator[Registration]:
    """Mark the version `passed` after the block (the run closed); withdraw it on any exception."""
    registration = Registration()
    try:
        yield registration
        if registration.uri is not None:
            mark_passed(registration.uri)
    except BaseException as exc:
        if registration.run_id is not None:
            withdraw_run_versions(registration.run_id, exc)
        raise


def mark_passed(uri: str) -> None:
    from mlflow import MlflowClient

    name, version, _ = parse_model_uri(uri)
    MlflowClient().set_model_version_tag(name, str(version), VALIDATION_TAG, "passed")


def withdraw_run_versions(run_id: str, exc: BaseException) -> None:
    """Withdraw every version the run created that is not already withdrawn; fail the run."""
    from mlflow import MlflowClient

    client = MlflowClient()
    try:
        found = client.search_model_versions(f"run_id = '{run_id}'")
    except Exception as err:  # noqa: BLE001 - a version we cannot find stays `pending`: never promotable
        log.error("registration failed: could not look up the versions of run %s (%s)", run_id, err)
        return
    for mv in found:
        if mv.tags.get(VALIDATION_TAG) != "failed":
            withdraw(client, mv.name, str(mv.version), logged_model_id(mv))
    _fail_run(client, run_id, exc)


def logged_model_id(mv: ModelVersion) -> str | None:
    """The logged model a version was made from: its `model_id`, or (a store that does not keep it)
    the id in its source `models:/m-...`."""
    source = str(mv.source or "")
    return getattr(mv, "model_id", None) or (
        source.removeprefix("models:/") if source.startswith("models:/m-") else None
    )


def withdraw(client: MlflowClient, name: str, version: str, model_id: str | None) -> None:
    """Leave no version that looks valid: delete it, or at least mark it failed."""
    from trainer.registry.register import unlink_logged_model

    try:
        client.set_model_version_tag(name, version, VALIDATION_TAG, "failed")
        client.delete_model_version(name, version)
    except Exception as exc:  # noqa: BLE001 - the tag above already marks it failed
        log.error("registration failed: version %s of %s marked failed (%s)", version, name, exc)
        return
    log.error("registration failed: version %s of %s withdrawn", version, name)
    if model_id:
        unlink_logged_model(client, model_id, name, version)


def _fail_run(client: MlflowClient, run_id: str, exc: BaseException) -> None:
    """The run names no withdrawn version, and is FAILED (KILLED on Ctrl-C) even if it had closed."""
    from trainer.errors import failure_reason

    try:
        run = client.get_run(run_id)
        for key in RUN_TAGS:
            if key in run.data.tags:
                client.delete_tag(run_id, key)
        if run.info.status in OPEN_RUN:
            if "failure_reason" not in run.data.tags:
                client.set_tag(run_id, "failure_reason", failure_reason(exc))
            client.set_terminated(run_id, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
    except Exception as err:  # noqa: BLE001 - never mask the original failure
        log.warning("could not record the failure on run %s: %s", run_id, err)
