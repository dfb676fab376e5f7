"""Shared by the unit and integration tests of monitoring: a small regressor and a small classifier
trained and registered once per module, and the holdout each version was scored on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import RAW_CSV, SCHEMA, init_store, using_store, write_recipe
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

from support.classification import CREDIT_CSV, CREDIT_SCHEMA, credit_recipe
from trainer.data.schema import load_schema
from trainer.data.split import Split, canonical_order, split_data
from trainer.recipe.settings import load_recipe

EXPERIMENT = "test-small"
ROWS = 800  # a holdout of 160: its prediction profile is steady enough for PSI at 0.2
NO_LEAKAGE = {"enabled": False}


@dataclass(frozen=True)
class Trained:
    """One registered version and where it came from."""

    uri: str
    model: str
    csv: Path
    frame: pd.DataFrame
    unseen: pd.DataFrame  # rows of the same source the model never saw
    schema: Path
    recipe: Path
    root: Path

    def holdout(self) -> tuple[pd.Series, Split]:
        """The identifiers of the holdout rows, in the order of the split's X_test, and the split."""
        schema, recipe = load_schema(self.schema), load_recipe(self.recipe)
        canonical = canonical_order(self.frame, schema)
        split = split_data(canonical, schema, recipe.split)
        kind = StratifiedShuffleSplit if schema.task == "classification" else ShuffleSplit
        splitter = kind(1, test_size=recipe.split.test_size, random_state=recipe.split.random_state)
        _, test = next(splitter.split(canonical, canonical[schema.target]))
        return canonical.iloc[np.sort(test)][schema.identifiers[0]].reset_index(drop=True), split


def _samples(source: Path, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(source)
    picked = frame.sample(2 * ROWS, random_state=seed)
    return picked.iloc[:ROWS].reset_index(drop=True), picked.iloc[ROWS:].reset_index(drop=True)


def _trained(root: Path, model: str, source: Path, schema: Path, recipe: Path) -> Trained:
    from trainer.pipeline import run_train

    frame, unseen = _samples(source, seed=3)
    csv = root / f"{model}.csv"
    frame.to_csv(csv, index=False)
    outcome = run_train(csv, schema, recipe)
    assert outcome.model_version == f"models:/{model}/1"
    return Trained(outcome.model_version, model, csv, frame, unseen, schema, recipe, root)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Trained]]:
    """One store for the module, holding two registered versions: `regressor` (dummy, linear, ridge on
    800 rows of the default data) and `classifier` (dummy and logistic on 800 rows of the credit data)."""
    root = tmp_path_factory.mktemp("monitoring")
    regression = write_recipe(root / "regressor.yaml", EXPERIMENT, "monitor-regressor", leakage=NO_LEAKAGE)
    classification = credit_recipe(root / "classifier.yaml", "monitor-classifier", leakage=NO_LEAKAGE)
    with using_store(init_store(root / "mlflow.db", [EXPERIMENT])):
        yield {
            "regressor": _trained(root, "monitor-regressor", RAW_CSV, SCHEMA, regression),
            "classifier": _trained(root, "monitor-classifier", CREDIT_CSV, CREDIT_SCHEMA, classification),
        }
