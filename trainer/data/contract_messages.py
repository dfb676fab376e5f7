"""What a failed contract says: each failed expectation in one phrase naming its column, values and
CSV lines, the cause of a column's failures before what follows from it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from trainer.data.schema import Schema

SAMPLE_SIZE = 5
TYPE_CHECK = "expect_column_values_to_be_in_type_list"
TRUE_FALSE = {"True", "TRUE", "true", "False", "FALSE", "false"}  # what pandas reads as booleans


def describe_failures(results: Iterable[Any], frame: pd.DataFrame, schema: Schema, suite: dict) -> list[str]:
    """One phrase per failed expectation. A numeric or true/false column read as text (one stray
    value is enough) is named by its stray values; its other failed checks follow from it (GX counts
    every value of a text column as unexpected) and are counted, not listed."""
    failed = [r for r in results if not r.success]
    if not failed:
        return []
    numeric = (*schema.numerical, *((schema.target,) if schema.task == "regression" else ()))
    unparsed = {**not_numbers(frame, numeric), **not_true_false(frame, true_false_columns(suite))}
    causes = [r for r in failed if _names_a_cause(r, unparsed)]
    named = {_column(r) for r in causes}
    following = [r for r in failed if r not in causes and _column(r) in named]
    phrases = []
    for res in causes:
        column = _column(res)
        more = sum(_column(r) == column for r in following)
        after = f"; {more} other failed check(s) of {column!r} follow from it" if more else ""
        phrases.append(f"{TYPE_CHECK}({column}): {unparsed[column]}{after}")
    return phrases + [_describe_failure(r) for r in failed if r not in causes and r not in following]


def true_false_columns(suite: dict) -> list[str]:
    """Columns whose type check expects booleans (how `trainer init` drafts a true/false column)."""
    return [
        e["kwargs"]["column"]
        for e in suite.get("expectations", [])
        if e.get("type") == TYPE_CHECK and "bool" in (e.get("kwargs", {}).get("type_list") or [])
    ]


def not_numbers(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, str]:
    """For each numeric column pandas read as text (one value that is not a number is enough): how
    many values are not numbers, the first few with their CSV lines (the header is line 1)."""
    return _strays(frame, columns, pd.api.types.is_numeric_dtype, _is_number, ("a number", "numbers"))


def not_true_false(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, str]:
    """The same for a true/false column pandas read as text: the values that are not true/false."""
    return _strays(frame, columns, pd.api.types.is_bool_dtype, _is_true_false, ("true/false", "true/false"))


def _strays(
    frame: pd.DataFrame,
    columns: Iterable[str],
    read_as_meant: Callable[[Any], bool],
    fits: Callable[[Any], bool],
    noun: tuple[str, str],
) -> dict[str, str]:
    out = {}
    for column in columns:
        values = frame.get(column)
        if values is None or read_as_meant(values.dtype):
            continue
        # value by value, not pd.to_numeric: that raises OverflowError on a 400-digit whole number;
        # only a failed contract gets here
        bad = values.notna() & ~values.map(fits).astype(bool)
        if bad.any():
            rows = bad.to_numpy().nonzero()[0][:SAMPLE_SIZE]
            sample = ", ".join(f"{repr(values.iloc[i])[:40]} (line {i + 2})" for i in rows)
            count = int(bad.sum())
            what = f"{count} values are not {noun[1]}" if count > 1 else f"1 value is not {noun[0]}"
            out[column] = f"{what}, e.g. {sample}"
    return out


def not_dates(frame: pd.DataFrame, schema: Schema, failures: list[str]) -> list[str]:
    """One phrase per `date` source column (schema `derived:`) holding a value the training's date
    parser cannot read (2021-02-30, 2021-13-45T99:99: training would silently make them missing),
    with the first few and their CSV lines; a column a failed expectation names already is left to it."""
    from trainer.transforms import DATE_FORMAT

    phrases = []
    for source in dict.fromkeys(d.source for d in schema.derived if d.kind == "date"):
        values = frame.get(source)
        if values is None or any(f"({source})" in phrase for phrase in failures):
            continue
        text = values.astype("str")
        parsed = pd.to_datetime(text, format=DATE_FORMAT, errors="coerce", utc=True)
        bad = values.notna().to_numpy() & parsed.isna().to_numpy()
        if bad.any():
            rows = bad.nonzero()[0][:SAMPLE_SIZE]
            sample = ", ".join(f"{repr(values.iloc[i])[:40]} (line {i + 2})" for i in rows)
            count = int(bad.sum())
            what = f"{count} values are not dates" if count > 1 else "1 value is not a date"
            phrases.append(f"date column ({source}): {what} (ISO 8601, a real day and time), e.g. {sample}")
    return phrases


def date_checks(schema: Schema) -> int:
    """How many date columns the contract parses (each one check beside the suite's expectations)."""
    return len({d.source for d in schema.derived if d.kind == "date"})


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float):
        return True
    try:
        float(value)
    except (OverflowError, TypeError, ValueError):
        return False
    return True


def _is_true_false(value: Any) -> bool:
    return isinstance(value, bool) or str(value) in TRUE_FALSE


def _column(res: Any) -> Any:
    return res.expectation_config.kwargs.get("column")


def _names_a_cause(res: Any, unparsed: dict[str, str]) -> bool:
    return res.expectation_config.type == TYPE_CHECK and _column(res) in unparsed


def _describe_failure(res: Any) -> str:
    cfg = res.expectation_config
    column = cfg.kwargs.get("column")
    name = f"{cfg.type}({column})" if column else cfg.type
    exc = res.exception_info or {}
    if exc.get("raised_exception"):
        return f"{name}: error {str(exc.get('exception_message', '')).splitlines()[0][:200]}"
    result = res.result or {}
    if result.get("unexpected_count"):
        return (
            f"{name}: {result['unexpected_count']} unexpected "
            f"({result.get('unexpected_percent', 0):.1f}%), e.g. {_unexpected_sample(result)}"
        )
    return f"{name}: observed {result.get('observed_value')!r}"


def _unexpected_sample(result: dict[str, Any]) -> str:
    """The first few distinct unexpected values, each with the CSV line it is first on (the header
    is line 1; the frame keeps the row positions read_csv gave it)."""
    values = [repr(v)[:40] for v in result.get("partial_unexpected_list") or []]
    rows = result.get("partial_unexpected_index_list") or []
    if len(rows) != len(values) or not all(isinstance(r, int) for r in rows):
        return ", ".join(list(dict.fromkeys(values))[:SAMPLE_SIZE])
    first: dict[str, int] = {}
    for value, row in zip(values, rows, strict=True):
        first.setdefault(value, row)
    return ", ".join(f"{value} (line {row + 2})" for value, row in list(first.items())[:SAMPLE_SIZE])
