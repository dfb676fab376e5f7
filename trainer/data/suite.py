"""The expectation suite (plain GX 1.x JSON): loading it, proving Great Expectations understands every
expectation in it, and checking it describes the same columns as the schema."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from trainer.errors import ConfigError, ContractError
from trainer.files import read_json
from trainer.recipe.settings import did_you_mean

if TYPE_CHECKING:
    from trainer.data.schema import Schema


def suite_columns(suite: dict[str, Any]) -> set[str]:
    """Every column an expectation suite names."""
    cols: set[str] = set()
    for exp in suite.get("expectations", []):
        kwargs = exp.get("kwargs", {})
        if "column" in kwargs:
            cols.add(kwargs["column"])
        cols.update(kwargs.get("column_set") or kwargs.get("column_list") or [])
    return cols


def check_schema_matches_suite(schema: Schema, suite: dict[str, Any]) -> None:
    """Schema and suite must describe the same columns; say where they don't."""
    in_suite = suite_columns(suite)
    declared = set(schema.declared_columns)
    problems = []
    if declared - in_suite:
        problems.append(f"in schema but not in suite: {sorted(declared - in_suite)}")
    if in_suite - declared:
        problems.append(f"in suite but not in schema: {sorted(in_suite - declared)}")
    by_type: dict[str, set[str]] = {}
    for exp in suite.get("expectations", []):
        by_type.setdefault(exp.get("type", ""), set()).add(exp.get("kwargs", {}).get("column"))
    unsets = [
        c for c in schema.categorical if c not in by_type.get("expect_column_values_to_be_in_set", set())
    ]
    if unsets:
        problems.append(f"categorical column(s) {unsets} have no allowed-value set in the suite")
    if schema.task == "classification" and not target_labels(suite, schema.target):
        problems.append(f"classification target '{schema.target}' has no allowed-label set in the suite")
    if schema.target not in by_type.get("expect_column_values_to_not_be_null", set()):
        problems.append(f"target '{schema.target}' has no not-null expectation in the suite")
    if problems:
        raise ContractError(
            f"schema {schema.path} and suite {schema.suite_path} disagree: " + "; ".join(problems)
        )


def target_labels(suite: dict[str, Any], target: str) -> tuple[Any, ...]:
    """The target's allowed labels: the value set of its `expect_column_values_to_be_in_set`."""
    for exp in suite.get("expectations", []):
        kwargs = exp.get("kwargs") or {}
        if exp.get("type") == "expect_column_values_to_be_in_set" and kwargs.get("column") == target:
            return tuple(kwargs.get("value_set") or ())
    return ()


def load_suite(schema: Schema) -> dict[str, Any]:
    """Load the schema's expectation suite (plain GX 1.x JSON) and check it matches the schema."""
    suite = read_json(schema.suite_path, "expectation suite")
    if not isinstance(suite.get("expectations"), list) or not suite["expectations"]:
        raise ConfigError(f"expectation suite {schema.suite_path}: no 'expectations' list")
    check_expectations_understood(suite, str(schema.suite_path))
    check_schema_matches_suite(schema, suite)
    return suite


def check_expectations_understood(suite: dict[str, Any], where: str) -> None:
    """Every expectation must be one Great Expectations knows, with arguments it accepts; GX itself
    only logs an unknown one and drops it, so a misspelled rule would silently never run."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    known = list_registered_expectation_implementations()
    for i, exp in enumerate(suite["expectations"], 1):
        kind = exp.get("type") if isinstance(exp, dict) else None
        if not isinstance(kind, str) or kind not in known:
            raise ContractError(
                f"expectation suite {where}: expectation #{i} {kind!r} is not a Great Expectations "
                f"expectation{did_you_mean(str(kind), known)}"
            )
        try:
            ExpectationConfiguration(type=kind, kwargs=exp.get("kwargs") or {}).to_domain_obj()
        except Exception as exc:  # noqa: BLE001 - GX raises pydantic and its own errors: one line
            column = (exp.get("kwargs") or {}).get("column")
            raise ContractError(
                f"expectation suite {where}: expectation #{i} {kind}"
                f"{f'({column})' if column else ''} has invalid arguments: {_first_problem(exc)}"
            )


def _first_problem(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(map(str, first.get('loc', ())))}: {first.get('msg')}"
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
