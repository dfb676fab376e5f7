"""Dataset lineage when two runs of one experiment log the same dataset at the same moment: the
store's key clash is recognised, and logging again links the other run's dataset.

(integration layer)"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import init_store, sha256, using_store
from mlflow.exceptions import MlflowException

from trainer.tracking.lineage import logged_despite_a_concurrent_run


@dataclass
class StaleLookups:
    """The store's dataset lookups as they are, except `stale` ones answered as before the winner's
    insert was committed (nothing found); `seen` counts every dataset lookup."""

    stale: int = 0
    seen: int = 0


@pytest.fixture
def dataset_lookups(monkeypatch: pytest.MonkeyPatch) -> StaleLookups:
    from mlflow.store.tracking.dbmodels.models import SqlDataset
    from sqlalchemy.orm import Query

    real_all, lookups = Query.all, StaleLookups()

    def looked_up_before_the_winner_committed(query: Query[Any]) -> list[Any]:
        if query.column_descriptions[0]["entity"] is SqlDataset:
            lookups.seen += 1
            if lookups.stale:
                lookups.stale -= 1
                return []
        return real_all(query)

    monkeypatch.setattr(Query, "all", looked_up_before_the_winner_committed)
    return lookups


def test_a_run_that_lost_the_race_links_the_other_runs_dataset(
    tmp_path: Path, dataset_lookups: StaleLookups
) -> None:
    """The real store's clash, made deterministic: the losing run's lookup ran before the winner's
    insert was committed, so it inserts the same dataset again and the key refuses it."""
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    db = tmp_path / "race.db"
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.5, 1.5, 2.5]})
    dataset = from_pandas(frame, source=str(tmp_path / "data.csv"), targets="y", name="data.csv")
    with using_store(init_store(db, ["race"])) as client:
        found = client.get_experiment_by_name("race")
        assert found is not None
        experiment = found.experiment_id
        # the client, not the fluent API: no active experiment or run of this process is involved
        as_input = [DatasetInput(dataset._to_mlflow_entity(), [InputTag(MLFLOW_DATASET_CONTEXT, "training")])]
        winner, loser = (client.create_run(experiment).info.run_id for _ in range(2))
        client.log_inputs(winner, as_input)

        dataset_lookups.stale = 1
        with pytest.raises(MlflowException, match="UNIQUE constraint failed: datasets"):
            client.log_inputs(loser, as_input)  # what MLflow alone does
        dataset_lookups.stale, dataset_lookups.seen = 1, 0
        logged_despite_a_concurrent_run(lambda: client.log_inputs(loser, as_input), "data.csv")
        assert dataset_lookups.seen == 2  # the clash, then one more attempt that links

        for run_id in (winner, loser):
            inputs = client.get_run(run_id).inputs
            assert inputs is not None
            assert [(i.dataset.name, i.dataset.digest) for i in inputs.dataset_inputs] == [
                ("data.csv", dataset.digest)
            ]
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from datasets").fetchone() == (1,)


def test_a_training_that_loses_the_race_for_its_data_still_trains(
    sqlite_store: str,
    sample_csv: Path,
    small_recipe: Path,
    dataset_lookups: StaleLookups,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The contract's lineage goes through the retry: another run logged the same data first."""
    import logging

    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput

    from trainer.cli.main import main

    client = MlflowClient()
    found = client.get_experiment_by_name("test-small")
    assert found is not None
    winner = client.create_run(found.experiment_id).info.run_id
    digest = sha256(sample_csv)[:32]  # the contract's dataset: the file's name and digest
    client.log_inputs(winner, [DatasetInput(Dataset(sample_csv.name, digest, "local", "{}"))])
    dataset_lookups.stale = 1
    caplog.set_level(logging.INFO, logger="trainer")
    args = ["train", "--data", str(sample_csv), "--recipe", str(small_recipe), "--no-register"]
    assert main(args) == 0
    assert dataset_lookups.stale == 0 and "was logged by another run at the same moment" in caplog.text
