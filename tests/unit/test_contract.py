"""Data behaviour: every data-contract rule, through the CLI's exit codes, log lines and MLflow run.

(unit layer)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from helpers import RAW_CSV, SUITE

from trainer.data import contract, csv_reader
from trainer.data import contract_messages as contract_failures
from trainer.data.schema import load_schema


@pytest.mark.parametrize(
    ("data", "chunk_size", "expected"),
    [
        ("a\nbé\nc".encode(), 4, (0, -1)),  # a character split across two chunks is valid
        ("a\nbé\nc".encode() + b"\xff", 4, (3, 7)),  # a bad byte after a chunk boundary
        (b"a\nb\n" + "é".encode()[:1], 4, (3, 4)),  # a character cut off at the end of the file
        (b"\xff", 1 << 20, (1, 0)),
    ],
    ids=["split-character", "after-boundary", "cut-off-at-end", "first-byte"],
)
def test_first_non_utf8_is_the_file_position(
    data: bytes, chunk_size: int, expected: tuple, tmp_path: Path
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    assert csv_reader.first_non_utf8(path, chunk_size) == expected


def test_csv_cut_off_inside_a_character_names_its_position(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes(RAW_CSV.read_bytes()[:2000] + "é".encode()[:1])
    with pytest.raises(contract.ContractError, match=r"cut\.csv is not UTF-8 text \(line \d+, byte 2000\)"):
        csv_reader.read_csv(path)


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        (["30", "58", "abc", None], "str", "1 value is not a number, e.g. 'abc' (line 4)"),
        (
            ["1,200", "7", "x", "y"],
            "str",
            "3 values are not numbers, e.g. '1,200' (line 2), 'x' (line 4), 'y' (line 5)",
        ),
        (["30", " 58", "1e3", None], "str", None),  # text, but every value is a number
        ([30.0, 58.0, None, 1.5], "float64", None),  # read as numbers
        ([10**400, 5, None], "object", None),  # whole numbers too large for pandas: no crash
        ([10**400, "abc"], "object", "1 value is not a number, e.g. 'abc' (line 3)"),
        (["x" * 500, "1"], "str", "1 value is not a number, e.g. '" + "x" * 39 + " (line 2)"),  # cut short
    ],
    ids=["one-word", "thousands-separator", "all-numbers-as-text", "numeric", "huge-int", "mixed", "long"],
)
def test_a_value_that_is_not_a_number_is_named_with_its_line(
    values: list[Any], dtype: str, expected: str | None
) -> None:
    """GX counts every value of a numeric column that was read as text as unexpected (100 %, with
    valid examples); the contract names the values that made it text."""
    frame = pd.DataFrame({"age": pd.Series(values, dtype=dtype)})
    assert contract_failures.not_numbers(frame, ["age", "absent"]).get("age") == expected


def test_the_values_that_are_not_numbers_are_named_before_what_follows_from_them(
    sample_frame: pd.DataFrame,
    write_csv: Callable[..., Path],
    schema_copy: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """A range check placed before the type check in the suite still comes second in the line: it
    fails only because the column holds text."""
    suite = json.loads(SUITE.read_text())
    ranged = next(
        e
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_between" and e["kwargs"]["column"] == "mathk"
    )
    suite["expectations"] = [ranged, *(e for e in suite["expectations"] if e is not ranged)]
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    frame = sample_frame.astype({"mathk": object})
    frame.loc[3, "mathk"] = "four hundred"
    result = contract.validate(write_csv(frame), load_schema(schema_copy(suite=tmp_path / "suite.json")))
    assert result.failures[0] == (
        "expect_column_values_to_be_in_type_list(mathk): 1 value is not a number, e.g. 'four hundred' "
        "(line 5); 1 other failed check(s) of 'mathk' follow from it"
    ), result.failures
    assert not any("between(mathk)" in f for f in result.failures)  # counted above, not listed


def test_a_value_that_is_not_true_or_false_is_named_not_the_valid_ones(tmp_path: Path) -> None:
    """One stray word makes pandas read a true/false column as text: GX then fails its type and
    value checks on every row, quoting valid 'True' and 'False'. The contract names the stray word."""
    flags = ["True", "False"] * 20
    flags[29] = "maybe"
    frame = pd.DataFrame({"flag": flags, "x": range(40), "y": [float(i % 7) for i in range(40)]})
    data = tmp_path / "flags.csv"
    frame.to_csv(data, index=False)
    expectations = [
        {
            "type": "expect_column_values_to_be_in_type_list",
            "kwargs": {"column": "flag", "type_list": ["bool", "boolean", "object"]},
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "flag", "value_set": [False, True]},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "x", "min_value": 0, "max_value": 30},
        },
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "y"}},
    ]
    (tmp_path / "suite.json").write_text(json.dumps({"name": "flags", "expectations": expectations}))
    schema = {"name": "flags", "suite": str(tmp_path / "suite.json"), "target": "y"}
    schema |= {"numerical": ["x"], "categorical": ["flag"]}
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(schema))

    result = contract.validate(data, load_schema(tmp_path / "schema.yaml"))

    assert result.failures[0] == (
        "expect_column_values_to_be_in_type_list(flag): 1 value is not true/false, e.g. 'maybe' (line 31); "
        "1 other failed check(s) of 'flag' follow from it"
    )
    assert result.failures[1].startswith("expect_column_values_to_be_between(x): 9 unexpected")  # its own
    assert len(result.failures) == 2
