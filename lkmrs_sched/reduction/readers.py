"""Read LAMOST MRS per-exposure catalogues (real DR8 or this project's synthetic ones).

Inputs are FITS, ECSV, CSV (optionally gzipped) or Parquet tables with the DR8 column
names (see :mod:`lkmrs_sched.reduction.columns`), one row per spectrum and arm, or an
in-memory astropy Table / pyarrow Table / dict of arrays in the same layout. A column
map renames a catalogue's columns to ours (``{"SNR_B": "snr"}``); names also match
case-insensitively.

Everything is checked and nothing is dropped silently: missing required columns raise
:class:`~lkmrs_sched.core.errors.InputError`; bad rows (NaN or negative S/N, unreadable IDs,
duplicate spectra, …) are excluded and counted in the :class:`ReadReport`, per file and
column; bad parameter values are treated as missing and counted too.

The result is one :class:`SpectrumSet`: a table with one row per spectrum (the two arms
of an ``obsid`` joined), plus small tables of stars, exposures and plates that the
spectra point into by integer code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.geometry import designation
from lkmrs_sched.core.timeconv import lmjm_to_mjd
from lkmrs_sched.reduction import columns as C
from lkmrs_sched.reduction.checks import check_rows, wanted_columns
from lkmrs_sched.reduction.column_map import parse_column_map
from lkmrs_sched.reduction.groups import factorize
from lkmrs_sched.reduction.loaders import BATCH_ROWS, iter_column_batches, table_columns
from lkmrs_sched.reduction.report import ReadReport

#: Parameters combined per star, with the internal column names of the spectra table.
PARAMETERS: tuple[str, ...] = ("teff", "logg", "feh", "rv")
#: Units of the internal parameter columns.
UNITS: dict[str, str] = {"teff": "K", "logg": "dex", "feh": "dex", "rv": "km / s"}


@dataclass
class SpectrumSet:
    """Spectra of one reduction, joined over arms, with their stars, exposures and plates.

    Attributes
    ----------
    spectra : astropy.table.Table
        One row per spectrum (exposure × fibre): ``obsid``, ``star``, ``exposure``,
        ``plate`` (integer codes into the tables below), ``spid``, ``fiberid``, ``ra``,
        ``dec`` (deg), ``snr`` (blue-arm S/N), ``snr_r`` (red-arm S/N), ``teff``,
        ``teff_err`` (K), ``logg``, ``logg_err``, ``feh``, ``feh_err`` (dex), ``rv``,
        ``rv_err`` (km/s, from ``rv_column``), ``rv_snr`` (S/N of the RV's arm),
        ``fibermask``. Missing values are NaN.
    stars : astropy.table.Table
        One row per star (``uid``): ``uid``, ``designation``, ``kic_id``, ``epic_id``,
        ``gaia_source_id`` (0 when unknown), ``objtype``.
    exposures : astropy.table.Table
        One row per exposure (``planid`` × ``lmjm``): ``plate``, ``planid``, ``lmjm``,
        ``mjd`` (UTC MJD = lmjm/1440 − 8/24), ``alt_lamp``, ``n_spectra``.
    plates : astropy.table.Table
        One row per plan ID: ``planid``, ``n_exposures``, ``n_spectra``.
    report : ReadReport
        Everything the reader excluded or treated as missing.
    rv_column : str
        Catalogue column the RVs came from.
    """

    spectra: Table
    stars: Table
    exposures: Table
    plates: Table
    report: ReadReport = field(default_factory=ReadReport)
    rv_column: str = "rv_lasp0"

    def __len__(self) -> int:
        return len(self.spectra)


# --------------------------------------------------------------------------- assembly


def _concat(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows of several batches as one set of columns (freeing the batches as it goes)."""
    import pyarrow as pa

    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = {}
    for name in list(parts[0]):
        chunks = [p.pop(name) for p in parts]
        if isinstance(chunks[0], pa.Array):
            out[name] = pa.chunked_array(chunks).unify_dictionaries().combine_chunks()
        else:
            out[name] = np.concatenate(chunks)
        del chunks
    return out


def _assemble(
    rows: dict[str, Any], files: np.ndarray, names: list[str], report: ReadReport, rv_column: str
) -> SpectrumSet:
    """Join arm rows into spectra and build the star / exposure / plate tables."""
    rows, files, join = _join_arms(rows, files, names, report)
    star_code, uids = factorize(rows.pop("uid"))
    plate_code, planids = factorize(rows.pop("planid"))
    ident = _identity(rows, join, star_code, plate_code, files, names, report)
    exp_key = (ident["plate"].astype(np.int64) << 32) | ident["lmjm"]
    exp_keys, exposure = np.unique(exp_key, return_inverse=True)
    exposure = exposure.astype(np.int64)
    spectra = _spectra_table(rows, join, ident, exposure, rv_column)
    again = _repeated_in_exposure(spectra, ident["star"], exposure, exp_keys.size, join, files,
                                  names, report)
    if again.any():
        spectra = spectra[~again]
    # Rows used = arm rows of the spectra kept.
    report.n_rows_used = int(np.count_nonzero(~again[join.spec]))
    stars = _star_table(rows, star_code, uids, spectra)
    exposures = _exposure_table(exp_keys, planids, exposure[join.spec], rows["alt_lamp"],
                                spectra, report)
    plates = Table()
    plates["planid"] = planids
    plates["n_exposures"] = np.bincount(np.asarray(exposures["plate"]), minlength=planids.size)
    plates["n_spectra"] = np.bincount(np.asarray(spectra["plate"]), minlength=planids.size)
    return SpectrumSet(spectra, stars, exposures, plates, report, rv_column)


@dataclass(frozen=True)
class _ArmJoin:
    """How arm rows map onto spectra.

    Attributes
    ----------
    spec : ndarray of int
        Spectrum of each (kept) row.
    obsids : ndarray
        ``obsid`` of each spectrum, sorted.
    b_idx, r_idx : ndarray of int
        Blue and red rows.
    """

    spec: np.ndarray
    obsids: np.ndarray
    b_idx: np.ndarray
    r_idx: np.ndarray

    @property
    def n_spec(self) -> int:
        return self.obsids.size

    def per_spectrum(self, values: np.ndarray, fill: Any) -> np.ndarray:
        """One value per spectrum from its rows (the blue row wins; ``fill`` if none)."""
        out = np.full(self.n_spec, fill, dtype=values.dtype)
        out[self.spec[self.r_idx]] = values[self.r_idx]
        out[self.spec[self.b_idx]] = values[self.b_idx]
        return out

    def arm(self, values: np.ndarray, red: bool) -> np.ndarray:
        """One arm's values per spectrum (NaN where the spectrum lacks that arm)."""
        idx = self.r_idx if red else self.b_idx
        out = np.full(self.n_spec, np.nan)
        out[self.spec[idx]] = values[idx]
        return out


def _join_arms(
    rows: dict[str, Any], files: np.ndarray, names: list[str], report: ReadReport
) -> tuple[dict[str, Any], np.ndarray, _ArmJoin]:
    """Exclude duplicate (obsid, arm) rows (reported) and group the arms into spectra."""
    import pyarrow as pa

    # One sort of (obsid, arm) finds duplicate rows and groups the arms into spectra.
    obsid = rows["obsid"]
    red = (~rows["blue"]).astype(np.int64)
    if obsid.size and (obsid.min() < 0 or obsid.max() >= 2**62):
        order = np.lexsort((red, obsid))
        same = np.r_[
            False, (obsid[order][1:] == obsid[order][:-1]) & (red[order][1:] == red[order][:-1])
        ]
    else:
        key = obsid * 2 + red
        order = np.argsort(key, kind="stable")  # stable: the first copy in file order wins
        sorted_key = key[order]
        same = np.r_[False, sorted_key[1:] == sorted_key[:-1]] if key.size else np.zeros(0, bool)
    dup = np.zeros(obsid.size, dtype=bool)
    dup[order[same]] = True
    for k in np.flatnonzero(np.bincount(files[dup], minlength=len(names))):
        report.add(
            names[k],
            "obsid",
            int(np.count_nonzero(dup & (files == k))),
            "duplicate spectrum (same obsid and band as an earlier row)",
            "later copies excluded",
            "error",
        )
    kept_sorted = order[~same]
    sorted_obsid = obsid[kept_sorted]
    new_spec = (
        np.r_[True, sorted_obsid[1:] != sorted_obsid[:-1]]
        if sorted_obsid.size
        else (np.zeros(0, bool))
    )
    spec = np.full(obsid.size, -1, dtype=np.int64)
    spec[kept_sorted] = np.cumsum(new_spec) - 1
    if dup.any():
        keep = ~dup
        mask = pa.array(keep)
        rows = {
            k: (v.filter(mask) if isinstance(v, pa.Array) else v[keep]) for k, v in rows.items()
        }
        files = files[keep]
        spec = spec[keep]
    blue = rows["blue"]
    return rows, files, _ArmJoin(spec, sorted_obsid[new_spec], np.flatnonzero(blue),
                                 np.flatnonzero(~blue))


def _identity(
    rows: dict[str, Any],
    join: _ArmJoin,
    star_code: np.ndarray,
    plate_code: np.ndarray,
    files: np.ndarray,
    names: list[str],
    report: ReadReport,
) -> dict[str, np.ndarray]:
    """Star, plate, lmjm and spid per spectrum (blue row wins); report arms that disagree."""
    ident: dict[str, np.ndarray] = {}
    for name, values in (
        ("star", star_code),
        ("plate", plate_code),
        ("lmjm", rows.pop("lmjm")),
        ("spid", rows.pop("spid")),
    ):
        ident[name] = join.per_spectrum(values, -1)
        clash = values != ident[name][join.spec]
        for k in np.flatnonzero(np.bincount(files[clash], minlength=len(names))):
            report.add(
                names[k],
                {"star": "uid", "plate": "planid"}.get(name, name),
                int(np.count_nonzero(clash & (files == k))),
                "blue and red rows of one obsid disagree",
                "blue row's value used",
                "warning",
            )
    return ident


def _spectra_table(
    rows: dict[str, Any],
    join: _ArmJoin,
    ident: dict[str, np.ndarray],
    exposure: np.ndarray,
    rv_column: str,
) -> Table:
    """One row per spectrum (see :class:`SpectrumSet`), parameters from their arm."""
    rv_red = C.rv_arm(rv_column) == "R"
    spectra = Table()
    spectra["obsid"] = join.obsids
    spectra["star"] = ident["star"]
    spectra["exposure"] = exposure
    spectra["plate"] = ident["plate"]
    spectra["spid"] = ident["spid"].astype(np.int16)
    spectra["fiberid"] = join.per_spectrum(rows.pop("fiberid"), 0).astype(np.int16)
    spectra["ra"] = join.per_spectrum(rows.pop("ra"), np.nan)
    spectra["dec"] = join.per_spectrum(rows.pop("dec"), np.nan)
    snr_b = join.arm(rows["snr"], red=False)
    snr_r = join.arm(rows.pop("snr"), red=True)
    spectra["snr"], spectra["snr_r"] = snr_b, snr_r
    for p in PARAMETERS:
        for name in (p, f"{p}_err"):
            spectra[name] = join.arm(rows.pop(name), red=p == "rv" and rv_red)
            spectra[name].unit = UNITS[p]
    spectra["rv_snr"] = snr_r if rv_red else snr_b
    spectra["fibermask"] = join.per_spectrum(rows.pop("fibermask"), 0)
    spectra["ra"].unit = spectra["dec"].unit = "deg"
    return spectra


def _repeated_in_exposure(
    spectra: Table,
    star: np.ndarray,
    exposure: np.ndarray,
    n_exp: int,
    join: _ArmJoin,
    files: np.ndarray,
    names: list[str],
    report: ReadReport,
) -> np.ndarray:
    """Spectra of a star already observed in the same exposure with a better S/N.

    One spectrum per star and exposure is kept, the best S/N (blue, else red); the others
    are flagged and reported.
    """
    snr_b, snr_r = np.asarray(spectra["snr"]), np.asarray(spectra["snr_r"])
    best = np.where(np.isfinite(snr_b), snr_b, np.where(np.isfinite(snr_r), snr_r, -1.0))
    pair = star.astype(np.int64) * max(n_exp, 1) + exposure
    order2 = np.argsort(pair, kind="stable")
    same2 = pair[order2][1:] == pair[order2][:-1]
    again = np.zeros(join.n_spec, dtype=bool)
    if same2.any():
        involved = np.zeros(join.n_spec, dtype=bool)
        involved[order2[1:][same2]] = True
        involved[order2[:-1][same2]] = True
        idx = np.flatnonzero(involved)
        sub = idx[np.lexsort((-best[idx], pair[idx]))]
        again[sub[1:][pair[sub][1:] == pair[sub][:-1]]] = True
    if again.any():
        spec_file = join.per_spectrum(files, 0)
        for k in np.flatnonzero(np.bincount(spec_file[again], minlength=len(names))):
            report.add(
                names[k],
                "uid",
                int(np.count_nonzero(again & (spec_file == k))),
                "star observed twice in one exposure (two fibres)",
                "lower-S/N spectrum excluded",
                "error",
            )
    return again


def _exposure_table(
    exp_keys: np.ndarray,
    planids: np.ndarray,
    row_exposure: np.ndarray,
    row_alt_lamp: np.ndarray,
    spectra: Table,
    report: ReadReport,
) -> Table:
    """One row per exposure (plate × lmjm key); alt_lamp if any of its rows says so."""
    n_exp = exp_keys.size
    exposures = Table()
    exposures["plate"] = (exp_keys >> 32).astype(np.int64)
    exposures["planid"] = planids[exposures["plate"]] if planids.size else np.array([], str)
    exposures["lmjm"] = exp_keys & 0xFFFFFFFF
    exposures["mjd"] = lmjm_to_mjd(exposures["lmjm"])
    exposures["mjd"].unit = "d"
    lamp_rows = np.bincount(row_exposure, weights=row_alt_lamp, minlength=n_exp)
    all_rows = np.bincount(row_exposure, minlength=n_exp)
    mixed = (lamp_rows > 0) & (lamp_rows < all_rows)
    report.add(
        "all inputs",
        "alt_lamp",
        int(np.count_nonzero(mixed)),
        "exposures whose rows disagree on alt_lamp",
        "exposure treated as alternate-lamp",
        "warning",
    )
    exposures["alt_lamp"] = lamp_rows > 0
    # Whether every input had a lamp column (else alt_lamp = False says nothing).
    exposures.meta["alt_lamp_column"] = "alt_lamp" not in report.absent
    exposures["n_spectra"] = np.bincount(np.asarray(spectra["exposure"]), minlength=n_exp)
    return exposures


def _star_table(
    rows: dict[str, Any], star_code: np.ndarray, uids: np.ndarray, spectra: Table
) -> Table:
    import pyarrow.compute as pc

    n_star = uids.size
    stars = Table()
    stars["uid"] = uids
    # First row of each star that names it, for the designation and object type.
    n_rows = star_code.size
    for name in ("designation", "objtype"):
        text = rows[name]
        present = np.flatnonzero(~np.asarray(pc.is_null(text).to_numpy(zero_copy_only=False)))
        first = np.full(n_star, n_rows, dtype=np.int64)
        np.minimum.at(first, star_code[present], present)
        have = first < n_rows
        values = np.full(n_star, "", dtype=object)
        if have.any():
            values[have] = np.asarray(text.take(first[have]).to_pylist(), dtype=object)
        stars[name] = values.astype(str)
    for name in ("kic_id", "epic_id", "gaia_source_id"):
        ids = np.zeros(n_star, dtype=np.int64)
        np.maximum.at(ids, star_code, rows[name])
        stars[name] = ids
    no_name = stars["designation"] == ""
    if no_name.any():
        ra, dec = mean_coordinates(
            np.asarray(spectra["star"]),
            np.asarray(spectra["ra"]),
            np.asarray(spectra["dec"]),
            n_star,
        )
        stars["designation"] = (
            np.where(
                no_name,
                designation(np.nan_to_num(ra), np.nan_to_num(dec)),
                stars["designation"],
            )
            if n_star
            else stars["designation"]
        )
    return stars


def mean_coordinates(
    codes: np.ndarray, ra: np.ndarray, dec: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean position per group on the sphere (safe across RA = 0), degrees."""
    r, d = np.radians(ra), np.radians(dec)
    x = np.bincount(codes, np.cos(d) * np.cos(r), minlength=n)
    y = np.bincount(codes, np.cos(d) * np.sin(r), minlength=n)
    z = np.bincount(codes, np.sin(d), minlength=n)
    with np.errstate(invalid="ignore"):
        ra_m = np.degrees(np.arctan2(y, x)) % 360.0
        dec_m = np.degrees(np.arctan2(z, np.hypot(x, y)))
    empty = np.bincount(codes, minlength=n) == 0
    ra_m[empty] = np.nan
    dec_m[empty] = np.nan
    return ra_m, dec_m


# --------------------------------------------------------------------------- public API


def _rv_error(rv_column: str, rv_error_column: str | None) -> str:
    return rv_error_column or f"{rv_column}_err"


def read_exposures(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    column_map: Mapping[str, str] | Sequence[str] | None = None,
    rv_column: str = "rv_lasp0",
    rv_error_column: str | None = None,
    fmt: str | None = None,
    strict: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> SpectrumSet:
    """Read one or more per-exposure catalogues into one :class:`SpectrumSet`.

    Parameters
    ----------
    paths : path-like or sequence of path-like
        FITS, ECSV, CSV(.gz) or Parquet files in the DR8 MRS layout.
    column_map : mapping or sequence of str, optional
        Catalogue name → our name (see :func:`parse_column_map`).
    rv_column : str
        RV column to reduce (``rv_lasp0``, ``rv_b0``, ``rv_r0``, …), km/s.
    rv_error_column : str, optional
        Its error column (default ``rv_column + "_err"``).
    fmt : str, optional
        Force one format for all files.
    strict : bool
        Raise :class:`InputError` for the first excluded-row problem instead of reporting.
    batch_rows : int
        Rows converted at a time (bounds the memory of the raw columns).

    Returns
    -------
    SpectrumSet
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    mapping = parse_column_map(column_map) if not isinstance(column_map, dict) else column_map
    if not paths:
        raise InputError("EXPOSURES", ..., "one or more catalogue files", "no input")
    rv_err = _rv_error(rv_column, rv_error_column)
    report = ReadReport()
    parts, names = [], []
    files: list[int] = []
    for k, path in enumerate(paths):
        names.append(str(path))
        batches = iter_column_batches(
            path, wanted_columns(rv_column, rv_err), mapping, fmt, batch_rows
        )
        for cols, n in batches:
            report.n_rows_read += n
            parts.append(check_rows(cols, n, str(path), report, rv_column, rv_err))
            files.append(k)
            del cols
    return _finish(parts, names, report, rv_column, strict, files)


def spectra_from_table(
    data: Any,
    *,
    where: str = "<table>",
    column_map: Mapping[str, str] | Sequence[str] | None = None,
    rv_column: str = "rv_lasp0",
    rv_error_column: str | None = None,
    strict: bool = False,
) -> SpectrumSet:
    """Like :func:`read_exposures` for an in-memory table (astropy, pyarrow or dict)."""
    mapping = parse_column_map(column_map) if not isinstance(column_map, dict) else column_map
    rv_err = _rv_error(rv_column, rv_error_column)
    report = ReadReport()
    cols, n = table_columns(data, wanted_columns(rv_column, rv_err), mapping, where)
    report.n_rows_read = n
    part = check_rows(cols, n, where, report, rv_column, rv_err)
    return _finish([part], [where], report, rv_column, strict, [0])


def _finish(
    parts: list[dict[str, Any]],
    names: list[str],
    report: ReadReport,
    rv_column: str,
    strict: bool,
    part_files: list[int],
) -> SpectrumSet:
    files = np.concatenate(
        [
            np.full(len(p["obsid"]), k, dtype=np.int64)
            for k, p in zip(part_files, parts, strict=True)
        ]
    )
    rows = _concat(parts)
    result = _assemble(rows, files, names, report, rv_column)
    if strict:
        report.raise_if_errors()
    return result
