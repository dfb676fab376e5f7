"""The integration layer (see tests/conftest.py)."""
