"""The model that ships: the winner refitted on the whole training part, its probability calibration
and decision threshold, its runtime environment (requirements, shipped code, serialization), and the
frozen provenance a finished training hands to registration.

Imports `search`, `catalogue`, `leakage`, `data` and `trainer.recipe`; never `registry`.
"""
