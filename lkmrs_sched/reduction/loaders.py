"""Load the needed columns of one catalogue file or in-memory table.

FITS and ECSV go through astropy (FITS memory-mapped), CSV and Parquet through pyarrow
(only the needed columns are read).
"""

from __future__ import annotations

import csv
import gzip
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.errors import InputError
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
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
            header = next(csv.reader(fh), [])
        return [h.strip() for h in header]
    return []


#: Rows converted at a time; bounds the memory the raw catalogue columns take.
BATCH_ROWS = 1_000_000


def iter_column_batches(
    path: str | os.PathLike[str],
    wanted: Iterable[str],
    column_map: Mapping[str, str],
    fmt: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[tuple[dict[str, Any], int]]:
    """Read the wanted columns of one catalogue file, a batch of rows at a time.

    Parquet and CSV are streamed (only one batch of raw columns in memory); FITS is
    memory-mapped and ECSV read whole, then both are handed out in slices.

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
    batch_rows : int
        Rows per batch.

    Yields
    ------
    columns : dict
        Our name → column (NumPy/astropy or pyarrow) for the batch's rows.
    n_rows : int
    """
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise InputError(where, ..., "an existing catalogue file",
                         "a folder, not a file" if p.is_dir() else "no such file")
    fmt = fmt or detect_format(p)
    if fmt not in FORMATS:
        raise InputError(where, fmt, ", ".join(FORMATS), "unknown table format")
    wanted = list(wanted)
    try:
        if fmt in ("parquet", "csv"):
            names = _column_names(p, fmt)
            found = resolve_columns(names, wanted, column_map, where)
            batches = _arrow_batches(p, fmt, sorted(set(found.values())), found, batch_rows)
            table = None
        elif fmt == "fits":
            with warnings.catch_warnings():  # LAMOST writes TUNIT 'dex', no FITS unit
                warnings.filterwarnings("ignore", message="'dex' did not parse")
                table = Table.read(p, format="fits", memmap=True, mask_invalid=False)
        else:
            table = Table.read(p, format="ascii.ecsv")
    except InputError:
        raise
    except Exception as exc:  # unreadable file: report it as bad input, not a traceback
        raise InputError(where, ..., f"a readable {fmt.upper()} table", str(exc)) from None
    if table is not None:
        found = resolve_columns(table.colnames, wanted, column_map, where)
        n = len(table)
        for start in range(0, max(n, 1), batch_rows):
            stop = min(start + batch_rows, n)
            yield {ours: table[theirs][start:stop] for ours, theirs in found.items()}, stop - start
        return
    try:
        any_rows = False
        for batch in batches:
            any_rows = True
            names_in = batch.schema.names
            yield (
                {ours: batch.column(names_in.index(theirs)) for ours, theirs in found.items()},
                (batch.num_rows),
            )
        if not any_rows:  # header only: still let the caller check the columns
            yield {ours: np.zeros(0) for ours in found}, 0
    except InputError:
        raise
    except Exception as exc:
        raise InputError(where, ..., f"a readable {fmt.upper()} table", str(exc)) from None


def _arrow_batches(
    path: Path, fmt: str, include: list[str], found: Mapping[str, str], batch_rows: int
) -> Iterator[Any]:
    """Record batches of a Parquet or CSV file (text columns dictionary-encoded)."""
    import pyarrow as pa

    text = sorted({theirs for ours, theirs in found.items() if C.KINDS.get(ours) == "str"})
    if fmt == "parquet":
        import pyarrow.parquet as pq

        # Text columns as dictionaries: millions of rows, tens of thousands of values.
        pf = pq.ParquetFile(path, read_dictionary=text)
        for group in range(pf.num_row_groups):
            rows = pf.metadata.row_group(group).num_rows
            if rows <= 4 * batch_rows:  # whole row groups read fastest (multi-threaded)
                yield from pf.read_row_group(group, columns=include).to_batches()
            else:
                yield from pf.iter_batches(
                    batch_size=min(batch_rows, 2**31 - 1), row_groups=[group], columns=include
                )
        return
    import pyarrow.csv as pacsv

    convert = pacsv.ConvertOptions(
        include_columns=include,
        column_types={name: pa.dictionary(pa.int32(), pa.string()) for name in text},
        strings_can_be_null=True,
        null_values=["", "NA", "N/A", "null", "NULL", "--"],
    )
    read = pacsv.ReadOptions(block_size=64 << 20)
    yield from pacsv.open_csv(path, read_options=read, convert_options=convert)


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
