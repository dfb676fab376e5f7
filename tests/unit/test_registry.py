"""Registration, promotion and audit against temporary SQLite and file tracking stores.

(unit layer)"""

from __future__ import annotations

import re

import pytest
from support.registry import SCHEMA

from trainer.errors import TrainerError


def test_model_requirements_pin_only_what_the_pipeline_loads_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """A serving environment gets exact pins of the core stack, and XGBoost/CatBoost/LightGBM only if used."""
    from importlib import metadata

    from trainer.catalogue.regressors import CATALOGUE
    from trainer.data.features import build_pipeline
    from trainer.data.schema import load_schema
    from trainer.model import environment
    from trainer.search.blend import blend_pipeline

    schema = load_schema(SCHEMA)

    def pipeline(name: str) -> object:
        return build_pipeline(schema, CATALOGUE[name].encoding, CATALOGUE[name].make())

    def names(pipeline: object) -> set[str]:
        pins = environment.model_requirements(pipeline)
        assert all(re.fullmatch(r"[\w.-]+==[\w.]+", pin) for pin in pins), pins
        return {pin.split("==")[0] for pin in pins}

    core = set(environment.MODEL_DISTRIBUTIONS)
    blend = blend_pipeline([(CATALOGUE["catboost"], {}), (CATALOGUE["xgboost"], {})], schema)
    assert names(pipeline("linear")) == names(pipeline("hist_gradient_boosting")) == core
    assert names(pipeline("xgboost")) == core | {"xgboost-cpu"}
    assert names(pipeline("catboost")) == core | {"catboost"}  # found through the adapter
    assert names(pipeline("lightgbm")) == core | {"lightgbm"}
    assert names(blend) == core | {"xgboost-cpu", "catboost"}

    real = metadata.version

    def plain_xgboost(name: str) -> str:  # an environment with `xgboost` instead of `xgboost-cpu`
        if name == "xgboost-cpu":
            raise metadata.PackageNotFoundError(name)
        return real("xgboost-cpu") if name == "xgboost" else real(name)

    monkeypatch.setattr(environment.metadata, "version", plain_xgboost)
    assert names(pipeline("xgboost")) == core | {"xgboost"}
    monkeypatch.setattr(environment, "ESTIMATOR_DISTRIBUTIONS", {"xgboost": ("xgboost-cpu",)})
    with pytest.raises(
        TrainerError, match=r"the model uses xgboost but none of \['xgboost-cpu'\] is installed"
    ):
        environment.model_requirements(pipeline("xgboost"))


def test_card_wording_without_a_schema_description() -> None:
    """Generic code names no dataset: without a description, the wording is neutral."""
    import dataclasses

    from trainer.data.schema import load_schema
    from trainer.registry.card import predicts, registered_model_description

    schema = dataclasses.replace(load_schema(SCHEMA), description="")
    assert predicts(schema) == "predicts `math3` from the columns in schema.yaml"
    assert registered_model_description(schema).startswith(
        "Predicts `math3` from the columns in schema.yaml: "
    )


def test_importance_rows_are_bounded_seeded_and_described() -> None:
    """Permutation importance uses every holdout row up to the bound, else the same seeded sample."""
    from trainer.registry import importance

    assert importance.sample_rows(7, limit=10).tolist() == list(range(7))
    first, again = importance.sample_rows(50, limit=10), importance.sample_rows(50, limit=10)
    assert first.tolist() == again.tolist() and len(set(first)) == 10 and list(first) == sorted(first)
    assert 0 <= first.min() and first.max() < 50
    assert importance.sample_rows(50, limit=10, seed=1).tolist() != first.tolist()
    assert importance.describe(importance.MAX_ROWS).startswith(
        f"permutation importance: all {importance.MAX_ROWS}"
    )
    assert f"{importance.MAX_ROWS} of the {importance.MAX_ROWS + 1} holdout rows" in importance.describe(
        importance.MAX_ROWS + 1
    )
