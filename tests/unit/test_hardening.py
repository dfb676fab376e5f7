"""User text that cannot run: Markdown escaped, spreadsheet formulas neutralised in CSV, `init --name`
one path component, dates checked by parsing, and each `init` case that used to slip through refused
in one line (issue 26, section 5; the planted `<script>` through a whole training is in
tests/integration/test_hardening.py).

(unit layer)"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainer.cli.main import main
from trainer.data import contract
from trainer.data.schema import load_schema
from trainer.text import code, csv_cell, csv_text, markdown_table, md


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("[click](javascript:alert(1))", r"\[click\](javascript:alert(1))"),
        ("![pixel](http://evil/p.png)", r"!\[pixel\](http://evil/p.png)"),
        ("a|b", r"a\|b"),
        ("line\n<script>", "line &lt;script&gt;"),
        ("`code` & *bold* __init__", r"\`code\` &amp; \*bold\* __init__"),
        ("math1", "math1"),
    ],
    ids=["script", "img-onerror", "link", "image", "table-bar", "line-break", "code-and-entity", "plain"],
)
def test_user_text_in_markdown_shows_as_text(text: str, shown: str) -> None:
    assert md(text) == shown
    assert "<" not in code(text) and "\n" not in code(text)


def test_a_plain_name_keeps_its_code_span() -> None:
    assert code("math1") == "`math1`" and code("<b>") == "&lt;b&gt;"


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-1.5", "-1.5"),
        ("+3e-2", "+3e-2"),
        ("plain", "plain"),
        (-1.5, -1.5),
        (-3, -3),
    ],
    ids=["equals", "plus", "minus", "at", "tab", "carriage-return", "negative-text-number",
         "signed-text-number", "plain", "negative-float", "negative-int"],
)  # fmt: skip
def test_a_csv_cell_a_spreadsheet_would_run_is_text(cell: object, written: object) -> None:
    assert csv_cell(cell) == written


def test_every_text_cell_and_header_of_a_csv_is_neutralised_and_numbers_stay_numbers() -> None:
    frame = pd.DataFrame({"column": ["=1+2", "ok", "@x"], "=header": [-1.0, 2.5, -3.0], "n": [-1, 0, 1]})
    rows = list(csv.reader(io.StringIO(csv_text(frame))))
    assert rows[0] == ["column", "'=header", "n"]
    assert [r[0] for r in rows[1:]] == ["'=1+2", "ok", "'@x"]
    assert [r[1] for r in rows[1:]] == ["-1.0", "2.5", "-3.0"] and [r[2] for r in rows[1:]] == [
        "-1",
        "0",
        "1",
    ]
    assert frame.loc[0, "column"] == "=1+2"  # the caller's frame is left as it was


def test_a_markdown_table_escapes_text_cells_and_headers_only() -> None:
    frame = pd.DataFrame({"<b>name</b>": ["<script>x</script>", "a|b"], "score": [-0.5, 1.25]})
    table = markdown_table(frame)
    assert "<" not in table and "&lt;script&gt;" in table and r"a\|b" in table
    assert "-0.5" in table and "1.25" in table
    assert len(table.splitlines()) == 4  # header, rule, two rows: no cell broke the table


def _exit_code(argv: list[str]) -> int:
    """`trainer ARGV`'s exit code, a usage error's (argparse exits) included."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "d.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _good(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n), "y": rng.normal(size=n)})


# (id, frame, extra init arguments, exit code, what the one line says)
INIT_CASES = [
    ("name-with-a-path", _good(), ["--name", "../escape"], 64, r"'/' in a name"),
    ("name-dot-dot", _good(), ["--name", ".."], 64, r"'\.\.' in a name"),
    ("name-backslash", _good(), ["--name", "a\\b"], 64, r"in a name: no path separator"),
    ("name-colon", _good(), ["--name", "a:b"], 64, r"':' in a name"),
    ("name-too-long", _good(), ["--name", "n" * 101], 64, r"101 characters: a name has at most 100"),
    ("name-blank", _good(), ["--name", " "], 64, r"a name needs a letter or digit"),
    (
        "classification-of-a-continuous-target",
        _good(300),
        ["--task", "classification"],
        1,
        r"^--task classification: target 'y' has 300 distinct values in 300 rows, too many to be classes",
    ),
    (
        "a-column-name-longer-than-a-schema-allows",
        _good().rename(columns={"x": "x" * 250}),
        [],
        2,
        r"^column 'x{60}'\.\.\. is 250 characters long: a schema names columns of at most 200",
    ),
    ("two-rows", _good(2), [], 2, r"has 2 row\(s\): a training needs at least 13 \(5-fold"),
    (
        "no-feature",
        pd.DataFrame({"id": range(60), "same": 1, "y": np.arange(60.0) ** 2}),
        [],
        2,
        r"^no column can be a feature \(identifiers: id; ignore: same\): nothing to learn from$",
    ),
]


@pytest.mark.parametrize(
    ("frame", "extra", "code", "message"), [c[1:] for c in INIT_CASES], ids=[c[0] for c in INIT_CASES]
)
def test_init_refuses_in_one_line_and_writes_nothing(
    frame: pd.DataFrame,
    extra: list[str],
    code: int,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    data = _csv(tmp_path, frame)
    assert _exit_code(["init", "--data", str(data), "--target", "y", *extra]) == code
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    lines = said or [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1 and re.search(message, lines[0]), lines
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["d.csv", "work"]  # nothing drafted anywhere


def test_init_out_naming_a_file_is_refused_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _csv(tmp_path, _good())
    (tmp_path / "taken").write_text("mine")
    for out in (tmp_path / "taken", tmp_path / "taken" / "deeper"):
        assert main(["init", "--data", str(data), "--target", "y", "--out", str(out)]) == 1
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert said == [
        f"--out {tmp_path / 'taken'} is a file, not a folder: name a folder for the three drafts",
        f"--out {tmp_path / 'taken' / 'deeper'} is under {tmp_path / 'taken'}, a file, not a folder: "
        "name a folder for the three drafts",
    ]
    assert (tmp_path / "taken").read_text() == "mine"


def test_a_name_that_is_one_path_component_is_drafted_in_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = _csv(tmp_path, _good(), "My..Data set.csv")
    assert main(["init", "--data", str(data), "--target", "y"]) == 0
    assert main(["init", "--data", str(data), "--target", "y", "--name", "risk_2024.v1"]) == 0
    assert sorted(p.name for p in (tmp_path / "datasets").iterdir()) == ["my.data-set", "risk_2024.v1"]


@pytest.mark.parametrize(
    ("budget", "code"), [("0.5", 64), ("0.99", 64), ("-1", 64), ("1", None), ("0", None)]
)
def test_a_time_budget_below_the_recipes_minimum_is_a_usage_error(
    budget: str, code: int | None, capsys: pytest.CaptureFixture
) -> None:
    from trainer.cli.main import build_parser

    if code is None:
        assert build_parser().parse_args(["train", "--time-budget", budget]).time_budget == float(budget)
        return
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["train", "--time-budget", budget])
    assert stop.value.code == code
    assert f"expected 0 (the recipe's) or 1 to 604800 seconds, got {budget}" in capsys.readouterr().err


def _houses_with(dates: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = len(dates)
    return pd.DataFrame({"sold": dates, "area": rng.normal(100, 20, n), "y": rng.normal(size=n)})


GOOD_DATES = [f"2021-{m:02d}-{d:02d}" for m in range(1, 13) for d in (3, 17)] * 3


@pytest.mark.parametrize(
    ("bad", "keep_suite_rule"),
    [("2021-02-30", True), ("2021-13-45T99:99", True), ("2021-02-30", False), ("2021-04-31 10:00", False)],
    ids=["impossible-day", "impossible-month-and-time", "by-the-contract-alone", "april-31st-alone"],
)
def test_an_impossible_date_fails_the_contract_naming_the_value_and_its_line(
    bad: str, keep_suite_rule: bool, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    """The drafted suite parses dates (GE's dateutil expectation beside the pattern); a suite without
    that rule is still covered: the contract parses every `date` source as the training reads it."""
    data = write_csv(_houses_with(GOOD_DATES), "houses.csv")
    assert main(["init", "--data", str(data), "--target", "y", "--out", str(tmp_path / "d")]) == 0
    suite_path = tmp_path / "d" / "suite.json"
    suite = json.loads(suite_path.read_text())
    kinds = [e["type"] for e in suite["expectations"] if e["kwargs"].get("column") == "sold"]
    assert "expect_column_values_to_be_dateutil_parseable" in kinds
    if not keep_suite_rule:
        suite["expectations"] = [
            e
            for e in suite["expectations"]
            if e["type"]
            not in ("expect_column_values_to_be_dateutil_parseable", "expect_column_values_to_match_regex")
        ]
        suite_path.write_text(json.dumps(suite))
    schema = load_schema(tmp_path / "d" / "schema.yaml")
    assert contract.validate(data, schema).success
    dates = list(GOOD_DATES)
    dates[1] = bad
    result = contract.validate(write_csv(_houses_with(dates), "bad.csv"), schema)
    assert not result.success
    assert f"{bad!r} (line 3)" in result.summary(), result.summary()
