"""The optional estimator libraries a candidate may come from, and the distributions that provide them."""

from __future__ import annotations

# A model needs one only when its pipeline holds an estimator from it. Library -> the distributions
# that provide it, first installed wins (xgboost-cpu is xgboost without NCCL). The model's environment
# pins them; trainer.search.dask_workers checks Dask workers against the same list.
ESTIMATOR_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "xgboost": ("xgboost-cpu", "xgboost"),
    "catboost": ("catboost",),
    "lightgbm": ("lightgbm",),
}
