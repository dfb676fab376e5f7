"""The cross-validated search: the plan every candidate shares, the folds that keep out-of-fold
predictions, each candidate's grid (or two-stage, or halving) search within the time budget, the blend
of the best, the worker processes (local or Dask) the fits run on, and selection behind the gates.

Imports `catalogue`, `data` and `trainer.recipe`; never MLflow, `registry` or `tracking`.
"""
