"""Classification: label contract, metrics, stratification, calibration, blend, threshold, promotion by
AUC, the credit data end to end and multi-class (scikit-learn's bundled wine data) end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT, serving_python, write_recipe
from mlflow import MlflowClient

from trainer.cli.main import main
from trainer.data.schema import load_schema
from trainer.data.split import Split, split_data
from trainer.errors import EXIT_CONTRACT, EXIT_GATE, EXIT_OK, ConfigError, ContractError
from trainer.model.calibration import calibrated, choose_threshold, finish, probability_metrics
from trainer.recipe.settings import ClassificationSettings, CVSettings, SplitSettings
from trainer.recipe.task import (
    Task,
    check_labels,
    check_two_class_settings,
    classification_metrics,
    make_task,
)

CREDIT_CSV = ROOT / "data" / "raw" / "credit_scoring.csv"
CREDIT_SCHEMA = ROOT / "data" / "credit_scoring.yaml"
BINARY = Task("classification", "roc_auc", ("bad", "good"), "bad")
TINY = {"dummy": {}, "logistic": {"C": [1.0]}}
GATES = {"min_cv_score": 0.6, "baseline": "dummy", "min_improvement": 0.05}


def credit_sample(rows: int = 900, seed: int = 0) -> pd.DataFrame:
    return pd.read_csv(CREDIT_CSV).sample(rows, random_state=seed).reset_index(drop=True)


def credit_recipe(path: Path, model: str = "credit-test", **extra: Any) -> Path:
    extra.setdefault("candidates", TINY)
    extra.setdefault("gates", GATES)
    recipe = write_recipe(path, "test-small", model, **extra)
    data = yaml.safe_load(recipe.read_text())
    data.update(data=str(CREDIT_CSV), schema=str(CREDIT_SCHEMA))
    if "min_cv_r2" not in extra["gates"]:
        del data["gates"]["min_cv_r2"]  # the regression floor write_recipe adds: a classifier refuses it
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    return recipe


def train(data: Path, schema: Path, recipe: Path, register: bool = True) -> int:
    args = ["train", "--data", str(data), "--schema", str(schema), "--recipe", str(recipe)]
    return main(args if register else [*args, "--no-register"])


def errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= 40)


# --- the label contract -------------------------------------------------------------------------


@pytest.mark.unit
def test_a_label_outside_the_suite_is_named_with_its_count() -> None:
    y = pd.Series(["good"] * 5 + ["bad"] * 5 + ["maybe"] * 2)
    with pytest.raises(ContractError, match=r"label 'maybe' \(2 rows\) is not one of"):
        check_labels(y, ("bad", "good"), "Status")


@pytest.mark.unit
def test_a_single_class_target_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match=r"single class 'good' \(7 rows\)"):
        check_labels(pd.Series(["good"] * 7), ("bad", "good"), "Status")


@pytest.mark.unit
def test_a_label_too_rare_for_the_stratified_folds_is_named() -> None:
    y = np.array(["good"] * 40 + ["bad"] * 3, dtype=object)
    with pytest.raises(ContractError, match=r"label 'bad' has only 3 rows .*too few for 5 stratified folds"):
        BINARY.make_cv(CVSettings(folds=5), False, y)


@pytest.mark.unit
def test_the_contract_checks_labels_of_the_real_file(tmp_path: Path) -> None:
    from trainer.data import contract

    schema = load_schema(CREDIT_SCHEMA)
    frame = credit_sample(300)
    frame["Status"] = "good"
    path = tmp_path / "one.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ContractError, match=r"single class 'good' \(300 rows\)"):
        contract.validate(path, schema)
    frame.loc[:4, "Status"] = "unknown"
    frame.to_csv(path, index=False)
    result = contract.validate(path, schema)
    assert not result.success
    assert "expect_column_values_to_be_in_set(Status): 5 unexpected" in result.summary()
    assert "'unknown'" in result.summary()


# --- metrics, folds, calibration, threshold, blend (no store) -----------------------------------


@pytest.mark.unit
def test_metrics_equal_scikit_learns_on_fixed_predictions() -> None:
    from sklearn import metrics as m

    rng = np.random.default_rng(0)
    y = rng.choice(["bad", "good"], 200)
    p_bad = np.clip((y == "bad") * 0.3 + rng.random(200) * 0.7, 0, 1)
    proba = np.column_stack([p_bad, 1 - p_bad])
    pred = np.where(p_bad >= 0.5, "bad", "good")
    got = classification_metrics(BINARY, y, proba, pred, ["bad", "good"])
    truth = y == "bad"
    assert got["roc_auc"] == pytest.approx(m.roc_auc_score(truth, p_bad))
    assert got["log_loss"] == pytest.approx(m.log_loss(y, proba, labels=["bad", "good"]))
    assert got["average_precision"] == pytest.approx(m.average_precision_score(truth, p_bad))
    assert got["f1"] == pytest.approx(m.f1_score(y, pred, pos_label="bad"))
    assert got["brier"] == pytest.approx(m.brier_score_loss(truth, p_bad))
    assert got["accuracy"] == pytest.approx(m.accuracy_score(y, pred))
    assert got["balanced_accuracy"] == pytest.approx(m.balanced_accuracy_score(y, pred))
    assert list(got) == list(BINARY.metrics)
    assert (
        not BINARY.binary
        or Task("classification", "log_loss", ("bad", "good"), "bad").greater_is_better is False
    )


@pytest.mark.unit
def test_the_search_scorers_agree_with_the_holdout_metrics() -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = _noisy_binary(300)
    model = LogisticRegression().fit(X, y)
    holdout, _ = BINARY.holdout_metrics(model, X, y)
    for name, scorer in BINARY.scorers().items():
        from sklearn.metrics import get_scorer

        score = (get_scorer(scorer) if isinstance(scorer, str) else scorer)(model, X, y)
        sign = -1.0 if name in ("log_loss", "brier") else 1.0
        assert sign * score == pytest.approx(holdout[f"test_{name}"]), name


@pytest.mark.unit
def test_stratification_keeps_class_ratios_in_every_fold_and_the_holdout(tmp_path: Path) -> None:
    frame = credit_sample(1000)
    schema = load_schema(CREDIT_SCHEMA)
    split = split_data(
        frame, schema, type("S", (), {"test_size": 0.2, "random_state": 1, "group_by": None})()
    )
    overall = float(np.mean(frame["Status"] == "bad"))
    assert np.mean(split.y_test == "bad") == pytest.approx(overall, abs=0.005)
    cv = BINARY.make_cv(CVSettings(folds=5), False, split.y_train)
    for _, test in cv.split(split.X_train, split.y_train):
        assert np.mean(split.y_train[test] == "bad") == pytest.approx(overall, abs=0.01)


def _noisy_binary(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    X = pd.DataFrame({f"x{i}": signal + rng.normal(scale=1.0, size=n) for i in range(8)})
    y = np.where(signal + rng.normal(scale=1.0, size=n) > 0.5, "bad", "good").astype(object)
    return X, y


def _split(n: int = 1200) -> Split:
    X, y = _noisy_binary(n)
    cut = int(0.7 * n)
    return Split(X.iloc[:cut], X.iloc[cut:].reset_index(drop=True), y[:cut], y[cut:], None)


@pytest.mark.unit
def test_calibration_lowers_the_brier_score_of_an_overconfident_model() -> None:
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import Pipeline

    split = _split()
    raw = Pipeline([("model", GaussianNB())]).fit(split.X_train, split.y_train)  # 8 copies of one signal
    fixed = calibrated(raw, "sigmoid", 3).fit(split.X_train, split.y_train)
    before, after = probability_metrics(BINARY, raw, split), probability_metrics(BINARY, fixed, split)
    assert after["brier"] < before["brier"] - 0.01
    assert after["log_loss"] < before["log_loss"]


@pytest.mark.unit
def test_finish_records_calibration_and_a_threshold_chosen_on_out_of_fold_predictions() -> None:
    from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import Pipeline

    split = _split()
    raw = Pipeline([("model", GaussianNB())]).fit(split.X_train, split.y_train)
    settings = ClassificationSettings(calibration="isotonic", threshold_metric="f1")
    model, done = finish(raw, BINARY, settings, split, StratifiedKFold(3, shuffle=True, random_state=0))
    assert set(done.metrics) == {
        f"calibration_{m}_{w}" for m in ("log_loss", "brier") for w in ("before", "after")
    }
    assert done.threshold_source == "f1" and done.threshold is not None and 0 < done.threshold < 1
    final = model.named_steps["model"]
    assert isinstance(final, FixedThresholdClassifier) and final.threshold == done.threshold
    p_bad = model.predict_proba(split.X_test)[:, list(model.classes_).index("bad")]
    assert list(model.predict(split.X_test)) == list(np.where(p_bad >= done.threshold, "bad", "good"))


@pytest.mark.unit
def test_threshold_choice_maximises_f1_or_youden_on_fixed_predictions() -> None:
    y = np.array(["bad", "bad", "bad", "good", "good", "good", "good", "good"], dtype=object)
    p = np.array([0.9, 0.45, 0.35, 0.4, 0.3, 0.2, 0.1, 0.05])
    # at 0.35 every bad is caught with one good wrongly flagged: F1 0.857 and J 0.8, the best cuts
    assert choose_threshold(y, p, "bad", "f1") == pytest.approx(0.35)
    assert choose_threshold(y, p, "bad", "youden") == pytest.approx(0.35)
    assert choose_threshold(y, np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.1, 0.1, 0.1]), "bad", "f1") == 0.7


@pytest.mark.unit
def test_the_classification_blend_soft_votes_its_members() -> None:
    from trainer.catalogue.classifiers import CLASSIFIERS
    from trainer.search.blend import blend_pipeline

    schema = load_schema(CREDIT_SCHEMA)
    frame = credit_sample(400)
    X, y = frame[list(schema.feature_columns)], frame["Status"].to_numpy(dtype=object)
    members = [(CLASSIFIERS["logistic"], {"C": 1.0}), (CLASSIFIERS["knn"], {"n_neighbors": 15})]
    blend = blend_pipeline(members, schema, classify=True).fit(X, y)
    voting = blend.named_steps["model"]
    assert voting.voting == "soft"
    mean = np.mean([est.predict_proba(X) for est in voting.estimators_], axis=0)
    np.testing.assert_allclose(blend.predict_proba(X), mean)
    assert set(blend.predict(X)) <= {"bad", "good"}


@pytest.mark.unit
def test_positive_class_must_be_a_label() -> None:
    assert make_task("classification", ("good", "bad"), None, "roc_auc").positive_class == "good"
    with pytest.raises(ContractError, match="positive_class 'yes'"):
        make_task("classification", ("good", "bad"), "yes", "roc_auc")
    assert make_task("regression", (), None, "roc_auc") == Task()


@pytest.mark.unit
def test_with_no_readable_schema_a_classification_recipe_is_checked_as_one(tmp_path: Path) -> None:
    """Its own mistake is named (not `logistic`, which the regression catalogue does not know)."""
    from trainer.catalogue.training_recipe import loaded
    from trainer.errors import ConfigError

    recipe = credit_recipe(tmp_path / "r.yaml", candidates={**TINY, "magic_forest": {}})
    with pytest.raises(ConfigError, match=r"^recipe \S+r\.yaml: unknown candidate 'magic_forest'"):
        loaded(recipe, tmp_path / "none.yaml", None)
    _, specs = loaded(credit_recipe(tmp_path / "ok.yaml"), tmp_path / "none.yaml", None)
    assert [s.name for s in specs] == ["dummy", "logistic"]


# --- end to end (temporary store) ---------------------------------------------------------------


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.unit
@pytest.mark.parametrize(
    ("predicted_yes", "advice"), [(0, True), (1, True), (2, False), (8, False)], ids=lambda v: str(v)
)
def test_a_model_that_seldom_says_the_positive_class_is_named(predicted_yes: int, advice: bool) -> None:
    """8 of 100 holdout rows are 'yes': labelling fewer than a quarter of that 'yes' misses most
    of them while its accuracy looks like the majority label's 0.92."""
    from trainer.recipe.task import make_task, positive_rates

    task = make_task("classification", ("no", "yes"), "yes", "roc_auc")
    y = np.array(["yes"] * 8 + ["no"] * 92)
    pred = np.array(["yes"] * predicted_yes + ["no"] * (100 - predicted_yes))
    rates = positive_rates(task, y, pred)
    assert rates is not None and rates.majority_accuracy == 0.92
    assert bool(rates.advice()) == advice
    if advice:
        assert rates.advice().startswith(
            f"the model labels {predicted_yes:.1f}% of the holdout positive against 8.0%"
        )
        assert "classification.threshold_metric: f1" in rates.advice()
    assert positive_rates(make_task("regression", (), None, "roc_auc"), y, pred) is None


@pytest.mark.integration
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


@pytest.mark.system
@pytest.mark.slow
def test_credit_model_predicts_labels_and_probabilities_in_a_clean_venv(
    sqlite_store: str, tmp_path: Path, serving_venvs: Path
) -> None:
    data = tmp_path / "credit.csv"
    credit_sample(600).to_csv(data, index=False)
    assert train(data, CREDIT_SCHEMA, credit_recipe(tmp_path / "r.yaml")) == EXIT_OK
    local = Path(
        mlflow.artifacts.download_artifacts("models:/credit-test/1", dst_path=str(tmp_path / "model"))
    )
    py = serving_python(local / "requirements.txt", serving_venvs)
    rows = tmp_path / "rows.csv"
    credit_sample(4, seed=5).to_csv(rows, index=False)
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"assert not any(p.startswith({str(ROOT)!r}) for p in sys.path), sys.path\n"
        f"rows = pd.read_csv({str(rows)!r})\n"
        f"print(sorted(set(mlflow.pyfunc.load_model({str(local)!r}).predict(rows))))\n"
        f"print(mlflow.sklearn.load_model({str(local)!r}).predict_proba(rows).shape)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    out = subprocess.run([str(py), "-I", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(4, 2)" in out.stdout and ("'bad'" in out.stdout or "'good'" in out.stdout)


@pytest.mark.integration
def test_a_rare_label_stops_training_with_exit_2(
    sqlite_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = credit_sample(300)
    frame = pd.concat([frame[frame["Status"] == "good"], frame[frame["Status"] == "bad"].head(3)])
    data = tmp_path / "rare.csv"
    frame.to_csv(data, index=False)
    assert train(data, CREDIT_SCHEMA, credit_recipe(tmp_path / "r.yaml"), register=False) == EXIT_CONTRACT
    assert "label 'bad' has only" in errors(caplog)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("good", "bad", "kind"),
    [("good", "bad", "binary"), (0, 1, "binary"), (True, False, "binary"), (1, 2, "binary")],
)
def test_the_split_keeps_labels_scikit_learn_can_stratify(good: Any, bad: Any, kind: str) -> None:
    """Whole-number and true/false labels too (in an object array they were of 'unknown' type)."""
    from sklearn.utils.multiclass import type_of_target

    frame = credit_sample(300)
    frame["Status"] = frame["Status"].map({"good": good, "bad": bad})
    split = split_data(frame, load_schema(CREDIT_SCHEMA), SplitSettings())
    assert type_of_target(split.y_train) == kind
    assert set(split.y_train) == {good, bad}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kind", "gates", "message"),
    [
        (
            "regression",
            {"min_cv_score": 0.9},
            "gates.min_cv_score is a classification's floor and would be "
            "ignored by this regression: name it gates.min_cv_r2",
        ),
        (
            "classification",
            {**GATES, "min_cv_r2": 0.5},
            "gates.min_cv_r2 is a regression's floor and would "
            "be ignored by this classification: name it gates.min_cv_score",
        ),
    ],
)
def test_a_floor_under_the_other_tasks_name_is_refused(
    kind: str, gates: dict[str, Any], message: str, tmp_path: Path
) -> None:
    """It was accepted and never applied: a regression with min_cv_score 0.9 registered at R² 0.48."""
    from trainer.catalogue.training_recipe import checked
    from trainer.recipe.settings import load_recipe

    path = tmp_path / "r.yaml"
    recipe = load_recipe(
        write_recipe(path, gates=gates) if kind == "regression" else credit_recipe(path, gates=gates)
    )
    with pytest.raises(ConfigError, match=re.escape(f"recipe {path}: {message}")):
        checked(recipe, kind)


@pytest.mark.unit
@pytest.mark.parametrize(
    "labels",
    [(10, 2, 5), (True, False), ("b", "a", "C"), (2.0, -1.0)],
    ids=["whole", "bool", "text", "float"],
)
def test_labels_are_ordered_as_scikit_learn_orders_its_classes(labels: tuple[Any, ...]) -> None:
    """The model card, the `labels` tag and predict_proba's columns name the classes in one order."""
    from sklearn.linear_model import LogisticRegression

    from trainer.recipe.task import label_order

    y = np.array(
        [labels[i % len(labels)] for i in range(30)], dtype=object if isinstance(labels[0], str) else None
    )
    model = LogisticRegression().fit(np.arange(30).reshape(-1, 1), y)
    assert list(label_order(labels)) == list(model.classes_)


@pytest.mark.unit
def test_a_quoted_number_names_the_positive_class_itself() -> None:
    assert make_task("classification", (0, 1), "1", "roc_auc").positive_class == 1
    assert make_task("classification", (False, True), "False", "roc_auc").positive_class is False


@pytest.mark.unit
def test_two_class_settings_on_three_classes_are_refused() -> None:
    """A positive class, a threshold or a threshold metric means nothing to a three-class target."""
    three = ("a", "b", "c")
    with pytest.raises(
        ContractError, match=r"positive_class 'c' applies to two classes only; the suite's labels are 3"
    ):
        make_task("classification", three, "c", "roc_auc")
    task = make_task("classification", three, None, "roc_auc")
    for settings, what in [
        (ClassificationSettings(threshold_metric="f1"), "threshold_metric 'f1'"),
        (ClassificationSettings(threshold=0.3), "threshold 0.3"),
    ]:
        with pytest.raises(
            ConfigError, match=f"recipe r.yaml: classification.{what} applies to two classes only"
        ):
            check_two_class_settings(task, settings, "recipe r.yaml")
    check_two_class_settings(task, ClassificationSettings(), "recipe r.yaml")
    check_two_class_settings(
        BINARY, ClassificationSettings(threshold_metric="f1", threshold=0.3), "recipe r.yaml"
    )


@pytest.mark.integration
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
