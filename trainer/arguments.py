"""The command line's value types (argparse `type=`): a path or the recipe's own, yes/no, seconds."""

from __future__ import annotations

import argparse
from pathlib import Path

MAX_SECONDS = 7 * 86_400


def path_or_recipes(text: str) -> Path | None:
    """A path; empty (the MLproject's default) means the recipe's `data:` / `schema:`."""
    return Path(text) if text else None


def yes_no(value: str) -> bool:
    """yes/true/1/y or no/false/0/n/empty, any case."""
    if value.lower() in ("yes", "true", "1", "y"):
        return True
    if value.lower() in ("no", "false", "0", "n", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected yes/no, got {value!r}")


def seconds(text: str) -> float:
    """A number of seconds from 0 to a week."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"expected 0 to {MAX_SECONDS} seconds, got {text}")
    return value
