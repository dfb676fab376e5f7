"""`trainer init`: roles inferred with their rules, a suite that passes on its own data and fails on
the bad inputs, no overwrite without --force, and (system) init -> validate -> train on a dataset the
project has never seen, without editing a file. Also: the default gates travel.

(system layer)"""

from __future__ import annotations

from pathlib import Path

import yaml
from helpers import init_store, run_trainer, train_runs, trainer_lines, using_store, versions


def test_a_new_dataset_from_init_to_a_registered_model(tmp_path: Path) -> None:
    """Done when (#13): a CSV never seen -> init -> validate -> train, no file edited."""
    from sklearn.datasets import load_diabetes

    data = tmp_path / "diabetes.csv"
    load_diabetes(as_frame=True).frame.to_csv(data, index=False)
    uri = init_store(tmp_path / "mlflow.db", ["diabetes"])
    out = tmp_path / "drafts"

    init = run_trainer(["init", "--data", str(data), "--target", "target", "--out", str(out)], uri)
    assert init.returncode == 0, init.stderr
    assert "442 rows, 11 columns" in init.stdout
    files = ["--data", str(data), "--schema", str(out / "schema.yaml"), "--recipe", str(out / "recipe.yaml")]
    validate = run_trainer(["validate", *files], uri)
    assert validate.returncode == 0, validate.stderr
    train = run_trainer(["train", *files], uri, timeout=240)
    assert train.returncode == 0, train.stderr[-3000:]
    assert trainer_lines(train.stderr) == []

    with using_store(uri) as client:
        assert [str(v.version) for v in versions(client, "diabetes")] == ["1"]
        run = train_runs(client, "diabetes")[0]
        assert run.data.tags["leakage_status"] == "passed"
        listed = {f.path for f in client.list_artifacts(run.info.run_id, "leakage")}
        assert {"leakage/leakage.csv", "leakage/leakage.md", "leakage/leakage.png"} <= listed
        assert versions(client, "diabetes")[0].tags["target"] == "target"
    assert yaml.safe_load((out / "recipe.yaml").read_text())["registered_model"] == "diabetes"
