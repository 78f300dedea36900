"""Synthetic per-exposure LAMOST MRS measurements of the LK-MRS targets.

:func:`synthesize` turns exposures (an observation log's ``exposures`` table) into a
table with the layout of the LAMOST DR8 ``MRS_catalogue``/``MRS_stellar`` tables: one row
per spectrum and arm (``band`` "B" or "R"; the two rows of a spectrum share ``obsid``),
and keeps the truth (stars, orbits, true RVs, injected zero points) in separate tables
so the reduction cannot peek.

Pipeline per plate (vectorised over the plate's exposures × objects):

1. The catalogue (:func:`lkmrs_sched.synth.fibres.build_catalogue`): stars, fibres.
2. Conditions per exposure from the log; transparency from an exponential cloud model
   (a night part and an exposure part), or the nominal value (``transparency_model =
   "clear"``), or a ``transparency`` column when the log has one.
3. S/N per arm from :mod:`lkmrs_sched.synth.snr`, with the fibre's throughput, its
   spectrograph arm's efficiency and a per-exposure log-normal jitter.
4. Measurements: true value + σ_P(S/N)·ε with σ_P the Table 4 law
   σ = a·(S/N)^b + c (RV: b = +0.201), ε standard normal except for a heavy-tailed
   outlier share (``outlier_fraction``, ``rv_outlier_fraction``) of width
   ``outlier_scale``·σ. Below S/N 8 (where Eq. 4 was not fitted) σ scales as 1/(S/N)
   from its S/N = 8 value. LASP (Teff, log g, [Fe/H], rv_lasp0) runs on blue spectra
   above ``lasp_snr_min`` (and on a share between ``lasp_low_snr_min`` and it) whose
   star has 3200 K ≤ Teff ≤ 8500 K; arm RVs (rv_b0, rv_r0) need ``rv_min_snr``.
5. Every RV gets the zero point of its (spectrograph, exposure): a per-spectrograph
   Ornstein–Uhlenbeck drift (RMS ``zero_point_sigma``, correlation time
   ``zero_point_timescale``) sampled on a fixed daily grid, plus a per-exposure jitter,
   plus ``alt_lamp_offset`` (+6.5 km/s) on nights flagged as calibrated with the
   alternate arc lamp (nights before ``alt_lamp_until``, each with chance
   ``alt_lamp_fraction``).

Random streams are keyed by stable names (sky cell, plan ID, plan ID + lmjm, night,
spectrograph), all spawned from one seed, so an exposure's noise does not depend on
which other exposures are synthesized.

Column conventions (where DR8 leaves room): ``obsid = exposure_id·100000 + spid·1000 +
fiberid``; ``uid = "LK" + gp_id`` (10 digits); ``gaia_source_id`` is synthetic
(4·10¹⁸ + gp_id); ``obsdate`` is the local evening date of the night and ``lmjd`` the
local MJD of the midnight that follows it (constant through a night); ``mjd`` is the UTC
MJD of the exposure start, truncated; ``lmjm`` is copied from the log; ``moon_angle`` is
the Moon–plate-centre angle (deg); ``moon_flg`` = 1 when the Moon is above the horizon;
``fibermask`` = 1 and ``bad_b``/``bad_r`` = 1 on dead fibres (``bad_*`` also when that
arm's S/N < 1); inefficient fibres are not flagged, as in real data. String columns are
ASCII bytes in memory (Parquet/FITS files hold them as text). Measured values are
float32, coordinates float64.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.precision import PrecisionLaw, published_laws
from lkmrs_sched.sky.almanac import lunar_days_of
from lkmrs_sched.sky.footprints import PlateSet
from lkmrs_sched.synth.exposures import (
    ZP,
    dead_fibres,
    exposure_block,
    fibre_indices,
    iso_date_mjd,
    lkmrs_exposures,
    mid_exposure_mjd,
    night_effects,
    plan_key,
    stream_seed,
)
from lkmrs_sched.synth.fibres import Catalogue, build_catalogue
from lkmrs_sched.synth.snr import SNRLike, measurement_noise, model_from_config

ZP_GRID_START_MJD, ZP_GRID_DAYS = 57000, 8000
GAIA_ID_OFFSET = 4_000_000_000_000_000_000
PARAMS = ("teff", "logg", "feh", "rv")
#: Spectra per work chunk (exposures of one plate are processed this many at a time).
CHUNK = 24_000
#: Measured-table columns, in order, with their NumPy dtype.
COLUMNS: dict[str, str] = {
    "obsid": "i8", "uid": "S12", "gp_id": "i8", "designation": "S19", "obsdate": "S10",
    "lmjd": "i4", "mjd": "i4", "planid": "S18", "spid": "i2", "fiberid": "i2", "lmjm": "i8",
    "band": "S1", "ra_obs": "f8", "dec_obs": "f8", "snr": "f4", "gaia_source_id": "i8",
    "gaia_g_mean_mag": "f4", "rv_b0": "f4", "rv_b0_err": "f4", "rv_r0": "f4",
    "rv_r0_err": "f4", "rv_lasp0": "f4", "rv_lasp0_err": "f4", "teff_lasp": "f4",
    "teff_lasp_err": "f4", "logg_lasp": "f4", "logg_lasp_err": "f4", "feh_lasp": "f4",
    "feh_lasp_err": "f4", "moon_angle": "f4", "lunardate": "i2", "moon_flg": "i2",
    "bad_b": "i2", "bad_r": "i2", "fibermask": "i4", "alt_lamp": "?", "kic_id": "i8",
    "epic_id": "i8", "objtype": "S8",
}
UNITS = {
    "ra_obs": "deg", "dec_obs": "deg", "gaia_g_mean_mag": "mag", "rv_b0": "km/s",
    "rv_b0_err": "km/s", "rv_r0": "km/s", "rv_r0_err": "km/s", "rv_lasp0": "km/s",
    "rv_lasp0_err": "km/s", "teff_lasp": "K", "teff_lasp_err": "K", "logg_lasp": "dex",
    "logg_lasp_err": "dex", "feh_lasp": "dex", "feh_lasp_err": "dex", "moon_angle": "deg",
}


# --- zero points ----------------------------------------------------------------------


def zero_point_drift(spid: int, mjd: np.ndarray, seed: np.random.SeedSequence, cfg
                     ) -> np.ndarray:
    """Slow RV zero point of one spectrograph at UTC MJD ``mjd``, km/s (O-U process)."""
    from scipy.signal import lfilter

    sigma = cfg.zero_point_sigma.to_value(u.km / u.s)
    rho = np.exp(-1.0 / cfg.zero_point_timescale.to_value(u.d))
    z = np.random.default_rng(stream_seed(seed, ZP, spid)).standard_normal(ZP_GRID_DAYS)
    drive = z * sigma * np.sqrt(1.0 - rho**2)
    drive[0] = z[0] * sigma
    path = lfilter([1.0], [1.0, -rho], drive)
    grid = ZP_GRID_START_MJD + np.arange(ZP_GRID_DAYS)
    return np.interp(mjd, grid, path)


# --- the synthesis --------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """What the reduction must not see.

    Attributes
    ----------
    stars : Table
        One row per star: ``uid, gp_id, objtype, ra, dec, gmag, teff, logg, feh,
        rv_systemic, giant, component, binary, mass1, mass2, q, period_d, ecc, omega_deg,
        incl_deg, t_peri_mjd, k1_kms, kic_id, epic_id, n_plates, n_spectra`` — every
        star of every plate in the plate set, observed (``n_spectra > 0``) or not.
    spectra : Table
        One row per spectrum, keyed by ``obsid``: ``uid, exposure_id, rv_true`` (km/s, at
        mid-exposure), ``rv_zero_point`` (km/s, lamp offset excluded), ``alt_lamp``,
        ``throughput``, ``snr_b``, ``snr_r``.
    exposures : Table
        One row per LK-MRS exposure: ``exposure_id, planid, lmjm, mid_mjd, transparency,
        alt_lamp, lunardate``.
    """

    stars: Table
    spectra: Table
    exposures: Table


def synthesize(
    exposures: Table,
    plates: PlateSet,
    scenario,
    seed: int | np.random.SeedSequence | None = None,
    *,
    snr_model: SNRLike | None = None,
    lunar_days: Mapping[str, int] | None = None,
    catalogue: Catalogue | None = None,
) -> tuple[Table, Truth]:
    """Synthetic LAMOST MRS per-exposure measurements of the LK-MRS targets.

    Parameters
    ----------
    exposures : astropy.table.Table
        An observation log's exposures (columns of
        :data:`lkmrs_sched.synth.exposures.REQUIRED_COLUMNS`; optionally
        ``transparency``). Only rows with ``project == "LK-MRS"`` are synthesized.
    plates : PlateSet
        The LK-MRS plates with Table 1 counts; exposures refer to them by ``plan_id``.
    scenario : Scenario
        Uses ``scenario.population``, ``scenario.snr`` and ``scenario.seed``.
    seed : int or SeedSequence, optional
        Master seed (default ``scenario.seed``). Same seed, same tables.
    snr_model : optional
        Any object with the :class:`lkmrs_sched.synth.snr.SNRLike` interface (default: the
        scenario's model).
    lunar_days : mapping of str to int, optional
        Lunar day per night (ISO date), e.g. from the log's ``nights`` table; computed
        from Meeus' new moons otherwise.
    catalogue : Catalogue, optional
        Reuse a catalogue built by :func:`lkmrs_sched.synth.fibres.build_catalogue` (with the
        same plates, configuration and seed).

    Returns
    -------
    measured : Table
        One row per spectrum and arm, columns :data:`COLUMNS` (DR8 names plus extras).
        Rows are grouped by plate (in plate-set order), then exposure (log order), then
        spectrograph and fibre; a spectrum's B row comes right before its R row.
    truth : Truth
        Stars, true RV per spectrum, injected zero points.

    Raises
    ------
    InputError
        Missing exposure columns, unknown plates, conditions out of range, or bad
        ``[population]``/``[snr]`` settings.
    """
    where = scenario.source
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(
        scenario.seed if seed is None else int(seed))
    model = snr_model or model_from_config(scenario.snr, f"{where}: [snr]")
    lk, plate_of = lkmrs_exposures(exposures, plates, where)
    cat = catalogue or build_catalogue(plates, scenario.population, ss,
                                       f"{where}: [population]")
    ex = _exposure_info(lk, plate_of, plates, ss, scenario.snr, lunar_days, where)
    w, transparency = _synthesize_plates(cat, ex, plate_of, len(plates), model, scenario, ss)
    truth = Truth(
        stars=_truth_stars(cat, np.bincount(plate_of, minlength=len(plates))),
        spectra=w.truth_table(),
        exposures=Table({
            "exposure_id": ex.exp_id, "planid": plates.plan_id[plate_of].astype("S18"),
            "lmjm": ex.lmjm, "mid_mjd": ex.mid, "transparency": transparency,
            "alt_lamp": ex.lamp, "lunardate": ex.lday,
        }),
    )
    measured = w.measured_table()
    # Short upper-case keys: they are FITS header keywords too.
    provenance = {"ORIGIN": "lkmrs_sched.synth.synth", "SEED": str(ss.entropy),
                  "SEEDKEY": str(ss.spawn_key), "SCENARIO": scenario.name,
                  "SCENHASH": scenario.hash}
    for t in (measured, truth.stars, truth.spectra, truth.exposures):
        t.meta.update(provenance)
    return measured, truth


def _synthesize_plates(cat: Catalogue, ex: _Exposures, plate_of: np.ndarray, n_plates: int,
                       model: SNRLike, scenario, ss: np.random.SeedSequence
                       ) -> tuple[_Writer, np.ndarray]:
    """All spectra, plate by plate in chunks of exposures; and each exposure's transparency."""
    law = published_laws()
    n_sp = cat.fibres.throughput.shape[0]
    zp_slow = np.stack([zero_point_drift(s + 1, ex.mid, ss, scenario.snr) for s in range(n_sp)])
    n_obj = np.bincount(cat.plate, minlength=n_plates)
    w = _Writer(int(n_obj[plate_of].sum()))
    star_cols = _star_columns(cat.stars)
    transparency = np.empty(len(ex.lk))
    first = 0
    for p in range(n_plates):
        rows = cat.rows_of(p)
        e_all = np.flatnonzero(plate_of == p)
        # Chunks of ~CHUNK spectra keep the work arrays small and reused (no page faults).
        n_chunks = max(1, int(np.ceil(len(e_all) * len(rows) / CHUNK)))
        for e_idx in np.array_split(e_all, n_chunks):
            if len(e_idx) == 0:
                continue
            blk = _plate_block(e_idx, rows, cat, ex, zp_slow, model, law, scenario, ss)
            transparency[e_idx] = blk.pop("transparency")
            w.fill(first, e_idx, rows, cat, ex, star_cols, blk)
            first += len(e_idx) * len(rows)
    return w, transparency


@dataclass(frozen=True)
class _Exposures:
    """Per-exposure values of the LK-MRS exposures (parallel arrays)."""

    lk: Table
    exp_id: np.ndarray
    night: np.ndarray
    night_mjd: np.ndarray
    start: np.ndarray
    mid: np.ndarray
    lmjm: np.ndarray
    plan_key: np.ndarray
    planid: np.ndarray
    lday: np.ndarray
    lamp: np.ndarray
    cloud_night: np.ndarray


def _exposure_info(lk: Table, plate_of: np.ndarray, plates: PlateSet,
                   ss: np.random.SeedSequence, cfg, lunar_days: Mapping[str, int] | None,
                   where: str) -> _Exposures:
    night = np.asarray(lk["night"]).astype(str)
    night_mjd = iso_date_mjd(night, f"{where}: exposures night")
    start = np.asarray(lk["start_mjd"], float)
    lday = np.array([(lunar_days or {}).get(n, 0) for n in night.tolist()], np.int16)
    miss = lday == 0
    if miss.any():  # nights the log's nights table lacks (imported logs): the almanac's rule
        lday[miss] = lunar_days_of(night[miss])
    lamp, cloud_night = night_effects(night_mjd, ss, cfg, f"{where}: [snr]")
    planid = plates.plan_id[plate_of].astype(str)
    return _Exposures(
        lk=lk,
        exp_id=np.asarray(lk["exposure_id"], np.int64),
        night=night,
        night_mjd=night_mjd,
        start=start,
        mid=mid_exposure_mjd(lk),
        lmjm=np.asarray(lk["lmjm"], np.int64),
        plan_key=np.array([plan_key(p) for p in planid.tolist()], np.int64),
        planid=planid,
        lday=lday,
        lamp=lamp,
        cloud_night=cloud_night,
    )


def _plate_block(e_idx: np.ndarray, rows: np.ndarray, cat: Catalogue, ex: _Exposures,
                 zp_slow: np.ndarray, model: SNRLike, law: Mapping[str, PrecisionLaw], scenario,
                 ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """S/N, true and measured values of one plate's exposures × objects."""
    cfg = scenario.snr
    stars = cat.stars
    st = cat.star[rows]
    spid0, _ = fibre_indices(cat, rows)
    blk = exposure_block(model, cat, rows, ex.lk, e_idx, ex.plan_key, ss, scenario,
                         ex.cloud_night)
    noise, tr, thr = blk.noise, blk.transparency, blk.throughput
    snr_b, snr_r = blk.snr["blue"], blk.snr["red"]
    # True RVs at mid-exposure; Kepler's equation only for the binaries.
    rv = np.broadcast_to(stars.rv_systemic[st], snr_b.shape).copy()
    b = np.flatnonzero(stars.binary[st])
    if len(b):
        rv[:, b] = stars.take(st[b]).rv(ex.mid[e_idx, None])
    # Zero point per (spectrograph, exposure): slow drift + jitter; lamp offset on top.
    zp_unit = zp_slow[:, e_idx].T + cfg.zero_point_jitter.to_value(u.km / u.s) * noise.zp_z
    zp = zp_unit[:, spid0]
    shift = zp + cfg.alt_lamp_offset.to_value(u.km / u.s) * ex.lamp[e_idx, None]
    out = measure(snr_b, snr_r, rv + shift, stars.teff[st], stars.logg[st], stars.feh[st],
                  noise.zs, noise.us, law, cfg)
    out.update(rv_true=rv, zp=zp, snr_b=snr_b, snr_r=snr_r, thr=thr, transparency=tr)
    return out


def measure(snr_b: np.ndarray, snr_r: np.ndarray, rv_obs: np.ndarray, teff: np.ndarray,
            logg: np.ndarray, feh: np.ndarray, zs: np.ndarray, us: np.ndarray,
            law: Mapping[str, PrecisionLaw], cfg) -> dict[str, np.ndarray]:
    """Arm RVs and LASP parameters with their errors (NaN where not measured).

    Parameters
    ----------
    snr_b, snr_r : ndarray, shape (n_exp, n_obj)
        S/N per arm.
    rv_obs : ndarray, shape (n_exp, n_obj)
        True RV plus zero point and lamp offset, km/s.
    teff, logg, feh : ndarray, shape (n_obj,)
        True parameters, K, dex, dex.
    zs, us : ndarray, shapes (13, n_exp, n_obj) and (7, n_exp, n_obj)
        Normal and uniform deviates (rows 1–12 of ``zs`` and 0–6 of ``us`` are used).
    law : mapping of str to PrecisionLaw
        Table 4 laws (:func:`lkmrs_sched.core.precision.published_laws`); the noise
        follows their extended form (:meth:`~lkmrs_sched.core.precision.PrecisionLaw.extended`).
    cfg : SNRConfig

    Returns
    -------
    dict
        ``rv_b, rv_b_err, rv_r, rv_r_err`` and ``teff, logg, feh, rv`` with ``_err``
        (LASP; ``rv`` is rv_lasp0), each (n_exp, n_obj), in km/s, K, dex.
    """
    out: dict[str, np.ndarray] = {}
    f_out, f_rv, k_out = cfg.outlier_fraction, cfg.rv_outlier_fraction, cfg.outlier_scale
    scat = cfg.lasp_error_scatter
    for i, (arm, snr) in enumerate((("b", snr_b), ("r", snr_r))):
        sig = law["rv"].extended(snr)
        ok = snr >= cfg.rv_min_snr
        noise = measurement_noise(zs[1 + i], us[1 + i], sig, f_rv, k_out)
        out[f"rv_{arm}"] = np.where(ok, rv_obs + noise, np.nan)
        out[f"rv_{arm}_err"] = np.where(ok, sig * np.exp(scat * zs[11 + i] - 0.5 * scat**2),
                                        np.nan)
    in_range = (teff >= cfg.lasp_teff_min.to_value(u.K)) & (teff <= cfg.lasp_teff_max.to_value(
        u.K))
    runs = in_range[None, :] & ((snr_b >= cfg.lasp_snr_min) | (
        (snr_b >= cfg.lasp_low_snr_min) & (us[0] < cfg.lasp_low_snr_fraction)))
    truth = {"teff": teff[None, :], "logg": logg[None, :], "feh": feh[None, :], "rv": rv_obs}
    for i, par in enumerate(PARAMS):
        sig = law[par].extended(snr_b)
        frac = f_rv if par == "rv" else f_out
        val = truth[par] + measurement_noise(zs[3 + i], us[3 + i], sig, frac, k_out)
        err = cfg.lasp_error_scale * sig * np.exp(scat * zs[7 + i] - 0.5 * scat**2)
        out[par] = np.where(runs, val, np.nan)
        out[par + "_err"] = np.where(runs, err, np.nan)
    return out


def _star_columns(stars) -> dict[str, np.ndarray]:
    return {
        "uid": stars.uid,
        "gp_id": stars.gp_id,
        "designation": stars.designation,
        "ra_obs": stars.ra_deg,
        "dec_obs": stars.dec_deg,
        "gaia_source_id": GAIA_ID_OFFSET + stars.gp_id,
        "gaia_g_mean_mag": stars.gmag,
        "objtype": np.where(stars.kind == 0, b"target", b"flux_std").astype("S8"),
    }


#: Measured columns filled from the per-arm block values: (B source, R source).
_ARM_SOURCES = {
    "snr": ("snr_b", "snr_r"), "rv_b0": ("rv_b", None), "rv_b0_err": ("rv_b_err", None),
    "rv_r0": (None, "rv_r"), "rv_r0_err": (None, "rv_r_err"), "rv_lasp0": ("rv", None),
    "rv_lasp0_err": ("rv_err", None), "teff_lasp": ("teff", None),
    "teff_lasp_err": ("teff_err", None), "logg_lasp": ("logg", None),
    "logg_lasp_err": ("logg_err", None), "feh_lasp": ("feh", None),
    "feh_lasp_err": ("feh_err", None),
}
_TRUTH_SPECTRA = {
    "obsid": "i8", "uid": "S12", "exposure_id": "i8", "rv_true": "f8", "rv_zero_point": "f4",
    "alt_lamp": "?", "throughput": "f4", "snr_b": "f4", "snr_r": "f4",
}


class _Writer:
    """Output columns, filled plate block by plate block with broadcasting copies.

    A plate block of ``n_e`` exposures × ``n`` objects occupies 2·n_e·n consecutive rows,
    viewed as an array of shape (n_e, n, 2): per-exposure values broadcast along the
    objects, per-object values along the exposures, per-arm values go to ``[..., 0]`` (B)
    and ``[..., 1]`` (R).
    """

    def __init__(self, n_spec: int):
        self.n_spec = n_spec
        self.cols = {k: np.empty(2 * n_spec, d) for k, d in COLUMNS.items()}
        self.truth = {k: np.empty(n_spec, d) for k, d in _TRUTH_SPECTRA.items()}

    def fill(self, first: int, e_idx: np.ndarray, rows: np.ndarray, cat: Catalogue,
             ex: _Exposures, star_cols: dict, blk: dict) -> None:
        """Write one plate block whose first spectrum has index ``first``."""
        n_e, n = len(e_idx), len(rows)
        t0, t1 = first, first + n_e * n
        lo, hi = 2 * t0, 2 * t1
        st = cat.star[rows]
        spid, fib = cat.spid[rows], cat.fiberid[rows]
        dead = dead_fibres(cat, rows)
        moon_alt = np.asarray(ex.lk["moon_altitude_deg"], float)[e_idx]
        per_exp = {
            "obsdate": ex.night[e_idx].astype("S10"),
            "lmjd": ex.night_mjd[e_idx] + 1,
            "mjd": np.floor(ex.start[e_idx]),
            "planid": ex.planid[e_idx].astype("S18"),
            "lmjm": ex.lmjm[e_idx],
            "moon_angle": np.asarray(ex.lk["moon_separation_deg"], float)[e_idx],
            "lunardate": ex.lday[e_idx],
            "moon_flg": moon_alt > 0,
            "alt_lamp": ex.lamp[e_idx],
        }
        per_obj = {k: v[st] for k, v in star_cols.items()}
        per_obj.update(spid=spid, fiberid=fib, kic_id=cat.kic_id[rows],
                       epic_id=cat.epic_id[rows], fibermask=dead)
        obsid = ex.exp_id[e_idx, None] * 100000 + spid.astype(np.int64) * 1000 + fib
        for name, col in self.cols.items():
            v = col[lo:hi].reshape(n_e, n, 2)
            if name in per_exp:
                v[...] = per_exp[name][:, None, None]
            elif name in per_obj:
                v[...] = per_obj[name][None, :, None]
            elif name == "obsid":
                v[...] = obsid[:, :, None]
            elif name == "band":
                v[..., 0], v[..., 1] = b"B", b"R"
            elif name in ("bad_b", "bad_r"):
                v[...] = (dead[None, :] | (blk["snr_" + name[-1]] < 1))[:, :, None]
            else:
                src_b, src_r = _ARM_SOURCES[name]
                v[..., 0] = np.nan if src_b is None else blk[src_b]
                v[..., 1] = np.nan if src_r is None else blk[src_r]
        tv = {k: c[t0:t1].reshape(n_e, n) for k, c in self.truth.items()}
        tv["obsid"][...] = obsid
        tv["uid"][...] = per_obj["uid"][None, :]
        tv["exposure_id"][...] = ex.exp_id[e_idx, None]
        tv["rv_true"][...] = blk["rv_true"]
        tv["rv_zero_point"][...] = blk["zp"]
        tv["alt_lamp"][...] = ex.lamp[e_idx, None]
        tv["throughput"][...] = blk["thr"]
        tv["snr_b"][...] = blk["snr_b"]
        tv["snr_r"][...] = blk["snr_r"]

    def measured_table(self) -> Table:
        t = Table(self.cols, copy=False)
        for name, unit in UNITS.items():
            t[name].unit = unit
        return t

    def truth_table(self) -> Table:
        return Table(self.truth, copy=False)


def _truth_stars(cat: Catalogue, exposures_per_plate: np.ndarray) -> Table:
    s = cat.stars
    n_spectra = np.bincount(cat.star, weights=exposures_per_plate[cat.plate], minlength=len(s))
    first = np.full(len(s), -1, np.int64)
    first[cat.star[::-1]] = np.arange(len(cat.star))[::-1]
    return Table({
        "uid": s.uid, "gp_id": s.gp_id,
        "objtype": np.where(s.kind == 0, b"target", b"flux_std").astype("S8"),
        "ra": s.ra_deg, "dec": s.dec_deg, "gmag": s.gmag, "teff": s.teff, "logg": s.logg,
        "feh": s.feh, "rv_systemic": s.rv_systemic, "giant": s.giant, "component": s.component,
        "binary": s.binary, "mass1": s.mass1, "mass2": s.mass2, "q": s.q,
        "period_d": s.period_d, "ecc": s.ecc, "omega_deg": np.degrees(s.omega_rad),
        "incl_deg": s.incl_deg, "t_peri_mjd": s.t_peri_mjd, "k1_kms": s.k1_kms,
        "kic_id": cat.kic_id[first], "epic_id": cat.epic_id[first],
        "n_plates": np.bincount(cat.star, minlength=len(s)),
        "n_spectra": n_spectra.astype(np.int64),
    })


def summarize(measured: Table, snr_high: float = 10.0) -> dict:
    """Counts for ``synth_summary.json``.

    Returns
    -------
    dict
        Spectra per arm, spectra with S/N > ``snr_high`` per arm, share with S/N < 2,
        distinct targets with blue S/N > ``snr_high``, spectra and targets with LASP
        parameters.
    """
    band = np.asarray(measured["band"])
    snr = np.asarray(measured["snr"])
    blue = band == b"B" if band.dtype.kind == "S" else band == "B"
    uid = np.asarray(measured["uid"])
    target = np.asarray(measured["objtype"])
    target = target == (b"target" if target.dtype.kind == "S" else "target")
    lasp = blue & np.isfinite(np.asarray(measured["teff_lasp"]))
    out = {
        "spectra": {"B": int(blue.sum()), "R": int((~blue).sum())},
        f"spectra_snr_gt_{snr_high:g}": {"B": int((blue & (snr > snr_high)).sum()),
                                          "R": int((~blue & (snr > snr_high)).sum())},
        "share_snr_lt_2": {"B": float(np.mean(snr[blue] < 2)) if blue.any() else 0.0,
                           "R": float(np.mean(snr[~blue] < 2)) if (~blue).any() else 0.0},
        f"targets_blue_snr_gt_{snr_high:g}": len(np.unique(
            uid[blue & target & (snr > snr_high)])),
        "spectra_with_lasp": int(lasp.sum()),
        "targets_with_lasp": len(np.unique(uid[lasp & target])),
        "flux_standards_with_lasp": len(np.unique(uid[lasp & ~target])),
        "exposures": len(np.unique(np.asarray(measured["obsid"]) // 100000)),
        "plates": len(np.unique(np.asarray(measured["planid"]))),
    }
    return out


# --- output ---------------------------------------------------------------------------


#: Extensions :func:`write_table` writes.
TABLE_EXTENSIONS = (".fits", ".fit", ".parquet", ".vot", ".xml", ".votable", ".ecsv")


def write_table(table: Table, path: str | Path) -> Path:
    """Write a synthesis table atomically: FITS, Parquet, VOTable or ECSV by extension.

    Columns carry their units (``dex`` for log g and [Fe/H]), descriptions and UCDs
    (:mod:`lkmrs_sched.core.tablemeta`); ``table.meta`` goes to the FITS header or the
    table metadata. Every format but Parquet reads back with astropy's ``Table.read``
    without pandas (see :func:`lkmrs_sched.core.atomic.write_table`).

    Raises
    ------
    InputError
        If the extension is none of :data:`TABLE_EXTENSIONS`.
    """
    from lkmrs_sched.core.atomic import write_table as write_annotated

    p = Path(path)
    if p.suffix.lower() not in TABLE_EXTENSIONS:
        raise InputError("path", str(p), "a file ending in .fits, .parquet, .vot/.xml or .ecsv",
                         "unknown format")
    return write_annotated(table, p)


def read_table(path: str | Path) -> Table:
    """Read a table written by :func:`write_table` (string columns come back as str)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), ..., "a table written by lkmrs-sched synth", "no such file")
    if p.suffix.lower() == ".parquet":
        from lkmrs_sched.core.atomic import read_parquet

        return read_parquet(p)
    return Table.read(p)
