"""RV zero points per (spectrograph, exposure), and the alternate-lamp correction.

In time-domain mode a star stays on one fibre, hence one spectrograph, for all the
exposures of a plate; RVs carry offsets that depend on spectrograph and exposure (a few
hundred m/s, drifting over months), and exposures calibrated with the alternate arc
lamp read +6.5 km/s too high.

**Alternate lamp** (``lamp``): ``"detect"`` (default) finds those exposures from the RVs,
as a robust per-(plate, exposure) offset consistent with +6.5 km/s (:mod:`.lamp`);
``"column"`` trusts the catalogue's ``alt_lamp`` column (``--lamp-column NAME`` maps
another one); ``"none"`` applies no shift. The shift is subtracted before the zero points.

**Common stars, robust two-way fit** (default; the paper's method made robust). Per plate
with at least ``min_plate_spectra`` (540) usable spectra, exposures with at least
``min_exposure_fraction`` of the plate's median usable spectra, the lamp-corrected RVs
follow

    RV_ik = μ_i + z_(k, s_i) + ε_ik

with μ_i the star's mean, z the zero point of exposure k on the star's spectrograph s_i
and ε_ik its error of σ_k = σ_RV(S/N_k) (``weighting``). The fit alternates (``iterations``
times, default 8): residuals standardised by σ_k and by the plate's robust scale (MAD)
get Tukey biweights (c = 4.685, so outliers drop out), stopping early once no zero point
moves by 1 m/s; a star is **constant** when it has
RVs in at least ``min_presence`` (half) of the considered exposures and its biweighted
reduced χ² is below ``max_excess``² (2², i.e. a scatter at most twice σ(S/N)) — binaries
drop out; each z is the weighted mean deviation of its constant stars from their means
(at least ``min_stars``), centred per (plate, spectrograph) over the exposures (the
method is relative: a shift common to all exposures is not seen); each μ_i is the
weighted mean of its star's corrected RVs. The plates table reports the RMS scatter of
the constant stars' RVs about their means before any correction, after the lamp shift
and after the zero points (km/s).

**Reference RVs** (Zhang B. et al. 2021). One zero point per (spectrograph, exposure):
the robust L1 fit of a constant to RV − RV_ref of the stars with a reference RV
(a weighted median with weights 1/sqrt(σ² + σ_ref² + 1 km/s²)), from at least 5 stars.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.precision import published_laws
from lkmrs_sched.reduction.groups import group_sum, weighted_median
from lkmrs_sched.reduction.lamp import LAMP_SHIFT, LampDetection, detect_lamp
from lkmrs_sched.reduction.readers import SpectrumSet

_N_SPID = 17  # spectrograph IDs 1..16, one spare slot for 0
#: Ways to find the alternate-lamp exposures.
LAMP_METHODS = ("detect", "column", "none")
#: Tukey biweight constant (95 % efficiency for Gaussian errors).
BIWEIGHT_C = 4.685
#: km/s: the two-way fit stops early when no zero point moves by more than this.
CONVERGED = 1e-3

__all__ = [
    "LAMP_METHODS",
    "LAMP_SHIFT",
    "WEIGHTINGS",
    "ZeroPoints",
    "lamp_shifts",
    "no_zero_points",
    "read_reference_rvs",
    "rv_zero_points",
    "rv_zero_points_reference",
    "two_way_offsets",
    "zero_point_weights",
]


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
    lamp : dict
        How the alternate-lamp exposures were found: ``method``, ``n_exposures``
        (shifted), and for ``"detect"`` ``n_column`` / ``n_agree`` (when the catalogue
        has an ``alt_lamp`` column) and ``n_unexplained`` (other significant offsets).
    """

    offsets: Table
    plates: Table
    correction: np.ndarray
    method: str
    lamp: dict = field(default_factory=dict)

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


WEIGHTINGS = ("law", "inverse-variance", "snr2")
#: km/s added in quadrature to quoted RV errors in inverse-variance weights.
ERROR_FLOOR = 0.1


def zero_point_weights(sp: Table, weighting: str, error_floor: float = ERROR_FLOOR) -> np.ndarray:
    """Per-spectrum weights for the zero points.

    Parameters
    ----------
    sp : astropy.table.Table
        Spectra (``rv_err`` in km/s, ``rv_snr``).
    weighting : {"law", "inverse-variance", "snr2"}
        1/σ_RV(S/N)² from Table 4's law (held at S/N 300), 1/(σ² + floor²) from the
        catalogue's RV errors, or (S/N)² as in Eq. 1.
    error_floor : float
        Added in quadrature to the RV errors (km/s) so that one tiny quoted error
        cannot dominate a mean.

    Returns
    -------
    ndarray
        Weights (NaN/inf where unusable).
    """
    if weighting == "law":
        snr = np.asarray(sp["rv_snr"], dtype=float)
        with np.errstate(invalid="ignore"):
            sigma = published_laws()["rv"].extended(np.minimum(np.where(snr > 0, snr, np.nan),
                                                                300.0))
        return 1.0 / sigma**2
    if weighting == "snr2":
        return np.asarray(sp["rv_snr"], dtype=float) ** 2
    if weighting == "inverse-variance":
        err = np.asarray(sp["rv_err"], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 / (err**2 + error_floor**2)
    raise InputError("zero_point_weighting", weighting, ", ".join(WEIGHTINGS))


def lamp_shifts(spectra: SpectrumSet, method: str = "detect", shift: float = LAMP_SHIFT,
                weight: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Per exposure: km/s to subtract for the alternate lamp, and how it was found.

    Parameters
    ----------
    spectra : SpectrumSet
    method : {"detect", "column", "none"}
        See the module docstring.
    shift : float
        km/s.
    weight : ndarray, optional
        Per-spectrum weights for the detection (default: the Table 4 law).

    Returns
    -------
    shifts : ndarray, per exposure
    info : dict
        ``method``, ``n_exposures``; for ``"detect"`` also ``n_column``, ``n_agree``
        (None without a lamp column), ``n_unexplained`` and the ``detection``
        (:class:`~lkmrs_sched.reduction.lamp.LampDetection`).

    Raises
    ------
    InputError
        ``method = "column"`` on catalogues without a lamp column.
    """
    if method not in LAMP_METHODS:
        raise InputError("lamp", method, ", ".join(LAMP_METHODS))
    exp = spectra.exposures
    column = np.asarray(exp["alt_lamp"], dtype=bool)
    has_column = bool(exp.meta.get("alt_lamp_column", True))  # set by the reader
    if method == "none":
        flags, info = np.zeros(len(exp), bool), {}
    elif method == "column":
        if not has_column:
            raise InputError("--lamp column", ..., "a catalogue with an alt_lamp column "
                             "(or --lamp-column NAME, or --lamp detect)", "no lamp column")
        flags, info = column, {}
    else:
        det = _detect(spectra, shift, weight)
        flags = det.lamp
        info = {"n_column": int(column.sum()) if has_column else None,
                "n_agree": int((column == flags).sum()) if has_column else None,
                "n_unexplained": int(det.unexplained.sum()), "detection": det}
    info.update(method=method, n_exposures=int(flags.sum()))
    return np.where(flags, shift, 0.0), info


def _detect(spectra: SpectrumSet, shift: float, weight: np.ndarray | None) -> LampDetection:
    """:func:`~lkmrs_sched.reduction.lamp.detect_lamp` on the usable spectra."""
    sp = spectra.spectra
    rv = np.asarray(sp["rv"], dtype=float)
    w = zero_point_weights(sp, "law") if weight is None else weight
    use = _usable(rv, w)
    n_plates = max(len(spectra.plates), 1)
    key = np.asarray(sp["star"]).astype(np.int64)[use] * n_plates + np.asarray(sp["plate"])[use]
    keys, pair = np.unique(key, return_inverse=True)
    return detect_lamp(pair, np.asarray(sp["exposure"])[use], rv[use], w[use],
                       np.asarray(spectra.exposures["plate"]), int(pair.max()) + 1 if pair.size
                       else 0, shift=shift, pair_star=keys // n_plates)


def _usable(rv: np.ndarray, weight: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(rv) & np.isfinite(weight) & (weight > 0)


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


@dataclass(frozen=True)
class TwoWayInputs:
    """Inputs of the two-way fit: the usable spectra of the corrected plates' considered
    exposures (per spectrum unless noted)."""

    pair: np.ndarray  # (star, plate) code per spectrum
    unit: np.ndarray  # exposure * 17 + spid
    plate: np.ndarray
    rv: np.ndarray  # lamp-corrected, km/s
    w: np.ndarray  # 1/σ²
    n_pairs: int
    n_units: int
    need: np.ndarray  # per pair: RVs needed to count as common


def two_way_offsets(fit: TwoWayInputs, *, iterations: int = 8, max_excess: float = 2.0,
                    min_stars: int = 3) -> dict[str, np.ndarray]:
    """The robust two-way fit RV = μ_pair + z_unit + ε (module docstring).

    Returns
    -------
    dict
        Per unit ``offset`` (NaN when not determined), ``error``, ``n_stars``; per pair
        ``mu``, ``constant``; per spectrum ``bw`` (final biweight) and ``z`` (offset
        applied, 0 where not determined).
    """
    if fit.rv.size == 0:
        nan = np.full(fit.n_units, np.nan)
        return {"offset": nan, "error": nan, "n_stars": np.zeros(fit.n_units, np.int64),
                "mu": np.zeros(0), "constant": np.zeros(0, bool), "bw": np.zeros(0),
                "z": np.zeros(0)}
    n_plates = int(fit.plate.max()) + 1
    count = np.bincount(fit.pair, minlength=fit.n_pairs)
    group = fit.plate.astype(np.int64) * _N_SPID + fit.unit % _N_SPID  # (plate, spid)
    mu = weighted_median(fit.pair, fit.rv, fit.w, fit.n_pairs)
    z = np.zeros(fit.n_units)
    sq = np.sqrt(fit.w)
    by_plate = np.argsort(fit.plate, kind="stable")
    bounds = np.searchsorted(fit.plate[by_plate], np.arange(n_plates + 1))
    for _ in range(iterations):
        x = (fit.rv - mu[fit.pair] - z[fit.unit]) * sq
        scale = 1.4826 * _segment_medians(np.abs(x)[by_plate], bounds)
        scale = np.where(scale > 0, scale, 1.0)  # one-exposure plates: all residuals 0
        y = x / scale[fit.plate]
        bw = np.where(np.abs(y) < BIWEIGHT_C, (1.0 - (y / BIWEIGHT_C) ** 2) ** 2, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            q = group_sum(fit.pair, bw * y * y, fit.n_pairs) / group_sum(fit.pair, bw,
                                                                           fit.n_pairs)
            q *= count / np.maximum(count - 1.0, 1.0)
        constant = (count >= fit.need) & (q < max_excess**2)
        wt = fit.w * bw * constant[fit.pair]
        z_old = z
        z, n_st = _unit_means(fit, wt, fit.rv - mu[fit.pair], min_stars)
        z = _centred(z, n_st >= min_stars, fit, group)
        if np.max(np.abs(z - z_old), initial=0.0) < CONVERGED:
            break
        wb = fit.w * bw
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = np.where(count > 0, group_sum(fit.pair, wb * (fit.rv - z[fit.unit]),
                                               fit.n_pairs) / group_sum(fit.pair, wb,
                                                                        fit.n_pairs), mu)
    determined = n_st >= min_stars
    with np.errstate(invalid="ignore", divide="ignore"):
        err = scale[_unit_plate(fit, n_plates)] / np.sqrt(group_sum(fit.unit, wt, fit.n_units))
    return {"offset": np.where(determined, z, np.nan), "error": np.where(determined, err, np.nan),
            "n_stars": n_st, "mu": mu, "constant": constant, "bw": bw, "z": z[fit.unit]}


def _segment_medians(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Median of ``values[bounds[i]:bounds[i + 1]]`` for each i (NaN when empty); a loop
    over the few plates, each median O(n) by partition."""
    out = np.full(bounds.size - 1, np.nan)
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        if b > a:
            out[i] = np.median(values[a:b])
    return out


def _unit_means(fit: TwoWayInputs, wt: np.ndarray, dev: np.ndarray, min_stars: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean deviation per unit (0 where fewer than ``min_stars`` stars)."""
    n_st = np.bincount(fit.unit, weights=(wt > 0).astype(float), minlength=fit.n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = group_sum(fit.unit, wt * dev, fit.n_units) / group_sum(fit.unit, wt, fit.n_units)
    return np.where(n_st >= min_stars, z, 0.0), n_st.astype(np.int64)


def _centred(z: np.ndarray, determined: np.ndarray, fit: TwoWayInputs, group: np.ndarray
             ) -> np.ndarray:
    """z minus its mean over the determined exposures of each (plate, spectrograph);
    0 for undetermined units."""
    units = np.unique(fit.unit)
    g = np.zeros(fit.n_units, dtype=np.int64)
    g[fit.unit] = group
    ug = g[units]
    ok = determined[units]
    n_g = int(ug.max()) + 1 if ug.size else 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(ug[ok], z[units][ok], n_g) / np.bincount(ug[ok], minlength=n_g)
    out = z.copy()
    out[units] = np.where(ok, z[units] - np.nan_to_num(mean[ug]), 0.0)
    return out


def _unit_plate(fit: TwoWayInputs, n_plates: int) -> np.ndarray:
    """Plate of every unit (0 for units without spectra)."""
    out = np.zeros(fit.n_units, dtype=np.int64)
    out[fit.unit] = fit.plate
    return out


def rv_zero_points(
    spectra: SpectrumSet,
    *,
    iterations: int = 8,
    max_excess: float = 2.0,
    min_plate_spectra: int = 540,
    min_exposure_fraction: float = 0.5,
    min_stars: int = 3,
    lamp: str = "detect",
    lamp_shift: float = LAMP_SHIFT,
    weighting: str = "law",
    min_presence: float = 0.5,
) -> ZeroPoints:
    """RV zero points by the robust two-way fit of common stars (module docstring).

    Parameters
    ----------
    spectra : SpectrumSet
        Spectra as read (``rv`` uncorrected).
    iterations : int
        Iterations of the alternating fit at most (≥ 1).
    max_excess : float
        A constant star's biweighted scatter is below this many σ_RV(S/N).
    min_plate_spectra : int
        Plates with fewer usable spectra are skipped (reported).
    min_exposure_fraction : float
        Exposures with fewer usable spectra than this share of the plate's median
        exposure are not considered.
    min_stars : int
        Constant stars needed per (spectrograph, exposure).
    lamp : {"detect", "column", "none"}
        How the alternate-lamp exposures are found.
    lamp_shift : float
        Subtracted from alternate-lamp exposures first, km/s.
    weighting : {"law", "inverse-variance", "snr2"}
        σ_k of the fit (:func:`zero_point_weights`).
    min_presence : float
        Share of the considered exposures a constant star must have an RV in.

    Returns
    -------
    ZeroPoints
    """
    if iterations < 1:
        raise InputError("iterations", iterations, "an integer >= 1")
    if not 0 < min_presence <= 1:
        raise InputError("min_presence", min_presence, "0 < share <= 1")
    if not max_excess > 0:
        raise InputError("max_excess", max_excess, "> 0")
    sp = spectra.spectra
    weight = zero_point_weights(sp, weighting)
    lamp_e, lamp_info = lamp_shifts(spectra, lamp, lamp_shift, weight)
    exposure = np.asarray(sp["exposure"]).astype(np.int64)
    rv_raw = np.asarray(sp["rv"], dtype=float)
    fit, sel, res0 = _fit_inputs(spectra, rv_raw - lamp_e[exposure], weight,
                                 min_plate_spectra, min_exposure_fraction, min_presence)
    res = two_way_offsets(fit, iterations=iterations, max_excess=max_excess,
                          min_stars=min_stars)
    correction = lamp_e[exposure].copy()
    correction[sel] += res["z"]
    status = _common_status(np.isfinite(res["offset"]), res0, np.asarray(
        spectra.exposures["plate"]), min_stars, min_plate_spectra)
    offsets = _offset_table(spectra, res["offset"], res["error"], res["n_stars"], status, lamp_e)
    plates = _common_plates_table(spectra.plates, res0, res, fit, min_plate_spectra)
    _scatter_columns(plates, fit, res, rv_raw[sel], lamp_e[exposure][sel])
    zp = ZeroPoints(offsets, plates, correction, "common-constant-stars",
                    {k: v for k, v in lamp_info.items() if k != "detection"})
    offsets.meta.update(method=zp.method, iterations=iterations, max_excess=max_excess,
                        min_plate_spectra=min_plate_spectra, lamp=lamp,
                        lamp_shift_kms=lamp_shift, min_presence=min_presence,
                        weighting=weighting)
    return zp


def _fit_inputs(spectra: SpectrumSet, rv: np.ndarray, weight: np.ndarray,
                min_plate_spectra: int, min_exposure_fraction: float, min_presence: float
                ) -> tuple[TwoWayInputs, np.ndarray, dict[str, np.ndarray]]:
    """The two-way fit's spectra (usable, plate corrected, exposure considered)."""
    sp = spectra.spectra
    plate = np.asarray(sp["plate"]).astype(np.int64)
    exposure = np.asarray(sp["exposure"]).astype(np.int64)
    exp_plate = np.asarray(spectra.exposures["plate"]).astype(np.int64)
    n_plates = len(spectra.plates)
    usable = _usable(rv, weight)
    n_usable = np.bincount(plate[usable], minlength=n_plates)
    plate_ok = n_usable >= min_plate_spectra
    considered = _considered_exposures(exposure[usable], exp_plate, plate_ok, n_plates,
                                       min_exposure_fraction)
    n_used = np.bincount(exp_plate[considered], minlength=n_plates)
    sel = np.flatnonzero(usable & considered[exposure])
    key = np.asarray(sp["star"]).astype(np.int64)[sel] * max(n_plates, 1) + plate[sel]
    pairs, pair = np.unique(key, return_inverse=True)
    pair_plate = pairs % max(n_plates, 1)
    need = np.maximum(np.ceil(min_presence * n_used[pair_plate] - 1e-9), 2)
    unit = exposure[sel] * _N_SPID + np.asarray(sp["spid"]).astype(np.int64)[sel]
    fit = TwoWayInputs(pair, unit, plate[sel], rv[sel], weight[sel], pairs.size,
               len(spectra.exposures) * _N_SPID, need)
    return fit, sel, {"n_usable": n_usable, "n_exposures_used": n_used, "plate_ok": plate_ok,
                      "considered": considered, "pair_plate": pair_plate}


def _common_plates_table(plates: Table, res0: dict, res: dict, fit: TwoWayInputs,
                         min_plate_spectra: int) -> Table:
    """Per plate: usable spectra, exposures used, common and constant stars, status."""
    n = len(plates)
    pp = res0["pair_plate"]
    t = Table()
    t["planid"] = np.asarray(plates["planid"])
    t["n_usable"] = res0["n_usable"]
    t["n_exposures"] = np.asarray(plates["n_exposures"])
    t["n_exposures_used"] = res0["n_exposures_used"]
    common = np.bincount(fit.pair, minlength=fit.n_pairs) >= fit.need
    t["n_common"] = np.bincount(pp[common], minlength=n)
    t["n_constant"] = np.bincount(pp[res["constant"]], minlength=n)
    t["status"] = np.where(res0["plate_ok"], "ok",
                           f"skipped: fewer than {min_plate_spectra} usable spectra")
    return t


def _scatter_columns(plates: Table, fit: TwoWayInputs, res: dict, rv_raw: np.ndarray,
                     lamp: np.ndarray) -> None:
    """RMS scatter (km/s) of the constant stars' RVs about their means: as read, after the
    lamp shift, after the zero points; same spectra (biweight > 0) for all three."""
    n = len(plates)
    use = res["constant"][fit.pair] & (res["bw"] > 0)
    pair, w, pl = fit.pair[use], fit.w[use], fit.plate[use]
    for name, rv in (("rms_before", rv_raw[use]), ("rms_after_lamp", (rv_raw - lamp)[use]),
                     ("rms_after", (rv_raw - lamp - res["z"])[use])):
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = group_sum(pair, w * rv, fit.n_pairs) / group_sum(pair, w, fit.n_pairs)
            r2 = w * (rv - mean[pair]) ** 2
            plates[name] = np.sqrt(np.bincount(pl, r2, n) / np.bincount(pl, w, n))
        plates[name].unit = "km / s"
    plates.meta["rms_kms"] = {
        k: float(np.sqrt(np.nansum(np.asarray(plates[k]) ** 2 * plates["n_constant"])
                         / max(int(np.sum(plates["n_constant"])), 1)))
        for k in ("rms_before", "rms_after_lamp", "rms_after")}


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
    lamp: str = "detect",
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
    lamp : {"detect", "column", "none"}
        How the alternate-lamp exposures are found (:func:`lamp_shifts`).
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
    lamp_e, lamp_info = lamp_shifts(spectra, lamp, lamp_shift)
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
    result = ZeroPoints(offsets, plates, correction, "reference",
                        {k: v for k, v in lamp_info.items() if k != "detection"})
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


def no_zero_points(spectra: SpectrumSet, *, lamp: str = "detect",
                   lamp_shift: float = LAMP_SHIFT) -> ZeroPoints:
    """Only the alternate-lamp correction (zero points switched off)."""
    sp = spectra.spectra
    exposure = np.asarray(sp["exposure"]).astype(np.int64)
    lamp_e, lamp_info = lamp_shifts(spectra, lamp, lamp_shift)
    n_units = len(spectra.exposures) * _N_SPID
    nan = np.full(n_units, np.nan)
    status = np.full(n_units, "zero points not computed").astype(str)
    offsets = _offset_table(spectra, nan, nan, np.zeros(n_units, dtype=np.int64), status, lamp_e)
    plates = Table()
    plates["planid"] = np.asarray(spectra.plates["planid"])
    plates["status"] = np.full(len(plates), "not computed")
    return ZeroPoints(offsets, plates, lamp_e[exposure], "none",
                      {k: v for k, v in lamp_info.items() if k != "detection"})
