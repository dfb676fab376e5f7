"""The leakage detector: its rules on frames (unit), and through `trainer train` (integration):
a noisy copy of the target and a row id are blocked (exit 2) unless acknowledged, STAR's read3 is
warned about when it is not declared as leakage, the legitimate STAR features pass silently.
Also: one registered model, one contract (a schema that differs is refused before any work).

(unit layer)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import SCHEMA

from trainer.data.schema import load_schema
from trainer.data.split import split_data
from trainer.errors import ContractError
from trainer.leakage.detector import LeakageReport, classify, detect, enforce
from trainer.recipe.settings import LeakageSettings, load_recipe

SETTINGS = LeakageSettings()


def _star_training_part(frame: pd.DataFrame, read3_as_feature: bool) -> tuple[pd.DataFrame, np.ndarray]:
    schema = load_schema(SCHEMA)
    if read3_as_feature:
        schema = replace(schema, numerical=(*schema.numerical, "read3"), leakage=())
    split = split_data(frame, schema, load_recipe("train.yaml").split)
    return split.X_train, split.y_train


def _levels(report: LeakageReport) -> dict[str, str]:
    return dict(zip(report.table["column"], report.table["level"], strict=True))


@pytest.fixture
def synthetic() -> tuple[pd.DataFrame, np.ndarray]:
    """400 rows: three honest features, a text category and the target they explain together."""
    rng = np.random.default_rng(0)
    n = 400
    a, b, c = rng.normal(size=(3, n))
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = a + b + c + (colour == "red") + rng.normal(scale=1.0, size=n)
    return pd.DataFrame({"a": a, "b": b, "c": c, "colour": colour}), y


def test_honest_features_pass_silently(synthetic: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = synthetic
    report = detect(X, y, SETTINGS)
    assert set(_levels(report).values()) == {"ok"}, report.table
    enforce(report)  # nothing to block
    assert list(report.table.columns[:4]) == ["column", "alone_r2", "others_r2", "lift"]


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda y, rng: y + rng.normal(scale=0.05 * y.std(), size=len(y)), "near copy"),
        (lambda y, rng: np.exp(y / y.std()), "near copy"),  # a monotone transform
        (lambda y, rng: rng.permutation(len(y)) + 1000, "identifier-like"),  # a row id as a number
    ],
    ids=["noisy-copy", "monotone-transform", "row-id"],
)
def test_blocks_copies_of_the_target_and_row_ids(
    synthetic: tuple[pd.DataFrame, np.ndarray], make: Callable[..., Any], reason: str
) -> None:
    X, y = synthetic
    X = X.assign(suspect=make(y, np.random.default_rng(1)))
    report = detect(X, y, SETTINGS)
    assert _levels(report) == {"a": "ok", "b": "ok", "c": "ok", "colour": "ok", "suspect": "block"}, (
        report.table
    )
    with pytest.raises(
        ContractError, match=rf"leakage: 'suspect' is (a )?{reason}.*acknowledged: \[suspect\]"
    ):
        enforce(report)


def test_blocking_only_finds_the_same_blocks_with_the_same_alone_scores(
    synthetic: tuple[pd.DataFrame, np.ndarray],
) -> None:
    """`trainer init`'s cheaper run: the scores the block rules read, without the others-and-lift fits."""
    X, y = synthetic
    rng = np.random.default_rng(2)
    bent = np.where(y < 0, -y, y + 100)  # the target, folded: not monotone, a tree reads it back
    X = X.assign(bent=bent, row=rng.permutation(len(y)))
    full, cheap = detect(X, y, SETTINGS), detect(X, y, SETTINGS, blocking_only=True)
    assert _levels(cheap) == {c: "block" if c in ("bent", "row") else "ok" for c in X.columns}
    assert "alone R²" in cheap.table.set_index("column").loc["bent", "reason"]
    assert _levels(cheap) == {c: lvl if lvl == "block" else "ok" for c, lvl in _levels(full).items()}
    pd.testing.assert_series_equal(cheap.table["alone_r2"], full.table["alone_r2"])
    assert cheap.table["others_r2"].isna().all() and np.isnan(cheap.all_r2)


def test_a_text_id_is_blocked_and_acknowledging_it_lets_it_through(
    synthetic: tuple[pd.DataFrame, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    X, y = synthetic
    X = X.assign(code=[f"row-{i}" for i in range(len(X))])
    blocked = detect(X, y, SETTINGS)
    assert _levels(blocked)["code"] == "block"
    acknowledged = detect(X, y, LeakageSettings(acknowledged=("code",)))
    enforce(acknowledged)
    assert "'code' acknowledged in the recipe" in caplog.text


@pytest.mark.parametrize("levels", [63, 64, 200, 300])
def test_a_text_column_with_many_levels_is_scored(
    synthetic: tuple[pd.DataFrame, np.ndarray], levels: int
) -> None:
    """Up to 63 levels (the model's most) as categories, more as ordered codes: never a failed fit."""
    from trainer.leakage.scores import encoded

    X, y = synthetic
    X = X.assign(city=[f"city-{i % levels}" for i in range(len(X))])
    assert ("city" in encoded(X)[1]) == (levels <= 63)
    report = detect(X, y, SETTINGS)
    assert report.table[["alone_r2", "others_r2", "lift"]].notna().all().all(), report.table
    assert _levels(report)["city"] == "ok"


def test_the_detectors_scores_are_cross_val_scores(synthetic: tuple[pd.DataFrame, np.ndarray]) -> None:
    """Its plain loop on arrays gives what `cross_val_score` gives on the frame, NaNs and categories included."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import KFold, cross_val_score

    from trainer.leakage.scores import _cv_score, encoded

    X, y = synthetic
    X = X.assign(a=X["a"].where(X.index % 7 != 0))
    frame, categorical = encoded(X)
    mask = [c in categorical for c in frame.columns]
    assert any(mask)
    folds = KFold(3, shuffle=True, random_state=0)
    model = HistGradientBoostingRegressor(
        max_iter=40,
        learning_rate=0.2,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        max_bins=63,
        early_stopping=False,
        random_state=0,
        categorical_features=mask,
    )
    expected = float(np.mean(cross_val_score(model, frame, y, cv=folds, scoring="r2")))
    found = _cv_score(frame.to_numpy(), y, mask, list(folds.split(frame)), list(frame.columns))
    assert found == expected


def test_brier_skill_is_one_minus_sklearns_brier_score_over_the_class_frequencies() -> None:
    from sklearn.metrics import brier_score_loss

    from trainer.leakage.scores import brier_skill

    rng = np.random.default_rng(0)
    labels = np.array([0.0, 1.0, 2.0])
    y = rng.choice(labels, 50)
    probabilities = rng.dirichlet([1, 1, 1], 50)
    prior = np.array([0.2, 0.5, 0.3])
    model = brier_score_loss(y, probabilities, labels=labels)
    baseline = brier_score_loss(y, np.tile(prior, (50, 1)), labels=labels)
    assert brier_skill(y, probabilities, labels, prior) == pytest.approx(1 - model / baseline)


def test_a_model_that_cannot_be_fitted_is_one_line(
    synthetic: tuple[pd.DataFrame, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from trainer.errors import TrainerError

    def refused(self: Any, X: Any, y: Any) -> None:
        raise ValueError("Input X has a value the model refuses")

    monkeypatch.setattr(HistGradientBoostingRegressor, "fit", refused)
    X, y = synthetic
    with pytest.raises(
        TrainerError,
        match=r"leakage detector: its model could not be fitted on \['a', 'b', 'c', 'colour'\]: ValueError: Input X",
    ):
        detect(X, y, SETTINGS)  # one job: in this process, where the patch applies


def _four_classes(seed: int, n: int = 600) -> tuple[pd.DataFrame, np.ndarray]:
    """Four classes (one rare, ~3 %) cut from three honest features and noise, coded in an order
    unrelated to them; `copy` is the label itself as numbers."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({c: rng.normal(size=n) for c in "abcd"})  # d: noise
    latent = X["a"] + X["b"] + X["c"] + rng.normal(size=n)
    cuts = np.quantile(latent, [0.3, 0.6, 0.97])
    y = rng.permutation(4)[np.digitize(latent, cuts)].astype(float)
    X["copy"] = y * 10 + rng.normal(scale=0.01, size=n)
    return X, y


def test_three_or_more_classes_are_scored_as_classes_not_as_codes() -> None:
    """Class codes have no order: R² on them, or a rank correlation, measures an arbitrary one. On
    8 seeds of 600 rows the codes flagged 9 of 32 honest features; as classes (a classifier's Brier
    skill) none, while a copy of the label is blocked on every seed, the rare class included (the
    first 4 seeds here)."""
    flagged = 0
    for seed in range(4):
        X, y = _four_classes(seed)
        report = detect(X, y, SETTINGS, classes=True)
        table = report.table.set_index("column")
        assert table.loc["copy", "level"] == "block", table
        assert "alone Brier skill 0.9" in table.loc["copy", "reason"]
        honest = detect(X.drop(columns="copy"), y, SETTINGS, classes=True)
        flagged += int((honest.table["level"] != "ok").sum())
        assert honest.table["spearman"].isna().all()
    assert flagged == 0
    assert report.score == "Brier skill" and "all features Brier skill " in report.summary()


def test_warn_rule_separates_a_concurrent_score_from_a_strong_earlier_one() -> None:
    """The reference measurements (issue #13): read3 warned, math2 silent, a weak feature silent."""
    read3 = {"alone_r2": 0.556, "others_r2": 0.549, "lift": 0.122}
    math2 = {"alone_r2": 0.522, "others_r2": 0.62, "lift": 0.05}
    weak = {"alone_r2": 0.1, "others_r2": 0.6, "lift": 0.01}
    assert classify(read3)[0] == "warn"
    assert classify(math2) == ("ok", "")
    assert classify(weak) == ("ok", "")
    assert classify({**math2, "spearman": 0.99})[0] == "block"


def test_star_legitimate_features_silent_and_undeclared_read3_warned(
    sample_frame: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    honest = detect(*_star_training_part(sample_frame, read3_as_feature=False), SETTINGS)
    assert set(_levels(honest).values()) == {"ok"}, honest.table
    leaky = detect(*_star_training_part(sample_frame, read3_as_feature=True), SETTINGS)
    levels = _levels(leaky)
    assert levels.pop("read3") == "warn", leaky.table
    assert set(levels.values()) == {"ok"}, leaky.table
    enforce(leaky)  # a warning never stops the training
    assert "feature 'read3' dominates" in caplog.text


def _sitting(rows: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    """Three honest features and two exam scores of the same sitting as the target: each exam a
    noisy reading of what the target also measures, so the two are near copies of each other
    (|Spearman| 0.94) but neither of the target (0.95, under the 0.98 block)."""
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, rows))
    sitting = a + b + c + rng.normal(scale=1.0, size=rows)
    y = sitting + rng.normal(scale=0.3, size=rows)
    exams = {f"exam{i}": sitting + rng.normal(scale=0.5, size=rows) for i in (1, 2)}
    return pd.DataFrame({"a": a, "b": b, "c": c, **exams}), y


def test_two_near_copies_that_mask_each_other_are_scored_together_and_warned() -> None:
    """Alone, each exam lifts the others by 0.02 (its twin knows what it knows): silent. Scored as
    a group, the pair lifts the honest features by 0.3 and predicts the target better than they do."""
    X, y = _sitting()
    report = detect(X, y, SETTINGS)
    table = report.table.set_index("column")
    assert (table.loc[["exam1", "exam2"], "lift"] < 0.05).all(), table  # what used to hide them
    assert _levels(report) == {"a": "ok", "b": "ok", "c": "ok", "exam1": "warn", "exam2": "warn"}, table
    assert table.loc["exam1", "group"] == "exam1+exam2" and table.loc["exam1", "group_lift"] >= 0.1
    assert "together with 'exam2'" in table.loc["exam1", "reason"]
    assert pd.isna(table.loc["a", "group"])
    honest = detect(X.drop(columns="exam2"), y, SETTINGS)  # one exam alone: the old rule sees it
    assert _levels(honest)["exam1"] == "warn"


def test_a_log_copy_of_the_target_is_blocked_by_init_and_by_train() -> None:
    """A wage table (as ISLR's Wage) whose `logwage` is log(wage): drafted as leakage by `trainer
    init`'s rule, and blocked (exit 2) by the training's detector when it is made a feature."""
    from trainer.onboarding.profile import infer_role

    rng = np.random.default_rng(3)
    rows = 300
    age = rng.integers(18, 80, size=rows)
    education = rng.choice(["1. < HS Grad", "2. HS Grad", "3. Some College", "4. College Grad"], size=rows)
    wage = np.exp(4.0 + 0.01 * age + 0.1 * (education == "4. College Grad") + rng.normal(0, 0.3, rows))
    frame = pd.DataFrame({"year": rng.integers(2003, 2010, size=rows), "age": age, "education": education})
    frame = frame.assign(logwage=np.log(wage), wage=wage)
    role, rule = infer_role("logwage", frame["logwage"], "number", frame["wage"])
    assert role == "leakage" and "near copy" in rule
    report = detect(frame.drop(columns="wage"), wage, SETTINGS)
    assert _levels(report)["logwage"] == "block"
    with pytest.raises(ContractError, match="'logwage' is a near copy of the target"):
        enforce(report)
