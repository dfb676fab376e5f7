"""The leakage detector: every feature of the training part scored alone, without it and together,
before the search; what it blocks, warns of and was told to accept.

Imports no other stage: only `trainer.recipe` and the foundations.
"""
