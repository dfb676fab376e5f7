"""Reading a data CSV safely: existence, emptiness, binary or compressed bytes, UTF-8, duplicate
headers and well-formedness, each refused with one line naming the file."""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from trainer.errors import ConfigError, ContractError

GZIP_MAGIC = b"\x1f\x8b"


def separator_hint(columns: list[str]) -> str:
    """' (the file does not look comma-separated)' for a header read as one column holding ; tab or |."""
    if len(columns) == 1 and any(s in str(columns[0]) for s in ";\t|"):
        return " (the file does not look comma-separated)"
    return ""


def check_readable(path: Path) -> None:
    """Refuse a path that is not a readable CSV text file before pandas reads it: missing, empty,
    gzip-compressed or binary, or a header naming a column twice."""
    if not path.exists():
        raise ConfigError(f"data file not found: {path}")
    if not path.is_file():
        raise ConfigError(f"data path is not a file: {path}")
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        raise ContractError(f"data file {path} is empty")
    if head.startswith(GZIP_MAGIC):
        raise ContractError(f"data file {path} is gzip-compressed: decompress it first (gunzip -k {path})")
    if b"\x00" in head:
        raise ContractError(f"data file {path} is not a CSV text file (binary bytes)")
    check_unique_header(path)


@contextmanager
def read_errors(path: Path) -> Iterator[None]:
    """pandas' reading errors as one line naming the file (and the line of a byte that is not UTF-8)."""
    try:
        yield
    except UnicodeDecodeError:
        line, offset = first_non_utf8(path)
        where = f" (line {line}, byte {offset})" if offset >= 0 else ""
        raise ContractError(f"data file {path} is not UTF-8 text{where}")
    except pd.errors.EmptyDataError:
        raise ContractError(f"data file {path} has no columns")
    except pd.errors.ParserError as exc:
        raise ContractError(f"data file {path} is not a well-formed CSV: {str(exc).strip()}")


def read_csv(path: Path | str) -> pd.DataFrame:
    """Read a CSV strictly as UTF-8; empty, binary or header-only files fail with one line."""
    path = Path(path)
    check_readable(path)
    with read_errors(path):
        frame = pd.read_csv(path, encoding="utf-8", encoding_errors="strict", low_memory=False)
    if frame.empty:
        raise ContractError(f"data file {path} has a header but no data rows")
    return frame


def read_csv_chunks(
    path: Path, rows: int, columns: list[str], dtype: dict[str, Any]
) -> Iterator[pd.DataFrame]:
    """The CSV's `columns` in chunks of `rows` rows, read as `read_csv` reads the whole file (the
    same checks; each chunk's types inferred from its own values except those `dtype` fixes); a
    chunk keeps its rows' positions in the file as its index (the header is line 1, row i line i + 2)."""
    check_readable(path)
    seen = 0
    with read_errors(path):
        reader = pd.read_csv(
            path, encoding="utf-8", encoding_errors="strict", chunksize=rows, usecols=columns, dtype=dtype
        )
        with reader:
            for chunk in reader:
                seen += len(chunk)
                yield chunk
    if not seen:
        raise ContractError(f"data file {path} has a header but no data rows")


def header(path: Path) -> list[str]:
    """The CSV's column names (after `check_readable`)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return next(csv.reader(fh), [])


def first_non_utf8(path: Path, chunk_size: int = 1 << 20) -> tuple[int, int]:
    """(line, byte offset) of the first byte that is not UTF-8, counted from the file's start.

    pandas reports the offset inside its read buffer; this streams the file once to find the
    position a user can look up (`(0, -1)` if the whole file decodes).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            pending = decoder.getstate()[0]  # bytes of a character split across chunks (never a newline)
            try:
                decoder.decode(chunk, final=not chunk)  # the last call also rejects a cut-off character
            except UnicodeDecodeError as exc:
                return lines + (pending + chunk)[: exc.start].count(b"\n"), offset - len(pending) + exc.start
            if not chunk:
                return 0, -1
            offset += len(chunk)
            lines += chunk.count(b"\n")


def check_unique_header(path: Path) -> None:
    """Refuse a header that names a column twice (pandas would silently rename the second `x.1`)."""
    duplicated = sorted(name for name, count in Counter(header(path)).items() if count > 1)
    if duplicated:
        raise ContractError(f"data file {path}: duplicate column name(s) {duplicated} in the header")
