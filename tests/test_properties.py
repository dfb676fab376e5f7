"""Property tests: randomly corrupted copies of valid data never escape the one-line error path.

Each example starts from a 300-row sample of data/raw/star_grade3.csv, applies a random list of
frame corruptions (drop/rename columns, NaN, strings, huge numbers, duplicated ids, shuffled
rows) and at most one byte-level corruption (truncation, another delimiter, stray bytes), then:

- `trainer.data.contract.validate` returns a result or raises a `TrainerError` subclass - nothing else;
- `trainer validate` exits 0/1/2 with exactly one ERROR line on failure, never "unexpected error";
- `trainer train --no-register` exits 0-3, and a failed training leaves no model anywhere.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from helpers import RAW_CSV, SCHEMA, init_store, raw_sample, sha256, train_runs, using_store, write_recipe
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from trainer.cli.main import main
from trainer.data.contract import validate
from trainer.data.schema import load_schema
from trainer.errors import TrainerError

ROWS = 300
EXPERIMENT = "properties"
MODEL = "properties-model"
RAW_DIGEST = sha256(RAW_CSV)
COLUMNS = list(pd.read_csv(RAW_CSV, nrows=1).columns)

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,  # no .hypothesis/ directory in the project
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

rows = st.lists(st.integers(0, ROWS - 1), min_size=1, max_size=40)
column = st.sampled_from(COLUMNS)
frame_op = st.one_of(
    st.tuples(st.just("drop"), column),
    st.tuples(st.just("rename"), column, st.text(max_size=12)),
    st.tuples(st.just("nan"), column, rows),
    st.tuples(st.just("string"), column, rows, st.text(max_size=15)),
    st.tuples(
        st.just("huge"),
        column,
        rows,
        st.sampled_from([1e308, -1e308, math.inf, -math.inf, 2.0**63, -(2.0**70), 1e-320]),
    ),
    st.tuples(st.just("duplicate_ids"), st.integers(1, 25)),
    st.tuples(st.just("shuffle"), st.integers(0, 2**16)),
)
byte_op = st.one_of(
    st.none(),
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("delimiter"), st.sampled_from([";", "\t", "|", " "])),
    st.tuples(st.just("bytes"), st.floats(0.0, 1.0), st.binary(min_size=1, max_size=8)),
)
corruptions = st.tuples(st.lists(frame_op, max_size=4), byte_op)


def corrupt(frame: pd.DataFrame, ops: list[tuple[Any, ...]], last: tuple[Any, ...] | None) -> bytes:
    """Apply the frame corruptions, write CSV bytes, then the byte-level corruption."""
    frame = frame.copy()
    for op, *args in ops:
        if op == "drop" and args[0] in frame.columns:
            frame = frame.drop(columns=[args[0]])
        elif op == "rename" and args[0] in frame.columns:
            frame = frame.rename(columns={args[0]: args[1]})
        elif op in ("nan", "string", "huge") and args[0] in frame.columns:
            value = {"nan": float("nan")}.get(op, args[-1])
            frame = frame.astype({args[0]: object})
            frame.loc[args[1], args[0]] = value
        elif op == "duplicate_ids" and "student_id" in frame.columns:
            frame.loc[: args[0], "student_id"] = frame["student_id"].iloc[0]
        elif op == "shuffle":
            frame = frame.sample(frac=1.0, random_state=args[0]).reset_index(drop=True)
    data = frame.to_csv(index=False).encode()
    if last is None:
        return data
    if last[0] == "truncate":
        return data[: int(len(data) * last[1])]
    if last[0] == "delimiter":
        return frame.to_csv(index=False, sep=last[1]).encode()
    at = int(len(data) * last[1])
    return data[:at] + last[2] + data[at:]


def harmless(ops: list[tuple[Any, ...]], last: tuple[Any, ...] | None) -> bool:
    """Corruptions that must not fail the contract: only reordering rows."""
    return last is None and all(op == "shuffle" for op, *_ in ops)


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return raw_sample(ROWS, seed=1)


@pytest.fixture(scope="module")
def schema() -> Any:
    return load_schema(SCHEMA)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recipe(tmp_path_factory.mktemp("recipe") / "recipe.yaml", EXPERIMENT, MODEL)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mlflow.MlflowClient]:
    """One store for every example of the module (each example adds one run)."""
    with using_store(init_store(tmp_path_factory.mktemp("store") / "mlflow.db", [EXPERIMENT])) as client:
        yield client


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("trainer")
    ]


@pytest.fixture(scope="module")
def write(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bytes], Path]:
    """write(bytes) -> a new CSV path under the module's temporary directory."""
    folder, counter = tmp_path_factory.mktemp("examples"), itertools.count()

    def write_bytes(data: bytes) -> Path:
        path = folder / f"example-{next(counter)}.csv"
        path.write_bytes(data)
        return path

    return write_bytes


@pytest.mark.unit
@SETTINGS
@given(case=corruptions)
def test_contract_returns_or_raises_trainer_error(
    case: Any, sample: pd.DataFrame, schema: Any, write: Callable[[bytes], Path]
) -> None:
    ops, last = case
    path = write(corrupt(sample, ops, last))
    try:
        result = validate(path, schema)
    except TrainerError as exc:
        event(f"raised {type(exc).__name__}")
        assert exc.exit_code in (1, 2)
        assert str(exc) and "\n" not in str(exc)
        assert not harmless(ops, last)
        return
    event(f"returned success={result.success}")
    assert "\n" not in result.summary()
    if harmless(ops, last):
        assert result.success, result.summary()
    if result.success:
        assert set(schema.required_columns) <= set(result.frame.columns)
        assert len(result.frame) >= 100 and result.frame["student_id"].is_unique


@pytest.mark.integration
@SETTINGS
@given(case=corruptions)
def test_cli_validate_exit_codes(
    case: Any,
    sample: pd.DataFrame,
    write: Callable[[bytes], Path],
    recipe: Path,
    store: mlflow.MlflowClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ops, last = case
    path = write(corrupt(sample, ops, last))
    caplog.clear()

    code = main(["validate", "--data", str(path), "--schema", str(SCHEMA), "--recipe", str(recipe)])

    errors = _errors(caplog)
    event(f"exit {code}")
    assert not any("unexpected error" in e for e in errors), errors
    assert code in (0, 1, 2), errors
    if code == 0:
        assert errors == []
    else:
        assert len(errors) == 1 and "\n" not in errors[0]
        assert not harmless(ops, last)
    assert store.search_registered_models() == []


@pytest.mark.integration
@settings(SETTINGS, max_examples=8)
@given(case=corruptions)
def test_train_no_register_never_leaves_a_model(
    case: Any,
    sample: pd.DataFrame,
    write: Callable[[bytes], Path],
    schema: Any,
    recipe: Path,
    store: mlflow.MlflowClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ops, last = case
    path = write(corrupt(sample, ops, last))
    caplog.clear()

    code = main(
        ["train", "--no-register", "--data", str(path), "--schema", str(SCHEMA), "--recipe", str(recipe)]
    )

    errors = _errors(caplog)
    event(f"exit {code}")
    assert not any("unexpected error" in e for e in errors), errors
    assert code in (0, 1, 2, 3), errors
    run = train_runs(store, EXPERIMENT)[0]
    if code == 0:
        assert run.info.status == "FINISHED"
        assert validate(path, schema).success  # training accepted only what the contract accepts
    else:
        assert len(errors) == 1 and "\n" not in errors[0]
        assert run.info.status == "FAILED" and errors[0].startswith(run.data.tags["failure_reason"])
    assert store.search_registered_models() == []
    exp = store.get_experiment_by_name(EXPERIMENT).experiment_id
    assert mlflow.search_logged_models(experiment_ids=[exp], output_format="list") == []
