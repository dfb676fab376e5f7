"""The speed-and-scale benchmark and its tools (not part of the trainer package); run `python bench/run.py`."""
