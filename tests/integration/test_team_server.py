"""The team tracking server (deploy/server.sh): PostgreSQL + `mlflow server`, used over HTTP only.

(integration layer: what the trainer does against a store that another process changes, in-process;
the server itself is tested in tests/system/test_team_server.py)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import init_store, using_store


def test_a_concurrently_created_experiment_is_still_the_active_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race two first trainings of a new experiment run into, made deterministic in-process."""
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service.client import TrackingServiceClient

    from trainer.tracking import runs as tracking

    with using_store(init_store(tmp_path / "race.db", [])) as client:
        other = client.create_experiment("raced")  # the other trainer won the race
        real = TrackingServiceClient.get_experiment_by_name
        calls: list[str] = []

        def looked_up_before_the_other_created_it(self: Any, name: str) -> Any:
            calls.append(name)
            return None if len(calls) == 1 else real(self, name)

        monkeypatch.setattr(
            TrackingServiceClient, "get_experiment_by_name", looked_up_before_the_other_created_it
        )
        try:
            tracking.use_experiment("raced")
            assert fluent._get_experiment_id() == other
        finally:
            monkeypatch.setattr(fluent, "_active_experiment_id", None)
