"""The MLflow experience as a user meets it: where `mlflow run .` records, exit codes, the champion,
progress, serving, the run tree, `explain` and the offline contract report.

(unit layer)"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from helpers import SCHEMA, wait_for


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["train", "--bogus"], 64),  # unknown option of a subcommand
        (["train", "--dat", "x.csv"], 64),  # an abbreviation, never taken for --data
        (["train", "-v"], 64),  # a top-level option after the subcommand
        ([], 64),  # no subcommand
        (["frobnicate"], 64),  # unknown subcommand
        (["promote"], 64),  # missing required --version
        (["promote", "--version", "1", "--force", "maybe"], 64),  # a value its type refuses
        (["explain"], 64),  # missing positional
        (["--help"], 0),
        (["train", "--help"], 0),
    ],
)
def test_usage_errors_have_their_own_exit_code(
    argv: list[str], code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer.cli.main import EPILOG, main

    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == code
    err = capsys.readouterr().err
    if code:
        assert err.startswith("usage: trainer") and "error:" in err
    assert "64 usage error" in EPILOG


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (
            ["promote", "--verison", "1"],
            "required: --version; unknown option --verison (did you mean '--version'?)",
        ),
        (
            ["train", "--dat", "x.csv"],
            "unrecognized arguments: --dat x.csv; unknown option --dat (did you mean '--data'?)",
        ),
        (
            ["train", "--recipe=r.yaml", "--no-registre"],
            "unknown option --no-registre (did you mean '--no-register'?)",
        ),
    ],
)
def test_a_mistyped_option_is_named_with_a_hint(
    argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 64
    assert capsys.readouterr().err.splitlines()[-1].endswith(hint)


def test_a_long_phase_off_a_terminal_logs_a_heartbeat(caplog: pytest.LogCaptureFixture) -> None:
    from trainer.tracking.progress import Progress

    with Progress("search", total=3, interval=0.01, tty=False) as progress:
        progress.advance("dummy")
        wait_for(lambda: "... search: 1/3 done, last: dummy" in caplog.text, 60, what="a heartbeat")


def test_a_long_phase_on_a_terminal_draws_a_counted_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from trainer.tracking.progress import Progress

    with Progress("search", total=2, tty=True) as progress:
        progress.advance("dummy")
        progress.advance("ridge")
    err = capsys.readouterr().err
    assert "search" in err and "2/2" in err and "ridge" in err


def test_the_contract_report_is_one_self_contained_page(
    sample_frame: pd.DataFrame, write_csv: Callable[..., Path]
) -> None:
    from trainer.data.contract import validate
    from trainer.data.schema import load_schema

    bad = sample_frame.assign(gender=["robot", *sample_frame["gender"].iloc[1:]])
    page = validate(write_csv(bad, "bad.csv"), load_schema(SCHEMA)).report_html

    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"<script|<link|https?://|src=", page)  # renders offline
    assert "Data contract: <span class=bad>FAILED</span>" in page
    first_row = page.split("<tr class=")[1]
    assert first_row.startswith("fail>") and "gender" in first_row and "&#x27;robot&#x27;" in first_row
