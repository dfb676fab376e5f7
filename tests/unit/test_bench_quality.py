"""The quality benchmark's harness (bench/quality*.py) on one small dataset, without the peers venv:
the CSV, the split handoff (the trainer's own split, row for row), one dataset through `evaluate`
with stubs for the trainer's subprocesses, its store and the peers, and the winner rule and table.
No tracking store, no subprocess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import bench.quality as quality
from bench.quality_data import Dataset, chosen, handoff, write_csv
from bench.quality_peers import holdout_score
from bench.quality_table import Row, cells, render, winner, write

SMALL = Dataset("small", "test", "small", "label", "classification")


def small_frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Rows in a shuffled order (the handoff must sort them as the trainer does), 20 % positive."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    noisy = x + rng.normal(scale=0.5, size=rows)
    return pd.DataFrame(
        {
            "rownames": rng.permutation(np.arange(1, rows + 1)),
            "x": x,
            "colour": rng.choice(["red", "green", "blue"], size=rows),
            "label": np.where(noisy >= np.quantile(noisy, 0.8), "yes", "no"),
        }
    )


def drafts(folder: Path, csv: Path, classification: bool = True) -> Path:
    """schema.yaml / suite.json / recipe.yaml as `trainer init` lays them out (recipe-relative paths)."""
    target = "label" if classification else "x"
    schema: dict[str, Any] = {"name": "small", "suite": "suite.json", "target": target}
    if classification:
        schema |= {"task": "classification", "positive_class": "yes", "identifiers": ["rownames"],
                   "numerical": ["x"], "categorical": ["colour"]}  # fmt: skip
    else:  # no identifiers: the canonical order sorts by every declared column
        schema |= {
            "task": "regression",
            "numerical": ["rownames"],
            "categorical": ["colour"],
            "ignore": ["label"],
        }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.yaml").write_text(yaml.safe_dump(schema, sort_keys=False))
    (folder / "suite.json").write_text(json.dumps({"name": "small", "expectations": []}))
    recipe = {
        "experiment": "small",
        "data": str(Path("..") / csv.name),
        "schema": "schema.yaml",
        "split": {"test_size": 0.25, "random_state": 7},
        "classification": {"metric": "roc_auc"},
        "candidates": {"dummy": {}},
    }
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    return folder / "recipe.yaml"


@pytest.mark.parametrize("classification", [True, False], ids=["stratified-by-id", "shuffle-by-all-columns"])
def test_the_handoff_is_the_trainers_own_split(tmp_path: Path, classification: bool) -> None:
    from trainer.data.contract import check_columns
    from trainer.data.csv_reader import read_csv
    from trainer.data.schema import load_schema
    from trainer.data.split import split_data
    from trainer.recipe.settings import load_recipe

    csv = write_csv(small_frame(), tmp_path / "small.csv")
    recipe = drafts(tmp_path / "drafts", csv, classification)
    hand = handoff(recipe, tmp_path / "handoff")

    schema = load_schema(recipe.parent / "schema.yaml")
    frame = read_csv(csv)
    kept = frame[[c for c in frame.columns if c not in check_columns(frame, schema, csv)]]
    ours = split_data(kept, schema, load_recipe(recipe).split)
    pd.testing.assert_frame_equal(hand.X_holdout, ours.X_test)
    assert list(hand.y_holdout) == list(ours.y_test)
    train = pd.read_csv(hand.train_csv)
    assert list(train.columns) == [*schema.feature_columns, schema.target]
    pd.testing.assert_frame_equal(train[list(schema.feature_columns)], ours.X_train)
    assert (hand.rows_train, hand.rows_holdout) == (225, 75)
    if classification:
        assert (hand.metric, hand.positive_class, hand.labels) == ("roc_auc", "yes", ("no", "yes"))
    else:
        assert (hand.metric, hand.positive_class, "label" in train.columns) == ("r2", None, False)


def stub_peer(tool: str, hand: Any, limit: float, folder: Path, settings: Any) -> dict[str, Any]:
    """A peer that reads the two CSVs like quality_peers.py and scores a fixed rule: FLAML the
    feature x itself (a good ranking), AutoGluon the training rows' positive share (no ranking)."""
    train, holdout = pd.read_csv(hand.train_csv), pd.read_csv(hand.holdout_csv)
    if tool == "flaml":
        p = 1 / (1 + np.exp(-holdout["x"].to_numpy()))
    else:
        p = np.full(len(holdout), (train[hand.target] == hand.positive_class).mean())
    proba = np.column_stack([1 - p, p])
    score = holdout_score(hand.metric, holdout[hand.target], proba, list(hand.labels), hand.positive_class)
    return {"score": score, "best_model": f"{tool}-stub", "wall_s": limit, "limit": limit}


def test_one_dataset_through_evaluate_and_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_train(ds: Dataset, folder: Path, settings: Any, row: Row) -> tuple[Path, str]:
        csv = write_csv(small_frame(), folder / f"{ds.key}.csv")
        row.details["ours"] = {"init_s": 1.0, "train_s": 4.0}
        row.wall_s = 5.0
        return drafts(folder / "drafts", csv), "sqlite:///nowhere"

    monkeypatch.setattr(quality, "train_ours", fake_train)
    monkeypatch.setattr(
        quality, "read_ours", lambda uri, metric: {"score": 0.7, "selected": "ridge", "best_cv": 0.69}
    )
    monkeypatch.setattr(quality, "rescored", lambda uri, ours, hand: (0.7, "same"))
    monkeypatch.setattr(quality, "run_peer", stub_peer)
    settings = quality.Settings(tmp_path / "default", None, ("flaml", "autogluon"), Path("unused"))

    row = quality.evaluate(SMALL, settings)

    assert row.notes == []
    assert (row.rows, row.task, row.metric, row.limit_s) == (300, "binary (20.0% yes)", "roc_auc", 5.0)
    assert row.details["flaml"]["limit"] == row.details["autogluon"]["limit"] == 5.0  # each peer gets W
    assert row.scores["autogluon"] == pytest.approx(0.5)
    assert row.scores["flaml"] > 0.85 and row.winner == "FLAML"
    assert (tmp_path / "default" / "small" / "handoff" / "holdout.csv").exists()
    md, js = write([row], {"date": "today", "machine": {"cores": 2}, "versions": {}}, tmp_path / "default")
    assert (
        f"| test/small | 300 | binary (20.0% yes) | roc_auc | 0.7000 | {row.scores['flaml']:.4f} |"
        in md.read_text()
    )
    assert json.loads(js.read_text())["rows"][0]["winner"] == "FLAML"


def test_a_failed_training_is_a_note_and_the_peers_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_train(ds: Dataset, folder: Path, settings: Any, row: Row) -> tuple[Path, str]:
        csv = write_csv(small_frame(), folder / f"{ds.key}.csv")
        row.details["ours"], row.wall_s = {"init_s": 1.0, "train_s": 2.0}, 3.0
        row.notes.append("trainer train: exit 3: ERROR   no candidate passed the gates")
        return drafts(folder / "drafts", csv), "sqlite:///nowhere"

    monkeypatch.setattr(quality, "train_ours", failing_train)
    monkeypatch.setattr(quality, "read_ours", lambda uri, metric: {"status": "FAILED", "score": None})
    monkeypatch.setattr(quality, "rescored", lambda uri, ours, hand: (None, "no version"))
    monkeypatch.setattr(quality, "run_peer", stub_peer)
    settings = quality.Settings(tmp_path / "budget-60s", 60.0, ("flaml",), Path("unused"))

    row = quality.evaluate(SMALL, settings)

    assert row.scores["ours"] is None and row.details["flaml"]["limit"] == 60.0  # the budget, not W
    assert row.winner == "FLAML" and cells(row)[4] == "failed"
    assert "exit 3" in render([row], {"machine": {}, "versions": {}, "time_budget_s": 60.0})


@pytest.mark.parametrize(
    ("scores", "metric", "expected"),
    [
        ({"ours": 0.91, "flaml": 0.90, "autogluon": 0.85}, "r2", "ours"),
        ({"ours": 0.900, "flaml": 0.9015, "autogluon": 0.85}, "roc_auc", "tie (ours, FLAML)"),
        ({"ours": 0.900, "flaml": 0.9021, "autogluon": 0.9025}, "roc_auc", "tie (FLAML, AutoGluon)"),
        ({"ours": 0.30, "flaml": 0.35, "autogluon": 0.29}, "log_loss", "AutoGluon"),
        ({"ours": None, "flaml": float("nan"), "autogluon": 0.5}, "r2", "AutoGluon"),
        ({"ours": None, "flaml": None, "autogluon": None}, "r2", "none"),
    ],
)
def test_the_winner_rule(scores: dict[str, float | None], metric: str, expected: str) -> None:
    assert winner(scores, metric) == expected


def test_the_peers_score_as_the_trainer_scores() -> None:
    from trainer.recipe.task import Task, classification_metrics

    rng = np.random.default_rng(1)
    for labels in (("no", "yes"), ("F", "L", "M", "VF")):
        y = rng.choice(labels, size=200)
        proba = rng.dirichlet(np.ones(len(labels)), size=200)
        task = Task("classification", "roc_auc", labels, "yes" if len(labels) == 2 else None)
        theirs = classification_metrics(task, y, proba, np.array(labels)[proba.argmax(1)], list(labels))
        positive = task.positive_class
        assert holdout_score("roc_auc", y, proba, list(labels), positive) == pytest.approx(theirs["roc_auc"])
        assert holdout_score("log_loss", y, proba, list(labels), positive) == pytest.approx(
            theirs["log_loss"]
        )


def test_dataset_names_and_the_error_line(tmp_path: Path) -> None:
    assert [d.key for d in chosen("ISLR/Default, concrete")] == ["concrete", "islr_default"]
    with pytest.raises(SystemExit, match="unknown dataset"):
        chosen("iris")
    log = tmp_path / "train.log"
    log.write_text("12:00:01 INFO    contract\n12:00:02 ERROR   data contract failed: column 'x'\nbye\n")
    assert quality.error_line(log) == "ERROR   data contract failed: column 'x'"
