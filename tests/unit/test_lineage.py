"""Dataset lineage when two runs of one experiment log the same dataset at the same moment: the
store's key clash is recognised, and logging again links the other run's dataset.

(unit layer)"""

from __future__ import annotations

from typing import Any

import pytest
from mlflow.exceptions import MlflowException

from trainer.tracking.lineage import ATTEMPTS, is_dataset_key_clash, logged_despite_a_concurrent_run

POSTGRES_CLASH = (
    "BAD_REQUEST: (psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "
    '"dataset_pk"\nDETAIL:  Key (experiment_id, name, digest)=(2, sample.csv, 4e0c) already exists.'
)


def _wrapped(inner: BaseException) -> BaseException:
    try:
        raise RuntimeError("while logging inputs") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("error", "clash"),
    [
        (MlflowException(POSTGRES_CLASH), True),
        (
            MlflowException(
                "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, "
                "datasets.name, datasets.digest"
            ),
            True,
        ),
        (MlflowException("Duplicate entry '2-sample.csv-4e0c' for key 'datasets.PRIMARY'"), True),
        (_wrapped(MlflowException(POSTGRES_CLASH)), True),
        (MlflowException("database is locked"), False),
        (MlflowException('duplicate key value violates unique constraint "registered_model_pk"'), False),
        (ValueError("bad digest"), False),
    ],
)
def test_only_a_dataset_key_clash_is_recognised(error: BaseException, clash: bool) -> None:
    assert is_dataset_key_clash(error) is clash


def test_a_clash_is_logged_again_and_other_errors_are_not() -> None:
    calls: list[int] = []

    def clashes_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise MlflowException(POSTGRES_CLASH)
        return "linked"

    assert logged_despite_a_concurrent_run(clashes_once, "sample.csv") == "linked"
    assert len(calls) == 2

    def always(error: Exception) -> Any:
        def call() -> None:
            calls.append(1)
            raise error

        return call

    calls.clear()
    with pytest.raises(MlflowException, match="database is locked"):
        logged_despite_a_concurrent_run(always(MlflowException("database is locked")), "x")
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(MlflowException, match="dataset_pk"):
        logged_despite_a_concurrent_run(always(MlflowException(POSTGRES_CLASH)), "x")
    assert len(calls) == ATTEMPTS
