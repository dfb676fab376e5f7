"""`trainer init`: roles inferred with their rules, a suite that passes on its own data and fails on
the bad inputs, no overwrite without --force, and (system) init -> validate -> train on a dataset the
project has never seen, without editing a file. Also: the default gates travel.

(unit layer)"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import DEFAULT_RECIPE
from support.init import _draft, _houses

from trainer.catalogue.regressors import check_candidates
from trainer.cli.main import main
from trainer.data import contract
from trainer.data.schema import load_schema
from trainer.errors import ContractError
from trainer.onboarding.profile import profile
from trainer.recipe.settings import GateSettings, load_recipe


@pytest.fixture
def mixed(write_csv: Callable[..., Path]) -> Path:
    """One column per rule of trainer/onboarding/profile.py."""
    rng = np.random.default_rng(0)
    n = 300
    y = rng.normal(50, 10, size=n)
    frame = pd.DataFrame(
        {
            "id": rng.permutation(n) + 1,
            "row": np.arange(n),
            "store_id": rng.integers(1, 9, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "comment": [f"note {i}" for i in range(n)],
            "constant": 1,
            "copy": y * 2 + rng.normal(scale=0.1, size=n),
            "x": rng.normal(size=n),
            "level": rng.integers(1, 6, size=n),
            "flag": rng.choice([True, False], size=n),
            "y": y,
        }
    )
    frame.loc[::10, "x"] = np.nan
    return write_csv(frame, "mixed.csv")


def test_roles_are_inferred_and_each_says_why(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert _draft(mixed, tmp_path / "d") == 0
    schema = load_schema(tmp_path / "d" / "schema.yaml")
    assert schema.name == "mixed" and schema.target == "y"
    assert schema.identifiers == ("id", "row")
    assert schema.numerical == ("x", "level")
    assert schema.categorical == ("colour", "flag")
    assert schema.leakage == ("copy",)
    assert set(schema.ignore) == {"store_id", "comment", "constant"}
    text = (tmp_path / "d" / "schema.yaml").read_text()
    for rule in (
        "- id  # unique per row, an id-like name",
        "- row  # unique per row, whole numbers",
        "- store_id  # id-like name with repeated values",
        "- comment  # text with 300 distinct values",
        "- constant  # one value in every row",
        "- copy  # |Spearman| with the target",
        "- level  # numeric (int64), 5 distinct values (if the numbers are codes",
    ):
        assert rule in text, text
    printed = capsys.readouterr().out
    assert "300 rows, 11 columns; task: regression" in printed
    assert "x 10.0%" in printed  # null rates
    recipe_path = tmp_path / "d" / "recipe.yaml"
    assert f"trainer train --recipe {recipe_path}\n" in printed
    assert f"mlflow run . --env-manager local -P recipe={recipe_path}\n" in printed
    recipe = load_recipe(tmp_path / "d" / "recipe.yaml")
    assert (recipe.experiment, recipe.registered_model, recipe.gates.min_cv_r2) == ("mixed", "mixed", None)
    assert recipe.input_path("data").resolve() == mixed.resolve()
    check_candidates(recipe.candidates, recipe.search.max_grid_points)
    frame = contract.validate(mixed, schema)
    assert frame.success, frame.summary()


def test_categorical_drafts_codes_as_categories_with_their_values(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The hint on whole numbers with few values names the option that follows it: --categorical
    drafts the column as a category, its observed values in the suite, and the suite passes."""
    assert _draft(mixed, tmp_path / "a") == 0
    hint = "- level  # numeric (int64), 5 distinct values (if the numbers are codes, draft again with --categorical 'level')"
    assert hint in (tmp_path / "a" / "schema.yaml").read_text()

    assert _draft(mixed, tmp_path / "b", "--categorical", "level", "x") == 0
    schema = load_schema(tmp_path / "b" / "schema.yaml")
    assert schema.categorical == ("colour", "x", "level", "flag") and "level" not in schema.numerical
    assert (
        "- level  # asked for by --categorical, 5 distinct values"
        in (tmp_path / "b" / "schema.yaml").read_text()
    )
    suite = json.loads((tmp_path / "b" / "suite.json").read_text())
    [level] = [
        e
        for e in suite["expectations"]
        if e["kwargs"].get("column") == "level" and "value_set" in e["kwargs"]
    ]
    assert level["kwargs"]["value_set"] == [1, 2, 3, 4, 5]
    assert contract.validate(mixed, schema).success


def test_names_with_spaces_around_them_are_said_and_still_read_for_their_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    n = 60
    frame = pd.DataFrame(
        {" customer_id ": [f"C{i}" for i in range(n)], "x ": np.linspace(0, 1, n), "y": np.arange(n) % 13}
    )
    p = profile(frame, "y", "regression")
    assert p.column(" customer_id ").role == "identifiers"
    assert "kept exactly as in the header: [' customer_id ', 'x ']" in caplog.text


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["levle"], "--categorical 'levle' is not a column of the data (did you mean 'level'?)"),
        (["y"], "--categorical 'y' is the target: a target is not a feature"),
    ],
)
def test_categorical_names_a_column_that_is_not_a_feature(
    columns: list[str], message: str, mixed: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert _draft(mixed, tmp_path / "d", "--categorical", *columns) == 1
    assert message in caplog.text
    assert not (tmp_path / "d").exists()


def test_iso_date_columns_are_drafted_as_numbers(write_csv: Callable[..., Path], tmp_path: Path) -> None:
    """An ISO date column becomes a number (the year as a decimal) under derived:, and the suite
    checks its format, so a date in another format stops at the contract."""
    data = write_csv(_houses(), "houses.csv")
    assert _draft(data, tmp_path / "d") == 0
    schema = load_schema(tmp_path / "d" / "schema.yaml")
    assert [(d.name, d.source, d.kind) for d in schema.derived] == [
        ("built_on_year", "built_on", "date"),
        ("sold_year", "sold", "date"),
    ]
    assert schema.numerical == ("area",) and "day" in schema.ignore
    assert contract.validate(data, schema).success
    bad = _houses().astype({"built_on": object})
    bad.loc[3, "built_on"] = "30/01/2021"
    [failure] = contract.validate(write_csv(bad, "bad.csv"), schema).failures
    assert failure.startswith("expect_column_values_to_match_regex(built_on): 1 unexpected"), failure
    assert "'30/01/2021' (line 5)" in failure


ID_LIKE = [
    "id",
    "ID",
    "student_id",
    "Student_ID",
    "row.key",
    "order key",
    "uuid",
    "userId",
    "StudentID",
    "orderKey",
]


NOT_ID_LIKE = ["malic_acid", "citric acid", "is_paid", "fluid", "valid", "covid", "rapid", "monkey", "kid"]


@pytest.mark.parametrize("name", ID_LIKE + NOT_ID_LIKE)
def test_id_like_names_are_words_not_letters(name: str) -> None:
    """A column ending in the letters i-d (acid, valid, is_paid) is not taken for an id and ignored."""
    from trainer.onboarding.profile import ID_NAME

    assert bool(ID_NAME.search(name)) == (name in ID_LIKE)


def _curved(task: str) -> pd.DataFrame:
    """A target that one column predicts alone (alone R² >= 0.95) though not monotonically (|Spearman|
    well below 0.98): `shape` is a text twin of the classes, `size` a parabola of the number."""
    rng = np.random.default_rng(3)
    size = rng.uniform(50, 200, 400)
    y = (size - 125) ** 2 / 10 + rng.normal(0, 10, 400)
    frame = pd.DataFrame(
        {"size": size, "rooms": rng.integers(1, 6, 400), "city": rng.choice(["a", "b"], 400)}
    )
    if task == "regression":
        return frame.assign(y=y)
    label = np.where(rng.uniform(size=400) < 0.3, "bad", "good")
    return frame.drop(columns="size").assign(shape=np.where(label == "bad", "round", "square"), y=label)


@pytest.mark.parametrize(("task", "column"), [("regression", "size"), ("classification", "shape")])
def test_a_feature_the_detector_would_block_is_drafted_as_leakage(task: str, column: str) -> None:
    """The draft trains as drafted: what the training's detector blocks is not drafted as a feature."""
    drafted = profile(_curved(task), "y")
    assert drafted.task == task
    assert [c.name for c in drafted.role("leakage")] == [column]
    rule = drafted.column(column).rule
    score = "R²" if task == "regression" else "Brier skill"  # a class target: a classifier's score
    assert rule.startswith(
        f"the leakage detector would block it: it is a near copy of the target (alone {score} "
    )
    assert rule.endswith(
        "if it is honest, make it a feature and list it in the recipe's leakage.acknowledged"
    )
    assert {c.name for c in drafted.role("numerical") + drafted.role("categorical")} == {"rooms", "city"}


BAD_INPUTS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "missing-column": lambda f: f.drop(columns=["math2"]),
    "wrong-dtype": lambda f: f.astype({"mathk": object}).assign(
        mathk=lambda g: g["mathk"].where(g.index != 3, "four")
    ),
    "null-target": lambda f: f.assign(math3=f["math3"].where(f.index % 50 != 0)),
    "out-of-range": lambda f: f.assign(math3=f["math3"].where(f.index != 2, 9999.0)),
    "unseen-category": lambda f: f.assign(school3=f["school3"].where(f.index != 1, "lunar")),
    "duplicated-id": lambda f: f.assign(
        student_id=f["student_id"].where(f.index != 1, f.loc[0, "student_id"])
    ),
    "below-min-rows": lambda f: f.head(60),
    "mostly-missing": lambda f: f.assign(math1=np.nan),
}


def test_drafted_suite_passes_on_its_data_and_fails_on_the_bad_inputs(
    sample_frame: pd.DataFrame, write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    frame = sample_frame.head(600)
    data = write_csv(frame, "star.csv")
    assert main(["init", "--data", str(data), "--target", "math3", "--out", str(tmp_path / "d")]) == 0
    schema = load_schema(tmp_path / "d" / "schema.yaml")
    assert contract.validate(data, schema).success
    suite = json.loads((tmp_path / "d" / "suite.json").read_text())
    types = {
        e["kwargs"]["column"]: e["kwargs"]["type_list"]
        for e in suite["expectations"]
        if "type_list" in e["kwargs"]
    }
    assert types["gender"] == ["str", "object", "string"]
    failed = {}
    for case, mutate in BAD_INPUTS.items():
        bad = write_csv(mutate(frame.copy()), f"{case}.csv")
        try:
            failed[case] = not contract.validate(bad, schema).success
        except ContractError:  # missing column: refused before the suite runs
            failed[case] = True
    assert all(failed.values()), failed


def test_init_never_overwrites_without_force(
    mixed: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "d"
    assert _draft(mixed, out) == 0
    (out / "schema.yaml").write_text("# reviewed by hand\n")
    assert _draft(mixed, out) == 1
    assert "already exist(s)" in caplog.text and "--force" in caplog.text
    assert (out / "schema.yaml").read_text() == "# reviewed by hand\n"
    assert _draft(mixed, out, "--force") == 0
    assert (out / "schema.yaml").read_text().startswith("# Drafted by `trainer init`")


def test_init_refuses_a_target_it_cannot_draft(
    write_csv: Callable[..., Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = pd.DataFrame({"a": range(40), "b": [1.5, 2.5] * 20, "y": [1.0, np.nan] * 20})
    assert main(["init", "--data", str(write_csv(frame)), "--target", "Y", "--out", str(tmp_path / "x")]) == 1
    assert "--target 'Y' is not a column of the data (did you mean 'y'?)" in caplog.text
    assert _draft(write_csv(frame), tmp_path / "x") == 2
    assert "target 'y' is missing in 20 row(s)" in caplog.text
    assert not (tmp_path / "x").exists()


def test_task_is_inferred_from_the_target() -> None:
    frame = pd.DataFrame({"a": range(60), "score": np.linspace(0, 1, 60), "label": ["a", "b", "c"] * 20})
    assert profile(frame, "score").task == "regression"
    assert profile(frame, "label").task == "classification"
    assert profile(frame.assign(code=[1, 2, 3, 4] * 15), "code", "classification").task == "classification"


def test_default_gates_travel_and_star_keeps_its_floor() -> None:
    """No absolute floor by default (it is the dataset's own); train.yaml keeps STAR's 0.45."""
    assert GateSettings().min_cv_r2 is None
    assert load_recipe(DEFAULT_RECIPE).gates.min_cv_r2 == 0.45


def test_a_gate_failure_names_the_number_and_the_file() -> None:
    from trainer.search.results import CandidateResult
    from trainer.search.selection import GatesFailed, select

    def result(name: str, cv_r2: float, complexity: int) -> CandidateResult:
        return CandidateResult(name, complexity, 1, {}, cv_r2, 0.01, 0.1, 0.1, pd.DataFrame())

    gates = GateSettings(min_cv_r2=0.5)
    with pytest.raises(GatesFailed, match=r"lower \(or remove\) gates.min_cv_r2 in data/other.yaml"):
        select([result("dummy", 0.0, 0), result("ridge", 0.3, 2)], gates, "data/other.yaml")
    with pytest.raises(GatesFailed, match=r"lower gates.min_improvement in r.yaml"):
        select([result("dummy", 0.28, 0), result("ridge", 0.3, 2)], GateSettings(), "r.yaml")


def test_classification_target_drafts_labels_metric_and_classifiers(tmp_path: Path) -> None:
    """A target of classes gets `task: classification`, its labels in the suite and classifiers."""
    from trainer.onboarding.draft import Asked, write_drafts

    rows = 300
    frame = pd.DataFrame(
        {
            "amount": [float(i % 37) for i in range(rows)],
            "kind": ["a", "b", "c"] * (rows // 3),
            "outcome": ["yes", "no"] * (rows // 2),
        }
    )
    data = tmp_path / "loans.csv"
    frame.to_csv(data, index=False)
    write_drafts(data, Asked("outcome", name="loans"), tmp_path / "out")
    schema = (tmp_path / "out" / "schema.yaml").read_text()
    suite = json.loads((tmp_path / "out" / "suite.json").read_text())
    recipe = yaml.safe_load((tmp_path / "out" / "recipe.yaml").read_text())
    assert "task: classification" in schema and "positive_class: 'yes'" in schema
    label_sets = [
        e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "outcome"
    ]
    assert label_sets == [["no", "yes"]]
    assert recipe["classification"]["metric"] == "roc_auc" and "logistic" in recipe["candidates"]
    assert "linear" not in recipe["candidates"]
    assert "add `min_cv_score: <floor>`" in (tmp_path / "out" / "recipe.yaml").read_text()


@pytest.mark.parametrize(
    ("labels", "positive"),
    [(["good"] * 7 + ["bad"] * 3, "bad"), (["no"] * 3 + ["yes"] * 7, "no"), (["no", "yes"] * 5, "yes")],
    ids=["rarer-sorts-first", "rarer-sorts-last", "a-tie-takes-the-last"],
)
def test_the_drafted_positive_class_is_the_rarer_label(
    tmp_path: Path, labels: list[str], positive: str
) -> None:
    """The event a yes/no model is asked to find is usually the rarer one (default, churn, disease)."""
    from trainer.onboarding.draft import Asked, write_drafts

    data = tmp_path / "events.csv"
    pd.DataFrame({"x": [float(i % 7) for i in range(30)], "outcome": labels * 3}).to_csv(data, index=False)
    write_drafts(data, Asked("outcome", name="events"), tmp_path / "out")
    schema = yaml.safe_load((tmp_path / "out" / "schema.yaml").read_text())
    assert schema["positive_class"] == positive


@pytest.mark.parametrize(("positives", "chosen"), [(5, "f1"), (19, "f1"), (20, "none"), (50, "none")])
def test_a_rare_positive_class_gets_its_threshold_chosen(tmp_path: Path, positives: int, chosen: str) -> None:
    """Below a fifth of the rows, a classifier's P(positive) seldom reaches 0.5: the drafted recipe
    chooses the threshold that maximises F1 on out-of-fold predictions instead."""
    from trainer.onboarding.draft import Asked, write_drafts

    data = tmp_path / "events.csv"
    outcome = ["yes"] * positives + ["no"] * (100 - positives)
    pd.DataFrame({"x": [float(i % 17) for i in range(100)], "outcome": outcome}).to_csv(data, index=False)
    write_drafts(data, Asked("outcome", name="events"), tmp_path / "out")
    recipe = load_recipe(tmp_path / "out" / "recipe.yaml")
    assert recipe.classification.threshold_metric == chosen
    assert recipe.classification.threshold == 0.5


def test_init_on_a_file_that_is_not_comma_separated_says_so(tmp_path: Path) -> None:
    from trainer.errors import ConfigError

    frame = pd.DataFrame({"a": range(40), "y": range(40)})
    with pytest.raises(ConfigError, match=r"--target 'y' is not a column .*does not look comma-separated\)$"):
        profile(pd.read_csv(io.StringIO(frame.to_csv(sep=";", index=False))), "y")


def test_init_warns_of_a_label_too_rare_for_the_drafted_folds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The training would stop at its label check (exit 2); the draft says so first."""
    from trainer.onboarding.draft import Asked, write_drafts

    frame = pd.DataFrame({"x": [i % 7 for i in range(200)], "y": ["a"] * 100 + ["b"] * 98 + ["c"] * 2})
    (tmp_path / "d.csv").write_text(frame.to_csv(index=False))
    write_drafts(tmp_path / "d.csv", Asked("y", name="d"), tmp_path / "out")
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [
        "label 'c' has only 2 rows: a training needs about 7 (5 stratified CV folds in the training part); "
        "add rows of it, merge it into another label or drop its rows"
    ]


@pytest.mark.parametrize(("labels", "rarer"), [((0, 1), 1), ((False, True), False), ((2, 10), 10)])
def test_a_target_of_numbers_or_true_false_drafts_a_schema_that_loads(
    labels: tuple[Any, Any], rarer: Any, tmp_path: Path
) -> None:
    """The rarer label is written as YAML writes it (1, false), read back as the label itself."""
    from trainer.data.suite import target_labels
    from trainer.onboarding.draft import Asked, write_drafts
    from trainer.recipe.task import make_task

    common = labels[0] if rarer == labels[1] else labels[1]
    frame = pd.DataFrame({"x": [i % 7 for i in range(120)], "y": [common] * 80 + [rarer] * 40})
    frame.to_csv(tmp_path / "d.csv", index=False)
    write_drafts(tmp_path / "d.csv", Asked("y", name="d"), tmp_path / "out")
    schema = load_schema(tmp_path / "out" / "schema.yaml")
    suite = json.loads((tmp_path / "out" / "suite.json").read_text())
    task = make_task(schema.task, target_labels(suite, "y"), schema.positive_class, "roc_auc")
    assert (task.labels, task.positive_class) == (tuple(sorted(labels)), rarer)
    assert type(task.positive_class) is type(rarer)


def test_unique_whole_numbers_with_blanks_are_drafted_as_identifiers(tmp_path: Path) -> None:
    """The detector's identifier rule (unique per row among the values present) gives `identifiers`."""
    rng = np.random.default_rng(1)
    ids = rng.permutation(200).astype(float) + 1000
    ids[:5] = np.nan
    drafted = profile(
        pd.DataFrame({"ticket": ids, "x": rng.normal(size=200), "y": rng.normal(size=200)}), "y"
    )
    assert drafted.column("ticket").role == "identifiers"
    assert drafted.column("ticket").rule.endswith(
        "is identifier-like (unique per row: whole numbers): never a feature"
    )


def test_a_regression_of_text_labels_is_refused_in_one_line() -> None:
    from trainer.errors import ConfigError

    frame = pd.DataFrame({"x": range(40), "y": ["good", "bad"] * 20})
    with pytest.raises(ConfigError, match=r"^--task regression: target 'y' is not numeric \(e\.g\. 'good'\)"):
        profile(frame, "y", "regression")
