"""Text inputs (CSV, TOML, JSON) read one way: UTF-8 with or without a byte-order mark.

Every reader of a user's text file goes through here, so a file saved by a spreadsheet
with a UTF-8 BOM is read like any other, and a file that is not UTF-8 text, is missing,
is a folder or cannot be read ends in one :class:`~lkmrs_sched.core.errors.InputError`
naming the file, never in a traceback.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from lkmrs_sched.core.errors import InputError

#: Encoding of every text input: UTF-8, a leading byte-order mark ignored.
ENCODING = "utf-8-sig"


def read_text(path: str | os.PathLike[str], allowed: str, where: str | None = None) -> str:
    """The whole text of ``path`` (UTF-8, BOM dropped).

    Parameters
    ----------
    path : path-like
    allowed : str
        What the file should be ("a plate CSV"), for the error message.
    where : str, optional
        How to name the file in messages (default: the path).

    Raises
    ------
    InputError
        Missing, a folder, unreadable, or not UTF-8 text.
    """
    p = Path(path)
    where = where or str(p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        problem = "no such file" if isinstance(exc, FileNotFoundError) else (
            "a folder, not a file" if isinstance(exc, IsADirectoryError)
            else exc.strerror or "unreadable")
        raise InputError(where, ..., allowed, problem) from None
    try:
        return data.decode(ENCODING)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{where}: line {line}", ..., f"{allowed} in UTF-8 text",
                         f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


def read_csv_rows(path: str | os.PathLike[str], allowed: str,
                  where: str | None = None) -> list[list[str]]:
    """Rows of a CSV file as lists of strings (line numbering: row ``i`` is line ``i+1``
    when the file has no quoted line breaks)."""
    text = read_text(path, allowed, where)
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(where or str(path), ..., allowed, f"malformed CSV ({exc})") from None


def read_csv_dicts(path: str | os.PathLike[str], allowed: str,
                   where: str | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows of a CSV file (like :class:`csv.DictReader`)."""
    text = read_text(path, allowed, where)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
        header = list(reader.fieldnames or [])
    except csv.Error as exc:
        raise InputError(where or str(path), ..., allowed, f"malformed CSV ({exc})") from None
    return header, rows


def csv_header(path: str | os.PathLike[str], allowed: str) -> list[str]:
    """The first row of a CSV file."""
    rows = read_csv_rows(path, allowed)
    return rows[0] if rows else []


def load_toml(path: str | os.PathLike[str], allowed: str = "a TOML file",
              tables: bool = True) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; return ``(data, text)``.

    Parameters
    ----------
    tables : bool
        Require every top-level value to be a table (``[section]``), as scenarios do.

    Raises
    ------
    InputError
        Unreadable, not UTF-8, a TOML syntax error, or a top-level value that is not a
        table.
    """
    import tomllib

    text = read_text(path, allowed)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), ..., "valid TOML", f"TOML syntax error ({exc})") from None
    if tables:
        check_toml_tables(data, str(path))
    return data, text


def check_toml_tables(data: dict[str, Any], where: str) -> None:
    """Every top-level value of parsed TOML must be a table."""
    for key, value in data.items():
        if not isinstance(value, dict):
            raise InputError(f"{where}: {key}", value, f"a table [{key}] of settings",
                             "top-level value that is not a table")
