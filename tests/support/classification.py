"""Shared by the unit, integration, system tests of classification: CREDIT_CSV, CREDIT_SCHEMA, GATES, TINY, credit_recipe, credit_sample, train."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from helpers import ROOT, write_recipe

from trainer.cli.main import main

CREDIT_CSV = ROOT / "data" / "raw" / "credit_scoring.csv"


CREDIT_SCHEMA = ROOT / "data" / "credit_scoring.yaml"


TINY = {"dummy": {}, "logistic": {"C": [1.0]}}


GATES = {"min_cv_score": 0.6, "baseline": "dummy", "min_improvement": 0.05}


def credit_sample(rows: int = 900, seed: int = 0) -> pd.DataFrame:
    return pd.read_csv(CREDIT_CSV).sample(rows, random_state=seed).reset_index(drop=True)


def credit_recipe(path: Path, model: str = "credit-test", **extra: Any) -> Path:
    extra.setdefault("candidates", TINY)
    extra.setdefault("gates", GATES)
    recipe = write_recipe(path, "test-small", model, **extra)
    data = yaml.safe_load(recipe.read_text())
    data.update(data=str(CREDIT_CSV), schema=str(CREDIT_SCHEMA))
    if "min_cv_r2" not in extra["gates"]:
        del data["gates"]["min_cv_r2"]  # the regression floor write_recipe adds: a classifier refuses it
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    return recipe


def train(data: Path, schema: Path, recipe: Path, register: bool = True) -> int:
    args = ["train", "--data", str(data), "--schema", str(schema), "--recipe", str(recipe)]
    return main(args if register else [*args, "--no-register"])
