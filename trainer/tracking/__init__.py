"""MLflow and the user's terminal: the tracking store and the parent run, dataset lineage, the run
`mlflow run` opens for promote, plots and tables for artifacts, progress bars and phase timings.

Imports only the foundations (`errors`, `files`, `text`): every stage may record through it.
"""
