"""The recipe and the task: typed, frozen settings read from the recipe YAML, and what differs between
regression and classification (metrics, scorers, folds, label rules).

Imports only `trainer.errors` and `trainer.files`: every stage below reads it.
"""
