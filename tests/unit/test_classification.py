"""Classification: label contract, metrics, stratification, calibration, blend, threshold, promotion by
AUC, the credit data end to end and multi-class (scikit-learn's bundled wine data) end to end.

(unit layer)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import write_recipe
from support.classification import CREDIT_SCHEMA, GATES, TINY, credit_recipe, credit_sample

from trainer.data.schema import load_schema
from trainer.data.split import Split, split_data
from trainer.errors import ConfigError, ContractError
from trainer.model.calibration import (
    calibrate_and_threshold,
    calibrated,
    choose_threshold,
    probability_metrics,
)
from trainer.recipe.settings import ClassificationSettings, CVSettings, SplitSettings
from trainer.recipe.task import (
    Task,
    check_labels,
    check_two_class_settings,
    classification_metrics,
    make_task,
)

BINARY = Task("classification", "roc_auc", ("bad", "good"), "bad")


def test_a_label_outside_the_suite_is_named_with_its_count() -> None:
    y = pd.Series(["good"] * 5 + ["bad"] * 5 + ["maybe"] * 2)
    with pytest.raises(ContractError, match=r"label 'maybe' \(2 rows\) is not one of"):
        check_labels(y, ("bad", "good"), "Status")


def test_a_single_class_target_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match=r"single class 'good' \(7 rows\)"):
        check_labels(pd.Series(["good"] * 7), ("bad", "good"), "Status")


def test_a_label_too_rare_for_the_stratified_folds_is_named() -> None:
    y = np.array(["good"] * 40 + ["bad"] * 3, dtype=object)
    with pytest.raises(ContractError, match=r"label 'bad' has only 3 rows .*too few for 5 stratified folds"):
        BINARY.make_cv(CVSettings(folds=5), False, y)


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


def test_calibration_lowers_the_brier_score_of_an_overconfident_model() -> None:
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import Pipeline

    split = _split()
    raw = Pipeline([("model", GaussianNB())]).fit(split.X_train, split.y_train)  # 8 copies of one signal
    fixed = calibrated(raw, "sigmoid", 3).fit(split.X_train, split.y_train)
    before, after = probability_metrics(BINARY, raw, split), probability_metrics(BINARY, fixed, split)
    assert after["brier"] < before["brier"] - 0.01
    assert after["log_loss"] < before["log_loss"]


def test_finish_records_calibration_and_a_threshold_chosen_on_out_of_fold_predictions() -> None:
    from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import Pipeline

    split = _split()
    raw = Pipeline([("model", GaussianNB())]).fit(split.X_train, split.y_train)
    settings = ClassificationSettings(calibration="isotonic", threshold_metric="f1")
    model, done = calibrate_and_threshold(
        raw, BINARY, settings, split, StratifiedKFold(3, shuffle=True, random_state=0)
    )
    assert set(done.metrics) == {
        f"calibration_{m}_{w}" for m in ("log_loss", "brier") for w in ("before", "after")
    }
    assert done.threshold_source == "f1" and done.threshold is not None and 0 < done.threshold < 1
    final = model.named_steps["model"]
    assert isinstance(final, FixedThresholdClassifier) and final.threshold == done.threshold
    p_bad = model.predict_proba(split.X_test)[:, list(model.classes_).index("bad")]
    assert list(model.predict(split.X_test)) == list(np.where(p_bad >= done.threshold, "bad", "good"))


def test_threshold_choice_maximises_f1_or_youden_on_fixed_predictions() -> None:
    y = np.array(["bad", "bad", "bad", "good", "good", "good", "good", "good"], dtype=object)
    p = np.array([0.9, 0.45, 0.35, 0.4, 0.3, 0.2, 0.1, 0.05])
    # at 0.35 every bad is caught with one good wrongly flagged: F1 0.857 and J 0.8, the best cuts
    assert choose_threshold(y, p, "bad", "f1") == pytest.approx(0.35)
    assert choose_threshold(y, p, "bad", "youden") == pytest.approx(0.35)
    assert choose_threshold(y, np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.1, 0.1, 0.1]), "bad", "f1") == 0.7


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


def test_positive_class_must_be_a_label() -> None:
    assert make_task("classification", ("good", "bad"), None, "roc_auc").positive_class == "good"
    with pytest.raises(ContractError, match="positive_class 'yes'"):
        make_task("classification", ("good", "bad"), "yes", "roc_auc")
    assert make_task("regression", (), None, "roc_auc") == Task()


def test_with_no_readable_schema_a_classification_recipe_is_checked_as_one(tmp_path: Path) -> None:
    """Its own mistake is named (not `logistic`, which the regression catalogue does not know)."""
    from trainer.catalogue.training_recipe import loaded
    from trainer.errors import ConfigError

    recipe = credit_recipe(tmp_path / "r.yaml", candidates={**TINY, "magic_forest": {}})
    with pytest.raises(ConfigError, match=r"^recipe \S+r\.yaml: unknown candidate 'magic_forest'"):
        loaded(recipe, tmp_path / "none.yaml", None)
    _, specs = loaded(credit_recipe(tmp_path / "ok.yaml"), tmp_path / "none.yaml", None)
    assert [s.name for s in specs] == ["dummy", "logistic"]


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


def test_a_quoted_number_names_the_positive_class_itself() -> None:
    assert make_task("classification", (0, 1), "1", "roc_auc").positive_class == 1
    assert make_task("classification", (False, True), "False", "roc_auc").positive_class is False


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
