"""The MLflow experience as a user meets it: where `mlflow run .` records, exit codes, the champion,
progress, serving, the run tree, `explain` and the offline contract report.

(integration layer)"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT
from support.mlflow_experience import _train


def _python_blocks(markdown: str, needle: str) -> list[str]:
    """The ```python blocks of a Markdown text that contain `needle`."""
    blocks = re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)
    return [b for b in blocks if needle in b]


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
