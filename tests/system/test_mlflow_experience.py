"""The MLflow experience as a user meets it: where `mlflow run .` records, exit codes, the champion,
progress, serving, the run tree, `explain` and the offline contract report.

(system layer)"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from helpers import ROOT, SCHEMA, VENV_BIN, free_ports, start, subprocess_env, wait_for
from support.mlflow_experience import _train


def _mlflow_run(uri: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """`mlflow run .` as a user types it: the venv's bin first on PATH, no --experiment-name."""
    mlflow_cli = str(VENV_BIN / "mlflow") if (VENV_BIN / "mlflow").exists() else "mlflow"
    done = subprocess.run(
        [mlflow_cli, "run", ".", "--env-manager", "local", *args],
        cwd=ROOT,
        env=subprocess_env(uri),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
    return done


def test_plain_mlflow_run_records_in_the_recipes_experiment(
    sqlite_store: str, small_recipe: Path, sample_csv: Path
) -> None:
    done = _mlflow_run(sqlite_store, "-P", f"recipe={small_recipe}", "-P", f"data={sample_csv}")

    assert done.returncode == 0, done.stderr[-2000:]
    client = mlflow.MlflowClient()
    default = client.get_experiment_by_name("Default")
    (stub,) = client.search_runs([default.experiment_id])  # only a pointer to the real run
    exp = client.get_experiment_by_name("test-small")
    (parent,) = client.search_runs([exp.experiment_id], "tags.trainer_command = 'train'")
    assert stub.info.status == "FINISHED"
    assert parent.info.run_id in stub.data.tags["recorded_in"]
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name.startswith("train star_grade3 ")  # command, dataset, time
    assert parent.data.tags["mlflow.project.entryPoint"] == "main"
    assert parent.data.tags["mlflow.source.type"] == "PROJECT"
    assert f"-P recipe={small_recipe}" in parent.data.tags["mlflow_run"]
    assert stub.info.run_name == f"{parent.info.run_name} (in 'test-small')"
    assert parent.data.tags["registered_model"] == "test-small"
    note = parent.data.tags["mlflow.note.content"]  # the run's description in the UI
    assert re.match(
        r"\*\*\w+\*\* selected by CV r2 0\.\d{4} ± 0\.\d{4} \(baseline `dummy` -?0\.\d{4}\); holdout r2 0\.\d{4}\.",
        note,
    ), note
    assert "passed the data contract" in note and "Registered as `models:/test-small/1`" in note, note
    marked = client.search_runs([exp.experiment_id], "tags.selected = 'true'")
    assert [r.data.tags["candidate"] for r in marked] == [parent.data.tags["selected_candidate"]]
    assert marked[0].data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert re.fullmatch(
        r"\*\*Selected\*\*: the winner of this training, CV r2 0\.\d{4} ± 0\.\d{4} against the baseline "
        r"`dummy`'s -?0\.\d{4}\.",
        marked[0].data.tags["mlflow.note.content"],
    )
    assert "recording in the recipe's experiment 'test-small'" in done.stderr
    assert not Path(stub.info.artifact_uri.removeprefix("file://")).exists()  # the pointer holds nothing
    client.delete_run(stub.info.run_id)  # its artifact location is the project's ./mlruns


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
