"""The run `mlflow run` opens before a command that records no run of its own (`promote`, which
records on the model version): named after what the command did, tagged with it, and described,
with the reason when it failed, so it is not left as an anonymous run in the launcher's experiment."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from trainer.errors import failure_reason
from trainer.text import md

log = logging.getLogger(__name__)


@contextmanager
def described_launcher_run(title: str, tags: Mapping[str, str], done: str) -> Iterator[dict[str, str]]:
    """Under `mlflow run`, its run is renamed `title`, tagged with `tags` and with what the block adds
    to the dict it is given, and described by `done` once the block ends (or by `**FAILED**:` and
    the reason, also in `failure_reason`); elsewhere, nothing is written."""
    learned: dict[str, str] = {}
    launched = os.environ.get("MLFLOW_RUN_ID")
    if not launched:
        yield learned
        return
    try:
        yield learned
    except BaseException as exc:
        reason = failure_reason(exc)
        _describe(launched, title, {**tags, **learned, "failure_reason": reason}, f"**FAILED**: {md(reason)}")
        raise
    _describe(launched, title, {**tags, **learned}, done)


def _describe(run_id: str, title: str, tags: Mapping[str, str], note: str) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import RunTag

    try:
        client = MlflowClient()
        described = {**tags, "mlflow.note.content": note}
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in described.items()])
        client.update_run(run_id, name=title)
    except Exception as exc:  # noqa: BLE001 - the command's own outcome stands
        log.warning("could not describe the run `mlflow run` opened (%s): %s", run_id, exc)
