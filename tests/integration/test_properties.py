"""Property tests: randomly corrupted copies of valid data never escape the one-line error path.

Each example starts from a 300-row sample of data/raw/star_grade3.csv, applies a random list of
frame corruptions (drop/rename columns, NaN, strings, huge numbers, duplicated ids, shuffled
rows) and at most one byte-level corruption (truncation, another delimiter, stray bytes), then:

- `trainer.data.contract.validate` returns a result or raises a `TrainerError` subclass - nothing else;
- `trainer validate` exits 0/1/2 with exactly one ERROR line on failure, never "unexpected error";
- `trainer train --no-register` exits 0-3, and a failed training leaves no model anywhere.

(integration layer)"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from helpers import SCHEMA, init_store, train_runs, using_store, write_recipe
from hypothesis import event, given, settings
from support.properties import (  # noqa: F401 (fixtures)
    COLUMNS,
    ROWS,
    SETTINGS,
    byte_op,
    column,
    corrupt,
    corruptions,
    frame_op,
    harmless,
    rows,
    sample,
    schema,
    write,
)

from trainer.cli.main import main
from trainer.data.contract import validate

EXPERIMENT = "properties"


MODEL = "properties-model"


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recipe(tmp_path_factory.mktemp("recipe") / "recipe.yaml", EXPERIMENT, MODEL)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mlflow.MlflowClient]:
    """One store for every example of the module (each example adds one run)."""
    with using_store(init_store(tmp_path_factory.mktemp("store") / "mlflow.db", [EXPERIMENT])) as client:
        yield client


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("trainer")
    ]


@SETTINGS
@given(case=corruptions)
def test_cli_validate_exit_codes(
    case: Any,
    sample: pd.DataFrame,
    write: Callable[[bytes], Path],
    recipe: Path,
    store: mlflow.MlflowClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ops, last = case
    path = write(corrupt(sample, ops, last))
    caplog.clear()

    code = main(["validate", "--data", str(path), "--schema", str(SCHEMA), "--recipe", str(recipe)])

    errors = _errors(caplog)
    event(f"exit {code}")
    assert not any("unexpected error" in e for e in errors), errors
    assert code in (0, 1, 2), errors
    if code == 0:
        assert errors == []
    else:
        assert len(errors) == 1 and "\n" not in errors[0]
        assert not harmless(ops, last)
    assert store.search_registered_models() == []


@settings(SETTINGS, max_examples=8)
@given(case=corruptions)
def test_train_no_register_never_leaves_a_model(
    case: Any,
    sample: pd.DataFrame,
    write: Callable[[bytes], Path],
    schema: Any,
    recipe: Path,
    store: mlflow.MlflowClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ops, last = case
    path = write(corrupt(sample, ops, last))
    caplog.clear()

    code = main(
        ["train", "--no-register", "--data", str(path), "--schema", str(SCHEMA), "--recipe", str(recipe)]
    )

    errors = _errors(caplog)
    event(f"exit {code}")
    assert not any("unexpected error" in e for e in errors), errors
    assert code in (0, 1, 2, 3), errors
    run = train_runs(store, EXPERIMENT)[0]
    if code == 0:
        assert run.info.status == "FINISHED"
        assert validate(path, schema).success  # training accepted only what the contract accepts
    else:
        assert len(errors) == 1 and "\n" not in errors[0]
        assert run.info.status == "FAILED" and errors[0].startswith(run.data.tags["failure_reason"])
    assert store.search_registered_models() == []
    exp = store.get_experiment_by_name(EXPERIMENT).experiment_id
    assert mlflow.search_logged_models(experiment_ids=[exp], output_format="list") == []
