"""Shared by the unit, integration, system tests of faults: Base, EXPERIMENT, MODEL, RAW_DIGEST, SECRET, Store, assert_nothing_promoted, base, passed_versions, store, train_args."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import (
    RAW_CSV,
    SCHEMA,
    alias_version,
    init_store,
    raw_sample,
    sha256,
    using_store,
    versions,
    write_recipe,
)
from mlflow import MlflowClient

EXPERIMENT = "faults"


MODEL = "faults-model"


RAW_DIGEST = sha256(RAW_CSV)


@dataclass
class Base:
    db: Path
    csv: Path
    recipe: Path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """Version 1 trained, registered and promoted to `champion` once for the module."""
    from trainer.pipeline import run_train
    from trainer.registry.promote import PromotionRequest, promote

    root = tmp_path_factory.mktemp("faults-base")
    csv = root / "data.csv"
    raw_sample(600).to_csv(csv, index=False)
    recipe = write_recipe(root / "recipe.yaml", EXPERIMENT, MODEL)
    with using_store(init_store(root / "mlflow.db", [EXPERIMENT])) as client:
        assert run_train(csv, SCHEMA, recipe).model_version == f"models:/{MODEL}/1"
        promote(PromotionRequest("1", "champion", None, False, csv, SCHEMA, recipe))
        assert alias_version(client, MODEL) == "1"
    return Base(db=root / "mlflow.db", csv=csv, recipe=recipe)


@dataclass
class Store:
    uri: str
    client: MlflowClient


@pytest.fixture
def store(base: Base, tmp_path: Path) -> Iterator[Store]:
    uri = init_store(tmp_path / "mlflow.db", [EXPERIMENT], template=base.db)
    yield Store(uri, MlflowClient(tracking_uri=uri))
    assert sha256(RAW_CSV) == RAW_DIGEST


def train_args(base: Base, recipe: Path | None = None, *extra: str) -> list[str]:
    return [
        "train",
        "--data",
        str(base.csv),
        "--schema",
        str(SCHEMA),
        "--recipe",
        str(recipe or base.recipe),
        *extra,
    ]


def passed_versions(client: MlflowClient) -> list[str]:
    return [str(v.version) for v in versions(client, MODEL) if v.tags.get("validation_status") == "passed"]


def assert_nothing_promoted(store: Store) -> None:
    assert passed_versions(store.client) == ["1"]
    assert alias_version(store.client, MODEL) == "1"


SECRET = "s3cret-canary-7f3a"
