"""The command line's parser: usage errors with their own exit code and a hint for a mistyped
option, and its value types (a path or the recipe's own, yes/no, seconds)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

EXIT_USAGE = 64  # a command line argparse refuses (EX_USAGE of sysexits.h): never 2, a contract failure
MIN_SECONDS, MAX_SECONDS = 1.0, 7 * 86_400  # a recipe's search.time_budget allows the same


class Parser(argparse.ArgumentParser):
    """argparse with its own exit code for usage errors (argparse's 2 is our data contract's), no
    abbreviated options (`--dat` is refused, not silently taken for `--data`), and a "did you mean"
    for an option no command knows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})
        self.given: list[str] = []

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}{self.unknown_option_hint()}\n")

    def unknown_option_hint(self) -> str:
        """`; unknown option --verison (did you mean '--version'?)` for the first option given that
        neither this parser nor any of its commands knows."""
        from trainer.recipe.settings import did_you_mean

        known = set(self._option_string_actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                known.update(o for command in action.choices.values() for o in command._option_string_actions)
        for token in self.given:
            option = token.split("=", 1)[0]
            if option.startswith("--") and option not in known:
                return f"; unknown option {option}{did_you_mean(option, known)}"
        return ""


FROM_RECIPE = "recipe"  # the MLproject's default: visible as such among the run's params


def path_or_recipes(text: str) -> Path | None:
    """A path; `recipe` means the recipe's `data:` / `schema:` (None: filled in by the command)."""
    return None if text == FROM_RECIPE else Path(text)


def yes_no(value: str) -> bool:
    """yes/true/1/y or no/false/0/n/empty, any case."""
    if value.lower() in ("yes", "true", "1", "y"):
        return True
    if value.lower() in ("no", "false", "0", "n", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected yes/no, got {value!r}")


def seconds(text: str) -> float:
    """A time budget: 0 (none given) or 1 s to a week, as a recipe's `search.time_budget`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (value == 0 or MIN_SECONDS <= value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(
            f"expected 0 (the recipe's) or {MIN_SECONDS:g} to {MAX_SECONDS} seconds, got {text}"
        )
    return value


def dataset_name(text: str) -> str:
    """`init --name`: one path component and one MLflow name (trainer/onboarding/checks.py)."""
    from trainer.onboarding.checks import name_problem

    if problem := name_problem(text):
        raise argparse.ArgumentTypeError(f"{text!r:.80}: {problem}")
    return text
