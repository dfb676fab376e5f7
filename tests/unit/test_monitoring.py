"""Monitoring's own computations against reference ones: the row contract against Great Expectations,
PSI and the KS statistic from a recorded profile against raw-sample computations, the report's
escaping and the recipe's `monitoring:` section.

(unit layer)"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import RAW_CSV, SCHEMA, raw_sample
from scipy.stats import ks_2samp

from trainer.data.contract import run_suite
from trainer.data.schema import load_schema
from trainer.errors import ConfigError
from trainer.monitoring.drift import CategoryDrift, NumberDrift, psi
from trainer.monitoring.report import html_report
from trainer.monitoring.rows import row_contract
from trainer.recipe.settings import load_recipe
from trainer.registry.training_profile import categorical, numerical


def _planted() -> pd.DataFrame:
    frame = raw_sample(300, seed=2)
    frame = frame.astype({"gender": object, "birth": object, "mathk": object})
    frame.loc[3, "gender"] = "robot"  # not in the value set
    frame.loc[5, "mathk"] = 9999.0  # outside the range
    frame.loc[7, "birth"] = "1980-03"  # not matching the regex
    frame.loc[9, "star3"] = None  # missing where none is allowed
    frame.loc[11, "mathk"] = "lots"  # not a number
    return frame


def test_the_row_contract_refuses_the_rows_great_expectations_refuses(tmp_path) -> None:
    schema = load_schema(SCHEMA)
    suite = json.loads(schema.suite_path.read_text())
    path = tmp_path / "planted.csv"
    _planted().to_csv(path, index=False)
    contract = row_contract(schema, suite, list(pd.read_csv(path, nrows=0).columns), keep_target=False)
    chunk = pd.read_csv(path, usecols=contract.columns, dtype=contract.dtype)
    checked = contract.check(chunk)
    ours = set(chunk.index[checked.bad])
    # Great Expectations on the same file as the trainer reads it, the rules that judge single rows
    row_rules = [
        e
        for e in suite["expectations"]
        if e["kwargs"].get("column") in contract.kinds
        and e["type"] != "expect_column_values_to_be_in_type_list"
        and not e["type"].endswith("unique")
        and e["kwargs"].get("mostly", 1) >= 1
    ]
    frame = pd.read_csv(path, low_memory=False).drop(columns=["mathk"])  # GE cannot compare its text
    result = run_suite(frame, {"name": "r", "expectations": row_rules}, result_format="COMPLETE")
    theirs = {i for r in result.results for i in (r.result or {}).get("unexpected_index_list") or []}
    assert theirs == {3, 7, 9}
    assert ours == theirs | {5, 11}  # and the number column's range and type, by value
    reasons = checked.rejects.set_index("line")
    assert reasons.loc[13, "reason"].startswith("not a number") and reasons.loc[13, "value"] == "lots"
    assert reasons.loc[5, "column"] == "gender" and "not one of" in reasons.loc[5, "reason"]


def test_psi_and_ks_from_the_profile_match_raw_sample_computations() -> None:
    rng = np.random.default_rng(0)
    train, new = rng.normal(0, 1, 20_000), rng.normal(0.3, 1.2, 15_000)
    drift = NumberDrift(numerical(train))
    for part in np.array_split(new, 7):  # counted chunk by chunk
        drift.add(part)
    result = drift.result()
    edges = np.quantile(train, np.linspace(0, 1, 11)[1:-1])  # the reference: pandas' own binning
    bins = [-np.inf, *edges, np.inf]
    expected = pd.Series(pd.cut(train, bins)).value_counts(sort=False, normalize=True).to_numpy()
    actual = pd.Series(pd.cut(new, bins)).value_counts(sort=False, normalize=True).to_numpy()
    assert result["psi"] == pytest.approx(
        float(np.sum((actual - expected) * np.log(actual / expected))), rel=1e-9
    )
    reference = ks_2samp(train, new)
    assert abs(result["test"]["statistic"] - reference.statistic) <= 0.01  # the 101-point grid
    assert result["test"]["p_value"] < 1e-12 and reference.pvalue < 1e-12
    same = NumberDrift(numerical(train))
    same.add(rng.normal(0, 1, 15_000))
    assert same.result()["psi"] < 0.01 and same.result()["test"]["p_value"] > 0.01
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0


def test_new_categories_and_null_shares_are_named() -> None:
    trained = categorical(pd.Series(["a"] * 60 + ["b"] * 40, name="c"))
    drift = CategoryDrift(trained, allowed={"a", "b", "c"})
    drift.add(pd.Series(["a"] * 50 + ["c"] * 10 + ["zz"] * 5 + [None] * 35, name="c"))
    result = drift.result()
    assert [(c["value"], c["rows"], c["in_contract"]) for c in result["new_categories"]] == [
        ("c", 10, True),
        ("zz", 5, False),
    ]
    assert result["null_share"] == {"training": 0.0, "new": 0.35} and result["psi"] > 1.0


def test_the_report_escapes_every_name_from_the_data() -> None:
    evil = '<script>alert("x")</script>'
    entry = NumberDrift(numerical(np.arange(100.0)))
    entry.add(np.arange(50.0))
    category = CategoryDrift(categorical(pd.Series(["a", "b"], name="c")))
    category.add(pd.Series([evil, "a"], name="c"))
    result = {
        "model": f"models:/{evil}/1", "checked_at": "now", "data": f"/tmp/{evil}.csv", "rows": 2,
        "rows_rejected": 1, "rejected_by_column": {evil: 1}, "labelled_rows": 0,
        "features": {evil: entry.result(), "c": category.result()}, "predictions": {"prediction": entry.result()},
        "prediction_psi": 0.1, "target": None, "metric": None, "thresholds": {"max_psi": 0.2},
        "crossed": [f"{evil}: PSI 1 > max_psi 0.2"], "retrain": f"trainer train --data {evil}",
    }  # fmt: skip
    page = html_report(result)
    assert (
        "<script" not in page
        and "&lt;script&gt;" in page
        and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    )


def test_the_monitoring_section_has_defaults_and_refuses_unknown_keys(tmp_path) -> None:
    base = RAW_CSV.parent.parent.parent / "train.yaml"
    assert load_recipe(base).monitoring.max_psi == 0.2
    text = base.read_text() + "\nmonitoring:\n  max_pis: 0.3\n"
    (tmp_path / "r.yaml").write_text(text.replace("\nmonitoring:\n  max_psi", "\n# moved"))
    with pytest.raises(ConfigError, match=r"unknown key 'max_pis' \(did you mean 'max_psi'\?\)"):
        load_recipe(tmp_path / "r.yaml")
