"""Data behaviour: every data-contract rule, through the CLI's exit codes, log lines and MLflow run.

(integration layer)"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from helpers import RAW_CSV, ROOT, SCHEMA, SUITE, sha256
from support.contract import validate

from trainer.data import contract
from trainer.data.schema import load_schema
from trainer.errors import EXIT_CONTRACT, EXIT_ERROR, EXIT_OK

CONTRACT_ARTIFACTS = {
    "contract/validation_result.json",
    "contract/report.md",
    "contract/data_docs.html",
    f"contract/{SCHEMA.name}",  # the schema and the suite the data was validated against, as files
    f"contract/{SUITE.name}",
}


def logged(caplog: pytest.LogCaptureFixture, level: int) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno == level)


def only_run(all_runs: Callable[..., list[Any]]) -> Any:
    runs = all_runs()
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def assert_failed_run(run: Any) -> str:
    assert run.info.status == "FAILED"
    reason = run.data.tags.get("failure_reason", "")
    assert reason, "a failed run records why"
    return reason


def test_valid_data_passes_and_records_lineage(
    tracking_store: str, all_runs: Callable[..., list[Any]], artifact_paths: Callable[[str], set[str]]
) -> None:
    before = sha256(RAW_CSV)
    relative = RAW_CSV.relative_to(ROOT)  # from the project root, with a detour

    assert (
        validate(relative.parent / ".." / relative.parent.name / relative.name, "data/schema.yaml") == EXIT_OK
    )

    run = only_run(all_runs)
    assert run.info.status == "FINISHED"
    assert run.data.tags["trainer_command"] == "validate"
    assert run.data.tags["contract_status"] == "passed"
    assert run.data.metrics["contract_failed"] == 0
    assert run.data.metrics["contract_expectations"] > 0
    assert run.data.params["data_digest"] == before
    assert run.data.params["data_rows"] == str(len(pd.read_csv(RAW_CSV)))
    # absolute and normalised: found again from any working directory
    assert (run.data.params["data_path"], run.data.params["schema_path"]) == (str(RAW_CSV), str(SCHEMA))
    assert CONTRACT_ARTIFACTS <= artifact_paths(run.info.run_id)

    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.digest == before[:32]
    assert dataset.name == RAW_CSV.name
    assert dataset.source and RAW_CSV.name in dataset.source

    assert sha256(RAW_CSV) == before, "validation must never modify data/raw"


def test_contract_result_is_readable(sqlite_store: str, all_runs: Callable[..., list[Any]]) -> None:
    assert validate(RAW_CSV) == EXIT_OK
    run_id = only_run(all_runs).info.run_id
    result = mlflow.artifacts.load_dict(f"runs:/{run_id}/contract/validation_result.json")
    assert result["success"] is True
    assert len(result["results"]) == only_run(all_runs).data.metrics["contract_expectations"]
    report = mlflow.artifacts.load_text(f"runs:/{run_id}/contract/report.md")
    assert "**passed**" in report
    assert "<html" in mlflow.artifacts.load_text(f"runs:/{run_id}/contract/data_docs.html").lower()


def test_extra_column_is_warned_about_and_dropped(
    sqlite_store: str,
    sample_frame: pd.DataFrame,
    write_csv: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
) -> None:
    sample_frame["teacher_notes"] = "anything"
    path = write_csv(sample_frame, "extra.csv")

    assert validate(path) == EXIT_OK

    assert "teacher_notes" in logged(caplog, logging.WARNING)
    run = only_run(all_runs)
    assert run.info.status == "FINISHED"
    assert run.data.tags["ignored_columns"] == "teacher_notes"
    schema_json = json.loads(run.inputs.dataset_inputs[0].dataset.schema)
    logged_columns = {c["name"] for c in schema_json["mlflow_colspec"]}
    assert "teacher_notes" not in logged_columns
    assert "math3" in logged_columns

    result = contract.validate(path, load_schema(SCHEMA))
    assert result.extra_columns == ["teacher_notes"]
    assert "teacher_notes" not in result.frame.columns
    assert result.success


def _set(column: str, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        if isinstance(value, str) and not pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = frame[column].astype(object)
        frame.loc[3, column] = value
        return frame

    return change


def _duplicate_student(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[1, "student_id"] = frame.loc[0, "student_id"]
    return frame


EXPECTATION_FAILURES = {
    "math3-out-of-range": (_set("math3", 99999.0), "math3", "99999"),
    "gender-unknown-category": (_set("gender", "alien"), "gender", "'alien'"),
    "math3-missing": (_set("math3", None), "math3", "expect_column_values_to_not_be_null"),
    "student-id-duplicate": (_duplicate_student, "student_id", "expect_column_values_to_be_unique"),
    "birth-malformed": (_set("birth", "3rd quarter 1979"), "birth", "'3rd quarter 1979'"),
}


@pytest.mark.parametrize("case", list(EXPECTATION_FAILURES))
def test_failed_expectation_exits_2_and_records_the_suite(
    case: str,
    tracking_store: str,
    sample_frame: pd.DataFrame,
    write_csv: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
    artifact_paths: Callable[[str], set[str]],
) -> None:
    change, column, sample = EXPECTATION_FAILURES[case]
    path = write_csv(change(sample_frame), f"{case}.csv")

    assert validate(path) == EXIT_CONTRACT

    error = logged(caplog, logging.ERROR)
    assert "data contract failed" in error
    assert f"({column})" in error
    assert sample in error

    run = only_run(all_runs)
    reason = assert_failed_run(run)
    assert f"({column})" in reason
    assert run.data.tags["contract_status"] == "failed"
    assert run.data.metrics["contract_failed"] >= 1
    assert run.data.metrics["contract_expectations"] > run.data.metrics["contract_failed"]
    assert CONTRACT_ARTIFACTS <= artifact_paths(run.info.run_id)
    assert run.inputs.dataset_inputs, "a failed validation still records which data it saw"


def test_too_few_rows_fails_the_row_count_expectation(
    sqlite_store: str,
    sample_frame: pd.DataFrame,
    write_csv: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert validate(write_csv(sample_frame.head(50), "tiny.csv")) == EXIT_CONTRACT
    assert "expect_table_row_count_to_be_between" in logged(caplog, logging.ERROR)


def test_missing_required_column_exits_2_naming_it(
    sqlite_store: str,
    sample_frame: pd.DataFrame,
    write_csv: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
) -> None:
    path = write_csv(sample_frame.drop(columns=["gender"]), "no_gender.csv")

    assert validate(path) == EXIT_CONTRACT

    error = logged(caplog, logging.ERROR)
    assert "missing required column" in error
    assert "gender" in error
    run = only_run(all_runs)
    assert "gender" in assert_failed_run(run)
    assert "contract_failed" not in run.data.metrics, "the suite never ran"


def test_missing_leakage_column_is_not_required(
    sqlite_store: str, sample_frame: pd.DataFrame, write_csv: Callable[..., Path]
) -> None:
    """read3 is never a feature, so the column-role check does not require it (the suite does)."""
    path = write_csv(sample_frame.drop(columns=["read3"]), "no_read3.csv")
    schema = load_schema(SCHEMA)
    assert "read3" not in schema.required_columns
    assert contract.check_columns(pd.read_csv(path), schema, path) == []


def _semicolons(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, sep=";")


def _latin1(frame: pd.DataFrame, path: Path) -> None:
    frame = frame.copy()
    frame.loc[0, "school3"] = "rurál"
    frame.to_csv(path, index=False, encoding="latin-1")


def _empty(frame: pd.DataFrame, path: Path) -> None:
    path.write_bytes(b"")


def _blank(frame: pd.DataFrame, path: Path) -> None:
    path.write_bytes(b"\n\n  \n")


def _header_only(frame: pd.DataFrame, path: Path) -> None:
    path.write_text(",".join(frame.columns) + "\n")


def _binary(frame: pd.DataFrame, path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 16)


def _ragged(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)
    with open(path, "a") as fh:
        fh.write("1,2,3," * 20 + "\n")


UNREADABLE = {
    "empty": (_empty, "is empty"),
    "blank-lines": (_blank, "is empty"),
    "header-only": (_header_only, "no data rows"),
    "binary": (_binary, "binary"),
    "latin-1": (_latin1, "not UTF-8"),
    "semicolons": (_semicolons, "comma"),
    "ragged-row": (_ragged, "well-formed CSV"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_data_file_exits_2(
    case: str,
    sqlite_store: str,
    sample_frame: pd.DataFrame,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
) -> None:
    write, expected = UNREADABLE[case]
    path = tmp_path / f"{case}.csv"
    write(sample_frame, path)

    assert validate(path) == EXIT_CONTRACT

    error = logged(caplog, logging.ERROR)
    assert expected in error
    assert str(path) in error
    assert "Traceback" not in caplog.text
    assert expected in assert_failed_run(only_run(all_runs))


NUMERICAL = ["experience3", "mathk", "math1", "math2", "readk", "read1", "read2"]


ROLE_VIOLATIONS = {
    "leakage-as-feature": ({"numerical": [*NUMERICAL, "read3"]}, ["leakage", "read3"]),
    "target-as-feature": ({"numerical": [*NUMERICAL, "math3"]}, ["target", "math3"]),
    "identifier-as-feature": ({"numerical": [*NUMERICAL, "school_id"]}, ["identifiers", "school_id"]),
    "numerical-and-categorical": (
        {"categorical": ["gender", "mathk"]},
        ["numerical and categorical", "mathk"],
    ),
    "no-features": ({"numerical": [], "categorical": [], "derived": []}, ["no feature columns"]),
}


@pytest.mark.parametrize("case", list(ROLE_VIOLATIONS))
def test_schema_role_violation_exits_2(
    case: str,
    sqlite_store: str,
    schema_copy: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
) -> None:
    changes, words = ROLE_VIOLATIONS[case]

    assert validate(RAW_CSV, schema_copy(**changes)) == EXIT_CONTRACT

    error = logged(caplog, logging.ERROR)
    for word in words:
        assert word in error
    assert_failed_run(only_run(all_runs))


def test_schema_copy_with_absolute_suite_passes(sqlite_store: str, schema_copy: Callable[..., Path]) -> None:
    """The fixture itself: an unmodified copy elsewhere still finds the suite and passes."""
    assert validate(RAW_CSV, schema_copy()) == EXIT_OK


def test_schema_lists_a_column_the_suite_does_not_know(
    sqlite_store: str,
    schema_copy: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
) -> None:
    schema = schema_copy(ignore=["teacher_notes"])

    assert validate(RAW_CSV, schema) == EXIT_CONTRACT

    error = logged(caplog, logging.ERROR)
    assert "disagree" in error
    assert "in schema but not in suite: ['teacher_notes']" in error
    assert_failed_run(only_run(all_runs))


def test_suite_without_allowed_values_for_a_category_exits_2(
    sqlite_store: str, schema_copy: Callable[..., Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    suite = json.loads(SUITE.read_text())
    suite["expectations"] = [
        e
        for e in suite["expectations"]
        if not (e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "lunch3")
    ]
    suite_path = tmp_path / "suite.json"
    suite_path.write_text(json.dumps(suite))

    assert validate(RAW_CSV, schema_copy(suite=suite_path)) == EXIT_CONTRACT
    assert "lunch3" in logged(caplog, logging.ERROR)


def test_broken_yaml_schema_exits_1(
    sqlite_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, all_runs: Callable[..., list[Any]]
) -> None:
    schema = tmp_path / "broken.yaml"
    schema.write_text("name: star_grade3\nnumerical: [mathk, math1\ntarget: math3\n")

    assert validate(RAW_CSV, schema) == EXIT_ERROR

    error = logged(caplog, logging.ERROR)
    assert "broken YAML" in error
    assert str(schema) in error
    assert_failed_run(only_run(all_runs))


def test_unknown_schema_key_exits_1(
    sqlite_store: str, schema_copy: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    assert validate(RAW_CSV, schema_copy(features=["mathk"])) == EXIT_ERROR
    assert "unknown key 'features'" in logged(caplog, logging.ERROR)


def test_broken_suite_json_exits_1(
    sqlite_store: str,
    schema_copy: Callable[..., Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
) -> None:
    suite = tmp_path / "suite.json"
    suite.write_text('{"name": "star_grade3", "expectations": [')

    assert validate(RAW_CSV, schema_copy(suite=suite)) == EXIT_ERROR

    error = logged(caplog, logging.ERROR)
    assert "broken JSON" in error
    assert "suite.json" in error
    assert_failed_run(only_run(all_runs))


def test_missing_suite_file_exits_1(
    sqlite_store: str, schema_copy: Callable[..., Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert validate(RAW_CSV, schema_copy(suite=tmp_path / "nowhere.json")) == EXIT_ERROR
    assert "expectation suite not found" in logged(caplog, logging.ERROR)


def test_unknown_data_path_exits_1(
    sqlite_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, all_runs: Callable[..., list[Any]]
) -> None:
    missing = tmp_path / "nowhere.csv"

    assert validate(missing) == EXIT_ERROR

    assert f"data file not found: {missing}" in logged(caplog, logging.ERROR)
    assert "not found" in assert_failed_run(only_run(all_runs))


def test_directory_as_data_path_exits_1(sqlite_store: str, tmp_path: Path) -> None:
    assert validate(tmp_path) == EXIT_ERROR


def test_raw_data_is_never_written(
    sqlite_store: str, sample_frame: pd.DataFrame, write_csv: Callable
) -> None:
    """Neither a passing nor a failing validation touches data/raw."""
    raw_dir = RAW_CSV.parent
    before = {p.name: sha256(p) for p in raw_dir.iterdir()}
    sample_frame.loc[0, "math3"] = 99999.0
    assert validate(write_csv(sample_frame, "bad.csv")) == EXIT_CONTRACT
    assert validate(RAW_CSV) == EXIT_OK
    assert {p.name: sha256(p) for p in raw_dir.iterdir()} == before
