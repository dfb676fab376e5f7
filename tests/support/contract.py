"""Shared by the unit, integration tests of contract: validate."""

from __future__ import annotations

from pathlib import Path

from helpers import SCHEMA

from trainer.cli.main import main


def validate(data: Path | str, schema: Path | str = SCHEMA) -> int:
    return main(["validate", "--data", str(data), "--schema", str(schema), "--recipe", "train.yaml"])
