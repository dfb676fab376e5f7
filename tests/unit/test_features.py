"""Code behaviour: the feature matrix the schema defines, its digest, the split."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import SCHEMA
from sklearn.linear_model import Ridge

from trainer.data.features import build_pipeline, build_preprocessor, summarize_features
from trainer.data.schema import Schema, load_schema
from trainer.data.split import Split, canonical_order, split_data
from trainer.recipe.settings import Recipe, load_recipe
from trainer.transforms import date_to_number, year_quarter_to_number

FORBIDDEN = ("student_id", "school_id", "read3", "math3")


@pytest.fixture
def schema() -> Schema:
    return load_schema(SCHEMA)


@pytest.fixture
def recipe(small_recipe: Path) -> Recipe:
    return load_recipe(small_recipe)


def features_of(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    return canonical_order(frame, schema)[list(schema.feature_columns)]


# --- feature names ------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["onehot", "native"])
def test_feature_names_exclude_identifiers_leakage_target_and_birth_text(
    encoding: str, schema: Schema, raw_frame: pd.DataFrame
) -> None:
    """Fit on the whole raw frame (every column present): only declared features come out."""
    raw_frame["teacher_notes"] = "anything"
    names = [str(n) for n in build_preprocessor(schema, encoding).fit(raw_frame).get_feature_names_out()]

    for column in (*FORBIDDEN, "teacher_notes"):
        assert not [n for n in names if column in n], column
    assert not [n for n in names if re.search(r"\d{4} ?Q[1-4]", n)], "birth text one-hot encoded"
    assert not [n for n in names if n.startswith("cat__birth")]
    birth = [n for n in names if "birth" in n]
    assert birth and all(n.startswith("birth_year") or n == "birth" for n in birth), birth


def test_onehot_feature_names_cover_every_declared_feature(schema: Schema, raw_frame: pd.DataFrame) -> None:
    names = list(build_preprocessor(schema).fit(raw_frame).get_feature_names_out())
    for column in schema.numerical:
        assert f"num__{column}" in names
    assert "birth_year__birth" in names
    for column in schema.categorical:
        assert any(n.startswith(f"cat__{column}_") for n in names), column
    assert "cat__gender_female" in names and "cat__gender_male" in names


def test_schema_feature_columns_never_include_forbidden_roles(schema: Schema) -> None:
    features = set(schema.feature_columns)
    assert not features & {*schema.identifiers, *schema.leakage, schema.target}
    assert "birth" in features and "birth_year" not in features


# --- digest and shape ---------------------------------------------------------------------------


def test_feature_digest_is_stable_across_builds(schema: Schema, sample_frame: pd.DataFrame) -> None:
    X = features_of(sample_frame, schema)
    first = summarize_features(schema, X)
    second = summarize_features(schema, X.copy())
    assert first == second
    assert re.fullmatch(r"[0-9a-f]{64}", first.digest)


def test_feature_digest_ignores_row_order_of_the_export(schema: Schema, sample_frame: pd.DataFrame) -> None:
    shuffled = sample_frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert not shuffled["student_id"].equals(sample_frame["student_id"])
    assert (
        summarize_features(schema, features_of(shuffled, schema)).digest
        == summarize_features(schema, features_of(sample_frame, schema)).digest
    )


def test_feature_digest_changes_when_a_value_changes(schema: Schema, sample_frame: pd.DataFrame) -> None:
    X = features_of(sample_frame, schema)
    changed = X.copy()
    changed.loc[0, "math2"] = 799.0
    assert summarize_features(schema, changed).digest != summarize_features(schema, X).digest


def test_feature_summary_shape(schema: Schema, sample_frame: pd.DataFrame) -> None:
    X = features_of(sample_frame, schema)
    summary = summarize_features(schema, X)
    assert summary.rows == len(X) == len(sample_frame)
    assert summary.columns == len(summary.names)
    matrix = build_preprocessor(schema).fit_transform(X)
    assert matrix.shape == (summary.rows, summary.columns)
    assert np.isfinite(matrix).all(), "imputation leaves no NaN in the matrix"


def test_canonical_order_sorts_by_identifiers(schema: Schema, sample_frame: pd.DataFrame) -> None:
    ordered = canonical_order(sample_frame.sample(frac=1.0, random_state=3), schema)
    assert ordered["student_id"].is_monotonic_increasing
    assert list(ordered.index) == list(range(len(ordered)))


# --- robustness of the fitted pipeline ----------------------------------------------------------


def test_pipeline_predicts_on_unseen_categories_and_missing_values(
    schema: Schema, sample_frame: pd.DataFrame
) -> None:
    X = features_of(sample_frame, schema)
    y = canonical_order(sample_frame, schema)["math3"].to_numpy()
    pipeline = build_pipeline(schema, "onehot", Ridge(alpha=1.0)).fit(X.iloc[:1000], y[:1000])

    odd = X.iloc[1000:1006].copy().reset_index(drop=True)
    odd.loc[0, "gender"] = "alien"
    odd.loc[1, "ethnicity"] = "martian"
    odd.loc[2, ["mathk", "math1", "math2", "readk", "read1", "read2", "experience3"]] = np.nan
    odd.loc[3, ["gender", "star3", "lunch3", "school3", "degree3", "ladder3", "tethnicity3"]] = None
    odd.loc[4, "birth"] = "sometime in 1979"
    odd.loc[5, "birth"] = None
    pred = pipeline.predict(odd)

    assert pred.shape == (6,)
    assert np.isfinite(pred).all()
    assert ((pred > 300) & (pred < 900)).all(), pred


def test_pipeline_ignores_extra_columns_at_prediction(schema: Schema, sample_frame: pd.DataFrame) -> None:
    X = features_of(sample_frame, schema)
    y = canonical_order(sample_frame, schema)["math3"].to_numpy()
    pipeline = build_pipeline(schema, "onehot", Ridge()).fit(X, y)
    wider = canonical_order(sample_frame, schema).assign(teacher_notes="x")
    np.testing.assert_allclose(pipeline.predict(wider), pipeline.predict(X))


# --- derived birth year -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1979 Q3", 1979.5),
        ("1980 Q1", 1980.0),
        ("1978 Q4", 1978.75),
        (" 1981 Q2 ", 1981.25),
        ("1979Q3", 1979.5),
    ],
)
def test_year_quarter_to_number(text: str, expected: float) -> None:
    out = year_quarter_to_number(pd.DataFrame({"birth": [text]}))
    assert out["birth"].iloc[0] == expected


@pytest.mark.parametrize("garbage", ["garbage", "1979 Q5", "1979 Q0", "Q3 1979", "79 Q3", "", None, np.nan])
def test_year_quarter_garbage_is_nan(garbage: object) -> None:
    out = year_quarter_to_number(pd.DataFrame({"birth": [garbage]}))
    assert math.isnan(out["birth"].iloc[0])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-01-01", 2021.0),
        ("2021-07-02 12:00", 2021.5),  # 182.5 of 365 days
        ("2024-07-02", 2024 + 183 / 366),  # a leap year
        ("2020-12-31T23:00:00-01:00", 2021.0),  # an offset: in UTC
        ("2021-01-01T00:00:00Z", 2021.0),
    ],
)
def test_date_to_number(text: str, expected: float) -> None:
    assert date_to_number(pd.DataFrame({"sold": [text]}))["sold"].iloc[0] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("garbage", ["2021-02-30", "2021-13-01", "03/04/2021", "yesterday", "", None, np.nan])
def test_a_date_that_is_not_one_is_nan(garbage: object) -> None:
    out = date_to_number(pd.DataFrame({"sold": [garbage, "2021-01-01"]}, index=[7, 9]))
    assert math.isnan(out["sold"].loc[7]) and out["sold"].loc[9] == 2021.0


def test_year_quarter_keeps_index_and_columns() -> None:
    frame = pd.DataFrame({"birth": ["1979 Q3", "x"], "other": ["1980 Q2", None]}, index=[10, 20])
    out = year_quarter_to_number(frame)
    assert list(out.index) == [10, 20]
    assert list(out.columns) == ["birth", "other"]
    assert out.loc[10, "other"] == 1980.25
    assert out.dtypes.tolist() == [np.float64, np.float64]


# --- holdout split ------------------------------------------------------------------------------


def test_split_is_deterministic_and_order_independent(
    schema: Schema, recipe: Recipe, sample_frame: pd.DataFrame
) -> None:
    first = split_data(sample_frame, schema, recipe.split)
    again = split_data(sample_frame.copy(), schema, recipe.split)
    shuffled = split_data(sample_frame.sample(frac=1.0, random_state=11), schema, recipe.split)
    for other in (again, shuffled):
        pd.testing.assert_frame_equal(first.X_train, other.X_train)
        pd.testing.assert_frame_equal(first.X_test, other.X_test)
        np.testing.assert_array_equal(first.y_train, other.y_train)
        np.testing.assert_array_equal(first.y_test, other.y_test)
    assert len(first.X_train) + len(first.X_test) == len(sample_frame)
    assert len(first.X_test) == pytest.approx(0.2 * len(sample_frame), abs=1)
    assert list(first.X_train.columns) == list(schema.feature_columns)
    assert first.groups is None


def test_split_changes_with_the_seed(schema: Schema, recipe: Recipe, sample_frame: pd.DataFrame) -> None:
    other = dataclasses.replace(recipe.split, random_state=recipe.split.random_state + 1)
    assert not np.array_equal(
        split_data(sample_frame, schema, recipe.split).y_test, split_data(sample_frame, schema, other).y_test
    )


@pytest.fixture
def tagged_frame(sample_frame: pd.DataFrame) -> pd.DataFrame:
    """The sample with a unique target per row, so y_train / y_test say which rows went where."""
    return sample_frame.assign(math3=500.0 + np.arange(len(sample_frame)) / 10)


def schools_by_side(split: Split, frame: pd.DataFrame) -> tuple[set[int], set[int]]:
    school_of = dict(zip(frame["math3"], frame["school_id"], strict=True))
    return {school_of[y] for y in split.y_train}, {school_of[y] for y in split.y_test}


def test_grouped_split_keeps_each_school_on_one_side(
    schema: Schema, recipe: Recipe, tagged_frame: pd.DataFrame
) -> None:
    grouped = dataclasses.replace(recipe.split, group_by="school_id")
    split = split_data(tagged_frame, schema, grouped)

    train_schools, test_schools = schools_by_side(split, tagged_frame)
    assert train_schools and test_schools
    assert not train_schools & test_schools
    assert train_schools | test_schools == set(tagged_frame["school_id"])
    assert split.groups is not None and len(split.groups) == len(split.X_train)
    assert set(split.groups) == train_schools

    again = split_data(tagged_frame.sample(frac=1.0, random_state=5), schema, grouped)
    np.testing.assert_array_equal(split.groups, again.groups)
    np.testing.assert_array_equal(split.y_test, again.y_test)


def test_ungrouped_split_mixes_schools(schema: Schema, recipe: Recipe, tagged_frame: pd.DataFrame) -> None:
    """The check above can fail: a plain shuffle split does put schools on both sides."""
    split = split_data(tagged_frame, schema, recipe.split)
    train_schools, test_schools = schools_by_side(split, tagged_frame)
    assert train_schools & test_schools


def test_grouped_split_with_unknown_column_is_a_config_error(
    schema: Schema, recipe: Recipe, sample_frame: pd.DataFrame
) -> None:
    from trainer.errors import ConfigError

    with pytest.raises(ConfigError, match="teacher_id"):
        split_data(sample_frame, schema, dataclasses.replace(recipe.split, group_by="teacher_id"))
