"""Contract-gated, MLflow-tracked training of tabular regression models."""

__version__ = "0.1.0"
