"""What the tests of one topic share across layers (their fixtures and helpers)."""
