"""Property tests: randomly corrupted copies of valid data never escape the one-line error path.

Each example starts from a 300-row sample of data/raw/star_grade3.csv, applies a random list of
frame corruptions (drop/rename columns, NaN, strings, huge numbers, duplicated ids, shuffled
rows) and at most one byte-level corruption (truncation, another delimiter, stray bytes), then:

- `trainer.data.contract.validate` returns a result or raises a `TrainerError` subclass - nothing else;
- `trainer validate` exits 0/1/2 with exactly one ERROR line on failure, never "unexpected error";
- `trainer train --no-register` exits 0-3, and a failed training leaves no model anywhere.

(unit layer)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import event, given
from support.properties import (  # noqa: F401 (fixtures)
    COLUMNS,
    ROWS,
    SETTINGS,
    byte_op,
    column,
    corrupt,
    corruptions,
    frame_op,
    harmless,
    rows,
    sample,
    schema,
    write,
)

from trainer.data.contract import validate
from trainer.errors import TrainerError


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
