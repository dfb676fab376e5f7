"""`trainer init`: roles inferred with their rules, a suite that passes on its own data and fails on
the bad inputs, no overwrite without --force, and (system) init -> validate -> train on a dataset the
project has never seen, without editing a file. Also: the default gates travel.

(integration layer)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support.init import _draft, _houses

from trainer.cli.main import main


def test_a_model_trained_on_drafted_dates_reads_them(
    sqlite_store: str, write_csv: Callable[..., Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import mlflow

    data = write_csv(_houses(), "houses.csv")
    assert _draft(data, tmp_path / "d", "--name", "test") == 0
    recipe = yaml.safe_load((tmp_path / "d" / "recipe.yaml").read_text())
    recipe["candidates"] = {"dummy": {}, "ridge": {"alpha": [1.0]}}
    (tmp_path / "d" / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["train", "--recipe", str(tmp_path / "d" / "recipe.yaml")]) == 0, caplog.text

    model = mlflow.sklearn.load_model("models:/test/1")
    rows = pd.DataFrame(
        {"built_on": ["1950-06-01", "2015-06-01"], "sold": ["2020-01-01"] * 2, "day": "x", "area": 100}
    )
    old, new = model.predict(rows)
    assert new - old > 50_000  # 65 years younger: worth about 2,000 a year
    assert float(mlflow.MlflowClient().get_model_version("test", "1").tags["cv_r2"]) > 0.9
