"""A Great Expectations 1.x suite drafted from a data profile, for `trainer init`.

Grounded in the data it was drafted from (which it passes), every rule saying how it was derived:
the exact column set; a row count between half and ten times the drafted rows; per column its type
(numbers: any integer or float dtype, since a missing value turns integers into floats; text:
`str`, `object` or `string`, as pandas 3 reads text as `str` and the contract hands GX objects),
allowed values of categoricals, ranges widened by 10% of the observed range on each side (never
below 0 when no negative value was seen), not-null, or `mostly` = observed non-null share minus 5
points; identifiers unique.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from trainer.onboarding.profile import ISO_DATE

if TYPE_CHECKING:
    from trainer.onboarding.profile import ColumnProfile, DataProfile

RANGE_MARGIN = 0.10  # of the observed range, on each side
NULL_MARGIN = 0.05  # `mostly` = observed non-null share minus this
MIN_ROWS_SHARE, MAX_ROWS_FACTOR = 0.5, 10
NUMBER_TYPES = ["int64", "Int64", "int32", "Int32", "float64", "Float64", "float32"]
TEXT_TYPES = ["str", "object", "string"]
BOOL_TYPES = ["bool", "boolean", "object"]


def _exp(kind: str, notes: str = "", **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"notes": notes} if notes else {}}


def _types(col: ColumnProfile) -> list[str]:
    if col.kind in ("number", "whole"):
        return NUMBER_TYPES
    return BOOL_TYPES if col.kind == "bool" else TEXT_TYPES


def _range(col: ColumnProfile) -> dict[str, Any]:
    assert col.minimum is not None and col.maximum is not None
    low, high = col.minimum, col.maximum
    margin = RANGE_MARGIN * (high - low) if high > low else RANGE_MARGIN * max(abs(high), 1.0)
    lo, hi = low - margin, high + margin
    if low >= 0:
        lo = max(lo, 0.0)
    if col.kind == "whole":
        lo, hi = math.floor(lo), math.ceil(hi)
    else:
        lo, hi = float(f"{lo:.6g}"), float(f"{hi:.6g}")
    return _exp(
        "expect_column_values_to_be_between",
        f"observed [{low:g}, {high:g}], widened by {RANGE_MARGIN:.0%} of the range on each side",
        column=col.name,
        min_value=lo,
        max_value=hi,
    )


def _not_null(col: ColumnProfile) -> list[dict[str, Any]]:
    if col.nulls == 0 or col.role in ("target", "identifiers"):
        return [_exp("expect_column_values_to_not_be_null", "no missing value observed", column=col.name)]
    mostly = math.floor((1 - col.null_share - NULL_MARGIN) * 100) / 100
    if mostly <= 0:
        return []  # mostly missing: no useful floor
    return [
        _exp(
            "expect_column_values_to_not_be_null",
            f"observed {col.null_share:.1%} missing; allows up to {1 - mostly:.0%}",
            column=col.name,
            mostly=mostly,
        )
    ]


def column_expectations(col: ColumnProfile, task: str = "regression") -> list[dict[str, Any]]:
    """Type, nulls, range or allowed values (and uniqueness) of one used column (a classification
    target's allowed values are its labels)."""
    out = [_exp("expect_column_values_to_be_in_type_list", column=col.name, type_list=_types(col))]
    out += _not_null(col)
    if col.role == "identifiers":
        out.append(_exp("expect_column_values_to_be_unique", "unique per row", column=col.name))
    if col.role == "date":
        out += [
            _exp(
                "expect_column_values_to_match_regex",
                "ISO 8601 dates, as observed",
                column=col.name,
                regex=ISO_DATE,
            ),
            _exp(
                "expect_column_values_to_be_dateutil_parseable",
                "a real day and time (the pattern alone lets 2021-02-30 through)",
                column=col.name,
            ),
        ]
    if col.role == "categorical" or (col.role == "target" and task == "classification"):
        out.append(
            _exp(
                "expect_column_values_to_be_in_set",
                "the values observed",
                column=col.name,
                value_set=list(col.values),
            )
        )
    elif col.kind in ("number", "whole") and col.minimum is not None:
        out.append(_range(col))
    return out


def draft_suite(p: DataProfile, name: str) -> dict[str, Any]:
    """The whole suite: column set, row count, then every column that is not ignored."""
    low = max(1, math.floor(p.rows * MIN_ROWS_SHARE))
    expectations = [
        _exp(
            "expect_table_columns_to_match_set",
            "the columns of the drafted file",
            column_set=[c.name for c in p.columns],
            exact_match=True,
        ),
        _exp(
            "expect_table_row_count_to_be_between",
            f"drafted from {p.rows} rows: between {MIN_ROWS_SHARE:g}x and {MAX_ROWS_FACTOR}x that",
            min_value=low,
            max_value=p.rows * MAX_ROWS_FACTOR,
        ),
    ]
    for col in p.columns:
        if col.role != "ignore":
            expectations += column_expectations(col, p.task)
    return {"name": name, "expectations": expectations, "meta": {"drafted_by": "trainer init"}}
