"""The MLflow experience as a user meets it: where `mlflow run .` records, exit codes, the champion,
progress, serving, the run tree, `explain` and the offline contract report.

(system layer)"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from helpers import ROOT, SCHEMA, VENV_BIN, free_ports, start, wait_for
from support.mlflow_experience import _train


def _post(url: str, rows: list[dict[str, Any]]) -> tuple[int, Any]:
    body = json.dumps({"dataframe_records": rows}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_a_registered_model_serves_rows_with_and_without_nulls(
    sqlite_store: str,
    small_recipe: Path,
    sample_csv: Path,
    sample_frame: pd.DataFrame,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from trainer.data.schema import load_schema

    _train(small_recipe, sample_csv, caplog)
    signature = mlflow.models.get_model_info("models:/test-small/1").signature
    features = load_schema(SCHEMA).feature_columns
    inputs = {c.name: (c.type.name, c.required) for c in signature.inputs.inputs}
    assert list(inputs) == list(features) and all(required for _, required in inputs.values())
    assert inputs["readk"] == ("double", True) and inputs["lunch3"] == ("string", True)
    assert inputs["birth"] == ("string", True)

    full = sample_frame.dropna(subset=list(features)).head(2)[list(features)]
    rows = json.loads(full.to_json(orient="records"))
    with_nulls = [{**rows[0], "readk": None, "lunch3": None, "ethnicity": None, "birth": None}]
    [port] = free_ports(1)
    server = start(
        [str(VENV_BIN / "mlflow"), "models", "serve", "-m", "models:/test-small/1", "--env-manager", "local"]
        + ["-h", "127.0.0.1", "-p", str(port)],
        sqlite_store,
        tmp_path / "serve.log",
    )
    try:
        wait_for(
            lambda: _answers(f"http://127.0.0.1:{port}/ping") or server.poll() is not None, 180, what="server"
        )
        assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
        url = f"http://127.0.0.1:{port}/invocations"
        status, answer = _post(url, rows)
        assert status == 200 and len(answer["predictions"]) == 2, answer
        status, answer = _post(url, with_nulls)
        assert status == 200 and len(answer["predictions"]) == 1, answer
        readme = re.search(r"-d '(\{.*?\})'\n", (ROOT / "README.md").read_text(), re.DOTALL)
        assert readme, "the README's curl example"
        status, answer = _post(url, json.loads(readme.group(1))["dataframe_records"])
        assert status == 200 and len(answer["predictions"]) == 2, answer
        status, answer = _post(url, [{k: v for k, v in rows[0].items() if k != "lunch3"}])
        assert status == 400 and "lunch3" in answer  # every feature column is required
    finally:
        server.kill()
        server.wait(30)
