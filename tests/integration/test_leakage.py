"""The leakage detector: its rules on frames (unit), and through `trainer train` (integration):
a noisy copy of the target and a row id are blocked (exit 2) unless acknowledged, STAR's read3 is
warned about when it is not declared as leakage, the legitimate STAR features pass silently.
Also: one registered model, one contract (a schema that differs is refused before any work).

(integration layer)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import SCHEMA, SUITE, train_runs, versions


def test_train_blocks_a_row_id_then_trains_when_acknowledged(
    sqlite_store: str,
    sample_frame: pd.DataFrame,
    write_csv: Callable[..., Path],
    schema_copy: Callable[..., Path],
    make_recipe: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    artifact_paths: Callable[[str], set[str]],
) -> None:
    import mlflow

    from trainer.cli.main import main

    data = write_csv(sample_frame.assign(row_number=np.arange(len(sample_frame)) + 1), "rows.csv")
    base = yaml.safe_load(SCHEMA.read_text())
    suite = _suite_with("row_number", data.parent)
    schema = schema_copy(numerical=[*base["numerical"], "row_number"], suite=suite)
    argv = ["train", "--data", str(data), "--schema", str(schema)]

    assert main([*argv, "--recipe", str(make_recipe())]) == 2
    client = mlflow.MlflowClient()
    failed = train_runs(client, "test-small")[0]
    assert failed.info.status == "FAILED"
    assert "leakage: 'row_number' is identifier-like" in failed.data.tags["failure_reason"]
    assert failed.data.tags["leakage_status"] == "blocked"
    assert {"leakage/leakage.csv", "leakage/leakage.md", "leakage/leakage.png"} <= artifact_paths(
        failed.info.run_id
    )
    assert versions(client, "test-small") == []

    recipe = make_recipe(leakage={"acknowledged": ["row_number"]}, name="ack.yaml")
    assert main([*argv, "--recipe", str(recipe)]) == 0, caplog.text[-2000:]
    run = train_runs(client, "test-small")[0]
    assert run.data.tags["leakage_acknowledged"] == "row_number"
    assert run.data.params["leakage.acknowledged"] == "row_number"
    card = versions(client, "test-small")[0].description
    assert "## Leakage check" in card and "acknowledged in the recipe: row_number" in card


def _suite_with(column: str, folder: Path) -> Path:
    """The repository suite with `column` added to its column set."""
    import json

    data = json.loads(SUITE.read_text())
    for exp in data["expectations"]:
        if exp["type"] == "expect_table_columns_to_match_set":
            exp["kwargs"]["column_set"].append(column)
    path = folder / "suite_plus.json"
    path.write_text(json.dumps(data))
    return path


def test_one_registered_model_one_contract(
    sqlite_store: str,
    sample_csv: Path,
    schema_copy: Callable[..., Path],
    small_recipe: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A schema with other features under the same name: refused in one line, before any work."""
    import mlflow

    from trainer.cli.main import main

    base = yaml.safe_load(SCHEMA.read_text())
    argv = ["--data", str(sample_csv), "--recipe", str(small_recipe)]
    assert main(["train", *argv, "--schema", str(SCHEMA)]) == 0, caplog.text[-2000:]
    client = mlflow.MlflowClient()
    tags = versions(client, "test-small")[0].tags
    assert tags["target"] == "math3" and "math2" in tags["feature_columns"]

    other = schema_copy(numerical=[c for c in base["numerical"] if c != "math2"], ignore=["math2"])
    caplog.clear()
    assert main(["train", *argv, "--schema", str(other)]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "feature(s) ['math2'] only in version 1" in errors[0], errors
    assert "contract_status" not in train_runs(client, "test-small")[0].data.tags  # before the contract ran
    assert len(versions(client, "test-small")) == 1

    caplog.clear()  # the same columns, one in another role (its type in the model's signature)
    moved = schema_copy(
        numerical=[c for c in base["numerical"] if c != "experience3"],
        categorical=[*base["categorical"], "experience3"],
    )
    assert main(["train", *argv, "--schema", str(moved)]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "['experience3'] categorical in this schema, numerical or derived in version 1" in errors[0]

    caplog.clear()
    assert main(["promote", "--version", "1", *argv, "--schema", str(other)]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "version 1 of 'test-small' was trained on another contract" in errors[0]
    assert "unexpected error" not in caplog.text
