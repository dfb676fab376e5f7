"""Every recipe and schema rule, table-driven: each bad file fails with its error type and one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from helpers import SUITE

from trainer.catalogue.regressors import check_candidates
from trainer.data.schema import load_schema
from trainer.errors import ConfigError, ContractError
from trainer.recipe.settings import (
    CVSettings,
    GateSettings,
    PromotionSettings,
    SearchSettings,
    SplitSettings,
    load_recipe,
)

MINIMAL = {"candidates": {"dummy": {}, "ridge": {"alpha": [1.0]}}}


def recipe_file(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def with_(**changes: object) -> dict:
    return {**MINIMAL, **changes}


BAD_RECIPES: dict[str, tuple[dict | str, str]] = {
    "unknown key, with a hint": (
        with_(experimnt="x"),
        r"unknown key 'experimnt' \(did you mean 'experiment'\?\)",
    ),
    "unknown section key, with a hint": (with_(cv={"fold": 3}), r"unknown key 'fold'.*did you mean 'folds'"),
    "section not a mapping": (with_(cv=5), r"'cv' must be a mapping"),
    "text where a number is due": (with_(cv={"folds": "five"}), r"cv\.folds must be a number, got 'five'"),
    "fraction where an integer is due": (with_(cv={"folds": 2.5}), r"cv\.folds must be an integer"),
    "boolean where a number is due": (with_(n_jobs=True), r"n_jobs must be a number"),
    "text where a boolean is due": (with_(cv={"shuffle": "yes"}), r"cv\.shuffle must be true or false"),
    "list where a number is due": (with_(split={"test_size": [0.2]}), r"split\.test_size must be a number"),
    "below its range": (with_(cv={"folds": 1}), r"cv\.folds=1 is outside \[2, 100\]"),
    "above its range": (with_(split={"test_size": 0.95}), r"split\.test_size=0\.95 is outside"),
    "n_jobs below -1": (with_(n_jobs=-2), r"n_jobs=-2 is outside"),
    "unknown choice, with a hint": (
        with_(search={"strategy": "gird"}),
        r"search\.strategy 'gird' unknown \(did you mean 'grid'\?\)",
    ),
    "grid limit out of range": (
        with_(search={"max_grid_points": 10**7}),
        r"search\.max_grid_points=10000000 is outside",
    ),
    "empty name": (with_(experiment=""), r"experiment must be a non-empty name"),
    "absurdly long name": (
        with_(registered_model="m" * 10_000),
        r"registered_model must be a non-empty name of at most 200",
    ),
    "no candidates": ({"experiment": "x"}, r"'candidates' must map candidate names"),
    "candidate grid not a mapping": (
        with_(candidates={"dummy": {}, "ridge": [1]}),
        r"candidate 'ridge' grid must be a mapping",
    ),
    "empty parameter list": (
        with_(candidates={"dummy": {}, "ridge": {"alpha": []}}),
        r"parameter 'alpha' is empty",
    ),
    "baseline not a candidate": (
        with_(gates={"baseline": "dumy"}),
        r"gates\.baseline 'dumy' is not one of the candidates \(did you mean 'dummy'\?\)",
    ),
    "YAML alias": ("a: &x [1, 2]\nb: *x\n" + yaml.safe_dump(MINIMAL), r"broken YAML at line 2: YAML aliases"),
    "not a mapping": ("- 1\n- 2\n", r"expected a YAML mapping, got list"),
    "broken YAML": ("candidates: {dummy: {}\n", r"broken YAML at line"),
    "too large": ("# " + "x" * (1 << 20) + "\n" + yaml.safe_dump(MINIMAL), r"larger than the 1048576 bytes"),
}


@pytest.mark.parametrize("case", list(BAD_RECIPES))
def test_bad_recipe_is_refused_in_one_line(case: str, tmp_path: Path) -> None:
    data, message = BAD_RECIPES[case]
    with pytest.raises(ConfigError) as info:
        load_recipe(recipe_file(tmp_path, data))
    assert re.search(message, str(info.value)), str(info.value)
    assert "\n" not in str(info.value)


def test_minimal_recipe_takes_the_declared_defaults(tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file(tmp_path, MINIMAL))
    assert recipe.split == SplitSettings() and recipe.cv == CVSettings() and recipe.search == SearchSettings()
    assert recipe.gates == GateSettings() and recipe.promotion == PromotionSettings()
    assert recipe.experiment is None and recipe.registered_model is None and recipe.n_jobs == -1


def test_halving_is_a_search_strategy(tmp_path: Path) -> None:
    assert (
        load_recipe(recipe_file(tmp_path, with_(search={"strategy": "halving"}))).search.strategy == "halving"
    )


def test_n_jobs_zero_means_one(tmp_path: Path) -> None:
    assert load_recipe(recipe_file(tmp_path, with_(n_jobs=0))).n_jobs == 1


def test_params_use_the_yaml_names(tmp_path: Path) -> None:
    params = load_recipe(recipe_file(tmp_path, with_(cv={"folds": 3}, split={"group_by": "g"}))).params()
    assert params["cv.folds"] == 3 and params["split.group_by"] == "g" and params["split.random_state"] == 42
    assert params["gates.min_cv_r2"] == "" and "recipe_digest" in params, "unset: no absolute floor"
    assert not [k for k in params if "_seed" in k], "one name per setting: split.random_state, not split_seed"


def test_input_paths_are_relative_to_the_recipe(tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file(tmp_path, with_(data="raw/x.csv")))
    assert recipe.input_path("data") == tmp_path / "raw" / "x.csv" and recipe.input_path("schema") is None


def test_the_recipe_path_is_recorded_absolute_and_normalised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`reproduce` reads it back from any working directory (a relative `../` path was not found)."""
    (tmp_path / "a").mkdir()
    recipe_file(tmp_path, with_())
    monkeypatch.chdir(tmp_path / "a")
    recorded = load_recipe(Path("../recipe.yaml")).params()["recipe_path"]
    assert recorded == str(tmp_path / "recipe.yaml")


BAD_GRIDS: dict[str, tuple[dict, str]] = {
    "unknown candidate, with a hint": (
        {"dummy": {}, "rigde": {}},
        r"unknown candidate 'rigde' \(did you mean 'ridge'\?\)",
    ),
    "unknown parameter, with a hint": (
        {"ridge": {"alpah": [1.0]}},
        r"candidate 'ridge' has unknown parameter\(s\) \['alpah'\] \(did you mean 'alpha'\?\)",
    ),
    "grid over the limit": (
        {"ridge": {"alpha": list(range(40)), "tol": list(range(30))}},
        r"candidate 'ridge' has 1200 grid points, more than search\.max_grid_points \(1000\)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_GRIDS))
def test_bad_candidate_grid_is_refused_before_any_fit(case: str) -> None:
    grids, message = BAD_GRIDS[case]
    with pytest.raises(ConfigError, match=message):
        check_candidates(grids, SearchSettings().max_grid_points)


BASE_SCHEMA = {
    "suite": str(SUITE),
    "target": "y",
    "identifiers": ["id"],
    "numerical": ["a"],
    "categorical": ["c"],
}

BAD_SCHEMAS: dict[str, tuple[dict | str, type[Exception], str]] = {
    "unknown key, with a hint": (
        {**BASE_SCHEMA, "numerics": ["b"]},
        ConfigError,
        r"unknown key 'numerics' \(did you mean 'numerical'\?\)",
    ),
    "no target": (
        {k: v for k, v in BASE_SCHEMA.items() if k != "target"},
        ConfigError,
        r"'target' is required",
    ),
    "no suite": ({k: v for k, v in BASE_SCHEMA.items() if k != "suite"}, ConfigError, r"'suite' is required"),
    "roles not a list of names": (
        {**BASE_SCHEMA, "numerical": "a"},
        ConfigError,
        r"'numerical' must be a list of column names",
    ),
    "derived without its keys": (
        {**BASE_SCHEMA, "derived": [{"name": "b"}]},
        ConfigError,
        r"derived\[0\] needs exactly name, source, kind",
    ),
    "derived kind unknown, with a hint": (
        {**BASE_SCHEMA, "derived": [{"name": "b", "source": "t", "kind": "year_quartr"}]},
        ConfigError,
        r"kind 'year_quartr' unknown \(did you mean 'year_quarter'\?\)",
    ),
    "description not text": (
        {**BASE_SCHEMA, "description": ["x"]},
        ConfigError,
        r"'description' must be a short text",
    ),
    "target listed as a feature": (
        {**BASE_SCHEMA, "numerical": ["a", "y"]},
        ContractError,
        r"target column 'y' is listed as a feature",
    ),
    "leakage listed as a feature": (
        {**BASE_SCHEMA, "leakage": ["a"]},
        ContractError,
        r"leakage column\(s\) \['a'\] listed as feature",
    ),
    "identifier listed as a feature": (
        {**BASE_SCHEMA, "categorical": ["c", "id"]},
        ContractError,
        r"\['id'\] are both identifiers and features",
    ),
    "ignored column listed as a feature": (
        {**BASE_SCHEMA, "ignore": ["c"]},
        ContractError,
        r"\['c'\] are both ignore and features",
    ),
    "numerical and categorical": (
        {**BASE_SCHEMA, "categorical": ["c", "a"]},
        ContractError,
        r"\['a'\] are numerical and categorical",
    ),
    "no features": (
        {**BASE_SCHEMA, "numerical": [], "categorical": []},
        ContractError,
        r"no feature columns declared",
    ),
    "YAML alias in the name": (
        "name: &n big\ndescription: *n\n" + yaml.safe_dump(BASE_SCHEMA),
        ConfigError,
        r"YAML aliases",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SCHEMAS))
def test_bad_schema_is_refused_in_one_line(case: str, tmp_path: Path) -> None:
    data, error, message = BAD_SCHEMAS[case]
    path = tmp_path / "schema.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    with pytest.raises(error) as info:
        load_schema(path)
    assert re.search(message, str(info.value)), str(info.value)
    assert "\n" not in str(info.value)


def test_schema_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "loans.yaml"
    path.write_text(yaml.safe_dump(BASE_SCHEMA))
    schema = load_schema(path)
    assert schema.name == "loans" and schema.description == "" and schema.feature_columns == ("a", "c")


def test_input_paths_are_not_params(tmp_path: Path) -> None:
    """`mlflow run -P data=...` logs `data`/`schema` params itself: the recipe must not log others."""
    params = load_recipe(recipe_file(tmp_path, with_(data="raw/x.csv", schema="s.yaml"))).params()
    assert "data" not in params and "schema" not in params
