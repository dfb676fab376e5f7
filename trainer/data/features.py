"""Features from the schema: the ColumnTransformer inside every Pipeline, and the feature digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from trainer.data.schema import DerivedFeature, Schema
from trainer.transforms import as_category_text, date_to_number, year_quarter_names, year_quarter_to_number

DERIVED_STEPS = {
    "year_quarter": (year_quarter_to_number, year_quarter_names),
    "date": (date_to_number, year_quarter_names),  # the names function keeps its input's names
}
MISSING = "missing"


@dataclass(frozen=True)
class FeatureSummary:
    """What the model sees: the encoded matrix's digest, shape and column names."""

    digest: str
    rows: int
    columns: int
    names: list[str]


def _derive(feature: DerivedFeature) -> FunctionTransformer:
    func, names = DERIVED_STEPS[feature.kind]
    return FunctionTransformer(func, feature_names_out=names)


def _text_imputer() -> Pipeline:
    return Pipeline(
        [
            ("text", FunctionTransformer(as_category_text, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING)),
        ]
    )


def build_preprocessor(schema: Schema, encoding: str = "onehot") -> ColumnTransformer:
    """Schema roles -> ColumnTransformer; identifier, leakage, ignored and extra columns drop."""
    if encoding == "native":
        return _native_preprocessor(schema)
    numeric = Pipeline(
        [("impute", SimpleImputer(strategy="median", add_indicator=True)), ("scale", StandardScaler())]
    )
    transformers: list[tuple[str, Any, list[str]]] = []
    if schema.numerical:
        transformers.append(("num", numeric, list(schema.numerical)))
    for feature in schema.derived:
        step = Pipeline(
            [
                ("derive", _derive(feature)),
                ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                ("scale", StandardScaler()),
            ]
        )
        transformers.append((feature.name, step, [feature.source]))
    if schema.categorical:
        categorical = Pipeline(
            [
                ("impute", _text_imputer()),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        transformers.append(("cat", categorical, list(schema.categorical)))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def _native_preprocessor(schema: Schema) -> ColumnTransformer:
    """For models with their own categorical handling: numbers as-is, categories as text."""
    transformers: list[tuple[str, Any, list[str]]] = []
    if schema.numerical:
        transformers.append(("num", "passthrough", list(schema.numerical)))
    for feature in schema.derived:
        transformers.append((feature.name, _derive(feature), [feature.source]))
    if schema.categorical:
        transformers.append(("cat", _text_imputer(), list(schema.categorical)))
    ct = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return ct.set_output(transform="pandas")


def build_pipeline(schema: Schema, encoding: str, model: Any, memory: Any = None) -> Pipeline:
    """The whole model: preprocessing and estimator in one Pipeline (what gets registered)."""
    return Pipeline([("features", build_preprocessor(schema, encoding)), ("model", model)], memory=memory)


def summarize_features(schema: Schema, X: pd.DataFrame) -> FeatureSummary:
    """Fit the one-hot preprocessing on X and digest the matrix (byte-identical for equal inputs)."""
    pre = build_preprocessor(schema, "onehot")
    matrix = np.ascontiguousarray(pre.fit_transform(X), dtype=np.float64)
    names = [str(n) for n in pre.get_feature_names_out()]
    h = hashlib.sha256()
    h.update("\n".join(names).encode())
    h.update(str(matrix.shape).encode())
    h.update(matrix.tobytes())
    return FeatureSummary(h.hexdigest(), matrix.shape[0], matrix.shape[1], names)
