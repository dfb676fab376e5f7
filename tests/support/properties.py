"""Shared by the unit, integration tests of properties: COLUMNS, ROWS, SETTINGS, byte_op, column, corrupt, corruptions, frame_op, harmless, rows, sample, schema, write."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import RAW_CSV, SCHEMA, raw_sample
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from trainer.data.schema import load_schema

ROWS = 300


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
def write(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bytes], Path]:
    """write(bytes) -> a new CSV path under the module's temporary directory."""
    folder, counter = tmp_path_factory.mktemp("examples"), itertools.count()

    def write_bytes(data: bytes) -> Path:
        path = folder / f"example-{next(counter)}.csv"
        path.write_bytes(data)
        return path

    return write_bytes
