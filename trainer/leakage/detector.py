"""The leakage detector: every feature of the training part scored before the search.

Run after the contract and the holdout split, on the training part only (at most
`leakage.max_rows` rows, seeded sample), with a cheap model: a small HistGradientBoosting,
3-fold CV R² (a classifier's Brier skill for a class target: `leakage_scores`). For every feature
column it measures

- `alone_r2`: the feature on its own;
- `others_r2`: all the other features together, and `lift` = `all_r2 - others_r2`, what the
  others lose without it;
- `spearman`: |rank correlation| with the target (numeric features; not for three or more
  classes, whose codes have no order), `unique_share`.

Two levels (a column named in the recipe's `leakage.acknowledged` is reported, recorded on the run
and never stops the training):

- **block** (ContractError, exit 2): a near copy or monotone transform of the target
  (|Spearman| >= 0.98, or alone R² >= 0.95), or an identifier-like column used as a feature: a
  text or whole-number column whose every value is different (unique per row, >= 20 rows).
- **warn**: a feature that dominates beyond what honest predictors do: alone it predicts the target
  at least as well as all the other features together (`alone_r2 >= others_r2`) AND adding it to
  them lifts R² by at least 0.10. A strong earlier measurement (e.g. last year's score) is one
  predictor among correlated others, which recover most of what it knows: it adds a few hundredths.
  A measurement taken at the same time as the target carries information nothing else has.
  Measured on the reference data (2,000 training rows): the concurrent score alone 0.555 vs all the
  others 0.509, lift 0.143 (warned); the strongest honest feature alone 0.430 vs the others 0.449,
  lift 0.060 without the concurrent score and 0.044 beside it (silent). Limits: it sees the data,
  not when a column was measured, so a dataset whose one honest predictor outweighs all the others
  is warned about too (acknowledge it).

**Groups.** Two near copies of one measurement (two exam scores of the same sitting) hide each
other: each adds little when the other is present, so neither's lift shows. Numeric features linked
by |Spearman| >= 0.9 (directly or through each other: `correlated_groups`) are therefore also scored
together, the group alone and all the other features without the whole group, and the same two
rules apply to the group; each of its columns takes the group's finding when it is the graver one.
Measured on a constructed pair (400 rows; the unit test): each copy alone 0.888 / 0.891 against the
others' 0.891 / 0.891, lift 0.02 (silent); the pair together 0.915 against 0.603 without it, lift
0.31 (warned). The reference data has no such pair (no two of its numeric columns reach 0.8).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trainer.errors import ContractError
from trainer.leakage.scores import Encoded, Scores, correlated_groups, encoded, model_scores, sample

if TYPE_CHECKING:
    from trainer.recipe.settings import LeakageSettings

log = logging.getLogger(__name__)

NEAR_COPY_SPEARMAN = 0.98
NEAR_COPY_R2 = 0.95
DOMINANCE_MARGIN = 0.0
MIN_LIFT = 0.10
MIN_ROWS_FOR_IDS = 20
# features this rank-correlated with each other are scored together as well (`correlated_groups`)
GROUP_SPEARMAN = 0.9
SEVERITY = {"ok": 0, "warn": 1, "block": 2}
GROUP_COLUMNS = ["group", "group_alone_r2", "group_others_r2", "group_lift"]
COLUMNS = [
    "column",
    "alone_r2",
    "others_r2",
    "lift",
    "spearman",
    "unique_share",
    "level",
    "reason",
    *GROUP_COLUMNS,
]


@dataclass(frozen=True)
class LeakageReport:
    """The detector's table (one row per feature), the all-features score and what it found."""

    table: pd.DataFrame
    all_r2: float
    rows: int
    seconds: float
    acknowledged: tuple[str, ...] = ()
    enabled: bool = True
    notes: list[str] = field(default_factory=list)
    score: str = "R²"  # what the `*_r2` columns hold: "Brier skill" for a class target

    def found(self, level: str) -> pd.DataFrame:
        """Rows at `level` ("block" or "warn") whose column is not acknowledged."""
        rows = self.table[self.table["level"] == level]
        return rows[~rows["column"].isin(self.acknowledged)]

    def summary(self) -> str:
        """One line: how many features were scored, and what was flagged."""
        if not self.enabled:
            return "leakage detector disabled in the recipe (leakage.enabled: false)"
        flagged = self.table[self.table["level"] != "ok"]
        found = ", ".join(f"{r.column} ({r.level}: {r.reason})" for r in flagged.itertuples()) or "nothing"
        acknowledged = f"; acknowledged: {list(self.acknowledged)}" if self.acknowledged else ""
        return (
            f"leakage detector: {len(self.table)} features on {self.rows} training rows "
            f"(all features {self.score} {self.all_r2:.3f}, {self.seconds:.1f} s): flagged {found}{acknowledged}"
        )


def disabled(settings: LeakageSettings) -> LeakageReport:
    """The report of a training whose recipe turned the detector off."""
    return LeakageReport(pd.DataFrame(columns=COLUMNS), float("nan"), 0, 0.0, settings.acknowledged, False)


def detect(
    X: pd.DataFrame,
    y: np.ndarray,
    settings: LeakageSettings,
    n_jobs: int = 1,
    blocking_only: bool = False,
    classes: bool = False,
) -> LeakageReport:
    """Score every feature column of the training part, and every group of strongly correlated ones
    together, and classify each column (ok / warn / block); the model fits on `n_jobs` worker
    processes. `blocking_only`: the scores the block rules use, not the others-and-lift fits only a
    warning needs (`trainer init`: 60 features, 12.5 s -> 2 s). `classes`: `y` holds class codes
    (1/0 for yes/no): scored by a classifier's Brier skill, and with no rank correlation for three or
    more classes, whose codes have no order."""
    started = time.perf_counter()
    ordered = not classes or len(np.unique(y)) <= 2
    rules = {c: _rule_scores(X[c], y if ordered else None) for c in X.columns}
    Xs, ys = sample(X, y, settings.max_rows)
    groups = correlated_groups(Xs, GROUP_SPEARMAN)
    frame, categorical = encoded(Xs)
    scores = model_scores(Encoded(frame, ys, categorical, classes), n_jobs, blocking_only, groups)
    score = "Brier skill" if classes else "R²"
    rows = [_row(col, scores, rules[col], groups, score) for col in X.columns]
    table = pd.DataFrame(rows, columns=COLUMNS)
    seconds = time.perf_counter() - started
    return LeakageReport(table, scores.all_score, len(Xs), seconds, settings.acknowledged, score=score)


def _row(
    col: str, scores: Scores, rules: dict[str, float | str], groups: list[tuple[str, ...]], score: str
) -> dict[str, float | str]:
    """One column's row: its own scores and level, and its group's where the group's finding is the
    graver one (a column masked by its near copy is flagged with the group)."""
    row: dict[str, float | str] = {"column": col, **scores.columns.get(col, {}), **rules}
    row["level"], row["reason"] = classify(row, score)
    g = next((i for i, members in enumerate(groups) if col in members), None)
    if g is None:
        return row
    together = scores.groups[g]
    row["group"] = "+".join(groups[g])
    row.update({f"group_{k}": v for k, v in together.items()})
    level, reason = classify_group(col, groups[g], together, score)
    if SEVERITY[level] > SEVERITY[str(row["level"])]:
        row["level"], row["reason"] = level, reason
    return row


def enforce(report: LeakageReport) -> None:
    """Block (exit 2) on an unacknowledged block finding; log each warning and acknowledgement."""
    for row in report.table.itertuples():
        if row.level != "ok" and row.column in report.acknowledged:
            log.warning("leakage: '%s' acknowledged in the recipe despite: %s", row.column, row.reason)
    for row in report.found("warn").itertuples():
        log.warning(
            "leakage: feature '%s' %s: if it is measured at the same time as the target or after it, "
            "list it under `leakage:` in the schema; otherwise add it to leakage.acknowledged in the recipe",
            row.column,
            row.reason,
        )
    blocked = report.found("block")
    if len(blocked):
        found = "; ".join(f"'{r.column}' {r.reason}" for r in blocked.itertuples())
        raise ContractError(
            f"leakage: {found}; move it to `leakage:` or `identifiers:` in the schema, or acknowledge it "
            f"in the recipe (leakage.acknowledged: [{', '.join(blocked['column'])}])"
        )


def classify(row: dict[str, float | str], score: str = "R²") -> tuple[str, str]:
    """(level, reason) of one feature from its scores (`score` names them): the module docstring's rules."""
    alone, others, lift = (float(row.get(k, np.nan)) for k in ("alone_r2", "others_r2", "lift"))
    spearman, unique = float(row.get("spearman", np.nan)), str(row.get("identifier", ""))
    if spearman >= NEAR_COPY_SPEARMAN:
        return "block", f"is a near copy of the target (|Spearman| {spearman:.3f} >= {NEAR_COPY_SPEARMAN})"
    if alone >= NEAR_COPY_R2:
        return "block", f"is a near copy of the target (alone {score} {alone:.3f} >= {NEAR_COPY_R2})"
    if unique:
        return "block", f"is identifier-like ({unique})"
    if alone >= others - DOMINANCE_MARGIN and lift >= MIN_LIFT:
        return "warn", (
            f"dominates: alone {score} {alone:.3f} vs all other features together {others:.3f}, "
            f"and it lifts them by {lift:.3f}"
        )
    return "ok", ""


def classify_group(
    col: str, members: tuple[str, ...], scores: dict[str, float], score: str = "R²"
) -> tuple[str, str]:
    """(level, reason) of column `col` from its group's scores (its strongly correlated `members`,
    scored together): the rules of one column applied to the group, whose columns mask each other."""
    alone, others, lift = (float(scores.get(k, np.nan)) for k in ("alone_r2", "others_r2", "lift"))
    named = ", ".join(f"'{m}'" for m in members if m != col)
    together = f"together with {named} (|Spearman| >= {GROUP_SPEARMAN} between them: each masks the other)"
    if alone >= NEAR_COPY_R2:
        return (
            "block",
            f"is, {together}, a near copy of the target (alone {score} {alone:.3f} >= {NEAR_COPY_R2})",
        )
    if alone >= others - DOMINANCE_MARGIN and lift >= MIN_LIFT:
        return "warn", (
            f"dominates {together}: alone {score} {alone:.3f} vs all other features together "
            f"{others:.3f}, and they lift them by {lift:.3f}"
        )
    return "ok", ""


def _rule_scores(column: pd.Series, y: np.ndarray | None) -> dict[str, float | str]:
    """|Spearman| with the target (numeric columns; none for a target `y` without order) and the
    identifier rule, on the whole part."""
    values = column.dropna()
    unique_share = values.nunique() / len(values) if len(values) else 0.0
    out: dict[str, float | str] = {"unique_share": round(float(unique_share), 4), "spearman": np.nan}
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if numeric and values.nunique() > 1 and y is not None:
        target = pd.Series(y, index=column.index)[values.index]
        out["spearman"] = round(abs(float(values.rank().corr(target.rank()))), 4)
    whole = numeric and bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    if len(values) >= MIN_ROWS_FOR_IDS and unique_share == 1.0 and (whole or not numeric):
        out["identifier"] = "unique per row: " + ("whole numbers" if numeric else "text")
    return out


def plot(report: LeakageReport, path: Path) -> Path:
    """Every feature: its CV score alone, and what all the others lose without it (the lift)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = report.table.sort_values("alone_r2", na_position="first", kind="mergesort")
    colors = table["level"].map({"block": "tab:red", "warn": "tab:orange"}).fillna("tab:blue")
    fig, (alone, lift) = plt.subplots(1, 2, figsize=(11, 0.35 * len(table) + 1.8), dpi=110, sharey=True)
    alone.barh(table["column"], table["alone_r2"].fillna(0), color=colors)
    alone.set_xlabel(f"CV {report.score} of the feature alone (all features: {report.all_r2:.3f})")
    lift.barh(table["column"], table["lift"].fillna(0), color=colors)
    lift.axvline(MIN_LIFT, color="tab:gray", ls="--", lw=1)
    lift.set_xlabel(f"{report.score} the other features lose without it")
    fig.suptitle("Leakage detector (red: block, orange: warn), training part only")
    for ax in (alone, lift):
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
