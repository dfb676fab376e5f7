"""After promotion: `trainer predict` under the version's own contract and `trainer monitor` against
the profile it recorded, for a regressor and a classifier each trained once for the module.

(integration layer)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from support.monitoring import Trained, trained  # noqa: F401 (fixture)

from trainer.cli.main import main
from trainer.errors import EXIT_CONTRACT, EXIT_GATE, EXIT_OK

# a value each version's contract refuses, and the column it goes in
BAD = {"regressor": ("mathk", 9999), "classifier": ("Home", "castle")}
SHIFTED = {"regressor": "math2", "classifier": "Income"}
KINDS = ["regressor", "classifier"]


def errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= 40)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_predict_on_the_raw_csv_reproduces_the_holdout_predictions(
    kind: str, trained: dict[str, Trained], tmp_path: Path
) -> None:
    t = trained[kind]
    out = tmp_path / "predictions.csv"
    assert main(["predict", t.uri, "--data", str(t.csv), "--out", str(out)]) == EXIT_OK
    written = pd.read_csv(out)
    ids, split = t.holdout()
    id_column = str(ids.name)
    assert list(written.columns[:1]) == [id_column] and len(written) == len(t.frame)
    model = mlflow.sklearn.load_model(t.uri)
    expected = model.predict(split.X_test)
    tags = MlflowClient().get_model_version(t.model, "1").tags
    if kind == "regressor":  # these are the holdout predictions the version was scored with
        from sklearn.metrics import r2_score

        assert f"{r2_score(split.y_test, expected):.6f}" == tags["test_r2"]
    else:
        assert f"{np.mean(expected == split.y_test):.6f}" == tags["test_accuracy"]
    got = written.set_index(id_column).loc[ids]
    assert np.array_equal(got["prediction"].to_numpy(), expected)  # exactly, not approximately
    if kind == "classifier":
        proba = model.predict_proba(split.X_test)
        columns = [f"probability_{label}" for label in model.classes_]
        assert np.array_equal(got[columns].to_numpy(), proba)
    client = MlflowClient()
    found = client.search_runs(
        [client.get_experiment_by_name("test-small").experiment_id],
        f"tags.trainer_command = 'predict' and tags.registered_model = '{t.model}'",
    )
    run = client.get_run(found[0].info.run_id)  # a search leaves the model inputs out
    assert run.data.tags["version"] == "1" and run.data.metrics["rows_predicted"] == len(t.frame)
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == [t.csv.name]
    logged_model = client.get_run(tags["training_run_id"]).data.tags["model_id"]
    assert [m.model_id for m in run.inputs.model_inputs] == [logged_model] == [run.data.tags["model_id"]]


@pytest.mark.parametrize("kind", KINDS)
def test_one_bad_row_is_refused_or_set_aside(
    kind: str, trained: dict[str, Trained], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    t = trained[kind]
    column, value = BAD[kind]
    frame = t.frame.astype({column: object})
    frame.loc[5, column] = value  # CSV line 7
    data = _write(frame, tmp_path / "batch.csv")
    out = tmp_path / "predictions.csv"
    assert main(["predict", t.uri, "--data", str(data), "--out", str(out)]) == EXIT_CONTRACT
    [line] = errors(caplog).splitlines()
    # the value as read (a number column's 9999 is 9999.0)
    assert re.search(rf"line 7: column '{column}' value '{value}(\.0)?'", line), line
    assert line.startswith("1 row(s) break the contract")
    assert not out.exists() and not list(tmp_path.glob(".*partial"))

    assert main(["predict", t.uri, "--data", str(data), "--out", str(out), "--skip-bad-rows"]) == EXIT_OK
    assert len(pd.read_csv(out)) == len(frame) - 1
    rejects = pd.read_csv(tmp_path / "predictions.rejects.csv")
    assert len(rejects) == 1
    assert (rejects.loc[0, "line"], rejects.loc[0, "column"]) == (7, column)
    assert str(rejects.loc[0, "value"]).removesuffix(".0") == str(value)


@pytest.mark.parametrize("kind", KINDS)
def test_monitor_passes_unchanged_data_and_names_a_shift_and_a_metric_drop(
    kind: str, trained: dict[str, Trained], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t = trained[kind]
    schema_target = "math3" if kind == "regressor" else "Status"
    unchanged = _write(t.unseen, tmp_path / "unchanged.csv")
    assert main(["monitor", t.uri, "--data", str(unchanged), "--out", str(tmp_path / "same")]) == EXIT_OK
    report = json.loads((tmp_path / "same" / "report.json").read_text())
    assert report["status"] == "passed" and report["metric"]["rows"] == len(t.unseen)

    column = SHIFTED[kind]
    shifted = t.unseen.assign(**{column: t.unseen[column] + t.unseen[column].std()})
    capsys.readouterr()
    assert (
        main(
            [
                "monitor",
                t.uri,
                "--data",
                str(_write(shifted, tmp_path / "shifted.csv")),
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == EXIT_GATE
    )
    printed = capsys.readouterr().out
    assert f"- {column}: PSI " in printed and "retrain: trainer train --recipe" in printed
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert next(iter(report["features"])) == column  # the largest PSI first
    assert [
        line.split(":")[0] for line in report["crossed"] if "PSI" in line and "predictions" not in line
    ] == [column]

    rng = np.random.default_rng(0)
    permuted = t.unseen.assign(**{schema_target: rng.permutation(t.unseen[schema_target].to_numpy())})
    assert (
        main(
            [
                "monitor",
                t.uri,
                "--data",
                str(_write(permuted, tmp_path / "permuted.csv")),
                "--out",
                str(tmp_path / "p"),
            ]
        )
        == EXIT_GATE
    )
    metric = json.loads((tmp_path / "p" / "report.json").read_text())["metric"]
    assert metric["beyond_interval"] and metric["drop_low"] > 0 and metric["drop"] > 0.05
    assert "<script" not in (tmp_path / "p" / "report.html").read_text()

    tags = MlflowClient().get_model_version(t.model, "1").tags
    assert tags["monitor_status"] == "drift" and tags["monitor_data"] == str(tmp_path / "permuted.csv")
    capsys.readouterr()
    assert main(["explain", t.uri]) == EXIT_OK
    assert "last check: drift at " in capsys.readouterr().out
