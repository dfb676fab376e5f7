"""Dataset lineage in MLflow: a dataset logged as a run's input, even when another run of the same
experiment logs the same dataset at the same moment."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from trainer.errors import causes

log = logging.getLogger(__name__)
T = TypeVar("T")

# MLflow's SQL store looks a dataset up by (experiment, name, digest) and inserts it when missing,
# in one transaction but without a lock: two runs of the same data that log it at once can both
# miss it, and the second insert breaks the key. Seen on PostgreSQL with two trainings started
# together (`duplicate key value violates unique constraint "dataset_pk"`). The transaction rolls
# back whole, and logging again finds the other run's row and links it.
DATASET_KEY_CLASHES = (
    "dataset_pk",  # the key's name: PostgreSQL, SQL Server
    "UNIQUE constraint failed: datasets.",  # SQLite
    "for key 'datasets.",  # MySQL 8
)
ATTEMPTS = 3


def is_dataset_key_clash(exc: BaseException) -> bool:
    """True when the store refused a dataset row because another run inserted the same one first."""
    text = " ".join(str(e) for e in causes(exc))
    return any(clash in text for clash in DATASET_KEY_CLASHES)


def logged_despite_a_concurrent_run(log_dataset: Callable[[], T], what: str) -> T:
    """Run a call that logs a dataset as an input, again when another run's identical dataset
    reached the store first (nothing of the failed attempt was written)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return log_dataset()
        except Exception as exc:
            if attempt == ATTEMPTS or not is_dataset_key_clash(exc):
                raise
            log.info("dataset %s was logged by another run at the same moment; linking that one", what)
    raise AssertionError("unreachable: the last attempt returns or raises")
