"""Bad input, table-driven: every broken file, schema or recipe fails the documented way.

One good version is trained, registered and promoted to `champion` once per module; each case
then runs `trainer train` in-process against its own copy of that store and checks:

- the documented exit code (README "Exit codes");
- exactly one ERROR line from the trainer, one line long, naming the column/value/file/candidate;
- where a run could start (the store is fine, the recipe loaded), a FAILED parent run whose
  `failure_reason` tag says the same; where it could not (bad recipe), no run at all;
- no new model version, the alias still on version 1, and data/raw/ byte-for-byte unchanged.

(integration layer)"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import (
    RAW_CSV,
    SCHEMA,
    SUITE,
    alias_version,
    init_store,
    raw_sample,
    sha256,
    train_runs,
    using_store,
    versions,
    write_recipe,
)
from support.bad_input import SAMPLE_ROWS, _trainer_errors

from trainer.cli.main import main
from trainer.text import md

EXPERIMENT = "bad-input"


MODEL = "bad-input-model"


RAW_DIGEST = sha256(RAW_CSV)


@dataclass
class Good:
    """The module's trained store: version 1 registered and holding `champion`."""

    db: Path
    frame: pd.DataFrame
    csv: Path
    recipe: Path


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Good]:
    from trainer.pipeline import run_train
    from trainer.registry.promote import PromotionRequest, promote

    root = tmp_path_factory.mktemp("bad-input-good")
    frame = raw_sample(SAMPLE_ROWS)
    csv = root / "good.csv"
    frame.to_csv(csv, index=False)
    recipe = write_recipe(root / "recipe.yaml", EXPERIMENT, MODEL)
    with using_store(init_store(root / "mlflow.db", [EXPERIMENT])) as client:
        assert run_train(csv, SCHEMA, recipe).model_version == f"models:/{MODEL}/1"
        promote(PromotionRequest("1", "champion", None, False, csv, SCHEMA, recipe))
        assert alias_version(client, MODEL) == "1"
    yield Good(db=root / "mlflow.db", frame=frame, csv=csv, recipe=recipe)


@pytest.fixture
def store(good: Good, tmp_path: Path) -> Iterator[mlflow.MlflowClient]:
    """A private copy of the good store (its artifacts stay where the module put them)."""
    with using_store(init_store(tmp_path / "mlflow.db", [EXPERIMENT], template=good.db)) as client:
        yield client


class Build:
    """What a case needs to write its inputs: tmp dir, the good sample, file writers."""

    def __init__(self, tmp: Path, good: Good) -> None:
        self.tmp, self.good = tmp, good
        self.frame = good.frame.copy()

    def csv(self, frame: pd.DataFrame, name: str = "data.csv", **kwargs: Any) -> Path:
        path = self.tmp / name
        frame.to_csv(path, index=False, **kwargs)
        return path

    def raw(self, data: bytes, name: str = "data.csv") -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path

    def schema(self, suite: Path = SUITE, **changes: Any) -> Path:
        data = yaml.safe_load(SCHEMA.read_text())
        data.update(changes)
        data["suite"] = str(suite)
        path = self.tmp / "schema.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def suite(self, keep: Callable[[dict[str, Any]], bool]) -> Path:
        suite = json.loads(SUITE.read_text())
        suite["expectations"] = [e for e in suite["expectations"] if keep(e)]
        path = self.tmp / "suite.json"
        path.write_text(json.dumps(suite, indent=2))
        return path

    def recipe(self, **kwargs: Any) -> Path:
        return write_recipe(self.tmp / "recipe.yaml", EXPERIMENT, MODEL, **kwargs)


Args = dict[str, Path]


def missing_column(b: Build) -> Args:
    return {"data": b.csv(b.frame.drop(columns=["math2"]))}


def renamed_column(b: Build) -> Args:
    return {"data": b.csv(b.frame.rename(columns={"math1": "Math 1"}))}


def extra_column(b: Build) -> Args:
    return {"data": b.csv(b.frame.assign(teacher_notes="n/a"))}


def wrong_dtype(b: Build) -> Args:
    frame = b.frame.astype({"mathk": object})
    frame.loc[[3, 7], "mathk"] = "four hundred"
    return {"data": b.csv(frame)}


def null_target(b: Build) -> Args:
    b.frame.loc[[0, 5, 9], "math3"] = np.nan
    return {"data": b.csv(b.frame)}


def out_of_range(b: Build) -> Args:
    b.frame.loc[[2, 4], "math3"] = 9999.0
    return {"data": b.csv(b.frame)}


def unseen_category(b: Build) -> Args:
    b.frame.loc[[1, 8], "school3"] = "lunar"
    return {"data": b.csv(b.frame)}


def duplicated_id(b: Build) -> Args:
    b.frame.loc[1, "student_id"] = b.frame.loc[0, "student_id"]
    return {"data": b.csv(b.frame)}


def empty_file(b: Build) -> Args:
    return {"data": b.raw(b"")}


def header_only(b: Build) -> Args:
    return {"data": b.raw((",".join(b.frame.columns) + "\n").encode())}


def non_utf8(b: Build) -> Args:
    frame = b.frame.astype({"gender": object})
    frame.loc[3, "gender"] = "féminin"
    return {"data": b.csv(frame, encoding="latin-1")}


def binary(b: Build) -> Args:
    return {"data": b.raw(bytes(range(256)) * 64)}


def semicolons(b: Build) -> Args:
    return {"data": b.csv(b.frame, sep=";")}


def leakage_feature(b: Build) -> Args:
    numerical = yaml.safe_load(SCHEMA.read_text())["numerical"]
    return {"data": b.good.csv, "schema": b.schema(numerical=[*numerical, "read3"])}


def target_feature(b: Build) -> Args:
    numerical = yaml.safe_load(SCHEMA.read_text())["numerical"]
    return {"data": b.good.csv, "schema": b.schema(numerical=[*numerical, "math3"])}


def schema_suite_disagree(b: Build) -> Args:
    suite = b.suite(
        lambda e: not (e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "lunch3")
    )
    return {"data": b.good.csv, "schema": b.schema(suite=suite)}


def broken_schema_yaml(b: Build) -> Args:
    path = b.tmp / "schema.yaml"
    path.write_text("target: math3\nnumerical: [mathk, math1\ncategorical: [gender]\n")
    return {"data": b.good.csv, "schema": path}


def broken_recipe_yaml(b: Build) -> Args:
    path = b.tmp / "recipe.yaml"
    path.write_text("experiment: bad-input\ncandidates:\n  dummy: {}\n   linear: {\n")
    return {"data": b.good.csv, "recipe": path}


def unknown_candidate(b: Build) -> Args:
    return {"recipe": b.recipe(candidates={"dummy": {}, "linear": {}, "magic_forest": {}})}


def unknown_parameter(b: Build) -> Args:
    return {"recipe": b.recipe(candidates={"dummy": {}, "ridge": {"alphaa": [1.0]}})}


def missing_data_path(b: Build) -> Args:
    return {"data": b.tmp / "nowhere" / "students.csv"}


def missing_schema_path(b: Build) -> Args:
    return {"schema": b.tmp / "no-schema.yaml"}


def missing_recipe_path(b: Build) -> Args:
    return {"recipe": b.tmp / "no-recipe.yaml"}


def too_few_rows_for_folds(b: Build) -> Args:
    # 120 rows pass the suite's minimum (100); the 96 training rows cannot make 50 folds of 2+
    return {"data": b.csv(b.frame.head(120)), "recipe": b.recipe(folds=50)}


def below_suite_minimum(b: Build) -> Args:
    return {"data": b.csv(b.frame.head(60))}


def gate_unreachable(b: Build) -> Args:
    return {"recipe": b.recipe(gates={"min_cv_r2": 0.99})}


ALIAS_BOMB = "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)  # 9**8 strings from 1 KB, if aliases were expanded


def misspelled_expectation(b: Build) -> Args:
    suite = json.loads(SUITE.read_text())
    for exp in suite["expectations"]:
        if exp["type"] == "expect_column_values_to_be_between" and exp["kwargs"]["column"] == "math3":
            exp["type"] = "expect_column_values_to_be_betwen"
    path = b.tmp / "suite.json"
    path.write_text(json.dumps(suite))
    return {"schema": b.schema(suite=path)}


def unknown_expectation_argument(b: Build) -> Args:
    suite = json.loads(SUITE.read_text())
    for exp in suite["expectations"]:
        if exp["type"] == "expect_column_values_to_be_between" and exp["kwargs"]["column"] == "math3":
            exp["kwargs"]["max_valeu"] = 1
    path = b.tmp / "suite.json"
    path.write_text(json.dumps(suite))
    return {"schema": b.schema(suite=path)}


def duplicate_header(b: Build) -> Args:
    frame = b.frame.drop(columns=["math1"])
    return {
        "data": b.raw(
            frame.assign(math1=b.frame["read1"]).to_csv(index=False).replace("read1", "math1").encode()
        )
    }


def gzip_file(b: Build) -> Args:
    import gzip

    return {"data": b.raw(gzip.compress(b.frame.to_csv(index=False).encode()), "data.csv.gz")}


def constant_target(b: Build) -> Args:
    return {"data": b.csv(b.frame.assign(math3=600.0))}


def million_point_grid(b: Build) -> Args:
    grid = {"alpha": [float(i) for i in range(1, 1001)], "tol": [i / 1e6 for i in range(1, 1001)]}
    return {"recipe": b.recipe(candidates={"dummy": {}, "ridge": grid})}


def _schema_text(b: Build, name_line: str) -> Path:
    text = SCHEMA.read_text().replace("name: star_grade3", name_line)
    text = text.replace("suite: ../expectations/", f"suite: {SUITE.parent}/")
    path = b.tmp / "schema.yaml"
    path.write_text(text)
    return path


def alias_bomb_in_schema_name(b: Build) -> Args:
    return {"schema": _schema_text(b, ALIAS_BOMB + "name: *i")}


def alias_bomb_in_recipe(b: Build) -> Args:
    path = b.recipe()
    path.write_text(ALIAS_BOMB + path.read_text().replace("experiment: bad-input", "experiment: *i", 1))
    return {"recipe": path}


def two_megabyte_yaml(b: Build) -> Args:
    path = b.recipe()
    path.write_text(path.read_text() + ("# padding\n" * 220_000))
    return {"recipe": path}


def list_for_a_number(b: Build) -> Args:
    return {"recipe": b.recipe(cv={"folds": [5], "shuffle": True, "random_state": 42})}


def long_schema_name(b: Build) -> Args:
    return {"schema": _schema_text(b, "name: " + "n" * 10_000)}


def long_experiment_name(b: Build) -> Args:
    path = b.recipe()
    path.write_text(path.read_text().replace("experiment: bad-input", "experiment: " + "e" * 10_000, 1))
    return {"recipe": path}


@dataclass(frozen=True)
class Case:
    build: Callable[[Build], Args]
    exit_code: int
    message: str  # regex the one ERROR line (and the run's failure_reason) must match
    run_started: bool = True  # False: the recipe fails before any run can start


CASES: dict[str, Case] = {
    "missing-column": Case(missing_column, 2, r"missing required column\(s\) \['math2'\]"),
    "renamed-column": Case(
        renamed_column,
        2,
        r"missing required column\(s\) \['math1'\]; in the file but not in the schema: \['Math 1'\]$",
    ),
    "wrong-dtype": Case(
        wrong_dtype,
        2,
        r"expectations passed\): expect_column_values_to_be_in_type_list\(mathk\): 2 values are not numbers, "
        r"e\.g\. 'four hundred' \(line 5\), 'four hundred' \(line 9\)",
    ),
    "null-target": Case(null_target, 2, r"expect_column_values_to_not_be_null\(math3\): 3 unexpected"),
    "out-of-range-score": Case(out_of_range, 2, r"expect_column_values_to_be_between\(math3\).*9999"),
    "unseen-category": Case(
        unseen_category, 2, r"expect_column_values_to_be_in_set\(school3\).*e\.g\. 'lunar' \(line \d+\)"
    ),
    "duplicated-student-id": Case(duplicated_id, 2, r"expect_column_values_to_be_unique\(student_id\)"),
    "empty-file": Case(empty_file, 2, r"data file \S+data\.csv is empty"),
    "header-only": Case(header_only, 2, r"data\.csv has a header but no data rows"),
    "non-utf8": Case(non_utf8, 2, r"data\.csv is not UTF-8 text \(line \d+, byte \d+\)"),
    "binary-bytes": Case(binary, 2, r"data\.csv is not a CSV text file \(binary bytes\)"),
    "semicolon-delimited": Case(semicolons, 2, r"missing required column.*does not look comma-separated"),
    "leakage-as-feature": Case(leakage_feature, 2, r"leakage column\(s\) \['read3'\] listed as feature"),
    "target-as-feature": Case(target_feature, 2, r"target column 'math3' is listed as a feature"),
    "schema-suite-disagree": Case(
        schema_suite_disagree, 2, r"disagree: categorical column\(s\) \['lunch3'\] have no allowed-value set"
    ),
    "broken-schema-yaml": Case(broken_schema_yaml, 1, r"schema \S+schema\.yaml: broken YAML at line \d+"),
    "broken-recipe-yaml": Case(broken_recipe_yaml, 1, r"recipe \S+recipe\.yaml: broken YAML", False),
    "unknown-candidate": Case(
        unknown_candidate, 1, r"^recipe \S+\.yaml: unknown candidate 'magic_forest'", False
    ),
    "unknown-parameter": Case(
        unknown_parameter,
        1,
        r"^recipe \S+\.yaml: candidate 'ridge' has unknown parameter\(s\) \['alphaa'\]",
        False,
    ),
    "missing-data-path": Case(missing_data_path, 1, r"data file not found: \S+nowhere/students\.csv"),
    "missing-schema-path": Case(missing_schema_path, 1, r"schema not found: \S+no-schema\.yaml"),
    "missing-recipe-path": Case(missing_recipe_path, 1, r"recipe not found: \S+no-recipe\.yaml", False),
    "too-few-rows-for-folds": Case(
        too_few_rows_for_folds, 2, r"only 96 training rows: too few for 50-fold cross-validation"
    ),
    "below-suite-min-rows": Case(
        below_suite_minimum, 2, r"expect_table_row_count_to_be_between: observed 60"
    ),
    "quality-gate-unreachable": Case(
        gate_unreachable, 3, r"no candidate passed the quality gates: best was '\w+'"
    ),
    # issue 16
    "misspelled-expectation": Case(
        misspelled_expectation,
        2,
        r"expectation #\d+ 'expect_column_values_to_be_betwen' is not a Great Expectations expectation",
    ),
    "unknown-expectation-argument": Case(
        unknown_expectation_argument, 2, r"expectation #\d+ expect_column_values_to_be_between\(math3\)"
    ),
    "duplicate-header": Case(duplicate_header, 2, r"duplicate column name\(s\) \['math1'\] in the header"),
    "gzip-file": Case(gzip_file, 2, r"data\.csv\.gz is gzip-compressed: decompress it first"),
    "constant-target": Case(constant_target, 2, r"target 'math3' has a single value \(600\.0\)"),
    "million-point-grid": Case(million_point_grid, 1, r"max_grid_points", False),
    "alias-bomb-in-schema-name": Case(
        alias_bomb_in_schema_name, 1, r"YAML aliases \(\*name\) are not allowed"
    ),
    "alias-bomb-in-recipe": Case(alias_bomb_in_recipe, 1, r"YAML aliases \(\*name\) are not allowed", False),
    "two-megabyte-yaml": Case(
        two_megabyte_yaml, 1, r"recipe \S+: \d+ bytes is larger than the 1048576", False
    ),
    "list-for-a-number": Case(list_for_a_number, 1, r"cv\.folds must be a number, got \[5\]", False),
    "ten-thousand-char-schema-name": Case(long_schema_name, 1, r"'name' must be a short text"),
    "ten-thousand-char-experiment": Case(
        long_experiment_name, 1, r"experiment must be a non-empty name of at most 200 characters", False
    ),
}


# a file the contract cannot read or whose columns are wrong: the failed run still names it
UNREAD_FILES = ("missing-column", "renamed-column", "empty-file", "non-utf8", "gzip-file", "duplicate-header")


def _argv(good: Good, args: Args) -> list[str]:
    merged = {"data": good.csv, "schema": SCHEMA, "recipe": good.recipe, **args}
    return ["train", *(x for key, path in merged.items() for x in (f"--{key}", str(path)))]


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_fails_cleanly(
    case: Case,
    good: Good,
    store: mlflow.MlflowClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs_before = {r.info.run_id for r in train_runs(store, EXPERIMENT)}
    argv = _argv(good, case.build(Build(tmp_path, good)))

    code = main(argv)

    assert code == case.exit_code, caplog.text[-3000:]
    errors = _trainer_errors(caplog)
    assert len(errors) == 1, [r.getMessage() for r in errors]
    line = errors[0].getMessage()
    assert "\n" not in line and "Traceback" not in line
    assert re.search(case.message, line), line
    assert errors[0].exc_info is None  # no traceback attached (unless -v)

    new_runs = [r for r in train_runs(store, EXPERIMENT) if r.info.run_id not in runs_before]
    if case.run_started:
        assert len(new_runs) == 1
        run = new_runs[0]
        assert run.info.status == "FAILED"
        assert re.search(case.message, run.data.tags["failure_reason"]), run.data.tags["failure_reason"]
        # the description is Markdown: the reason's user text escaped (trainer.text.md)
        assert run.data.tags["mlflow.note.content"] == f"**FAILED**: {md(run.data.tags['failure_reason'])}"
        assert "registered_version" not in run.data.tags
        if case in (CASES[k] for k in UNREAD_FILES):
            data = argv[argv.index("--data") + 1]
            assert run.data.params["data_path"] == str(Path(data).resolve()), run.data.params
    else:
        assert new_runs == []

    assert [str(v.version) for v in versions(store, MODEL)] == ["1"]
    assert [m.name for m in store.search_registered_models()] == [MODEL]
    assert alias_version(store, MODEL) == "1"
    assert sha256(RAW_CSV) == RAW_DIGEST


def test_extra_column_is_a_warning_and_never_a_feature(
    good: Good, store: mlflow.MlflowClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The one bad-ish input that trains: the extra column is logged, ignored, and not in the model."""
    argv = _argv(good, extra_column(Build(tmp_path, good)))

    assert main(argv) == 0, caplog.text[-3000:]

    assert not _trainer_errors(caplog)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("ignoring unexpected column(s) ['teacher_notes']" in w for w in warnings), warnings
    v = versions(store, MODEL)
    assert [str(x.version) for x in v] == ["1", "2"]
    assert v[1].tags["validation_status"] == "passed"
    run = store.get_run(v[1].tags["training_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["ignored_columns"] == "teacher_notes"
    inputs = mlflow.models.get_model_info(f"models:/{MODEL}/2").signature.inputs.input_names()
    assert "teacher_notes" not in inputs and "read3" not in inputs and "math3" not in inputs
    assert alias_version(store, MODEL) == "1"  # training never moves an alias
    assert sha256(RAW_CSV) == RAW_DIGEST


SOME = "models:/no-such-model/1"


def _train_like(command: str, **override: str) -> Callable[[Good, Path], list[str]]:
    def argv(good: Good, tmp: Path) -> list[str]:
        paths = {"data": str(good.csv), "schema": str(SCHEMA), "recipe": str(good.recipe)}
        paths.update({k: v.replace("TMP", str(tmp)) for k, v in override.items()})
        return [command, *(x for key, value in paths.items() for x in (f"--{key}", value))]

    return argv


def _promote(*extra: str) -> Callable[[Good, Path], list[str]]:
    def argv(good: Good, tmp: Path) -> list[str]:
        paths = ["--data", str(good.csv), "--schema", str(SCHEMA), "--recipe", str(good.recipe)]
        return ["promote", *paths, *(x.replace("TMP", str(tmp)) for x in extra)]

    return argv


def _plain(*args: str) -> Callable[[Good, Path], list[str]]:
    return lambda good, tmp: [a.replace("MODEL", MODEL) for a in args]


NOT_A_MODEL_URI = r"not a model URI: .* \(expected models:/NAME/N, models:/NAME@alias, "


COMMAND_CASES: dict[str, tuple[Callable[[Good, Path], list[str]], int, str]] = {
    "validate-missing-data": (
        _train_like("validate", data="TMP/none.csv"),
        1,
        r"data file not found: \S+none\.csv",
    ),
    "validate-data-is-a-folder": (_train_like("validate", data="TMP"), 1, r"data path is not a file: "),
    "validate-empty-data": (_train_like("validate", data=""), 1, r"data path is not a file: \.$"),
    "validate-schema-is-a-folder": (_train_like("validate", schema="TMP"), 1, r"schema is not a file: "),
    "validate-empty-schema": (_train_like("validate", schema=""), 1, r"schema is not a file: \.$"),
    "train-empty-recipe": (_train_like("train", recipe=""), 1, r"recipe is not a file: \.$"),
    "train-recipe-is-a-folder": (_train_like("train", recipe="TMP"), 1, r"recipe is not a file: "),
    "train-missing-schema": (_train_like("train", schema="TMP/none.yaml"), 1, r"schema not found: "),
    "train-data-is-a-folder": (_train_like("train", data="TMP"), 1, r"data path is not a file: "),
    "promote-version-abc": (_promote("--version", "abc"), 1, r"--version must be a model version number"),
    "promote-version-negative": (_promote("--version", "-1"), 1, r"--version must be a model version number"),
    "promote-version-zero": (_promote("--version", "0"), 1, r"--version must be a model version number"),
    "promote-version-empty": (_promote("--version", ""), 1, r"--version must be a model version number"),
    "promote-version-missing": (_promote("--version", "999"), 1, r"model version 999 of '\S+' not found"),
    "promote-empty-alias": (_promote("--version", "1", "--alias", ""), 1, r"--alias '': .*cannot be empty"),
    "promote-reserved-alias": (_promote("--version", "1", "--alias", "latest"), 1, r"'latest' .* reserved"),
    "promote-unknown-model": (
        _promote("--version", "1", "--name", "no-such-model"),
        1,
        r"^no registered model 'no-such-model'$",
    ),
    "promote-missing-data": (
        _promote("--version", "1", "--alias", "staging", "--data", "TMP/none.csv"),
        1,
        r"data file not found: \S+none\.csv",
    ),
    "explain-empty": (_plain("explain", ""), 1, NOT_A_MODEL_URI),
    "explain-models-only": (_plain("explain", "models:/"), 1, NOT_A_MODEL_URI),
    "explain-version-abc": (_plain("explain", "models:/x/abc"), 1, NOT_A_MODEL_URI),
    "explain-version-negative": (_plain("explain", "models:/MODEL/-1"), 1, NOT_A_MODEL_URI),
    "explain-runs-uri": (_plain("explain", "runs:/"), 1, NOT_A_MODEL_URI),
    "explain-runs-model": (_plain("explain", "runs:/0123abcd/model"), 1, r"run 0123abcd registered no model"),
    "explain-empty-alias": (_plain("explain", "models:/MODEL@"), 1, NOT_A_MODEL_URI),
    "explain-empty-name": (_plain("explain", "models:/@champion"), 1, NOT_A_MODEL_URI),
    "explain-version-zero": (_plain("explain", "models:/MODEL/0"), 1, r"model version 0 of '\S+' not found"),
    "explain-missing-version": (_plain("explain", "models:/MODEL/999"), 1, r"model version 999 .* not found"),
    "explain-unknown-model": (_plain("explain", SOME, "--json"), 1, r"^no registered model 'no-such-model'$"),
    "explain-unknown-alias": (_plain("explain", "models:/MODEL@nobody"), 1, r"no version of '\S+' holds"),
    "explain-misspelt-model-alias": (
        _plain("explain", "models:/MODELs@champion"),
        1,
        rf"^no registered model '{MODEL}s' \(did you mean '{MODEL}'\?\)$",
    ),
    "explain-misspelt-model-latest": (
        _plain("explain", "models:/MODELs/latest"),
        1,
        rf"^no registered model '{MODEL}s' \(did you mean '{MODEL}'\?\)$",
    ),
    "reproduce-empty": (_plain("reproduce", ""), 1, NOT_A_MODEL_URI),
    "reproduce-runs-uri": (_plain("reproduce", "runs:/"), 1, NOT_A_MODEL_URI),
    "reproduce-version-abc": (_plain("reproduce", "models:/x/abc"), 1, NOT_A_MODEL_URI),
    "reproduce-missing-version": (
        _plain("reproduce", "models:/MODEL/999"),
        1,
        r"model version 999 .* not found",
    ),
    "reproduce-unknown-alias": (_plain("reproduce", "models:/MODEL@nobody"), 1, r"no version of '\S+' holds"),
}


@pytest.mark.parametrize("case", list(COMMAND_CASES.values()), ids=list(COMMAND_CASES))
def test_every_command_refuses_malformed_arguments_in_one_line(
    case: tuple[Callable[[Good, Path], list[str]], int, str],
    good: Good,
    store: mlflow.MlflowClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    build, exit_code, message = case

    code = main(build(good, tmp_path))

    errors = _trainer_errors(caplog)
    assert code == exit_code, caplog.text[-3000:]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    line = errors[0].getMessage()
    assert "\n" not in line and "unexpected error" not in line, line
    assert re.search(message, line), line
    assert "unexpected error" not in caplog.text
    assert [str(v.version) for v in versions(store, MODEL)] == ["1"]
    assert alias_version(store, MODEL) == "1"


def test_explain_and_reproduce_of_a_version_without_a_training_run(
    good: Good, store: mlflow.MlflowClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A version registered some other way (no run, no trainer tags): one line, exit 1."""
    mv = store.create_model_version(MODEL, source=str(tmp_path))
    for command in ("explain", "reproduce"):
        caplog.clear()
        assert main([command, f"models:/{MODEL}/{mv.version}"]) == 1
        [line] = [r.getMessage() for r in _trainer_errors(caplog)]
        assert (
            line
            == f"version {mv.version} of '{MODEL}' was not registered by the trainer: it names no training run"
        )


def pointed_at(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process uses `uri` as its tracking store, without opening it."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", uri)


READ_ONLY_COMMANDS = {
    "promote": ["promote", "--version", "1"],
    "explain": ["explain", f"models:/{MODEL}/1"],
    "reproduce": ["reproduce", f"models:/{MODEL}@champion"],
}


@pytest.mark.parametrize("folder_exists", [False, True], ids=["no-folder", "no-file"])
@pytest.mark.parametrize("command", list(READ_ONLY_COMMANDS))
def test_mistyped_sqlite_store_is_not_found_and_not_created(
    command: str,
    folder_exists: bool,
    good: Good,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """promote / explain / reproduce only read: a wrong SQLite path creates no folder and no database."""
    folder = tmp_path / "no" / "such" / "dir"
    if folder_exists:
        folder.mkdir(parents=True)
    uri = f"sqlite:///{folder}/mlflow.db"
    argv = READ_ONLY_COMMANDS[command]
    if command == "promote":
        argv = [*argv, "--data", str(good.csv), "--schema", str(SCHEMA), "--recipe", str(good.recipe)]
    pointed_at(uri, monkeypatch)  # not `using_store`: its client would create the database
    assert main(argv) == 1

    [line] = [r.getMessage() for r in _trainer_errors(caplog)]
    assert line == f"tracking store {uri} not found: no database file {folder}/mlflow.db"
    assert sorted(p.name for p in tmp_path.rglob("*")) == (["dir", "no", "such"] if folder_exists else [])


def test_train_creates_a_database_only_in_an_existing_folder(
    good: Good, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "no" / "such" / "dir"
    uri = f"sqlite:///{folder}/mlflow.db"
    pointed_at(uri, monkeypatch)
    assert main(_argv(good, {})) == 1
    [line] = [r.getMessage() for r in _trainer_errors(caplog)]
    assert line == f"tracking store {uri} not found: no folder {folder}"
    assert not (tmp_path / "no").exists()


def test_five_thousand_extra_columns_give_a_short_warning_and_tag(
    good: Good, store: mlflow.MlflowClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning names the first 10 and the count; the tag is short and says it is cut; the
    contract report lists every one."""
    extra = pd.DataFrame(0, index=good.frame.index, columns=[f"extra_{i:04d}" for i in range(5000)])
    data = Build(tmp_path, good).csv(pd.concat([good.frame, extra], axis=1))
    argv = ["validate", "--data", str(data), "--schema", str(SCHEMA), "--recipe", str(good.recipe)]

    assert main(argv) == 0, caplog.text[-3000:]

    [warning] = [r.getMessage() for r in caplog.records if "ignoring unexpected column" in r.getMessage()]
    assert len(warning) < 500, warning
    assert "'extra_0009'] and 4990 more (5000 in all)" in warning and "extra_0010" not in warning
    exp = store.get_experiment_by_name(EXPERIMENT)
    [run] = store.search_runs([exp.experiment_id], "tags.trainer_command = 'validate'")
    tag = run.data.tags["ignored_columns"]
    assert len(tag) <= 500 and tag.startswith(
        "5000 columns (list truncated, all of them in contract/report.md)"
    )
    assert tag.endswith(",...")
    report = Path(store.download_artifacts(run.info.run_id, "contract/report.md", str(tmp_path))).read_text()
    assert "extra_0000" in report and "extra_4999" in report
