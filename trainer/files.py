"""Reading configuration files safely (bounded, one-line errors) and digesting files and text."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from trainer.errors import ConfigError

# A schema, suite or recipe is a few KB; anything near this is a mistake or an attack (a
# multi-megabyte config only makes every later step slow), refused before it is parsed.
MAX_CONFIG_BYTES = 1 << 20


def absolute(path: Path | str) -> str:
    """A path as the run records it: absolute and normalised (no `..`), symlinks kept, so a later
    `reproduce` finds it from any working directory."""
    return os.path.normpath(os.path.abspath(path))


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def text_digest(text: str) -> str:
    """sha256 of a string (hex)."""
    return hashlib.sha256(text.encode()).hexdigest()


class _NoAliasLoader(yaml.SafeLoader):
    """`safe_load` without anchors and aliases: a few bytes of aliases can expand to gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.MarkedYAMLError(
                problem="YAML aliases (*name) are not allowed in configuration files", problem_mark=mark
            )
        return super().compose_node(parent, index)


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML mapping (safe, no aliases), turning every failure into one clear line."""
    text = _read_text(path, what)
    try:
        loader = _NoAliasLoader(text)  # what yaml.safe_load does, with the alias check
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{what} {path}: broken YAML at{where}: {getattr(exc, 'problem', exc)}")
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a YAML mapping, got {type(data).__name__}")
    return data


def read_json(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object, turning every failure into one clear line."""
    text = _read_text(path, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} {path}: broken JSON at line {exc.lineno}: {exc.msg}")
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a JSON object, got {type(data).__name__}")
    return data


def _read_text(path: Path, what: str) -> str:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} not found: {path}")
    if not path.is_file():
        raise ConfigError(f"{what} is not a file: {path}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{what} {path}: {path.stat().st_size} bytes is larger than the {MAX_CONFIG_BYTES} bytes "
            "a configuration file may have"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path}: not UTF-8 text")
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read: {exc.strerror}")
