"""RV zero points per (spectrograph, exposure), and the alternate-lamp correction.

In time-domain mode a star stays on one fibre, hence one spectrograph, for all the
exposures of a plate; RVs carry offsets that depend on spectrograph and exposure.

**Common constant stars** (Zong et al. 2020, default). Per plate:

1. The alternate-lamp exposures are first moved down by 6.5 km/s (they read that much
   too high). This comes first so that those exposures do not make every star look
   variable; the zero points below then absorb only what is left.
2. A plate needs at least 540 usable spectra (finite RV, S/N > 0), else it is skipped
   and reported. Exposures with fewer usable spectra than ``min_exposure_fraction`` of
   the plate's median exposure are not considered (reported too).
3. Common stars have a usable RV in every considered exposure of the plate; constant
   stars among them have a weighted RV scatter (Eq. 2) below 1 km/s.
4. For each (spectrograph, exposure) the offset is the S/N²-weighted mean deviation of
   its constant stars from their own means; it is subtracted. One iteration by default;
   further iterations reselect the constant stars from the corrected RVs.

The method is relative: per spectrograph the offsets average to about zero over the
considered exposures, so a common shift of all exposures is not seen (only a reference
can fix that).

**Reference RVs** (Zhang B. et al. 2021). One zero point per (spectrograph, exposure):
the robust L1 fit of a constant to RV − RV_ref of the stars with a reference RV
(a weighted median with weights 1/sqrt(σ² + σ_ref² + 1 km/s²)), from at least 5 stars.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.reduction.groups import group_sum, weighted_mean_scatter, weighted_median
from lkmrs_sched.reduction.readers import SpectrumSet

#: km/s that alternate-lamp exposures read too high.
LAMP_SHIFT = 6.5
_N_SPID = 17  # spectrograph IDs 1..16, one spare slot for 0


@dataclass
class ZeroPoints:
    """Result of an RV zero-point determination.

    Attributes
    ----------
    offsets : astropy.table.Table
        One row per (plate, spectrograph, exposure) with spectra: ``planid``, ``spid``,
        ``exposure`` (lmjm, the exposure's local modified Julian minute),
        ``exposure_index`` (1-based order on the plate), ``mjd``, ``offset`` (km/s,
        NaN when not determined), ``error``, ``n_stars``, ``lamp_shift`` (km/s),
        ``status``.
    plates : astropy.table.Table
        One row per plate: ``planid``, ``n_usable``, ``n_exposures``,
        ``n_exposures_used``, ``n_common``, ``n_constant``, ``status``.
    correction : ndarray
        Per spectrum, km/s subtracted from the RV (lamp shift + zero point).
    method : str
        ``"common-constant-stars"``, ``"reference"`` or ``"none"``.
    """

    offsets: Table
    plates: Table
    correction: np.ndarray
    method: str

    def apply(self, rv: np.ndarray) -> np.ndarray:
        """Corrected RVs (km/s)."""
        return np.asarray(rv, dtype=float) - self.correction

    def skipped_plates(self) -> list[str]:
        """Plan IDs of plates left out of the correction."""
        return [
            str(p)
            for p, s in zip(self.plates["planid"], self.plates["status"], strict=True)
            if s != "ok"
        ]


def lamp_correction(
    alt_lamp_exposure: np.ndarray, exposure: np.ndarray, shift: float = LAMP_SHIFT
) -> np.ndarray:
    """Per-spectrum correction (km/s) for exposures calibrated with the alternate lamp."""
    return np.where(np.asarray(alt_lamp_exposure, dtype=bool)[exposure], shift, 0.0)


WEIGHTINGS = ("inverse-variance", "snr2")
#: km/s added in quadrature to quoted RV errors in inverse-variance weights.
ERROR_FLOOR = 0.1


def zero_point_weights(sp: Table, weighting: str, error_floor: float = ERROR_FLOOR) -> np.ndarray:
    """Per-spectrum weights for the zero points.

    Parameters
    ----------
    sp : astropy.table.Table
        Spectra (``rv_err`` in km/s, ``rv_snr``).
    weighting : {"inverse-variance", "snr2"}
        1/(σ_RV² + floor²) from the catalogue's RV errors, or (S/N)² as in Eq. 1.
    error_floor : float
        Added in quadrature to the RV errors (km/s) so that one tiny quoted error
        cannot dominate a mean.

    Returns
    -------
    ndarray
        Weights (NaN/inf where unusable).
    """
    if weighting == "snr2":
        return np.asarray(sp["rv_snr"], dtype=float) ** 2
    if weighting == "inverse-variance":
        err = np.asarray(sp["rv_err"], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 / (err**2 + error_floor**2)
    raise InputError("zero_point_weighting", weighting, ", ".join(WEIGHTINGS))


def _usable(rv: np.ndarray, weight: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(rv) & np.isfinite(weight) & (weight > 0)


def _unit_stats(unit: np.ndarray, dev: np.ndarray, w: np.ndarray, n_units: int):
    """Weighted mean, its error and member count per unit."""
    n = np.bincount(unit, minlength=n_units)
    ws = group_sum(unit, w, n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        off = group_sum(unit, w * dev, n_units) / ws
        var = group_sum(unit, w * (dev - off[unit]) ** 2, n_units) / ws * n / (n - 1.0)
        n_eff = ws**2 / group_sum(unit, w * w, n_units)
        err = np.sqrt(var / n_eff)
    return off, err, n


def common_star_offsets(
    plate: np.ndarray,
    star: np.ndarray,
    exposure: np.ndarray,
    spid: np.ndarray,
    rv: np.ndarray,
    weight: np.ndarray,
    exposure_plate: np.ndarray,
    *,
    max_scatter: float = 1.0,
    min_plate_spectra: int = 540,
    min_exposure_fraction: float = 0.5,
    min_stars: int = 3,
    min_presence: float = 1.0,
) -> dict[str, np.ndarray]:
    """One pass of the common-constant-star method on plain arrays.

    Parameters
    ----------
    plate, star, exposure, spid : ndarray of int
        Per spectrum: plate code, star code, global exposure code, spectrograph (1-16).
    rv : ndarray of float
        RVs (km/s, NaN = none), lamp-corrected.
    weight : ndarray of float
        Per spectrum weight, (S/N)².
    exposure_plate : ndarray of int
        Plate code of each exposure.
    max_scatter : float
        Constant-star threshold on the Eq. 2 scatter, km/s.
    min_plate_spectra : int
        Plates with fewer usable spectra are skipped.
    min_exposure_fraction : float
        Exposures with fewer usable spectra than this share of the plate's median
        exposure are not considered.
    min_stars : int
        Constant stars needed for a (spectrograph, exposure) offset.
    min_presence : float
        Share of the considered exposures a common star must have a usable RV in
        (1 = every exposure, the paper's rule; lower values keep more stars on plates
        with many exposures, use ≥ 2 iterations then, since a star's mean then depends
        on which exposures it has).

    Returns
    -------
    dict
        ``offset``, ``error``, ``n_stars`` per unit (``exposure * 17 + spid``);
        per plate ``n_usable``, ``n_exposures_used``, ``n_common``, ``n_constant``,
        ``plate_ok``; per exposure ``considered``.
    """
    n_plates = int(exposure_plate.max()) + 1 if exposure_plate.size else 0
    n_units = exposure_plate.size * _N_SPID
    usable = _usable(rv, weight)
    n_usable = np.bincount(plate[usable], minlength=n_plates)
    plate_ok = n_usable >= min_plate_spectra
    considered = _considered_exposures(
        exposure[usable], exposure_plate, plate_ok, n_plates, min_exposure_fraction
    )
    n_used = np.bincount(exposure_plate[considered], minlength=n_plates)

    sel = usable & considered[exposure]
    w_s = weight[sel]
    pair_plate, common, constant, member, dev = _constant_stars(
        star[sel], plate[sel], rv[sel], w_s, n_plates, n_used, max_scatter, min_presence
    )
    unit = exposure[sel].astype(np.int64) * _N_SPID + spid[sel]
    off, err, n = _unit_stats(unit[member], dev[member], w_s[member], n_units)
    ok = n >= min_stars
    off[~ok] = np.nan
    err[~ok] = np.nan
    return {
        "offset": off,
        "error": err,
        "n_stars": n,
        "n_usable": n_usable,
        "n_exposures_used": n_used,
        "n_common": np.bincount(pair_plate[common], minlength=n_plates),
        "n_constant": np.bincount(pair_plate[constant], minlength=n_plates),
        "plate_ok": plate_ok,
        "considered": considered,
    }


def _constant_stars(
    star: np.ndarray,
    plate: np.ndarray,
    rv: np.ndarray,
    w: np.ndarray,
    n_plates: int,
    n_used: np.ndarray,
    max_scatter: float,
    min_presence: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Common and constant (star, plate) pairs among the usable, considered spectra.

    Returns
    -------
    pair_plate, common, constant : ndarray, per pair
        Plate of each pair; in enough considered exposures; and also of Eq. 2 scatter
        below ``max_scatter``.
    member, dev : ndarray, per spectrum
        Spectrum of a constant pair; its RV minus its pair's weighted mean.
    """
    pair_key = star.astype(np.int64) * max(n_plates, 1) + plate
    pairs, pair = np.unique(pair_key, return_inverse=True)
    n_pairs = pairs.size
    pair_plate = (pairs % max(n_plates, 1)).astype(np.int64)
    _, scatter, _, dev = weighted_mean_scatter(pair, rv, w, n_pairs)
    n_exp_pair = np.bincount(pair, minlength=n_pairs)  # one spectrum per star and exposure
    need = np.maximum(np.ceil(min_presence * n_used[pair_plate] - 1e-9), 2)
    common = n_exp_pair >= need
    with np.errstate(invalid="ignore"):
        constant = common & (scatter < max_scatter)
    return pair_plate, common, constant, constant[pair], dev


def _considered_exposures(
    usable_exposure: np.ndarray,
    exposure_plate: np.ndarray,
    plate_ok: np.ndarray,
    n_plates: int,
    min_exposure_fraction: float,
) -> np.ndarray:
    """Exposures of usable plates with at least ``min_exposure_fraction`` of the plate's
    median usable spectra per exposure (``usable_exposure``: exposure of each usable one)."""
    n_exp = exposure_plate.size
    per_exp = np.bincount(usable_exposure, minlength=n_exp)
    # Median usable count per plate, over its exposures (loop over plates, not spectra).
    order = np.lexsort((per_exp, exposure_plate))
    starts = np.searchsorted(exposure_plate[order], np.arange(n_plates))
    counts = np.bincount(exposure_plate, minlength=n_plates)
    median = np.zeros(n_plates)
    for p in np.flatnonzero(counts):
        seg = per_exp[order[starts[p] : starts[p] + counts[p]]]
        median[p] = np.median(seg)
    return (
        plate_ok[exposure_plate]
        & (per_exp > 0)
        & (per_exp >= min_exposure_fraction * median[exposure_plate])
    )


def _lamp_shifts(spectra: SpectrumSet, lamp_shift: float) -> np.ndarray:
    """Per exposure: ``lamp_shift`` for alternate-lamp exposures, else 0 (km/s)."""
    return np.where(np.asarray(spectra.exposures["alt_lamp"], dtype=bool), lamp_shift, 0.0)


def _offset_table(
    spectra: SpectrumSet,
    offset: np.ndarray,
    error: np.ndarray,
    n_stars: np.ndarray,
    status_unit: np.ndarray,
    lamp: np.ndarray,
) -> Table:
    """Rows for every (spectrograph, exposure) unit that has spectra."""
    sp = spectra.spectra
    exp_t = spectra.exposures
    unit_all = np.asarray(sp["exposure"]).astype(np.int64) * _N_SPID + np.asarray(sp["spid"])
    units = np.unique(unit_all)
    e, s = units // _N_SPID, units % _N_SPID
    # 1-based exposure order on the plate.
    plate_e = np.asarray(exp_t["plate"])
    lmjm = np.asarray(exp_t["lmjm"])
    rank = np.empty(len(exp_t), dtype=np.int64)
    order = np.lexsort((lmjm, plate_e))
    first = np.searchsorted(plate_e[order], plate_e[order])
    rank[order] = np.arange(order.size) - first + 1
    t = Table()
    t["planid"] = np.asarray(exp_t["planid"])[e]
    t["spid"] = s.astype(np.int16)
    t["exposure"] = lmjm[e]
    t["exposure_index"] = rank[e]
    t["mjd"] = np.asarray(exp_t["mjd"])[e]
    t["offset"] = offset[units]
    t["error"] = error[units]
    t["n_stars"] = n_stars[units].astype(np.int64)
    t["lamp_shift"] = lamp[e]
    t["status"] = status_unit[units]
    t["offset"].unit = t["error"].unit = t["lamp_shift"].unit = "km / s"
    t["mjd"].unit = "d"
    t["offset"].description = "RV zero point subtracted after the lamp correction"
    return t


def rv_zero_points(
    spectra: SpectrumSet,
    *,
    iterations: int = 1,
    max_scatter: float = 1.0,
    min_plate_spectra: int = 540,
    min_exposure_fraction: float = 0.5,
    min_stars: int = 3,
    lamp_shift: float = LAMP_SHIFT,
    weighting: str = "inverse-variance",
    min_presence: float = 1.0,
) -> ZeroPoints:
    """RV zero points by the common-constant-star method (see the module docstring).

    Parameters
    ----------
    spectra : SpectrumSet
        Spectra as read (``rv`` uncorrected).
    iterations : int
        Passes of the method (≥ 1).
    max_scatter : float
        Constant-star threshold, km/s.
    min_plate_spectra : int
        Plates with fewer usable spectra are skipped (reported).
    min_exposure_fraction : float
        See :func:`common_star_offsets`.
    min_stars : int
        Constant stars needed per (spectrograph, exposure).
    lamp_shift : float
        Subtracted from alternate-lamp exposures first, km/s.
    weighting : {"inverse-variance", "snr2"}
        Weights of the star means and offsets: 1/σ_RV² from the catalogue's RV errors
        (default; spectra without an error are not used), or (S/N)² as in Eq. 1.
    min_presence : float
        See :func:`common_star_offsets` (default 1: every considered exposure).

    Returns
    -------
    ZeroPoints
    """
    if iterations < 1:
        raise InputError("iterations", iterations, "an integer >= 1")
    if not 0 < min_presence <= 1:
        raise InputError("min_presence", min_presence, "0 < share <= 1")
    sp = spectra.spectra
    exposure = np.asarray(sp["exposure"]).astype(np.int64)
    spid = np.asarray(sp["spid"]).astype(np.int64)
    unit = exposure * _N_SPID + spid
    lamp_e = _lamp_shifts(spectra, lamp_shift)
    lamp = lamp_e[exposure]
    weight = zero_point_weights(sp, weighting)
    exp_plate = np.asarray(spectra.exposures["plate"]).astype(np.int64)

    def one_pass(rv: np.ndarray) -> dict[str, np.ndarray]:
        return common_star_offsets(
            np.asarray(sp["plate"]), np.asarray(sp["star"]), exposure, spid, rv, weight,
            exp_plate,
            max_scatter=max_scatter, min_plate_spectra=min_plate_spectra,
            min_exposure_fraction=min_exposure_fraction, min_stars=min_stars,
            min_presence=min_presence,
        )

    total, err, n_stars, res = _iterate_offsets(
        one_pass, np.asarray(sp["rv"], dtype=float) - lamp, unit,
        len(spectra.exposures) * _N_SPID, iterations,
    )
    status = _common_status(np.isfinite(err), res, exp_plate, min_stars, min_plate_spectra)
    offsets = _offset_table(spectra, total, err, n_stars, status, lamp_e)
    plates = _common_plates_table(spectra.plates, res, min_plate_spectra)
    correction = lamp + np.nan_to_num(total[unit])
    zp = ZeroPoints(offsets, plates, correction, "common-constant-stars")
    offsets.meta.update(
        method=zp.method,
        iterations=iterations,
        max_scatter_kms=max_scatter,
        min_plate_spectra=min_plate_spectra,
        lamp_shift_kms=lamp_shift,
        min_presence=min_presence,
    )
    return zp


def _iterate_offsets(
    one_pass, rv: np.ndarray, unit: np.ndarray, n_units: int, iterations: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Run ``one_pass`` (:func:`common_star_offsets` on RVs) ``iterations`` times.

    Each pass sees the RVs corrected by the offsets found so far and adds its own.

    Returns
    -------
    total, error, n_stars : ndarray, per unit
        Summed offset (NaN where never determined), error and stars of the last pass
        that determined the unit.
    last : dict
        The last pass's result.
    """
    total = np.zeros(n_units)
    err = np.full(n_units, np.nan)
    n_stars = np.zeros(n_units, dtype=np.int64)
    for _ in range(iterations):
        res = one_pass(rv - np.nan_to_num(total[unit]))
        got = np.isfinite(res["offset"])
        total[got] += res["offset"][got]
        err = np.where(got, res["error"], err)
        n_stars = np.where(got, res["n_stars"], n_stars)
    total[~np.isfinite(err)] = np.nan
    return total, err, n_stars, res


def _common_plates_table(
    plates: Table, res: dict[str, np.ndarray], min_plate_spectra: int
) -> Table:
    """Per plate: usable spectra, exposures used, common and constant stars, status."""
    t = Table()
    t["planid"] = np.asarray(plates["planid"])
    t["n_usable"] = res["n_usable"]
    t["n_exposures"] = np.asarray(plates["n_exposures"])
    t["n_exposures_used"] = res["n_exposures_used"]
    t["n_common"] = res["n_common"]
    t["n_constant"] = res["n_constant"]
    t["status"] = np.where(
        res["plate_ok"], "ok", f"skipped: fewer than {min_plate_spectra} usable spectra"
    )
    return t


def _common_status(
    determined: np.ndarray,
    res: dict[str, np.ndarray],
    exp_plate: np.ndarray,
    min_stars: int,
    min_plate_spectra: int,
) -> np.ndarray:
    """Status text of every unit (plate skipped > exposure not considered > few stars)."""
    n_units = determined.size
    status = np.full(n_units, "ok", dtype=object)
    exp_of_unit = np.arange(n_units) // _N_SPID
    unit_plate = exp_plate[exp_of_unit] if n_units else np.zeros(0, int)
    status[~determined] = f"fewer than {min_stars} common constant stars"
    status[~res["considered"][exp_of_unit]] = "exposure not considered (few usable spectra)"
    status[~res["plate_ok"][unit_plate]] = f"plate skipped (< {min_plate_spectra} usable spectra)"
    return status.astype(str)


# --------------------------------------------------------------------------- reference RVs


def read_reference_rvs(path: str | os.PathLike[str]) -> Table:
    """Read external reference RVs (e.g. Gaia DR3) for :func:`rv_zero_points_reference`.

    The table (CSV, ECSV, FITS or Parquet) needs a star key — ``uid``, or
    ``gaia_source_id`` / ``source_id`` — an RV column ``rv`` or ``radial_velocity``
    (km/s) and optionally its error ``rv_err`` or ``radial_velocity_error``.

    Returns
    -------
    astropy.table.Table
        Columns ``key_name`` in meta, ``key``, ``rv``, ``rv_err``.
    """
    from lkmrs_sched.reduction.loaders import detect_format

    where = str(path)
    if not os.path.isfile(path):
        raise InputError(f"--reference-rv {where}", ..., "an existing table file", "no such file")
    fmt = detect_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            t = Table(pq.read_table(path).to_pydict())
        else:
            t = Table.read(path, format={"csv": "ascii.csv", "ecsv": "ascii.ecsv"}.get(fmt, fmt))
    except Exception as exc:
        raise InputError(where, ..., f"a readable {fmt} table", str(exc)) from None
    names = {n.lower(): n for n in t.colnames}
    key = next((k for k in ("uid", "gaia_source_id", "source_id") if k in names), None)
    rv = next((k for k in ("rv", "radial_velocity", "rv_ref") if k in names), None)
    if key is None or rv is None:
        raise InputError(
            where,
            t.colnames,
            "columns uid | gaia_source_id | source_id, and "
            "rv | radial_velocity (+ rv_err | radial_velocity_error)",
            "missing reference columns",
        )
    err = next((k for k in ("rv_err", "radial_velocity_error", "rv_ref_err") if k in names), None)
    out = Table()
    out["key"] = np.asarray(t[names[key]]).astype(str if key == "uid" else np.int64)
    out["rv"] = np.asarray(np.ma.filled(np.ma.asarray(t[names[rv]], dtype=float), np.nan))
    out["rv_err"] = (
        np.asarray(np.ma.filled(np.ma.asarray(t[names[err]], dtype=float), np.nan))
        if err
        else np.zeros(len(t))
    )
    out.meta["key_name"] = "uid" if key == "uid" else "gaia_source_id"
    return out


def rv_zero_points_reference(
    spectra: SpectrumSet,
    reference: Table,
    *,
    floor: float = 1.0,
    min_stars: int = 5,
    lamp_shift: float = LAMP_SHIFT,
) -> ZeroPoints:
    """Zero points per (spectrograph, exposure) from external reference RVs.

    Parameters
    ----------
    spectra : SpectrumSet
    reference : astropy.table.Table
        From :func:`read_reference_rvs` (``key``, ``rv``, ``rv_err``; ``meta['key_name']``).
    floor : float
        Noise floor added in quadrature to the weights' errors, km/s.
    min_stars : int
        Reference stars needed per (spectrograph, exposure).
    lamp_shift : float
        Subtracted from alternate-lamp exposures first, km/s.

    Returns
    -------
    ZeroPoints
    """
    sp = spectra.spectra
    star_ref, star_ref_err, found = _reference_per_star(spectra.stars, reference)
    exposure = np.asarray(sp["exposure"]).astype(np.int64)
    star = np.asarray(sp["star"])
    n_units = len(spectra.exposures) * _N_SPID
    unit = exposure * _N_SPID + np.asarray(sp["spid"]).astype(np.int64)
    lamp_e = _lamp_shifts(spectra, lamp_shift)
    resid = np.asarray(sp["rv"], dtype=float) - lamp_e[exposure] - star_ref[star]
    sig = np.sqrt(
        np.nan_to_num(np.asarray(sp["rv_err"], dtype=float)) ** 2
        + star_ref_err[star] ** 2
        + floor**2
    )
    use = np.isfinite(resid)
    zp, err, n = _weighted_median_offsets(unit[use], resid[use], 1.0 / sig[use], n_units)
    ok = n >= min_stars
    zp[~ok] = np.nan
    err[~ok] = np.nan
    status = np.where(ok, "ok", f"fewer than {min_stars} reference stars").astype(str)
    offsets = _offset_table(spectra, zp, err, n, status, lamp_e)
    plate = np.asarray(sp["plate"])
    n_plates = len(spectra.plates)
    plates = Table()
    plates["planid"] = np.asarray(spectra.plates["planid"])
    plates["n_usable"] = np.bincount(plate[use], minlength=n_plates)
    plates["n_exposures"] = np.asarray(spectra.plates["n_exposures"])
    plates["n_reference_stars"] = (
        np.bincount(
            np.unique(star[use].astype(np.int64) * n_plates + plate[use]) % max(n_plates, 1),
            minlength=n_plates,
        )
        if n_plates
        else np.zeros(0, int)
    )
    plates["status"] = np.where(plates["n_reference_stars"] > 0, "ok", "no reference stars")
    correction = lamp_e[exposure] + np.nan_to_num(zp[unit])
    result = ZeroPoints(offsets, plates, correction, "reference")
    offsets.meta.update(
        method="reference",
        floor_kms=floor,
        min_stars=min_stars,
        n_reference_stars_matched=int(np.count_nonzero(found)),
        lamp_shift_kms=lamp_shift,
    )
    return result


def _reference_per_star(
    stars: Table, reference: Table
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference RV (NaN if none), its error (0 if none) and a found flag per star."""
    key_name = reference.meta.get("key_name", "uid")
    star_keys = np.asarray(stars[key_name])
    ref_keys = np.asarray(reference["key"])
    ref_rv = np.asarray(reference["rv"], dtype=float)
    ref_err = np.nan_to_num(np.asarray(reference["rv_err"], dtype=float))
    order = np.argsort(ref_keys, kind="stable")
    pos = np.clip(np.searchsorted(ref_keys[order], star_keys), 0, max(order.size - 1, 0))
    if order.size:
        found = ref_keys[order][pos] == star_keys
        if key_name == "gaia_source_id":
            found &= star_keys != 0
    else:
        found = np.zeros(star_keys.size, dtype=bool)
    star_ref = np.where(found, ref_rv[order][pos] if order.size else np.nan, np.nan)
    star_ref_err = np.where(found, ref_err[order][pos] if order.size else 0.0, 0.0)
    return star_ref, star_ref_err, found


def _weighted_median_offsets(
    unit: np.ndarray, resid: np.ndarray, w: np.ndarray, n_units: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit: weighted median of ``resid`` (the L1 constant), its error from the
    weighted MAD (Gaussian-equivalent, × 1.2533 for a median) and the count."""
    zp = weighted_median(unit, resid, w, n_units)
    n = np.bincount(unit, minlength=n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        mad = weighted_median(unit, np.abs(resid - zp[unit]), w, n_units)
        err = 1.2533 * 1.4826 * mad / np.sqrt(n)
    return zp, err, n


def no_zero_points(spectra: SpectrumSet, *, lamp_shift: float = LAMP_SHIFT) -> ZeroPoints:
    """Only the alternate-lamp correction (zero points switched off)."""
    sp = spectra.spectra
    exposure = np.asarray(sp["exposure"]).astype(np.int64)
    lamp_e = _lamp_shifts(spectra, lamp_shift)
    n_units = len(spectra.exposures) * _N_SPID
    nan = np.full(n_units, np.nan)
    status = np.full(n_units, "zero points not computed").astype(str)
    offsets = _offset_table(spectra, nan, nan, np.zeros(n_units, dtype=np.int64), status, lamp_e)
    plates = Table()
    plates["planid"] = np.asarray(spectra.plates["planid"])
    plates["status"] = np.full(len(plates), "not computed")
    return ZeroPoints(offsets, plates, lamp_e[exposure], "none")
