"""What `trainer init` refuses before it drafts anything, each in one line: a name that is not one
path component and one MLflow name, an `--out` that is not a folder, a header name longer than a
schema allows, too few rows for the drafted folds, and a draft with no feature.

A dataset's name (its drafts' folder, its experiment, its registered model) has at most 100
characters, none of `/`, `\\` or `:` (MLflow refuses `/` and `:` in a registered model's name), no
`..`, no control character, and starts with a letter, a digit or `_`. The default, from the CSV's
file name, always is one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

from trainer.errors import ConfigError, ContractError
from trainer.recipe.settings import MAX_TEXT

MAX_NAME = 100
_FORBIDDEN = re.compile(r"[/\\:\x00-\x1f\x7f]")


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a dataset, or None when it can."""
    if not name.strip():
        return "a name needs a letter or digit"
    if len(name) > MAX_NAME:
        return f"{len(name)} characters: a name has at most {MAX_NAME}"
    if found := _FORBIDDEN.search(name):
        return f"{found.group()!r} in a name: no path separator, colon or control character"
    if ".." in name:
        return "'..' in a name: it would name a folder outside the drafts' place"
    if not (name[0].isalnum() or name[0] == "_") or name != name.strip():
        return "a name starts with a letter, a digit or '_' and has no spaces around it"
    return None


def check_name(name: str) -> str:
    """The name, or a ConfigError saying why it cannot name a dataset."""
    if problem := name_problem(name):
        raise ConfigError(f"--name {name!r:.80}: {problem}")
    return name


def dataset_name(data: Path) -> str:
    """The CSV's stem as a name: lower case, other characters as `-`, no `..` (always a valid name)."""
    stem = re.sub(r"\.{2,}", ".", re.sub(r"[^a-z0-9_.-]+", "-", data.stem.lower()))
    return stem.strip("-.")[:MAX_NAME].strip("-.") or "dataset"


def check_folder(folder: Path) -> None:
    """The drafts' folder is a folder, or can become one (no file in the way)."""
    for place in (folder, *folder.parents):
        if place.exists():
            if not place.is_dir():
                what = "is a file" if place == folder else f"is under {place}, a file"
                raise ConfigError(f"--out {folder} {what}, not a folder: name a folder for the three drafts")
            return


def check_header(columns: Iterable[object]) -> None:
    """Every column name fits a schema (at most MAX_TEXT characters), or one line naming the first."""
    for name in map(str, columns):
        if len(name) > MAX_TEXT:
            raise ContractError(
                f"column {name[:60]!r}... is {len(name)} characters long: a schema names columns of at "
                f"most {MAX_TEXT}; shorten it in the CSV's header"
            )


def needed_rows(folds: int, test_size: float) -> int:
    """The fewest rows a training can use: two per CV fold in the part the holdout leaves."""
    return math.ceil(2 * folds / (1 - test_size))


def check_rows(rows: int, folds: int, test_size: float, data: Path) -> None:
    needed = needed_rows(folds, test_size)
    if rows < needed:
        raise ContractError(
            f"{data} has {rows} row(s): a training needs at least {needed} ({folds}-fold cross-validation "
            f"on the {1 - test_size:.0%} of rows the holdout leaves)"
        )


def check_features(features: list[str], roles: dict[str, list[str]]) -> None:
    """A draft with no feature would train nothing: say where every column went instead."""
    if not features:
        went = "; ".join(f"{role}: {', '.join(cols)}" for role, cols in roles.items() if cols)
        raise ContractError(f"no column can be a feature ({went}): nothing to learn from")
