"""Atomic file output: write to a temporary file in the same folder, then rename.

A reader never sees a half-written file, and an interrupted run never destroys a
previous good output.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    Parameters
    ----------
    path : path-like
        Final destination. Its folder is created if needed.

    Yields
    ------
    Path
        Temporary file to write to (it keeps ``path``'s suffix, so writers that look at
        the extension, such as astropy's, pick the right format).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.name}.", suffix=f".tmp{final.suffix}", dir=final.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as sqlite3 and astropy want to create the file themselves
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def npz_bytes(arrays: Mapping[str, Any], compressed: bool = False) -> bytes:
    """The content of an ``.npz`` file holding ``arrays`` (to send, or write later)."""
    import io

    import numpy as np

    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, Any],
              compressed: bool = False) -> None:
    """Write NumPy arrays to an ``.npz`` file atomically."""
    write_bytes(path, npz_bytes(arrays, compressed))


#: Table formats by file extension (see :func:`write_table`).
TABLE_FORMATS = {".fits": "fits", ".fit": "fits", ".ecsv": "ascii.ecsv", ".csv": "ascii.csv",
                 ".vot": "votable", ".xml": "votable", ".votable": "votable",
                 ".parquet": "parquet"}


def table_format(path: str | os.PathLike[str]) -> str | None:
    """The :data:`TABLE_FORMATS` format of a file name, or None."""
    return TABLE_FORMATS.get(Path(path).suffix.lower())


def write_table(table: Any, path: str | os.PathLike[str], fmt: str | None = None, *,
                annotate: bool = True) -> Path:
    """Write an astropy table atomically, with its units, descriptions and UCDs.

    The format follows the extension (:data:`TABLE_FORMATS`) unless ``fmt`` names one.
    Every format is one astropy's ``Table.read`` reads back with units and without
    pandas, except Parquet (astropy's Parquet reader needs pandas; the layout written
    is astropy's own, so with pandas the units come back too) and CSV (no units at all):

    * FITS: ``dex`` is not a FITS unit, so astropy cannot write it; it goes to ``TUNITn``
      as written in LAMOST's DR8 files (astropy reads it back as an unrecognised unit
      named ``dex``, with a warning).
    * Parquet: astropy's schema metadata (``table_meta_yaml``, string lengths).

    Parameters
    ----------
    table : astropy.table.Table
    path : path-like
    fmt : str, optional
        An astropy format name (``"fits"``, ``"ascii.ecsv"``, ``"votable"``, ``"parquet"``).
    annotate : bool
        Fill in units, descriptions and UCDs of known columns
        (:func:`lkmrs_sched.core.tablemeta.annotate`) on a copy first.
    """
    from lkmrs_sched.core import tablemeta

    fmt = fmt or table_format(path)
    if fmt is None:
        raise ValueError(f"no table format for {path}")
    out = table.copy(copy_data=False)
    if annotate:
        tablemeta.annotate(out)
    with atomic_path(path) as tmp:
        if fmt == "fits":
            _write_fits(out, tmp)
        elif fmt == "parquet":
            _write_parquet(out, tmp)
        elif fmt == "votable":
            _write_votable(out, tmp)
        else:
            out.write(tmp, format=fmt)
    return Path(path)


def _widen(table: Any, wider: dict[str, str]) -> None:
    """Cast integer columns the format cannot hold (``"i1"`` → ``"i2"`` ...) in place."""
    for name in table.colnames:
        code = f"{table[name].dtype.kind}{table[name].dtype.itemsize}"
        if code in wider:
            table[name] = table[name].astype(wider[code])


def _write_fits(table: Any, path: Path) -> None:
    from astropy.io import fits
    from astropy.io.fits.connect import table_to_hdu

    try:  # what Table.write does to keep descriptions and UCDs (YAML in COMMENT cards)
        from astropy.io.fits.connect import _encode_mixins
    except ImportError:  # pragma: no cover - a future astropy
        def _encode_mixins(t: Any) -> Any:
            return t

    _widen(table, {"i1": "i2"})  # FITS has no signed byte: astropy would write booleans
    dex = [n for n in table.colnames if str(table[n].unit or "") == "dex"]
    for name in dex:
        table[name].unit = None
    hdu = table_to_hdu(_encode_mixins(table), character_as_bytes=True)
    for i, name in enumerate(table.colnames, start=1):
        if name in dex:
            hdu.header.set(f"TUNIT{i}", "dex", after=f"TFORM{i}")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)


def _write_votable(table: Any, path: Path) -> None:
    import warnings

    from astropy.io.votable.exceptions import VOWarning

    _widen(table, {"i1": "i2", "u1": "i2", "u2": "i4", "u4": "i8"})  # no such VOTable ints
    with warnings.catch_warnings():  # 'dex' is no VOUnit: written as is, read back as is
        warnings.simplefilter("ignore", VOWarning)
        # TABLEDATA (readable XML) for small tables; BINARY (~5x faster) for large ones.
        table.write(path, format="votable",
                    tabledata_format="tabledata" if len(table) <= 10_000 else "binary")


def _arrow_column(col: Any):
    """A pyarrow array of one column (bytes as UTF-8 strings, NUL padding stripped)."""
    import numpy as np
    import pyarrow as pa

    a = np.asarray(col)
    if a.dtype.kind != "S":
        return pa.array(a)
    n, width = len(a), a.dtype.itemsize
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(n, width)
    keep = raw != 0
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(keep.sum(axis=1, dtype=np.int64), out=offsets[1:])
    data = raw.ravel() if bool(keep.all()) else raw[keep]
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets),
                                                        pa.py_buffer(data)]).cast(pa.string())


def _write_parquet(table: Any, path: Path) -> None:
    """Parquet in astropy's layout: its YAML header (units, descriptions, meta) and string
    lengths in the schema metadata, so astropy's reader restores them."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from astropy.table import meta

    header = meta.get_yaml_from_table(table[:0])
    metadata = {"table_meta_yaml": "\n".join(header)}
    for name in table.colnames:
        kind = table[name].dtype.kind
        if kind == "U":
            metadata[f"table::len::{name}"] = str(table[name].dtype.itemsize // 4)
        elif kind == "S":
            metadata[f"table::len::{name}"] = str(table[name].dtype.itemsize)
    at = pa.Table.from_arrays([_arrow_column(table[n]) for n in table.colnames],
                              names=table.colnames)
    at = at.replace_schema_metadata({k.encode(): v.encode() for k, v in metadata.items()})
    pq.write_table(at, path, row_group_size=1 << 20)


def read_parquet(path: str | os.PathLike[str]) -> Any:
    """Read a Parquet table with astropy's metadata, without pandas (units and
    descriptions restored; strings as ``str``)."""
    import pyarrow.parquet as pq
    from astropy.table import Table
    from astropy.table import meta as table_meta

    at = pq.read_table(path)
    md = {k.decode(): v.decode() for k, v in (at.schema.metadata or {}).items()}
    t = Table({n: at.column(n).to_numpy() for n in at.column_names}, copy=False)
    for n in t.colnames:
        if t[n].dtype == object:
            t[n] = t[n].astype(str)
    if "table_meta_yaml" in md:
        header = table_meta.get_header_from_yaml(md["table_meta_yaml"].split("\n"))
        t.meta.update(header.get("meta", {}))
        for col in header.get("datatype", []):
            if col["name"] in t.colnames:
                c = t[col["name"]]
                c.unit = col.get("unit")
                c.description = col.get("description")
                c.meta.update(col.get("meta", {}))
    return t
