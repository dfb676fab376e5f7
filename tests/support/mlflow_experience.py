"""Shared by the unit, integration, system tests of mlflow_experience: _train."""

from __future__ import annotations

from pathlib import Path

import pytest


def _train(recipe: Path, data: Path, caplog: pytest.LogCaptureFixture) -> None:
    from trainer.cli.main import main

    assert main(["train", "--recipe", str(recipe), "--data", str(data)]) == 0, caplog.text
