"""The data a model learns from: reading the CSV safely, the schema of column roles, the Great
Expectations suite and the contract it enforces (with its one-line messages), the holdout split and
the features (the ColumnTransformer every Pipeline starts with).

Imports no other stage: only `trainer.recipe` and the foundations (`errors`, `files`, `text`,
`transforms`).
"""
