"""Dask: CV fits on a cluster give exactly the local results; a bad scheduler fails fast.

(unit layer)"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from trainer.errors import TrainerError
from trainer.search import dask_workers as distributed

pytest.importorskip("dask.distributed")


class FakeClient:
    """Stands in for a Client whose workers report `envs` (and accept an upload)."""

    def __init__(self, envs: list[dict[str, Any]], after_upload: list[dict[str, Any]] | None = None) -> None:
        self.envs, self.after_upload, self.uploaded = envs, after_upload, []

    def run(self, fn: Callable[..., Any], *args: Any) -> dict[str, dict[str, Any]]:
        envs = self.after_upload if self.uploaded and self.after_upload else self.envs
        return {f"tcp://10.0.0.{i}:1": env for i, env in enumerate(envs)}

    def upload_file(self, filename: str, load: bool = True) -> None:
        with zipfile.ZipFile(filename) as zf:
            self.uploaded.append(sorted(zf.namelist()))


def test_workers_with_other_library_versions_are_refused() -> None:
    local = distributed.local_environment()
    other = {**local, "versions": {**local["versions"], "scikit-learn": "0.0.1"}}
    with pytest.raises(TrainerError, match=r"has scikit-learn 0\.0\.1, this process .*requirements\.txt"):
        distributed.check_workers(FakeClient([local, other]), local)


def test_workers_with_another_trainer_checkout_are_refused() -> None:
    local = distributed.local_environment()
    with pytest.raises(TrainerError, match="imports a different trainer"):
        distributed.check_workers(FakeClient([{**local, "trainer_digest": "f" * 64}]), local)


def test_workers_without_trainer_get_this_checkout_uploaded() -> None:
    local = distributed.local_environment()
    client = FakeClient([{**local, "trainer_digest": None}], after_upload=[local])
    assert distributed.check_workers(client, local) == {"tcp://10.0.0.0:1": local}
    assert len(client.uploaded) == 1
    assert {
        "trainer/__init__.py",
        "trainer/search/dask_workers.py",
        "trainer/search/candidate_search.py",
    } <= set(client.uploaded[0])
