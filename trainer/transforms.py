"""Custom pieces that live inside the fitted Pipeline (shipped with every logged model).

Only numpy, pandas and scikit-learn (and CatBoost, lazily) are imported here, so a model
loads in a serving environment without the rest of the trainer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted


def year_quarter_to_number(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn text like "1979 Q3" into 1979.5 (year + (quarter - 1) / 4); anything else -> NaN."""
    out = {}
    for col in frame.columns:
        parts = frame[col].astype("str").str.extract(r"^\s*(\d{4})\s*Q([1-4])\s*$")
        out[col] = parts[0].astype("float64") + (parts[1].astype("float64") - 1.0) / 4.0
    return pd.DataFrame(out, index=frame.index)


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as plain Python strings (object dtype), missing values as NaN."""
    frame = pd.DataFrame(frame)
    return frame.astype(object).where(frame.notna(), np.nan)


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

        X = pd.DataFrame(X)
        self.cat_features_ = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.model_ = CatBoostRegressor(
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
        self.model_.fit(self._as_catboost(X), np.asarray(y))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict(self._as_catboost(pd.DataFrame(X)))

    def _as_catboost(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for col in self.cat_features_:
            X[col] = X[col].astype("object").where(X[col].notna(), "missing").astype(str)
        return X
