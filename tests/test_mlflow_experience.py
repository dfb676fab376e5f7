"""The MLflow experience as a user meets it: where `mlflow run .` records, exit codes, the champion,
progress, serving, the run tree, `explain` and the offline contract report."""

from __future__ import annotations

import io
import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT, SCHEMA, VENV_BIN, free_ports, start, subprocess_env, wait_for


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


@pytest.mark.system
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


@pytest.mark.unit
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


@pytest.mark.unit
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


def _python_blocks(markdown: str, needle: str) -> list[str]:
    """The ```python blocks of a Markdown text that contain `needle`."""
    blocks = re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)
    return [b for b in blocks if needle in b]


def _train(recipe: Path, data: Path, caplog: pytest.LogCaptureFixture) -> None:
    from trainer.cli.main import main

    assert main(["train", "--recipe", str(recipe), "--data", str(data)]) == 0, caplog.text


@pytest.mark.integration
def test_on_register_champion_and_the_readme_and_card_snippets_run_as_written(
    sqlite_store: str,
    make_recipe: Callable[..., Path],
    sample_csv: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recipe = make_recipe(
        candidates={"dummy": {}, "ridge": {"alpha": [1.0]}},
        experiment="student-math-score",
        registered_model="student-math-score",
        promotion={"tolerance": 0.0, "on_register": "if_better"},
    )
    _train(recipe, sample_csv, caplog)
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias("student-math-score", "champion")
    assert str(champion.version) == "1" and champion.tags["promotion_state"] == "complete"
    assert 'next: mlflow.sklearn.load_model("models:/student-math-score@champion")' in caplog.text
    run_id = champion.tags["training_run_id"]
    table = mlflow.load_table("leaderboard/leaderboard_table.json", run_ids=[run_id])
    assert list(table["candidate"]) == ["ridge", "dummy"] and "cv_r2_mean" in table

    readme = _python_blocks((ROOT / "README.md").read_text(), "load_model")
    card = _python_blocks(champion.description, "load_model")
    assert readme and card
    capsys.readouterr()
    for snippet in readme + card:
        exec(compile(snippet, "<snippet>", "exec"), {})  # the documented snippet itself
        printed = capsys.readouterr().out
        assert re.search(r"\[\s*[\d.]+", printed), printed  # five predictions

    caplog.clear()
    no_alias = make_recipe(
        name="never.yaml", experiment="student-math-score", registered_model="student-math-score"
    )
    _train(no_alias, sample_csv, caplog)
    assert str(client.get_model_version_by_alias("student-math-score", "champion").version) == "1"
    assert f"next: trainer promote --version 2 --data {sample_csv} --recipe {no_alias}" in caplog.text


@pytest.mark.unit
def test_a_long_phase_off_a_terminal_logs_a_heartbeat(caplog: pytest.LogCaptureFixture) -> None:
    from trainer.tracking.progress import Progress

    with Progress("search", total=3, interval=0.01, tty=False) as progress:
        progress.advance("dummy")
        wait_for(lambda: "... search: 1/3 done, last: dummy" in caplog.text, 60, what="a heartbeat")


@pytest.mark.unit
def test_a_long_phase_on_a_terminal_draws_a_counted_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from trainer.tracking.progress import Progress

    with Progress("search", total=2, tty=True) as progress:
        progress.advance("dummy")
        progress.advance("ridge")
    err = capsys.readouterr().err
    assert "search" in err and "2/2" in err and "ridge" in err


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


@pytest.mark.system
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


@pytest.mark.integration
def test_a_category_is_the_one_learned_sent_as_text_number_or_boolean(
    sqlite_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A true/false column and whole-number codes drafted as categories (`init --categorical`): a
    row answers as the model learned it whether it sends True or "True", 3 or "3", through what
    MLflow's scoring server makes of a JSON or CSV request body; a JSON null is answered too."""
    from mlflow.pyfunc.scoring_server import infer_and_parse_data, parse_csv_input

    from trainer.cli.main import main

    rng = np.random.default_rng(0)
    n = 240
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "flag": rng.choice([True, False], n), "zone": rng.integers(1, 4, n)}
    )
    frame["y"] = frame["x"] + 3 * frame["flag"] + (frame["zone"] == 2) * 2 + rng.normal(scale=0.3, size=n)
    data = tmp_path / "codes.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "drafts"
    init = ["init", "--data", str(data), "--target", "y", "--name", "test", "--out", str(out)]
    assert main([*init, "--categorical", "zone"]) == 0, caplog.text
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    recipe["candidates"] = {"dummy": {}, "ridge": {"alpha": [0.1]}}
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["train", "--recipe", str(out / "recipe.yaml")]) == 0, caplog.text

    model = mlflow.pyfunc.load_model("models:/test/1")
    inputs = model.metadata.get_input_schema()
    assert {c.name: c.type.name for c in inputs.inputs} == {"x": "double", "flag": "string", "zone": "string"}
    pipeline = mlflow.sklearn.load_model("models:/test/1")
    encoder = pipeline.named_steps["features"].named_transformers_["cat"].named_steps["onehot"]
    assert [list(c) for c in encoder.categories_] == [["False", "True"], ["1", "2", "3"]]

    as_read = pipeline.predict(pd.read_csv(data).head(3).drop(columns="y"))  # the CSV's bools and ints
    rows = pd.read_csv(data).head(3).drop(columns="y").to_dict("records")
    spelt = [{**r, "flag": str(r["flag"]), "zone": str(r["zone"])} for r in rows]
    for records in (rows, spelt):
        answer = model.predict(infer_and_parse_data({"dataframe_records": records}, inputs))
        assert answer == pytest.approx(as_read)
    body = "x,flag,zone\n" + "".join(f"{r['x']!r},{r['flag']},{r['zone']}\n" for r in rows)
    assert model.predict(parse_csv_input(io.StringIO(body), inputs)) == pytest.approx(as_read)
    flipped = pipeline.predict(pd.DataFrame([{**rows[0], "flag": not rows[0]["flag"]}]))
    assert abs(flipped[0] - as_read[0]) > 1  # the flag is learned, not taken for an unknown category
    nulls = [{**rows[0], "flag": None, "zone": None}]
    assert len(model.predict(infer_and_parse_data({"dataframe_records": nulls}, inputs))) == 1


@pytest.mark.integration
def test_explain_takes_every_model_uri_form_keeps_types_and_flags_ungated_aliases(
    sqlite_store: str,
    make_recipe: Callable[..., Path],
    sample_csv: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from trainer.cli.main import main

    recipe = make_recipe(
        candidates={"dummy": {}, "ridge": {"alpha": [1.0]}},
        promotion={"tolerance": 0.0, "on_register": "if_better"},
    )
    _train(recipe, sample_csv, caplog)
    client = mlflow.MlflowClient()
    mv = client.get_model_version("test-small", "1")
    client.set_registered_model_alias("test-small", "staging", "1")  # the UI's alias pencil
    capsys.readouterr()

    uris = [
        "models:/test-small/1",
        "models:/test-small@champion",
        "models:/test-small/latest",
        f"models:/{client.get_run(mv.run_id).data.tags['model_id']}",
        f"runs:/{mv.run_id}/model",
    ]
    for uri in uris:
        assert main(["explain", uri, "--json"]) == 0, uri
        record = json.loads(capsys.readouterr().out)
        assert record["model"] == "models:/test-small/1", uri

    assert isinstance(record["metrics"]["cv_r2"], float) and isinstance(record["data"]["rows"], int)
    assert record["code"]["git_dirty"] in (True, False) and record["promotion"]["promotion_forced"] is False
    assert record["alias_gated"] == {"champion": True, "staging": False}
    assert any(line.startswith("scikit-learn==") for line in record["model_requirements"])
    assert main(["explain", "models:/test-small/1"]) == 0
    text = capsys.readouterr().out
    assert "staging (NOT gated: moved outside the trainer)" in text
    assert "model requirements (requirements.txt): " in text and "scikit-learn==" in text
    for bad in ("runs:/nope/model", "models:/m-nope", "models:/test-small/x"):
        assert main(["explain", bad]) == 1, bad


@pytest.mark.unit
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
