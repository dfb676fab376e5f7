"""Custom pieces that live inside the fitted Pipeline (shipped with every logged model).

Only numpy, pandas and scikit-learn (and CatBoost, lazily) are imported here, so a model
loads in a serving environment without the rest of the trainer.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted


def year_quarter_to_number(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn text like "1979 Q3" into 1979.5 (year + (quarter - 1) / 4); anything else -> NaN."""
    out = {}
    for col in frame.columns:
        parts = frame[col].astype("str").str.extract(r"^\s*(\d{4})\s*Q([1-4])\s*$")
        out[col] = parts[0].astype("float64") + (parts[1].astype("float64") - 1.0) / 4.0
    return pd.DataFrame(out, index=frame.index)


DATE_FORMAT = "ISO8601"  # what a `date` column holds (the contract parses it the same way)


def date_to_number(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn ISO 8601 text like "2021-07-02" or "2021-07-02 18:00" into the year as a decimal
    (2021.5: year + the elapsed share of it, in UTC where an offset is given); anything else -> NaN."""
    out = {}
    for col in frame.columns:
        when = pd.to_datetime(frame[col].astype("str"), format=DATE_FORMAT, errors="coerce", utc=True)
        start = when.dt.normalize() - pd.to_timedelta(when.dt.day_of_year - 1, unit="D")  # 1 January
        days = np.where(when.dt.is_leap_year, 366.0, 365.0)
        out[col] = when.dt.year + (when - start).dt.total_seconds().to_numpy() / (days * 86_400.0)
    return pd.DataFrame(out, index=frame.index).astype("float64")


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as Python objects, missing values as NaN: kept because models registered
    before `as_category_text` refer to it by name."""
    frame = pd.DataFrame(frame)
    return frame.astype(object).where(frame.notna(), np.nan)


def as_category_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as plain Python strings in one spelling, missing values as NaN.

    A category is the same whether it arrives as a number, a boolean or text: a CSV's True/False
    column is read as booleans and its 1..5 codes as numbers, while a signature's string column
    hands serving "True" and "1". So True -> "True", 3 and 3.0 -> "3", 2.5 -> "2.5"."""
    frame = pd.DataFrame(frame)
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            columns[name] = values.astype(object)
        else:  # only a column holding something other than text pays for a call per value
            columns[name] = values.map(_category_spelling, na_action="ignore").astype(object)
    return pd.DataFrame(columns, index=frame.index).where(frame.notna(), np.nan)


def _category_spelling(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def year_quarter_names(transformer: object, input_features: list[str]) -> list[str]:
    """Output feature names of the year-quarter step (same as its input columns)."""
    return list(input_features)


class CatBoostNativeRegressor(RegressorMixin, BaseEstimator):
    """CatBoost regressor on a DataFrame whose text columns are categorical features.

    A thin scikit-learn adapter: its constructor only stores parameters, so `clone` and
    `GridSearchCV` work; categorical columns are found by dtype at fit time.
    """

    wrapped_library = "catboost"  # what an environment loading this model must install

    def __init__(
        self,
        iterations: int = 1000,
        depth: int = 6,
        learning_rate: float = 0.08,
        l2_leaf_reg: float = 3.0,
        random_state: int = 0,
        thread_count: int = 1,
    ):
        self.iterations = iterations
        self.depth = depth
        self.learning_rate = learning_rate
        self.l2_leaf_reg = l2_leaf_reg
        self.random_state = random_state
        self.thread_count = thread_count

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CatBoostNativeRegressor:
        from catboost import CatBoostRegressor

        return self._fit(CatBoostRegressor, X, np.asarray(y))

    def _fit(self, model_class: type, X: pd.DataFrame, y: np.ndarray) -> Self:
        """Fit a CatBoost model of `model_class` with the text columns as categorical features."""
        X = pd.DataFrame(X)
        self.cat_features_ = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.model_ = model_class(
            iterations=self.iterations,
            depth=self.depth,
            learning_rate=self.learning_rate,
            l2_leaf_reg=self.l2_leaf_reg,
            random_seed=self.random_state,
            thread_count=self.thread_count,
            cat_features=self.cat_features_,
            allow_writing_files=False,
            verbose=False,
        )
        self.model_.fit(self._as_catboost(X), y)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict(self._as_catboost(pd.DataFrame(X)))

    def _as_catboost(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for col in self.cat_features_:
            X[col] = X[col].astype("object").where(X[col].notna(), "missing").astype(str)
        return X


class CatBoostNativeClassifier(ClassifierMixin, CatBoostNativeRegressor):
    """CatBoost classifier on a DataFrame whose text columns are categorical features (same adapter)."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CatBoostNativeClassifier:
        from catboost import CatBoostClassifier

        self.classes_ = np.unique(np.asarray(y))
        return self._fit(CatBoostClassifier, X, np.searchsorted(self.classes_, np.asarray(y)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._as_catboost(pd.DataFrame(X)))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class XGBLabelClassifier(ClassifierMixin, BaseEstimator):
    """XGBoost classifier on any labels (XGBoost itself only accepts 0..n-1): labels are encoded
    at fit time and decoded at predict time; the tuned parameters are XGBoost's own (seed 0, one
    thread and the hist method are fixed, as for the regressor)."""

    wrapped_library = "xgboost"

    def __init__(
        self,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        max_depth: int = 6,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        min_child_weight: float = 1.0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight

    def fit(self, X: np.ndarray, y: np.ndarray) -> XGBLabelClassifier:
        from xgboost import XGBClassifier

        self.classes_ = np.unique(np.asarray(y))
        self.n_features_in_ = np.asarray(X).shape[1]
        fixed = {"random_state": 0, "n_jobs": 1, "tree_method": "hist", "verbosity": 0}
        self.model_ = XGBClassifier(**self.get_params(), **fixed)
        self.model_.fit(X, np.searchsorted(self.classes_, np.asarray(y)))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
