"""A `<script>` planted in a column name, a category, a class label, the schema's description, the
data file's name and the registered model's name reaches every Markdown and HTML the project writes
(run descriptions, model card, version and registered model descriptions, contract report and Data
Docs, leakage and leaderboard artifacts) only escaped; every CSV it writes holds no formula cell.

(integration layer)"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from trainer.cli.main import main

SCRIPT_COLUMN = "<script>alert('column')</script>"
SCRIPT_LABEL = "<script>alert('label')</script>"
SCRIPT_CATEGORY = "<img src=x onerror=alert('category')>"
MODEL = "risk<script>"
FORMULA = re.compile(r"^[=+@\t\r]|^-(?![\d.])")  # a cell a spreadsheet would run (OWASP)
MARKUP = re.compile(r"<\s*(script|img)", re.IGNORECASE)


def _planted(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            SCRIPT_COLUMN: rng.choice([SCRIPT_CATEGORY, "=1+2", "-cmd|' /C calc'!A0", "plain"], n),
            "=SUM(A1:A2)": rng.normal(size=n),
            "x": x,
            "y": np.where(x + rng.normal(scale=0.7, size=n) > 0, SCRIPT_LABEL, "ok"),
        }
    )


def _artifacts(client: MlflowClient, run_id: str, path: str = "") -> dict[str, str]:
    """Every text artifact of a run (Markdown, HTML, CSV), by path."""
    found: dict[str, str] = {}
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found.update(_artifacts(client, run_id, item.path))
        elif item.path.endswith((".md", ".html", ".csv")):
            with tempfile.TemporaryDirectory() as tmp:
                found[item.path] = Path(client.download_artifacts(run_id, item.path, tmp)).read_text()
    return found


def _formula_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row if FORMULA.search(cell)]


@pytest.fixture
def planted_training(sqlite_store: str, tmp_path: Path) -> dict[str, str]:
    """init -> train a planted dataset; then a validation of data with a planted new category fails.
    Returns every Markdown / HTML / CSV text written, by where it is."""
    data = tmp_path / "loans<script>.csv"
    _planted().to_csv(data, index=False)
    out = tmp_path / "d"
    assert main(["init", "--data", str(data), "--target", "y", "--name", "test", "--out", str(out)]) == 0
    schema = yaml.safe_load((out / "schema.yaml").read_text())
    schema["description"] = "<script>alert('description')</script> of a loan"
    (out / "schema.yaml").write_text(yaml.safe_dump(schema))
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    recipe["registered_model"] = MODEL
    recipe["candidates"] = {"dummy": {}, "logistic": {"C": [1.0]}}
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["train", "--recipe", str(out / "recipe.yaml")]) == 0

    bad = _planted()
    bad.loc[3, SCRIPT_COLUMN] = "<script>alert('new')</script>"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["validate", "--data", str(tmp_path / "bad.csv"), "--recipe", str(out / "recipe.yaml")]) == 2

    client = MlflowClient()
    experiment = client.get_experiment_by_name("test").experiment_id
    texts: dict[str, str] = {}
    for run in client.search_runs([experiment]):
        rid = run.info.run_id
        texts[f"run {run.info.run_name}: description"] = run.data.tags.get("mlflow.note.content", "")
        texts.update({f"run {run.info.run_name}: {p}": t for p, t in _artifacts(client, rid).items()})
    texts["registered model description"] = client.get_registered_model(MODEL).description or ""
    texts["version 1 description"] = client.get_model_version(MODEL, "1").description or ""
    return texts


def test_planted_markup_is_escaped_everywhere_and_no_csv_cell_is_a_formula(
    planted_training: dict[str, str],
) -> None:
    texts = planted_training
    markup = {where: text for where, text in texts.items() if not where.endswith(".csv")}
    # what the test relies on was written: a card, the contract's reports, leakage, leaderboard, a failure
    written = " ".join(markup)
    for expected in (
        "model_card.md",
        "contract/report.md",
        "contract/data_docs.html",
        "leakage/leakage.md",
        "leaderboard/leaderboard.md",
    ):
        assert expected in written, sorted(markup)
    assert any(text.startswith("**FAILED**") for text in markup.values())
    for where, text in markup.items():
        assert not MARKUP.search(text), f"{where} holds raw markup: {MARKUP.search(text)}"
    card = texts["version 1 description"]
    assert "&lt;script&gt;alert('column')&lt;/script&gt;" in card  # the column, escaped (Markdown)
    assert "&lt;script&gt;alert('label')&lt;/script&gt;" in card  # the label, escaped
    assert "&lt;script&gt;alert('description')&lt;/script&gt;" in card
    assert "&lt;script&gt;alert(&#x27;new&#x27;)" in " ".join(
        t for w, t in markup.items() if w.endswith("data_docs.html")
    ) or "&lt;script&gt;alert('new')" in " ".join(markup.values())
    csvs = {where: text for where, text in texts.items() if where.endswith(".csv")}
    assert any(w.endswith("leakage/leakage.csv") for w in csvs) and any(
        w.endswith("evaluation/per_class.csv") for w in csvs
    )
    for where, text in csvs.items():
        assert _formula_cells(text) == [], where
    leakage = next(t for w, t in csvs.items() if w.endswith("leakage/leakage.csv"))
    assert "'=SUM(A1:A2)" in leakage  # the planted formula column name, made text
