"""Profiling a CSV for `trainer init`: each column's type, nulls and cardinality, and the role
inferred from them together with the rule that decided it (written beside the role in the draft).

Rules, in order (the first that applies wins):
  target       the column named by --target
  ignore       every value missing, or one value in every row (nothing to learn)
  identifiers  unique per row with an id-like name (id, *_id, *Id, key, uuid), or unique whole numbers
               (an integer sequence or another row key)
  ignore       an id-like name with repeated values (a grouping key), unique text without an id-like
               name, or text with more than 50 distinct values (free text, not a category)
  leakage      a numeric column whose rank correlation with the target is >= 0.98 (a near copy)
  date         text whose every value is an ISO 8601 date (2021-07-02, 2021-07-02 18:00): drafted
               under derived: as a number, the year as a decimal (kind: date)
  categorical  text or true/false with at most 50 distinct values
  numerical    any other number (whole numbers with few values are flagged: codes may be categories)
A column named by --categorical is a category whatever the rules say (codes such as 1..5).
Then the training's own leakage detector (trainer/leakage/detector.py) scores the columns drafted as features:
  leakage      any it would block (e.g. alone it predicts the target with R² >= 0.95), so the draft
               trains as drafted; an honest strong predictor goes back to the features and into the
               recipe's leakage.acknowledged (the reason is written beside it)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from trainer.data.csv_reader import separator_hint
from trainer.errors import ConfigError, ContractError
from trainer.leakage import detector as leakage
from trainer.recipe.settings import LeakageSettings, did_you_mean
from trainer.recipe.task import label_order, make_task
from trainer.tracking.progress import Progress

log = logging.getLogger(__name__)

# a separated word in any case (id, Order_ID, row.key), or a camelCase suffix (userId, OrderID);
# case-blind only where separated: "malic_acid", "valid", "is_paid" end in letters i-d, not in Id
ID_NAME = re.compile(r"(?i:(^|[_\s.-])(id|key|uuid|guid))$|[a-z](Id|ID|Key|Uuid|UUID|Guid|GUID)$")
MAX_CATEGORIES = 50
FEW_VALUES = 10  # whole numbers with at most this many values may be category codes
# an ISO 8601 date, with a time and an offset optionally (what `transforms.date_to_number` reads)
ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
NEAR_COPY = 0.98  # |Spearman| with the target: the leakage detector's block threshold
TASKS = ("regression", "classification")
HONEST = "; if it is honest, make it a feature and list it in the recipe's leakage.acknowledged"


@dataclass(frozen=True)
class ColumnProfile:
    """One column as observed, and the role it was given (with the rule, for the reviewer)."""

    name: str
    dtype: str
    kind: str  # "number", "whole" (integer-valued numbers), "text" or "bool"
    nulls: int
    distinct: int
    minimum: float | None
    maximum: float | None
    values: tuple[Any, ...]  # the observed values of a categorical column (sorted)
    counts: tuple[int, ...]  # the rows of each of `values`
    role: str
    rule: str
    rows: int

    @property
    def null_share(self) -> float:
        return self.nulls / max(1, self.rows)


@dataclass(frozen=True)
class DataProfile:
    """The whole file: rows, the task, and every column's profile in file order."""

    rows: int
    target: str
    task: str
    columns: tuple[ColumnProfile, ...]
    target_summary: str

    def role(self, role: str) -> list[ColumnProfile]:
        return [c for c in self.columns if c.role == role]

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_numeric_dtype(series):
        values = series.dropna().to_numpy(dtype="float64")
        return "whole" if len(values) and bool(np.all(np.mod(values, 1) == 0)) else "number"
    return "text"


def _spearman(series: pd.Series, target: pd.Series) -> float:
    both = pd.DataFrame({"x": series, "y": target}).dropna()
    if len(both) < 3 or both["x"].nunique() < 2 or both["y"].nunique() < 2:
        return 0.0
    return abs(float(both["x"].rank().corr(both["y"].rank())))


def infer_role(name: str, series: pd.Series, kind: str, target: pd.Series) -> tuple[str, str]:
    """(role, rule) for one non-target column; the module docstring lists the rules."""
    values = series.dropna()
    distinct, rows = values.nunique(), len(series)
    if distinct == 0:
        return "ignore", "every value is missing"
    if distinct == 1:
        return "ignore", "one value in every row: nothing to learn"
    unique = distinct == rows
    id_name = bool(ID_NAME.search(name.strip()))
    if unique and (id_name or kind == "whole"):
        why = "an id-like name" if id_name else "whole numbers (an integer sequence / row key)"
        return "identifiers", f"unique per row, {why}: never a feature"
    if id_name:
        return "ignore", "id-like name with repeated values: a grouping key (see split.group_by)"
    if kind == "text" and _iso_dates(values):
        return "date", f"ISO dates from {values.min()} to {values.max()}: a number, the year as a decimal"
    if kind in ("number", "whole") and _spearman(series, target) >= NEAR_COPY:
        return "leakage", f"|Spearman| with the target {_spearman(series, target):.3f}: a near copy"
    if kind in ("text", "bool"):
        if unique or distinct > MAX_CATEGORIES:
            return "ignore", f"text with {distinct} distinct values in {rows} rows: free text, not a category"
        return "categorical", f"{kind}, {distinct} distinct values (<= {MAX_CATEGORIES})"
    hint = (
        f" (if the numbers are codes, draft again with --categorical {name!r})"
        if kind == "whole" and distinct <= FEW_VALUES
        else ""
    )
    return "numerical", f"numeric ({series.dtype}), {distinct} distinct values{hint}"


def _iso_dates(values: pd.Series) -> bool:
    """Every value an ISO 8601 date that parses (2021-02-30 does not)."""
    text = values.astype("str")
    if not text.str.fullmatch(ISO_DATE).all():
        return False
    return not pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).isna().any()


def _column(name: str, series: pd.Series, role: str, rule: str) -> ColumnProfile:
    kind = _kind(series)
    values = series.dropna()
    numeric = kind in ("number", "whole") and len(values) > 0
    categories: tuple[Any, ...] = ()
    if role == "categorical" or (role == "target" and values.nunique() <= MAX_CATEGORIES):
        categories = label_order(values.unique().tolist())  # a target's: its labels
    tally = values.value_counts() if categories else {}  # rows per value, only where values are listed
    return ColumnProfile(
        name=name,
        dtype=str(series.dtype),
        kind=kind,
        nulls=int(series.isna().sum()),
        distinct=int(values.nunique()),
        minimum=float(values.min()) if numeric else None,
        maximum=float(values.max()) if numeric else None,
        values=categories,
        counts=tuple(int(tally[v]) for v in categories),
        role=role,
        rule=rule,
        rows=len(series),
    )


def resolve_task(target: pd.Series, task: str | None) -> str:
    """The task asked for, or inferred: a number with more than 10 values is a regression."""
    if task is not None and task not in TASKS:
        raise ConfigError(f"--task '{task}' unknown{did_you_mean(task, TASKS)}; known: {TASKS}")
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    if task == "regression" and not numeric:
        raise ConfigError(
            f"--task regression: target '{target.name}' is not numeric (e.g. {target.iloc[0]!r}); "
            "a target of classes is --task classification"
        )
    resolved = task or ("regression" if numeric and target.nunique() > FEW_VALUES else "classification")
    if resolved == "classification" and target.nunique() > MAX_CATEGORIES:
        asked = "--task classification" if task else "a target of text"
        raise ConfigError(
            f"{asked}: target '{target.name}' has {target.nunique()} distinct values in {len(target)} rows, "
            f"too many to be classes (at most {MAX_CATEGORIES})"
            + ("; a number to predict is --task regression" if numeric else "")
        )
    return resolved


def _check_named_column(frame: pd.DataFrame, option: str, name: str) -> None:
    if name not in frame.columns:
        same = [str(c) for c in frame.columns if str(c).lower() == name.lower()]
        hint = (
            f" (did you mean '{same[0]}'?)" if same else did_you_mean(name, [str(c) for c in frame.columns])
        )
        raise ConfigError(
            f"{option} '{name}' is not a column of the data{hint}; columns: {list(frame.columns)}"
            f"{separator_hint(list(frame.columns))}"
        )


def profile(
    frame: pd.DataFrame, target: str, task: str | None = None, categorical: tuple[str, ...] = ()
) -> DataProfile:
    """Every column's profile and inferred role; the target must exist and have no missing value.
    The `categorical` columns are drafted as categories whatever their type (codes such as 1..5)."""
    _check_named_column(frame, "--target", target)
    for name in categorical:
        _check_named_column(frame, "--categorical", name)
        if name == target:
            raise ConfigError(f"--categorical '{name}' is the target: a target is not a feature")
    y = frame[target]
    if y.isna().any():
        raise ContractError(
            f"target '{target}' is missing in {int(y.isna().sum())} row(s): remove those rows first "
            "(a model cannot learn from them, and the contract requires a target in every row)"
        )
    if y.nunique() < 2:
        raise ContractError(f"target '{target}' has a single value in every row: nothing to learn")
    resolved = resolve_task(y, task)
    spaced = [str(c) for c in frame.columns if str(c) != str(c).strip()]
    if spaced:
        log.warning("column name(s) with spaces around them, kept exactly as in the header: %s", spaced)
    columns = []
    for name in frame.columns:
        series = frame[name]
        if name == target:
            role, rule = "target", f"the target (--target), {resolved}"
        elif name in categorical:
            role, rule = "categorical", f"asked for by --categorical, {series.nunique()} distinct values"
        else:
            role, rule = infer_role(name, series, _kind(series), y)
        columns.append(_column(name, series, role, rule))
    blocked = blocked_by_the_detector(frame, target, resolved, columns)
    columns = [_as_the_detector_says(c, blocked[c.name]) if c.name in blocked else c for c in columns]
    return DataProfile(len(frame), target, resolved, tuple(columns), target_distribution(y, resolved))


def _as_the_detector_says(column: ColumnProfile, reason: str) -> ColumnProfile:
    """An identifier-like column is an identifier; anything else it blocks, suspected leakage."""
    rule = f"the leakage detector would block it: it {reason}"
    if reason.startswith("is identifier-like"):
        return replace(column, role="identifiers", rule=f"{rule}: never a feature")
    return replace(column, role="leakage", rule=rule + HONEST)


def blocked_by_the_detector(
    frame: pd.DataFrame, target: str, task: str, columns: list[ColumnProfile]
) -> dict[str, str]:
    """{column: reason} for the drafted features the training's leakage detector would block, with
    the target as the training scores it (`Task.as_numbers`: 1/0 for two classes, else as classes)."""
    features = [c.name for c in columns if c.role in ("numerical", "categorical", "date")]
    if not features:
        return {}
    log.info("scoring %d drafted features with the training's leakage detector", len(features))
    y = frame[target].to_numpy()
    labels = tuple(pd.unique(y)) if task == "classification" else ()
    scored = make_task(task, labels, None, "roc_auc")
    with Progress("leakage detector"):
        report = leakage.detect(
            frame[features], scored.as_numbers(y), LeakageSettings(), -1, True, scored.is_classification
        )
    return {row.column: row.reason for row in report.found("block").itertuples()}


def describe(p: DataProfile) -> str:
    """The short profile `trainer init` prints: rows, columns, roles, null rates, the target."""
    lines = [f"{p.rows} rows, {len(p.columns)} columns; task: {p.task}"]
    for role in ("target", "identifiers", "numerical", "categorical", "date", "leakage", "ignore"):
        cols = p.role(role)
        if cols:
            lines.append(f"  {role:<12} {', '.join(c.name for c in cols)}")
    nulls = [f"{c.name} {c.null_share:.1%}" for c in p.columns if c.nulls]
    lines.append(f"  missing      {', '.join(nulls) if nulls else 'none'}")
    lines.append(f"  target       {p.target_summary}")
    return "\n".join(lines)


def target_distribution(y: pd.Series, task: str) -> str:
    """The target in one line: its spread (regression) or its classes and their shares."""
    if task == "regression":
        q = y.quantile([0.0, 0.25, 0.5, 0.75, 1.0]).tolist()
        return (
            f"'{y.name}': min {q[0]:g}, quartiles {q[1]:g} / {q[2]:g} / {q[3]:g}, max {q[4]:g}; "
            f"mean {y.mean():.4g}, std {y.std():.4g}"
        )
    shares = y.value_counts(normalize=True).head(10)
    return f"'{y.name}': " + ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
