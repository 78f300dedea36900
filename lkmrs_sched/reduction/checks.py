"""Row checks of one input: coerce types, exclude unusable rows, report everything.

Identity columns (obsid, uid, planid, spid, lmjm), S/N and coordinates must be valid or
the row is excluded; bad parameter values are treated as missing. Every exclusion and
every value set missing is counted in the :class:`~lkmrs_sched.reduction.report.ReadReport`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.reduction import columns as C
from lkmrs_sched.reduction.report import ReadReport

#: LASP column behind each non-RV parameter (blue-arm rows).
LASP_COLUMNS: dict[str, str] = {"teff": "teff_lasp", "logg": "logg_lasp", "feh": "feh_lasp"}
#: Largest credible per-pixel S/N of one spectrum: a larger (or infinite) value is a
#: corrupt row, excluded and reported.
SNR_MAX = 1e5
#: Physically possible values (and largest errors) of each parameter, in its unit (K,
#: dex, km/s): far wider than any real star or measurement, so only corrupt values
#: (1e30, inf) fall outside; they are treated as missing and reported.
PARAMETER_BOUNDS: dict[str, tuple[float, float, float]] = {
    "teff": (0.0, 1e5, 1e5), "logg": (-5.0, 15.0, 20.0), "feh": (-10.0, 5.0, 20.0),
    "rv": (-3000.0, 3000.0, 1000.0),
}


def wanted_columns(rv_column: str, rv_error_column: str) -> list[str]:
    return [*C.KINDS, rv_column, rv_error_column]


def check_rows(
    cols: dict[str, Any],
    n: int,
    where: str,
    report: ReadReport,
    rv_column: str,
    rv_error_column: str,
) -> dict[str, Any]:
    """Check and coerce one input's columns; return its usable rows as arrays."""
    import pyarrow as pa

    missing_cols = [c for c in (*C.REQUIRED, rv_column, rv_error_column) if c not in cols]
    if missing_cols:
        raise InputError(
            where,
            missing_cols,
            "the DR8 MRS columns "
            + ", ".join((*C.REQUIRED, rv_column, rv_error_column))
            + " (rename others with --column-map CATALOGUE_NAME=our_name)",
            "missing required columns",
        )
    rows = _Rows(n, where, report)
    out: dict[str, Any] = {}
    _check_identity(cols, rows, out)
    _check_snr_and_position(cols, rows, out)
    # Parameter columns: a bad value is treated as missing; the spectrum stays.
    params = {**{f"{p}": LASP_COLUMNS[p] for p in LASP_COLUMNS}, "rv": rv_column}
    for ours, theirs in params.items():
        err_name = rv_error_column if ours == "rv" else f"{theirs}_err"
        out[ours], out[f"{ours}_err"] = _check_parameter(cols, rows, out["blue"], ours, theirs,
                                                         err_name)
    _check_optional(cols, rows, out)
    # Compact types: these are kept for every row until the arms are joined.
    for name, dtype in (("spid", np.int16), ("fiberid", np.int16), ("fibermask", np.int32)):
        out[name] = out[name].astype(dtype)
    if rows.keep.all():
        return out
    mask = pa.array(rows.keep)
    for name, values in out.items():
        out[name] = values.filter(mask) if isinstance(values, pa.Array) else values[rows.keep]
    return out


class _Rows:
    """The rows of one input being checked: which are still kept, and the report."""

    def __init__(self, n: int, where: str, report: ReadReport):
        self.n = n
        self.where = where
        self.report = report
        self.keep = np.ones(n, dtype=bool)

    def exclude(self, column: str, mask: np.ndarray, problem: str) -> None:
        """Exclude the rows of ``mask`` (reported as errors, counting rows still kept)."""
        self.report.add(self.where, column, mask & self.keep, problem, "rows excluded", "error")
        self.keep[mask] = False

    def note(self, column: str, mask: np.ndarray | int, problem: str, action: str,
             severity: str) -> None:
        """Report the rows of ``mask`` (a value treated as missing, or bookkeeping)."""
        self.report.add(self.where, column, mask, problem, action, severity)


def _check_identity(cols: dict[str, Any], rows: _Rows, out: dict[str, Any]) -> None:
    """Identity columns: a row without them cannot be placed; exclude it. Sets ``blue``."""
    for name in ("obsid", "spid", "lmjm"):
        values, miss, bad = C.as_int(cols[name])
        rows.exclude(name, miss, "missing value")
        rows.exclude(name, bad, "not an integer")
        out[name] = values
    rows.exclude("spid", (out["spid"] < 1) | (out["spid"] > 16), "spectrograph ID outside 1-16")
    rows.exclude("lmjm", (out["lmjm"] <= 0) | (out["lmjm"] >= 2**32),
                 "lmjm not a positive minute")
    for name in ("uid", "planid"):
        values, miss = C.as_text(cols[name])
        rows.exclude(name, miss, "missing value")
        out[name] = values
    if "band" in cols:
        band, miss = C.as_text(cols["band"])
        blue = C.text_in(band, miss, {"B"})
        red = C.text_in(band, miss, {"R"})
        rows.exclude("band", ~blue & ~red, 'band not "B" or "R"')
    else:
        blue = np.ones(rows.n, dtype=bool)
        rows.note("band", rows.n, "no band column", "all rows read as blue-arm spectra", "info")
    out["blue"] = blue


def _check_snr_and_position(cols: dict[str, Any], rows: _Rows, out: dict[str, Any]) -> None:
    """S/N and coordinates: rows without usable values are excluded."""
    snr, miss, bad = C.as_float(cols["snr"])
    rows.exclude("snr", miss, "S/N missing or NaN")
    rows.exclude("snr", bad, "S/N not a number")
    with np.errstate(invalid="ignore"):
        rows.exclude("snr", snr < 0, "negative S/N")
        rows.exclude("snr", np.isinf(snr), "infinite S/N")
        rows.exclude("snr", snr > SNR_MAX, f"S/N above {SNR_MAX:g}")
    out["snr"] = snr

    ra, miss_ra, bad_ra = C.as_float(cols["ra_obs"])
    dec, miss_dec, bad_dec = C.as_float(cols["dec_obs"])
    rows.exclude("ra_obs", miss_ra | bad_ra, "missing or not a number")
    rows.exclude("dec_obs", miss_dec | bad_dec, "missing or not a number")
    with np.errstate(invalid="ignore"):
        rows.exclude("ra_obs", (ra < 0) | (ra >= 360), "RA outside [0, 360) deg")
        rows.exclude("dec_obs", np.abs(dec) > 90, "Dec outside [-90, 90] deg")
    out["ra"], out["dec"] = ra, dec


def _check_parameter(
    cols: dict[str, Any], rows: _Rows, blue: np.ndarray, ours: str, theirs: str, err_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """One parameter and its error: bad, no-value, flagged or other-arm values become NaN."""
    keep = rows.keep
    arm_rows = blue if ours != "rv" or C.rv_arm(theirs) == "B" else ~blue
    value, _, bad = C.as_float(cols[theirs])
    error, _, bad_err = C.as_float(cols[err_name])
    flag = "bad_r" if (ours == "rv" and C.rv_arm(theirs) == "R") else "bad_b"
    rows.note(theirs, bad & arm_rows & keep, "not a number", "treated as missing", "warning")
    rows.note(err_name, bad_err & arm_rows & keep, "not a number", "treated as missing",
              "warning")
    sentinel = np.abs(value - C.SENTINEL) < 0.5
    rows.note(theirs, sentinel & arm_rows & keep, "LAMOST no-value mark -9999",
              "treated as missing", "info")
    value[sentinel | ~arm_rows] = np.nan
    error[(np.abs(error - C.SENTINEL) < 0.5) | ~arm_rows | np.isnan(value)] = np.nan
    with np.errstate(invalid="ignore"):
        nonpos = error <= 0
        rows.note(err_name, nonpos & keep, "error not positive", "error treated as missing",
                  "warning")
        error[nonpos] = np.nan
        if ours == "teff":
            cold = value <= 0
            rows.note(theirs, cold & keep, "Teff not positive", "treated as missing", "warning")
            value[cold] = np.nan
        lo, hi, err_hi = PARAMETER_BOUNDS[ours]
        wild = np.isinf(value) | (value < lo) | (value > hi)
        rows.note(theirs, wild & arm_rows & keep, f"outside {lo:g}..{hi:g} or infinite",
                  "treated as missing", "error")
        value[wild] = np.nan
        error[wild] = np.nan
        wild_err = np.isinf(error) | (error > err_hi)
        rows.note(err_name, wild_err & arm_rows & keep, f"error above {err_hi:g} or infinite",
                  "treated as missing", "error")
        error[wild_err] = np.nan
    if flag in cols:
        flagged, _, _ = C.as_int(cols[flag])
        hit = (flagged != 0) & arm_rows & np.isfinite(value)
        rows.note(theirs, hit & keep, f"arm flagged bad by LAMOST ({flag} != 0)",
                  "treated as missing", "info")
        value[hit] = np.nan
        error[hit] = np.nan
    return value, error


def _check_optional(cols: dict[str, Any], rows: _Rows, out: dict[str, Any]) -> None:
    """Optional columns: IDs, fibre, lamp flag, names; bad values read as unknown."""
    import pyarrow as pa

    keep, n = rows.keep, rows.n

    def optional_int(name: str) -> np.ndarray:
        if name not in cols:
            return np.zeros(n, dtype=np.int64)
        values, _, bad = C.as_int(cols[name])
        rows.note(name, bad & keep, "not an integer", "read as 0 (unknown)", "warning")
        values[bad | (values < 0)] = 0
        return values

    for name in ("fiberid", "gaia_source_id", "kic_id", "epic_id", "fibermask"):
        out[name] = optional_int(name)
    bad_fibre = (out["fiberid"] < 0) | (out["fiberid"] > 250)
    rows.note("fiberid", bad_fibre & keep, "fibre ID outside 1-250", "read as 0", "warning")
    out["fiberid"][bad_fibre] = 0
    if "alt_lamp" in cols:
        lamp, _, bad = C.as_bool(cols["alt_lamp"])
        rows.note("alt_lamp", bad & keep, "not true/false", "read as false", "warning")
        out["alt_lamp"] = lamp & ~bad
    else:
        out["alt_lamp"] = np.zeros(n, dtype=bool)
        rows.report.add_absent("alt_lamp", rows.where)
    for name in ("designation", "objtype"):
        if name in cols:
            out[name] = C.as_text(cols[name])[0]
        else:
            out[name] = pa.DictionaryArray.from_arrays(
                pa.nulls(n, type=pa.int32()), pa.array([], type=pa.large_string())
            )
