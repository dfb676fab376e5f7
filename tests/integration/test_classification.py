"""Classification: label contract, metrics, stratification, calibration, blend, threshold, promotion by
AUC, the credit data end to end and multi-class (scikit-learn's bundled wine data) end to end.

(integration layer)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from support.classification import CREDIT_CSV, CREDIT_SCHEMA, credit_recipe, credit_sample, train

from trainer.cli.main import main
from trainer.data.schema import load_schema
from trainer.data.split import split_data
from trainer.errors import EXIT_CONTRACT, EXIT_GATE, EXIT_OK
from trainer.recipe.task import (
    Task,
)


def errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= 40)


@pytest.mark.parametrize(
    ("schema_text", "message"),
    [
        (None, r"^schema not found: \S+schema\.yaml$"),
        ("name: [unclosed", r"^schema \S+schema\.yaml: broken YAML"),
    ],
    ids=["missing", "broken-yaml"],
)
def test_a_classification_recipe_with_an_unreadable_schema_names_the_schema(
    schema_text: str | None, message: str, sqlite_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not `unknown candidate 'logistic'`: the recipe is checked as the task whose catalogue accepts it."""
    schema = tmp_path / "schema.yaml"
    if schema_text is not None:
        schema.write_text(schema_text)
    recipe = credit_recipe(tmp_path / "recipe.yaml")
    assert train(CREDIT_CSV, schema, recipe, register=False) == 1
    [line] = errors(caplog).splitlines()
    assert re.search(message, line), line
    [run] = MlflowClient().search_runs([MlflowClient().get_experiment_by_name("test-small").experiment_id])
    assert run.info.status == "FAILED" and re.search(message, run.data.tags["failure_reason"])


def test_credit_trains_registers_and_promotes_by_auc(
    sqlite_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "credit.csv"
    credit_sample(900).to_csv(data, index=False)
    good = credit_recipe(tmp_path / "good.yaml", classification={"calibration": "sigmoid"})
    assert train(data, CREDIT_SCHEMA, good) == EXIT_OK
    client = MlflowClient()
    v1 = client.get_model_version("credit-test", "1")
    tags = v1.tags
    assert tags["task"] == "classification" and tags["selection_metric"] == "roc_auc"
    assert tags["calibration"] == "sigmoid" and tags["threshold"] == "0.500000"
    assert float(tags["cv_roc_auc"]) > 0.75 and float(tags["test_roc_auc"]) > 0.75
    assert {"cv_log_loss", "test_brier", "test_f1"} - set(tags) == {"cv_log_loss"}
    run = client.get_run(tags["training_run_id"])
    assert {"best_cv_roc_auc", "test_roc_auc", "test_log_loss", "calibration_brier_after"} <= set(
        run.data.metrics
    )
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert {"cv_roc_auc_mean", "cv_log_loss_std", "cv_brier_mean"} <= set(children[0].data.metrics)
    model = mlflow.sklearn.load_model("models:/credit-test/1")
    rows = credit_sample(5, seed=3)
    assert set(mlflow.pyfunc.load_model("models:/credit-test/1").predict(rows)) <= {"bad", "good"}
    assert model.predict_proba(rows).shape == (5, 2)
    assert (
        "- holdout labels: `bad` in " in v1.description and "always predicting the majority" in v1.description
    )
    assert "task: task=classification" in __import__(
        "trainer.registry.explain", fromlist=["explain"]
    ).explain("models:/credit-test/1")
    record = json.loads(
        __import__("trainer.registry.explain", fromlist=["explain"]).explain("models:/credit-test/1", True)
    )
    assert {k: record["task"][k] for k in ("labels", "positive_class", "threshold")} == {
        "labels": ["bad", "good"],
        "positive_class": "bad",
        "threshold": 0.5,
    }
    weak = credit_recipe(
        tmp_path / "weak.yaml",
        candidates={"dummy": {}, "knn": {"n_neighbors": [3]}},
        classification={"threshold_metric": "f1"},
    )
    assert train(data, CREDIT_SCHEMA, weak) == EXIT_OK
    promote = ["promote", "--data", str(data), "--schema", str(CREDIT_SCHEMA), "--recipe", str(good)]
    assert main([*promote, "--version", "1"]) == EXIT_OK
    assert client.get_model_version("credit-test", "1").tags["promotion_roc_auc"] == tags["test_roc_auc"]
    assert main([*promote, "--version", "2"]) == EXIT_GATE
    assert "scores roc_auc" in errors(caplog)
    assert str(client.get_model_version_by_alias("credit-test", "champion").version) == "1"
    assert main([*promote, "--version", "2", "--force"]) == EXIT_OK  # what it serves changes with it
    assert re.search(r"its decision threshold 0\.\d{3} \(f1\) replaces 0\.500 \(fixed\)", caplog.text)


def _wine(tmp_path: Path, labels: list[Any]) -> tuple[Path, Path]:
    """scikit-learn's wine data with its three classes named by `labels`."""
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace("/", "_"))
    frame["cultivar"] = [labels[int(t)] for t in frame.pop("target")]
    frame.insert(0, "row_id", range(1, len(frame) + 1))
    data = tmp_path / "wine.csv"
    frame.to_csv(data, index=False)
    features = [c for c in frame.columns if c not in ("row_id", "cultivar")]
    numeric = ["int64", "float64"]
    expectations = [
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": list(frame.columns)}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "cultivar"}},
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "cultivar", "value_set": labels},
        },
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "row_id"}},
        *(
            {"type": "expect_column_values_to_be_in_type_list", "kwargs": {"column": c, "type_list": numeric}}
            for c in features
        ),
    ]
    suite = tmp_path / "wine.json"
    suite.write_text(json.dumps({"name": "wine", "expectations": expectations}))
    schema = tmp_path / "wine.yaml"
    schema.write_text(
        yaml.safe_dump(
            {
                "name": "wine",
                "suite": str(suite),
                "task": "classification",
                "target": "cultivar",
                "identifiers": ["row_id"],
                "numerical": features,
                "categorical": [],
            }
        )
    )
    return data, schema


@pytest.mark.parametrize(
    "labels", [["cultivar_0", "cultivar_1", "cultivar_2"], [0, 1, 2]], ids=["text", "whole"]
)
def test_multiclass_wine_end_to_end(
    labels: list[Any], sqlite_store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Classes named by text or by whole numbers (sklearn's own wine labels) train alike, without
    MLflow's evaluation guessing aloud that whole-number classes are not a classifier's."""
    data, schema = _wine(tmp_path, labels)
    recipe = credit_recipe(
        tmp_path / "wine-recipe.yaml",
        "wine-test",
        search={"blend_top": 2},
        candidates={"dummy": {}, "logistic": {"C": [1.0]}, "knn": {"n_neighbors": [5]}},
    )
    assert train(data, schema, recipe) == EXIT_OK
    tags = MlflowClient().get_model_version("wine-test", "1").tags
    assert tags["task"] == "classification" and tags["threshold"] == ""
    assert json.loads(tags["labels"]) == labels
    assert float(tags["test_roc_auc"]) > 0.95 and "test_brier" not in tags
    model = mlflow.sklearn.load_model("models:/wine-test/1")
    rows = pd.read_csv(data).head(4)
    assert model.predict_proba(rows).shape == (4, 3)
    assert "the model type looks like" not in capfd.readouterr().err


def test_log_loss_selection_ranks_the_lowest_first(sqlite_store: str, tmp_path: Path) -> None:
    data = tmp_path / "credit.csv"
    credit_sample(600).to_csv(data, index=False)
    recipe = credit_recipe(
        tmp_path / "ll.yaml",
        classification={"metric": "log_loss"},
        gates={"baseline": "dummy", "min_cv_score": 0.55, "min_improvement": 0.01},
    )
    assert train(data, CREDIT_SCHEMA, recipe, register=False) == EXIT_OK
    run = mlflow.search_runs(experiment_names=["test-small"], filter_string="tags.trainer_command = 'train'")
    assert run["metrics.best_cv_log_loss"].iloc[0] < run["metrics.baseline_cv_log_loss"].iloc[0]


def test_a_rare_label_stops_training_with_exit_2(
    sqlite_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = credit_sample(300)
    frame = pd.concat([frame[frame["Status"] == "good"], frame[frame["Status"] == "bad"].head(3)])
    data = tmp_path / "rare.csv"
    frame.to_csv(data, index=False)
    assert train(data, CREDIT_SCHEMA, credit_recipe(tmp_path / "r.yaml"), register=False) == EXIT_CONTRACT
    assert "label 'bad' has only" in errors(caplog)


def test_halving_reports_every_metric_of_its_best_point_as_a_grid_search_does(tmp_path: Path) -> None:
    from dataclasses import replace

    from trainer.catalogue.classifiers import CLASSIFIERS
    from trainer.recipe.settings import SearchSettings, load_recipe
    from trainer.search.candidate_search import search_candidate
    from trainer.search.plan import make_plan

    schema = load_schema(CREDIT_SCHEMA)
    recipe = load_recipe(credit_recipe(tmp_path / "r.yaml"))
    split = split_data(credit_sample(900), schema, recipe.split)
    task = Task("classification", "log_loss", ("bad", "good"), "bad")  # a loss: the sign must hold
    plan = make_plan(recipe, schema, split, task=task)
    wide = {"C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]}
    result = search_candidate(
        CLASSIFIERS["logistic"], wide, replace(plan, settings=SearchSettings(strategy="halving"))
    )
    grid = search_candidate(CLASSIFIERS["logistic"], {"C": [result.best_params["C"]]}, plan)
    assert result.grid_size == 6 and set(result.cv_metrics) == set(task.metrics)
    for name, pair in grid.cv_metrics.items():
        assert result.cv_metrics[name] == pytest.approx(pair), name
    assert 0 < result.cv_mean < 1  # log loss, positive
