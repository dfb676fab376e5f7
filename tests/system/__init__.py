"""The system layer (see tests/conftest.py)."""
