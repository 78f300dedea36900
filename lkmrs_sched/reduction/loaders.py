"""Load the needed columns of one catalogue file or in-memory table.

FITS and ECSV go through astropy (FITS memory-mapped), CSV and Parquet through pyarrow
(only the needed columns are read).
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from astropy.table import Table

from lkmrs_sched.errors import InputError
from lkmrs_sched.reduction import columns as C
from lkmrs_sched.reduction.column_map import resolve_columns

_SUFFIX_FORMATS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".fits.gz": "fits",
    ".fit.gz": "fits",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".ecsv": "ecsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
FORMATS: tuple[str, ...] = ("fits", "csv", "ecsv", "parquet")


def detect_format(path: str | os.PathLike[str]) -> str:
    """Table format from the file name (``fits``, ``csv``, ``ecsv`` or ``parquet``)."""
    name = Path(path).name.lower()
    for suffix in sorted(_SUFFIX_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIX_FORMATS[suffix]
    raise InputError(
        str(path),
        Path(path).suffix,
        "a file ending in " + ", ".join(_SUFFIX_FORMATS),
        "unknown table format",
    )


def _column_names(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if fmt == "csv":
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
            header = next(csv.reader(fh), [])
        return [h.strip() for h in header]
    return []


def load_columns(
    path: str | os.PathLike[str],
    wanted: Iterable[str],
    column_map: Mapping[str, str],
    fmt: str | None = None,
) -> tuple[dict[str, Any], int]:
    """Read the wanted columns of one catalogue file.

    Parameters
    ----------
    path : path-like
        FITS, ECSV, CSV(.gz) or Parquet file.
    wanted : iterable of str
        Our column names to read (absent ones are skipped; the caller checks).
    column_map : mapping
        Catalogue name → our name.
    fmt : str, optional
        Force a format instead of guessing it from the suffix.

    Returns
    -------
    columns : dict
        Our name → column (NumPy/astropy or pyarrow).
    n_rows : int
    """
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise InputError(where, ..., "an existing catalogue file", "no such file")
    fmt = fmt or detect_format(p)
    if fmt not in FORMATS:
        raise InputError(where, fmt, ", ".join(FORMATS), "unknown table format")
    wanted = list(wanted)
    try:
        if fmt in ("parquet", "csv"):
            names = _column_names(p, fmt)
            found = resolve_columns(names, wanted, column_map, where)
            table = _read_arrow(p, fmt, sorted(set(found.values())), found)
            cols = {ours: table.column(theirs) for ours, theirs in found.items()}
            return cols, table.num_rows
        if fmt == "fits":
            t = Table.read(p, format="fits", memmap=True, mask_invalid=False)
        else:
            t = Table.read(p, format="ascii.ecsv")
    except InputError:
        raise
    except Exception as exc:  # unreadable file: report it as bad input, not a traceback
        raise InputError(where, ..., f"a readable {fmt.upper()} table", str(exc)) from None
    found = resolve_columns(t.colnames, wanted, column_map, where)
    return {ours: t[theirs] for ours, theirs in found.items()}, len(t)


def _read_arrow(path: Path, fmt: str, include: list[str], found: Mapping[str, str]) -> Any:
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path, columns=include)
    import pyarrow.csv as pacsv

    text = {theirs for ours, theirs in found.items() if C.KINDS.get(ours) == "str"}
    convert = pacsv.ConvertOptions(
        include_columns=include,
        column_types={name: pa.string() for name in text},
        strings_can_be_null=True,
        null_values=["", "NA", "N/A", "null", "NULL", "--"],
    )
    return pacsv.read_csv(path, convert_options=convert)


def table_columns(data: Any, wanted: Iterable[str], column_map: Mapping[str, str], where: str):
    """Columns of an in-memory table (astropy Table, pyarrow Table or mapping of arrays)."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        found = resolve_columns(data.column_names, wanted, column_map, where)
        return {ours: data.column(theirs) for ours, theirs in found.items()}, data.num_rows
    if isinstance(data, Table):
        found = resolve_columns(data.colnames, wanted, column_map, where)
        return {ours: data[theirs] for ours, theirs in found.items()}, len(data)
    if isinstance(data, Mapping):
        found = resolve_columns(list(data), wanted, column_map, where)
        cols = {ours: data[theirs] for ours, theirs in found.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise InputError(where, sorted(lengths), "columns of equal length", "ragged table")
        return cols, (lengths.pop() if lengths else 0)
    raise InputError(where, type(data).__name__, "astropy Table, pyarrow Table or dict of arrays")
