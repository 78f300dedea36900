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
TABLE_FORMATS = {".fits": "fits", ".fit": "fits", ".ecsv": "ascii.ecsv",
                 ".vot": "votable", ".xml": "votable", ".votable": "votable"}


def table_format(path: str | os.PathLike[str]) -> str | None:
    """The :data:`TABLE_FORMATS` format of a file name, or None."""
    return TABLE_FORMATS.get(Path(path).suffix.lower())


def write_table(table: Any, path: str | os.PathLike[str], fmt: str | None = None, *,
                annotate: bool = True) -> Path:
    """Write an astropy table atomically, with its units, descriptions and UCDs.

    The format follows the extension (:data:`TABLE_FORMATS`) unless ``fmt`` names one.
    Every format is one astropy's ``Table.read`` reads back with units and without
    pandas; that is why neither plain CSV (no units) nor Parquet (astropy's reader needs
    pandas) is written. FITS: ``dex`` is not a FITS unit, so astropy cannot write it; it
    goes to ``TUNITn`` as written in LAMOST's DR8 files (astropy reads it back as an
    unrecognised unit named ``dex``, with a warning).

    Parameters
    ----------
    table : astropy.table.Table
    path : path-like
    fmt : str, optional
        An astropy format name (``"fits"``, ``"ascii.ecsv"``, ``"votable"``).
    annotate : bool
        Fill in units, descriptions and UCDs of known columns
        (:func:`lkmrs_sched.core.tablemeta.annotate`) on a copy first.

    Raises
    ------
    ValueError
        If the format is none of :data:`TABLE_FORMATS`.
    """
    from lkmrs_sched.core import tablemeta

    fmt = fmt or table_format(path)
    if fmt not in TABLE_FORMATS.values():
        raise ValueError(f"no table format for {path} (format {fmt!r}): "
                         f"allowed {sorted(set(TABLE_FORMATS.values()))}")
    out = table.copy(copy_data=False)
    if annotate:
        tablemeta.annotate(out)
    with atomic_path(path) as tmp:
        if fmt == "fits":
            _write_fits(out, tmp)
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
