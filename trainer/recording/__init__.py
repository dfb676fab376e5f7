"""What each training step records in the parent MLflow run (the steps themselves never call MLflow):
recipe, contract, features, leakage, one child run per candidate, leaderboard, selection, holdout.

Imports the stages whose outcomes it records and `tracking`; only `pipeline` imports it.
"""
