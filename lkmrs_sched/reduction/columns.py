"""Column names and type coercion for LAMOST MRS per-exposure catalogues.

Column names are those of the LAMOST DR8 ``MRS_catalogue`` / ``MRS_stellar`` schema
(brief §7) plus this project's optional extras (``alt_lamp``, ``kic_id``, ``epic_id``,
``objtype``). One row is one spectrum **and arm** (``band`` = ``"B"`` or ``"R"``); rows
of the two arms of one spectrum share ``obsid``.

The coercion functions accept a column as it comes out of astropy (plain or masked
NumPy) or pyarrow (possibly with nulls, possibly text where numbers were expected) and
return a NumPy array, a *missing* mask (null, masked, NaN, empty text) and a *bad* mask
(present but not convertible: text in a number column, a fraction in an integer column).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Expected kind of every column the reader uses ("int", "float", "str", "bool").
KINDS: dict[str, str] = {
    "obsid": "int",
    "uid": "str",
    "designation": "str",
    "planid": "str",
    "spid": "int",
    "fiberid": "int",
    "lmjm": "int",
    "band": "str",
    "ra_obs": "float",
    "dec_obs": "float",
    "snr": "float",
    "gaia_source_id": "int",
    "teff_lasp": "float",
    "teff_lasp_err": "float",
    "logg_lasp": "float",
    "logg_lasp_err": "float",
    "feh_lasp": "float",
    "feh_lasp_err": "float",
    "bad_b": "int",
    "bad_r": "int",
    "fibermask": "int",
    "alt_lamp": "bool",
    "kic_id": "int",
    "epic_id": "int",
    "objtype": "str",
}

#: Columns without which a catalogue cannot be reduced (the RV column and its error are
#: added by the reader according to ``rv_column``).
REQUIRED: tuple[str, ...] = (
    "obsid",
    "uid",
    "planid",
    "spid",
    "lmjm",
    "snr",
    "ra_obs",
    "dec_obs",
    "teff_lasp",
    "teff_lasp_err",
    "logg_lasp",
    "logg_lasp_err",
    "feh_lasp",
    "feh_lasp_err",
)

#: LAMOST catalogues mark "no value" in parameter columns with this number.
SENTINEL = -9999.0

_FLOAT_RE = r"^\s*[-+]?((\d+\.?\d*)|(\.\d+))([eE][-+]?\d+)?\s*$|^\s*[-+]?(?i:nan|inf|infinity)\s*$"
_INT_RE = r"^\s*[-+]?\d+\s*$"
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def rv_arm(rv_column: str) -> str:
    """Arm ("B" or "R") whose rows carry the RV column ``rv_column``.

    ``rv_r0``, ``rv_r1`` come from red rows; everything else (``rv_lasp0``, ``rv_b0``,
    ``rv_br0`` …) from blue rows.
    """
    name = rv_column.lower()
    return "R" if name.startswith("rv_r") else "B"


def _arrow_parts(col: Any) -> tuple[Any, np.ndarray]:
    """A pyarrow column as one contiguous Array plus its null mask."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if arr.null_count:
        missing = pc.is_null(arr).to_numpy(zero_copy_only=False)
    else:
        missing = np.zeros(len(arr), dtype=bool)
    return arr, missing


def _is_arrow(col: Any) -> bool:
    import pyarrow as pa

    return isinstance(col, pa.Array | pa.ChunkedArray)


def _numpy_parts(col: Any) -> tuple[np.ndarray, np.ndarray]:
    """A NumPy or astropy column as plain data plus its mask."""
    if isinstance(col, np.ma.MaskedArray):
        return np.asarray(col.data), np.ma.getmaskarray(col).copy()
    data = np.asarray(col)
    return data, np.zeros(data.shape, dtype=bool)


def _text_to_arrow(col: Any) -> tuple[Any, np.ndarray]:
    """Any text-like column as a pyarrow string (or dictionary-of-string) Array + missing."""
    import pyarrow as pa

    if _is_arrow(col):
        arr, missing = _arrow_parts(col)
    else:
        data, missing = _numpy_parts(col)
        if data.dtype.kind == "S":
            arr = pa.array(data, type=pa.binary())
        elif data.dtype.kind in "UO":
            arr = pa.array(data.astype(str))
        else:
            arr = pa.array(data)
    if pa.types.is_dictionary(arr.type):
        if not pa.types.is_large_string(arr.type.value_type):
            arr = pa.DictionaryArray.from_arrays(arr.indices, _as_large_string(arr.dictionary))
        return arr, missing
    return _as_large_string(arr), missing


def _as_large_string(arr: Any) -> Any:
    import pyarrow as pa

    if pa.types.is_large_string(arr.type):
        return arr
    if pa.types.is_string(arr.type) or pa.types.is_binary(arr.type):
        return arr.cast(pa.large_string())
    return arr.cast(pa.string()).cast(pa.large_string())


def _decoded(arr: Any) -> Any:
    """Plain string Array from a possibly dictionary-encoded one."""
    import pyarrow as pa

    return arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr


def dictionary_values(arr: Any) -> np.ndarray:
    """The dictionary of a dictionary-encoded text Array as a NumPy str array."""
    return np.asarray(arr.dictionary.to_pylist(), dtype=object).astype(str)


def dictionary_indices(arr: Any) -> np.ndarray:
    """Indices of a dictionary-encoded Array (0 where null)."""
    import pyarrow.compute as pc

    return pc.fill_null(arr.indices, 0).to_numpy(zero_copy_only=False).astype(np.int64)


def text_in(arr: Any, missing: np.ndarray, values: set[str]) -> np.ndarray:
    """Rows of a dictionary-encoded text Array whose value is in ``values`` (any case)."""
    words = np.char.lower(dictionary_values(arr))
    hit = np.isin(words, sorted(v.lower() for v in values))
    if hit.size == 0:
        return np.zeros(len(arr), dtype=bool)
    return hit[dictionary_indices(arr)] & ~missing


def _parse_text(arr: Any, missing: np.ndarray, pattern: str, to: Any) -> tuple[Any, ...]:
    """Parse a pyarrow string Array with a regex check; unmatched non-empty text is bad."""
    import pyarrow as pa
    import pyarrow.compute as pc

    stripped = pc.utf8_trim_whitespace(_decoded(arr))
    empty = pc.equal(pc.utf8_length(stripped), 0).to_numpy(zero_copy_only=False)
    empty = np.asarray(empty, dtype=bool) & ~missing
    ok = pc.match_substring_regex(stripped, pattern).to_numpy(zero_copy_only=False)
    ok = np.asarray(ok, dtype=bool) & ~missing & ~empty
    bad = ~ok & ~missing & ~empty
    clean = pc.if_else(pa.array(ok), stripped, pa.scalar(None, type=stripped.type))
    values = pc.cast(clean, to)
    return values, missing | empty, bad


def as_float(col: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coerce a column to float64.

    Returns
    -------
    values : ndarray of float64
        NaN where missing or bad.
    missing : ndarray of bool
        Null, masked, NaN or empty.
    bad : ndarray of bool
        Present but not a number.
    """
    import pyarrow as pa

    if _is_arrow(col):
        arr, missing = _arrow_parts(col)
        if (
            pa.types.is_string(arr.type)
            or pa.types.is_large_string(arr.type)
            or pa.types.is_binary(arr.type)
        ):
            arr, missing = _text_to_arrow(arr)
            parsed, missing, bad = _parse_text(arr, missing, _FLOAT_RE, pa.float64())
            values = parsed.to_numpy(zero_copy_only=False).astype(float)
        else:
            values = arr.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(float, copy=True)
            bad = np.zeros(len(values), dtype=bool)
    else:
        data, missing = _numpy_parts(col)
        if data.dtype.kind in "USO":
            arr, missing = _text_to_arrow(col)
            parsed, missing, bad = _parse_text(arr, missing, _FLOAT_RE, pa.float64())
            values = parsed.to_numpy(zero_copy_only=False).astype(float)
        else:
            values = data.astype(float, copy=True)
            bad = np.zeros(len(values), dtype=bool)
    values[missing | bad] = np.nan
    missing = missing | (np.isnan(values) & ~bad)
    return values, missing, bad


def as_int(col: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coerce a column to int64 (exactly, also for 19-digit Gaia source IDs given as text).

    Returns
    -------
    values : ndarray of int64
        0 where missing or bad.
    missing, bad : ndarray of bool
        As for :func:`as_float`; a non-integral or out-of-range number is bad.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if _is_arrow(col):
        arr, missing = _arrow_parts(col)
        kind = arr.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
            arr, missing = _text_to_arrow(arr)
            parsed, missing, bad = _parse_text(arr, missing, _INT_RE, pa.int64())
            values = pc.fill_null(parsed, 0).to_numpy(zero_copy_only=False).astype(np.int64)
            return values, missing, bad
        data = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False)
    else:
        data, missing = _numpy_parts(col)
        if data.dtype.kind in "USO":
            arr, missing = _text_to_arrow(col)
            parsed, missing, bad = _parse_text(arr, missing, _INT_RE, pa.int64())
            values = pc.fill_null(parsed, 0).to_numpy(zero_copy_only=False).astype(np.int64)
            return values, missing, bad
    if data.dtype.kind == "f":
        nan = np.isnan(data)
        with np.errstate(invalid="ignore"):
            bad = ~nan & ((data != np.round(data)) | (np.abs(data) > 2.0**62))
        missing = missing | nan
        values = np.where(missing | bad, 0, data).astype(np.int64)
    else:
        bad = np.zeros(len(data), dtype=bool)
        values = data.astype(np.int64)
        values[missing] = 0
    return values, missing, bad


def as_text(col: Any) -> tuple[Any, np.ndarray]:
    """Coerce a column to dictionary-encoded text (surrounding blanks removed).

    Text work (trimming, comparisons, factorizing) then runs on the distinct values
    only, which is what makes millions of rows cheap.

    Returns
    -------
    values : pyarrow.DictionaryArray
        int32 indices into a large_string dictionary.
    missing : ndarray of bool
        Null, masked or empty.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not _is_arrow(col):
        data, mask = _numpy_parts(col)
        if data.dtype.kind not in "USO":
            arr, missing = _text_to_arrow(np.asarray(data).astype(str))
            col, missing = arr, missing | mask
        else:
            col, missing = _text_to_arrow(col)
    else:
        col, missing = _text_to_arrow(col)
    arr = col
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
    clean = pc.utf8_trim_whitespace(arr.dictionary)
    empty = np.asarray(
        pc.fill_null(pc.equal(pc.utf8_length(clean), 0), True).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    indices = arr.indices
    if indices.type != pa.int32():
        indices = indices.cast(pa.int32())
    out = pa.DictionaryArray.from_arrays(indices, clean)
    if empty.size:
        missing = missing | (empty[dictionary_indices(out)] & ~missing)
    return out, missing


def as_bool(col: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coerce a column to bool (true/false, t/f, yes/no, 1/0; missing reads as False)."""
    if not _is_arrow(col):
        data, missing = _numpy_parts(col)
        if data.dtype.kind == "b":
            return np.where(missing, False, data), missing, np.zeros(len(data), dtype=bool)
        if data.dtype.kind in "iuf":
            values, missing, bad = as_float(col)
            bad = bad | (~missing & ~np.isin(values, (0.0, 1.0)))
            return (values == 1.0) & ~bad, missing, bad
    else:
        import pyarrow as pa

        arr, missing = _arrow_parts(col)
        if pa.types.is_boolean(arr.type):
            import pyarrow.compute as pc

            values = pc.fill_null(arr, False).to_numpy(zero_copy_only=False).astype(bool)
            return values, missing, np.zeros(len(values), dtype=bool)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            values, missing, bad = as_float(arr)
            bad = bad | (~missing & ~np.isin(values, (0.0, 1.0)))
            return (values == 1.0) & ~bad, missing, bad
    text, missing = as_text(col)
    true = text_in(text, missing, _TRUE)
    false = text_in(text, missing, _FALSE)
    bad = ~true & ~false & ~missing
    return true & ~bad, missing, bad
