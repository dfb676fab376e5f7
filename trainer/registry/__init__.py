"""The model registry: registering a version (signature, model card, importance, one contract per
model, the `passed` mark written last), and what follows it: promote, explain, audit, reproduce.

Imports `model`, `search`, `data`, `tracking` and below; never `pipeline` or `cli` (reproduce is
handed the training path by the command line).
"""
