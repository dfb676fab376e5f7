"""Synthetic data for benchmarks: shaped like the real data, seeded, and passing the data contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import RAW_CSV, SCHEMA, sha256

from bench.synthetic import generate, main
from trainer.data import contract
from trainer.data.schema import Schema, load_schema

ROWS = 10_000


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(SCHEMA)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(RAW_CSV)


@pytest.fixture(scope="module")
def synthetic(reference: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    return generate(ROWS, reference, schema, random_state=0)


def test_10k_rows_pass_the_contract(synthetic: pd.DataFrame, schema: Schema, tmp_path: Path) -> None:
    path = tmp_path / "synthetic.csv"
    synthetic.to_csv(path, index=False)
    result = contract.validate(path, schema)
    assert result.success, result.summary()
    assert len(result.frame) == ROWS


def test_same_columns_dtypes_and_roles_as_the_real_data(
    synthetic: pd.DataFrame, reference: pd.DataFrame
) -> None:
    assert list(synthetic.columns) == list(reference.columns)
    assert synthetic.dtypes.to_dict() == reference.dtypes.to_dict()
    assert synthetic["student_id"].tolist() == list(range(1, ROWS + 1))
    assert set(synthetic["school_id"]) <= set(reference["school_id"])
    assert set(synthetic["birth"].dropna()) <= set(reference["birth"].dropna())
    assert synthetic["math3"].notna().all()
    assert synthetic["math3"].between(487, 774).all()


def test_missing_rates_and_frequencies_follow_the_real_data(
    synthetic: pd.DataFrame, reference: pd.DataFrame
) -> None:
    real, fake = reference.isna().mean(), synthetic.isna().mean()
    assert np.allclose(fake, real, atol=0.02), (fake - real).abs().max()
    for col in ("star3", "school3", "ladder3"):
        real_freq = reference[col].value_counts(normalize=True)
        fake_freq = synthetic[col].value_counts(normalize=True).reindex(real_freq.index, fill_value=0)
        assert np.allclose(fake_freq, real_freq, atol=0.02), col


def test_target_follows_the_earlier_scores(synthetic: pd.DataFrame) -> None:
    both = synthetic[["math2", "math3"]].dropna()
    assert both["math2"].corr(both["math3"]) > 0.5


def test_same_seed_gives_an_identical_frame(
    synthetic: pd.DataFrame, reference: pd.DataFrame, schema: Schema
) -> None:
    pd.testing.assert_frame_equal(generate(ROWS, reference, schema, random_state=0), synthetic)


def test_a_different_seed_gives_a_different_frame(
    synthetic: pd.DataFrame, reference: pd.DataFrame, schema: Schema
) -> None:
    other = generate(ROWS, reference, schema, random_state=1)
    assert not other.equals(synthetic)
    assert (other["math3"] != synthetic["math3"]).mean() > 0.5


@pytest.mark.parametrize("rows", [0, -5])
def test_rows_must_be_positive(rows: int, reference: pd.DataFrame, schema: Schema) -> None:
    with pytest.raises(ValueError, match="positive"):
        generate(rows, reference, schema)


def test_command_line_writes_a_csv(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "synthetic.csv"
    assert main(["--rows", "200", "--out", str(out), "--seed", "3"]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 200 and frame["student_id"].is_unique


def test_command_line_refuses_to_write_into_raw_data() -> None:
    before = sha256(RAW_CSV)
    assert main(["--rows", "200", "--out", str(RAW_CSV)]) == 1
    assert main(["--rows", "200", "--out", str(RAW_CSV.parent / "synthetic.csv")]) == 1
    assert sha256(RAW_CSV) == before
    assert not (RAW_CSV.parent / "synthetic.csv").exists()
