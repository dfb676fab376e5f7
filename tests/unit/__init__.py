"""The unit layer (see tests/conftest.py)."""
