"""Bad input, table-driven: every broken file, schema or recipe fails the documented way.

One good version is trained, registered and promoted to `champion` once per module; each case
then runs `trainer train` in-process against its own copy of that store and checks:

- the documented exit code (README "Exit codes");
- exactly one ERROR line from the trainer, one line long, naming the column/value/file/candidate;
- where a run could start (the store is fine, the recipe loaded), a FAILED parent run whose
  `failure_reason` tag says the same; where it could not (bad recipe), no run at all;
- no new model version, the alias still on version 1, and data/raw/ byte-for-byte unchanged.

(unit layer)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    raw_sample,
)
from support.bad_input import SAMPLE_ROWS, _trainer_errors

from trainer.cli.main import main


def test_non_utf8_message_points_at_the_real_byte(tmp_path: Path) -> None:
    """The reported position is the file's, so the bad byte can be found (line and offset)."""
    from trainer.data.contract import read_csv
    from trainer.errors import ContractError

    frame = raw_sample(SAMPLE_ROWS).astype({"gender": object})
    frame.loc[300, "gender"] = "féminin"
    path = tmp_path / "latin1.csv"
    frame.to_csv(path, index=False, encoding="latin-1")
    data = path.read_bytes()
    offset = data.index("é".encode("latin-1"))
    with pytest.raises(ContractError) as err:
        read_csv(path)
    message = str(err.value)
    line = data.count(b"\n", 0, offset) + 1
    assert f"(line {line}, byte {offset})" in message, message


UNFORESEEN = {
    "store-refusal": (
        "mlflow.exceptions:RestException",
        '(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "x_pk"\nDETAIL: (2)',
        r'^MLflow error: RestException: BAD_REQUEST: \(psycopg2\S+\) duplicate key .*"x_pk"$',
    ),
    "library-bug": ("builtins:RuntimeError", "boom\nsecond line", r"^unexpected error: RuntimeError: boom$"),
    "raised-inside-mlflow": (
        "builtins:AttributeError",
        "",  # raised by MLflow's own code (below), not built here
        r"^MLflow error: AttributeError: 'NoneType' object has no attribute 'startswith'$",
    ),
    "password-in-uri": (
        "mlflow.exceptions:MlflowException",
        "cannot reach postgresql://ann:s3cret@db/mlflow",
        r"^MLflow error: MlflowException: cannot reach postgresql://ann:\*\*\*@db/mlflow$",
    ),
}


@pytest.mark.parametrize("case", list(UNFORESEEN.values()), ids=list(UNFORESEEN))
def test_a_failure_without_an_exit_code_of_its_own_is_one_line(
    case: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What reaches the user when a library fails mid-command: one line, exit 1, MLflow named."""
    import importlib

    import trainer.cli.main

    where, message, expected = case
    module, name = where.split(":")
    exc_type = getattr(importlib.import_module(module), name)
    error = (
        exc_type({"error_code": "BAD_REQUEST", "message": message})
        if name == "RestException"
        else exc_type(message)
    )

    def fails(_: Any) -> int:
        if not message:  # a library's exception on its way up through MLflow's code
            from mlflow.utils.string_utils import strip_prefix

            strip_prefix(None, "x")  # type: ignore[arg-type]
        raise error

    monkeypatch.setattr(trainer.cli.main, "dispatch", fails)
    assert main(["validate"]) == 1
    [line] = [r.getMessage() for r in _trainer_errors(caplog)]
    assert re.search(expected, line), line
