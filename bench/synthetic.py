"""Synthetic data shaped like the real data, for benchmarks and scale tests (never for training a model).

`generate` draws any number of rows from the distributions of a reference frame (normally
`data/raw/star_grade3.csv`), using the schema's column roles and its expectation suite, so the result
passes the same data contract as the real file:

- the unique identifier (student_id) is 1..n; other identifiers (school_id) are drawn from the
  observed ids by their observed frequencies;
- text columns (the categoricals and `birth`) are drawn from the observed values, missing included,
  by their observed frequencies, restricted to the suite's value sets and regexes;
- the numeric columns (earlier scores, teacher experience, the leakage column) are resampled as one
  block of whole reference rows, which keeps their correlations and their joint missingness (a
  student with no kindergarten maths score has no kindergarten reading score either), then jittered
  by a little Gaussian noise, rounded like the observed values and clipped to the observed range,
  which lies within the suite's range;
- the target is a fixed linear relation to the numeric features (least squares on the reference,
  missing values at their mean) plus Gaussian noise with the reference's residual spread, clipped to
  the observed target range intersected with the suite's (487-774 for math3).

Everything is vectorised numpy/pandas and driven by one seeded generator: the same `random_state`
gives an identical frame. Command line (writes a CSV; refuses to write under `data/raw/`):

    python -m bench.synthetic --rows 1000000 --out data/processed/synthetic_1m.csv
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainer.data.schema import Schema, load_schema
from trainer.errors import EXIT_ERROR, EXIT_OK, TrainerError
from trainer.files import read_json

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = Path("data/raw/star_grade3.csv")
DEFAULT_SCHEMA = Path("data/schema.yaml")
RAW_DIR = PROJECT_ROOT / "data" / "raw"
JITTER = 0.05  # Gaussian jitter of resampled numbers, as a fraction of each column's std
INTEGER_SHARE = 0.95  # a column whose observed values are >= 95 % whole numbers is generated whole


@dataclass
class ColumnRules:
    """What the expectation suite allows for one column."""

    min_value: float | None = None
    max_value: float | None = None
    value_set: set[Any] | None = None
    regexes: list[str] = field(default_factory=list)


def suite_rules(suite: dict[str, Any]) -> dict[str, ColumnRules]:
    """Per-column ranges, allowed value sets and regexes from an expectation suite."""
    rules: dict[str, ColumnRules] = {}
    for exp in suite.get("expectations", []):
        kwargs = exp.get("kwargs", {})
        column = kwargs.get("column")
        if column is None:
            continue
        rule = rules.setdefault(column, ColumnRules())
        kind = exp.get("type", "")
        if kind == "expect_column_values_to_be_between":
            if kwargs.get("min_value") is not None:
                rule.min_value = float(kwargs["min_value"])
            if kwargs.get("max_value") is not None:
                rule.max_value = float(kwargs["max_value"])
        elif kind == "expect_column_values_to_be_in_set":
            rule.value_set = set(kwargs.get("value_set") or [])
        elif kind == "expect_column_values_to_match_regex":
            rule.regexes.append(str(kwargs["regex"]))
    return rules


def _allowed(value: Any, rule: ColumnRules) -> bool:
    if pd.isna(value):
        return True
    if rule.value_set is not None and value not in rule.value_set:
        return False
    return all(re.search(rx, str(value)) for rx in rule.regexes)


def _frequencies(column: pd.Series, rule: ColumnRules) -> tuple[np.ndarray, np.ndarray]:
    """Observed values (missing as NaN) and their probabilities, limited to what the suite allows."""
    counts = column.astype(object).value_counts(dropna=False, sort=False)
    values = np.array([np.nan if pd.isna(v) else v for v in counts.index], dtype=object)
    weights = counts.to_numpy(dtype=np.float64)
    keep = np.array([_allowed(v, rule) for v in values], dtype=bool)
    if not keep.all():
        log.warning("%s: not sampling %d observed value(s) the suite forbids", column.name, (~keep).sum())
    values, weights = values[keep], weights[keep]
    if weights.sum() <= 0:
        raise TrainerError(f"synthetic: column '{column.name}' has no value the suite allows")
    return values, weights / weights.sum()


def _bounds(observed: np.ndarray, rule: ColumnRules) -> tuple[float, float]:
    """The observed range, intersected with the suite's range."""
    low, high = float(np.nanmin(observed)), float(np.nanmax(observed))
    if rule.min_value is not None:
        low = max(low, rule.min_value)
    if rule.max_value is not None:
        high = min(high, rule.max_value)
    return low, high


def _is_whole(observed: np.ndarray) -> bool:
    finite = observed[np.isfinite(observed)]
    return finite.size > 0 and float(np.mean(finite == np.round(finite))) >= INTEGER_SHARE


def _sample_categorical(column: pd.Series, rule: ColumnRules, n: int, rng: np.random.Generator) -> np.ndarray:
    values, probs = _frequencies(column, rule)
    return values[rng.choice(len(values), size=n, p=probs)]


def _numeric_block(
    reference: pd.DataFrame,
    columns: list[str],
    rules: dict[str, ColumnRules],
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Whole reference rows of the numeric columns, jittered, rounded and clipped (NaN stays NaN)."""
    observed = reference[columns].to_numpy(dtype=np.float64)
    block = observed[rng.integers(0, len(observed), size=n)]
    for j, col in enumerate(columns):
        values = observed[:, j]
        if not np.isfinite(values).any():
            continue
        rule = rules.get(col, ColumnRules())
        scale = JITTER * float(np.nanstd(values))
        block[:, j] += rng.normal(0.0, scale, size=n) if scale > 0 else 0.0
        if _is_whole(values):
            np.round(block[:, j], out=block[:, j])
        low, high = _bounds(values, rule)
        np.clip(block[:, j], low, high, out=block[:, j])
    return block + 0.0  # no negative zeros ("-0.0") from rounding small negative jitter


def _target(
    reference: pd.DataFrame,
    target: str,
    predictors: list[str],
    features: np.ndarray,
    rule: ColumnRules,
    rng: np.random.Generator,
) -> np.ndarray:
    """A linear relation fitted on the reference (least squares, NaN at the mean) plus noise."""
    y_ref = reference[target].to_numpy(dtype=np.float64)
    rows = np.isfinite(y_ref)
    y_ref = y_ref[rows]
    x_ref = reference.loc[rows, predictors].to_numpy(dtype=np.float64)
    means = np.nanmean(x_ref, axis=0) if predictors else np.empty(0)
    means = np.where(np.isfinite(means), means, 0.0)

    def design(x: np.ndarray) -> np.ndarray:
        x = np.where(np.isnan(x), means, x)
        return np.column_stack([np.ones(len(x)), x])

    coef, *_ = np.linalg.lstsq(design(x_ref), y_ref, rcond=None)
    noise_sd = float(np.std(y_ref - design(x_ref) @ coef))
    y = design(features) @ coef + rng.normal(0.0, noise_sd, size=len(features))
    if _is_whole(y_ref):
        np.round(y, out=y)
    low, high = _bounds(y_ref, rule)
    return np.clip(y, low, high)


def generate(n_rows: int, reference: pd.DataFrame, schema: Schema, random_state: int = 0) -> pd.DataFrame:
    """`n_rows` synthetic rows with the reference's columns and dtypes, passing the schema's suite."""
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
    if schema.target not in reference.columns:
        raise TrainerError(f"synthetic: the reference has no target column '{schema.target}'")
    n = int(n_rows)
    rng = np.random.default_rng(random_state)
    rules = suite_rules(read_json(schema.suite_path, "expectation suite"))
    columns = list(reference.columns)
    numeric = [
        c
        for c in columns
        if c != schema.target
        and c not in schema.identifiers
        and pd.api.types.is_numeric_dtype(reference[c].dtype)
    ]
    out: dict[str, Any] = {}
    for col in columns:
        if col in schema.identifiers and reference[col].is_unique:
            out[col] = np.arange(1, n + 1, dtype=np.int64)
        elif col in schema.identifiers or (col not in numeric and col != schema.target):
            out[col] = _sample_categorical(reference[col], rules.get(col, ColumnRules()), n, rng)
    block = _numeric_block(reference, numeric, rules, n, rng)
    out.update({col: block[:, j] for j, col in enumerate(numeric)})
    predictors = [c for c in schema.numerical if c in numeric]
    x = block[:, [numeric.index(c) for c in predictors]]
    out[schema.target] = _target(
        reference, schema.target, predictors, x, rules.get(schema.target, ColumnRules()), rng
    )
    frame = pd.DataFrame({col: out[col] for col in columns})
    return frame.astype(reference.dtypes.to_dict())


def _refuse_raw(path: Path) -> None:
    resolved = path.resolve()
    if resolved == RAW_DIR or RAW_DIR in resolved.parents:
        raise TrainerError(f"refusing to write synthetic data into {RAW_DIR} (raw data is immutable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.synthetic",
        description="Write a synthetic CSV drawn from the real data's distributions (passes the contract).",
    )
    parser.add_argument("--rows", type=int, required=True, help="number of rows to generate")
    parser.add_argument("--out", type=Path, required=True, help="CSV to write (not under data/raw/)")
    parser.add_argument(
        "--reference", type=Path, default=DEFAULT_REFERENCE, help="real data (default: %(default)s)"
    )
    parser.add_argument(
        "--schema", type=Path, default=DEFAULT_SCHEMA, help="column roles (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random state (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.synthetic --rows N --out PATH`; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    try:
        if args.rows < 1:
            raise TrainerError(f"--rows must be at least 1, got {args.rows}")
        _refuse_raw(args.out)
        from trainer.data.contract import read_csv

        schema = load_schema(args.schema)
        reference = read_csv(args.reference)
        started = time.perf_counter()
        frame = generate(args.rows, reference, schema, args.seed)
        generated = time.perf_counter()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.out, index=False)
        log.info(
            "wrote %d synthetic rows to %s (seed %d): generate %.2f s, write %.2f s",
            len(frame),
            args.out,
            args.seed,
            generated - started,
            time.perf_counter() - generated,
        )
    except TrainerError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except OSError as exc:
        log.error("cannot write %s: %s", args.out, exc.strerror or exc)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
