"""Shared by the unit, integration tests of bad_input: SAMPLE_ROWS, _trainer_errors."""

from __future__ import annotations

import logging

import pytest

SAMPLE_ROWS = 600


def _trainer_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("trainer")]
