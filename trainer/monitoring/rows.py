"""A version's data contract applied row by row to a batch to score: the expectations of its recorded
suite on its features (and identifiers, when the batch has them), the target's left out.

Great Expectations judges a whole file; scoring needs a verdict per row, chunk by chunk. The
expectations `trainer init` drafts are checked here with pandas, as Great Expectations checks them
(a test compares both on planted bad rows): a value of the wrong type (a number column's text, a
true/false column's other words), a missing value where none is allowed, a category outside the
value set, a number outside the range, text not matching the regex. Any other expectation that judges
values one by one runs in Great Expectations on each chunk (its COMPLETE result lists the rows). Own
code because a 100,000-row chunk takes about 0.1 s here against about 2 s in Great Expectations.

An expectation with `mostly` below 1 allows some rows to break it: it refuses no row and is judged on
the whole batch at the end (`batch_failures`). What concerns the whole file and no single row (row
count, unique identifiers, table-level expectations) is left out and listed in `left_out`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainer.data.contract_messages import TRUE_FALSE
from trainer.data.schema import Schema
from trainer.errors import ContractError

TYPE_CHECK = "expect_column_values_to_be_in_type_list"
TEXT_TYPES = frozenset({"str", "object", "string"})
ROW_CHECKS = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex",
)
WHOLE_FILE = ("expect_column_values_to_be_unique", "expect_table_", "expect_column_unique_value")


def column_kind(type_list: list[str], numerical: bool) -> str:
    """How a column is read and typed: `number`, `true/false`, `text`, or `as read`."""
    names = set(type_list)
    if "bool" in names:
        return "true/false"
    if names and names <= TEXT_TYPES:
        return "text"
    if names - TEXT_TYPES or numerical:
        return "number"
    return "as read"


@dataclass(frozen=True)
class Rule:
    """One expectation on one column, checked on a chunk's typed values."""

    type: str
    column: str
    kwargs: dict[str, Any]

    @property
    def mostly(self) -> float:
        return float(self.kwargs.get("mostly") or 1.0)

    def breaks(self, values: pd.Series) -> pd.Series:
        """True for each value that breaks the rule (a missing value only breaks not-null)."""
        kw = self.kwargs
        if self.type == "expect_column_values_to_not_be_null":
            return values.isna()
        present = values.notna()
        if self.type == "expect_column_values_to_be_in_set":
            return present & ~values.isin(list(kw.get("value_set") or []))
        if self.type == "expect_column_values_to_match_regex":
            with warnings.catch_warnings():  # a regex with groups: pandas suggests str.extract
                warnings.simplefilter("ignore", UserWarning)
                return present & ~values.astype(str).str.contains(kw["regex"], regex=True, na=False)
        numbers = pd.to_numeric(values, errors="coerce")
        outside = pd.Series(False, index=values.index)
        low, high = kw.get("min_value"), kw.get("max_value")
        if low is not None:
            outside |= numbers <= low if kw.get("strict_min") else numbers < low
        if high is not None:
            outside |= numbers >= high if kw.get("strict_max") else numbers > high
        return present & outside

    def reason(self) -> str:
        kw, short = self.kwargs, self.type.removeprefix("expect_column_values_to_")
        detail = {
            "not_be_null": "missing",
            "be_in_set": f"not one of {list(kw.get('value_set') or [])}"[:200],
            "match_regex": f"does not match {kw.get('regex')!r}",
            "be_between": f"outside [{kw.get('min_value')}, {kw.get('max_value')}]",
        }[short]
        return f"{detail} ({self.type})"


@dataclass
class Checked:
    """One chunk: its typed values, which rows break the contract and why (line, column, value, reason)."""

    frame: pd.DataFrame
    bad: np.ndarray
    rejects: pd.DataFrame


@dataclass
class RowContract:
    """The contract a batch is held to, built from the version's schema and suite and the batch's header."""

    schema: Schema
    columns: list[str]  # the batch's columns that are read: identifiers, features, target
    kinds: dict[str, str]
    rules: list[Rule]  # refuse rows
    mostly: list[Rule]  # judged on the whole batch
    values_by_ge: list[dict[str, Any]]  # other value-by-value expectations: Great Expectations per chunk
    left_out: list[str]
    counts: dict[int, list[int]] = field(default_factory=dict)  # a `mostly` rule: [broken, judged]

    @property
    def dtype(self) -> dict[str, Any]:
        """What read_csv is told: text as text; numbers inferred as the training's full read did."""
        return {c: str for c, kind in self.kinds.items() if kind in ("text", "true/false")}

    def check(self, chunk: pd.DataFrame) -> Checked:
        """Type the chunk's columns and find every row that breaks a rule (its first reason kept)."""
        frame = chunk.copy()
        found = _Found(frame.index)
        for column, kind in self.kinds.items():
            frame[column] = _typed(frame[column], kind, column, found)
        for rule in self.rules:
            found.add(rule.breaks(frame[rule.column]), rule.column, frame[rule.column], rule.reason())
        for i, rule in enumerate(self.mostly):
            counted = self.counts.setdefault(i, [0, 0])
            values = frame[rule.column]
            counted[0] += int(rule.breaks(values).sum())
            counted[1] += len(values) if "not_be_null" in rule.type else int(values.notna().sum())
        if self.values_by_ge:
            _great_expectations(frame, self.values_by_ge, found)
        return Checked(frame, found.bad, found.table(chunk))

    def batch_failures(self) -> list[str]:
        """The `mostly` expectations the whole batch broke, each in a phrase."""
        out = []
        for i, rule in enumerate(self.mostly):
            broken, judged = self.counts.get(i, [0, 0])
            share = 1.0 - broken / judged if judged else 1.0
            if share < rule.mostly:
                out.append(
                    f"{rule.type}({rule.column}): {share:.1%} of the values pass, mostly={rule.mostly}"
                )
        return out


class _Found:
    """Per row of a chunk: the first rule it breaks (column, value, reason)."""

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self.bad = np.zeros(len(index), dtype=bool)
        self.column = np.full(len(index), None, dtype=object)
        self.value = np.full(len(index), None, dtype=object)
        self.reason = np.full(len(index), None, dtype=object)

    def add(self, mask: Any, column: str, values: pd.Series, reason: str) -> None:
        new = np.asarray(mask, dtype=bool) & ~self.bad
        if new.any():
            self.bad |= new
            self.column[new] = column
            self.value[new] = [_shown(v) for v in np.asarray(values.astype(object))[new]]
            self.reason[new] = reason

    def table(self, chunk: pd.DataFrame) -> pd.DataFrame:
        bad = chunk[self.bad]
        found = {
            "line": bad.index.to_numpy() + 2,
            "column": self.column[self.bad],
            "value": self.value[self.bad],
        }
        head = pd.DataFrame({**found, "reason": self.reason[self.bad]}, index=bad.index)
        return pd.concat([head, bad.rename(columns=lambda c: c if c not in head else f"{c} (input)")], axis=1)


def _shown(value: Any) -> str:
    return "(missing)" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)[:80]


def _typed(values: pd.Series, kind: str, column: str, found: _Found) -> pd.Series:
    """A number column's text as numbers, a true/false column's words as booleans; a value that is
    neither is recorded as breaking the column's type expectation, and becomes missing."""
    if kind == "number":
        if pd.api.types.is_bool_dtype(values.dtype):
            numbers = pd.Series(np.nan, index=values.index)
        elif pd.api.types.is_numeric_dtype(values.dtype):
            return values
        else:
            numbers = pd.to_numeric(values, errors="coerce")
        found.add(values.notna() & numbers.isna(), column, values, f"not a number ({TYPE_CHECK})")
        return numbers
    if kind == "true/false":
        words = values.astype(object)
        known = words.isin(list(TRUE_FALSE))
        found.add(words.notna() & ~known, column, values, f"not true/false ({TYPE_CHECK})")
        flags = words.where(known).map(lambda w: str(w).lower() == "true", na_action="ignore")
        return flags.astype(object).where(known, np.nan)
    return values


def _great_expectations(frame: pd.DataFrame, expectations: list[dict[str, Any]], found: _Found) -> None:
    """Value-by-value expectations this module does not know: Great Expectations on the chunk."""
    from trainer.data.contract import run_suite

    result = run_suite(frame, {"name": "rows", "expectations": expectations}, result_format="COMPLETE")
    for res in result.results:
        rows = (res.result or {}).get("unexpected_index_list") or []
        if not res.success and rows:
            column = str(res.expectation_config.kwargs.get("column"))
            mask = frame.index.isin(rows)
            found.add(mask, column, frame[column], res.expectation_config.type)


def row_contract(schema: Schema, suite: dict[str, Any], header: list[str], keep_target: bool) -> RowContract:
    """The contract for a batch with these columns: every feature is required (exit 2 naming the
    missing ones); identifiers are checked when present; the target is read (not checked) if kept."""
    missing = [c for c in schema.feature_columns if c not in header]
    if missing:
        raise ContractError(f"the data has no column(s) {missing}: the model needs every feature column")
    checked = [c for c in schema.identifiers if c in header] + list(schema.feature_columns)
    target = [schema.target] if keep_target and schema.target in header else []
    types = {
        e["kwargs"]["column"]: list(e["kwargs"].get("type_list") or [])
        for e in suite["expectations"]
        if e.get("type") == TYPE_CHECK
    }
    kinds = {c: column_kind(types.get(c, []), c in schema.numerical) for c in checked + target}
    contract = RowContract(schema, checked + target, kinds, [], [], [], [])
    for exp in suite["expectations"]:
        _place(contract, exp, set(checked))
    return contract


def _place(contract: RowContract, exp: dict[str, Any], checked: set[str]) -> None:
    """Sort one expectation into row rules, whole-batch rules, Great Expectations' or left out."""
    kind, kwargs = str(exp.get("type")), dict(exp.get("kwargs") or {})
    column = kwargs.get("column")
    if column is not None and column not in checked:  # the target, leakage, ignored columns
        return
    if kind == TYPE_CHECK:
        return  # the column's kind, applied while typing it
    if column is None or kind.startswith(WHOLE_FILE):
        contract.left_out.append(f"{kind}({column})" if column else kind)
    elif kind in ROW_CHECKS:
        rule = Rule(kind, column, kwargs)
        (contract.rules if rule.mostly >= 1.0 else contract.mostly).append(rule)
    elif kwargs.get("mostly", 1.0) < 1.0 or not _judges_each_value(kind):
        contract.left_out.append(f"{kind}({column})")
    else:
        contract.values_by_ge.append({"type": kind, "kwargs": kwargs})


def _judges_each_value(kind: str) -> bool:
    """Great Expectations judges this expectation value by value (it lists the rows that break it)."""
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.registry import get_expectation_impl

    return issubclass(get_expectation_impl(kind), ColumnMapExpectation)
