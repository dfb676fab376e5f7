"""`trainer init`: a new CSV profiled, and its schema, suite and recipe drafted for review.

Imports `data`, `leakage` (init runs the training's own detector) and `tracking` (progress).
"""
