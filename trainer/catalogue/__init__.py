"""What can be trained: the regressor and classifier catalogues (candidate name -> estimator factory,
feature encoding, complexity), the optional estimator libraries, and the recipe's candidates checked
against them.

Imports `data` (the schema names the task) and `trainer.recipe`.
"""
