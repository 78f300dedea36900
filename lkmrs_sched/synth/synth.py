"""Synthetic per-exposure LAMOST MRS measurements of the LK-MRS targets.

:func:`synthesize` turns exposures (an observation log's ``exposures`` table) into a
table with the layout of the LAMOST DR8 ``MRS_catalogue``/``MRS_stellar`` tables: one row
per spectrum and arm (``band`` "B" or "R"; the two rows of a spectrum share ``obsid``),
and keeps the truth (stars, orbits, true RVs, injected zero points) in separate tables
so the reduction cannot peek.

Pipeline per plate (vectorised over the plate's exposures × objects):

1. The catalogue (:func:`lkmrs_sched.synth.fibres.build_catalogue`): stars by Table 1
   priority class, fibres, sky fibres; with ``engineering=True`` also the test plates of
   the engineering exposures (:func:`lkmrs_sched.synth.exposures.with_engineering`).
2. Conditions per exposure from the log; transparency from an exponential cloud model
   (a night part and an exposure part), or the nominal value (``transparency_model =
   "clear"``), or a ``transparency`` column when the log has one.
3. S/N per arm from :mod:`lkmrs_sched.synth.snr`, with the fibre's throughput, its
   spectrograph arm's efficiency and a per-exposure log-normal jitter.
4. Measurements: true value + core noise + star-correlated variation + a small tail.
   The core law σ_core = a·(S/N)^b + c (``[snr] core_teff … core_rv``) lies *below*
   Table 4: it was solved (``tools/fit_synth.py``) so that the reduction's own procedure
   on synthetic data — core noise plus the binaries' orbits, the variables' epoch scatter
   (``[population] variable_fraction``: ``variable_scale`` × Table 4's σ at S/N 20 for
   the RVs, × ``variable_parameter_factor`` for the parameters) and an independent tail
   (``outlier_fraction``, ``rv_outlier_fraction``, ``outlier_scale`` × σ_core) — returns
   Table 4 and ~5 % RV points beyond the final 6σ clip, as the paper found. Below S/N 8
   (where Eq. 4 was not fitted) σ scales as 1/(S/N) from its S/N = 8 value. LASP's
   quoted errors follow Table 4. LASP (Teff, log g, [Fe/H], rv_lasp0) runs on blue
   spectra above ``lasp_snr_min`` (and on a share between ``lasp_low_snr_min`` and it)
   and succeeds star by star (:func:`lasp_success`: Teff, the star's nominal S/N,
   double-lined binaries); arm RVs (rv_b0, rv_r0) need ``rv_min_snr``.
5. Every RV gets the zero point of its (spectrograph, exposure): a per-spectrograph
   Ornstein–Uhlenbeck drift (RMS ``zero_point_sigma``, correlation time
   ``zero_point_timescale``) sampled on a fixed daily grid, plus a per-exposure jitter,
   plus the constant ``rv_absolute_offset`` of the MRS scale (which only reference RVs,
   :mod:`lkmrs_sched.synth.reference`, can remove), plus ``alt_lamp_offset`` (+6.5 km/s)
   on nights flagged as calibrated with the alternate arc lamp (nights before
   ``alt_lamp_until``, each with chance ``alt_lamp_fraction``).
6. Spectra of lost spectrograph arms (:mod:`lkmrs_sched.synth.exposures`) are left out.

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
    nominal_snr,
    plan_key,
    stream_seed,
    with_engineering,
)
from lkmrs_sched.synth.fibres import Catalogue, build_catalogue
from lkmrs_sched.synth.population import CLASS_NAMES
from lkmrs_sched.synth.reference import GAIA_ID_OFFSET
from lkmrs_sched.synth.snr import SNRLike, measurement_noise, model_from_config

ZP_GRID_START_MJD, ZP_GRID_DAYS = 57000, 8000
PARAMS = ("teff", "logg", "feh", "rv")
#: A variable star's extra scatter is ``variable_scale`` × Table 4's σ at this S/N.
VARIABLE_REFERENCE_SNR = 20.0
#: LASP's double-lined binaries: mass ratio at least this, period below this (days).
SB2_MIN_Q, SB2_MAX_PERIOD_D = 0.8, 1e4
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
        incl_deg, t_peri_mjd, k1_kms, catalogue_class`` (KO, KNO, Gaia) ``,
        kepler_observed`` (the KO flag) ``, variable, variable_scale, lasp_difficulty, sb2,
        kic_id, epic_id, n_plates, n_spectra`` — every star of every plate in the plate
        set, observed (``n_spectra > 0``) or not (``n_spectra`` counts object-exposures,
        lost arms included).
    spectra : Table
        One row per spectrum, keyed by ``obsid``: ``uid, exposure_id, rv_true`` (km/s, at
        mid-exposure), ``rv_zero_point`` (km/s: the unit's drift and jitter plus
        ``rv_absolute_offset``, lamp offset excluded), ``alt_lamp``, ``throughput``,
        ``snr_b``, ``snr_r`` — spectra with at least one catalogued arm.
    exposures : Table
        One row per LK-MRS exposure: ``exposure_id, planid, lmjm, mid_mjd, transparency,
        alt_lamp, lunardate, engineering``.
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
    engineering: bool = False,
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
        same plates, configuration and seed; with ``engineering``, with the plates and
        assignment IDs of :func:`lkmrs_sched.synth.exposures.with_engineering`).
    engineering : bool
        Add the engineering exposures up to the log's last night
        (:func:`lkmrs_sched.synth.exposures.with_engineering`): epochs for the stars, no
        LK-MRS time. ``lkmrs-sched synth`` does.

    Returns
    -------
    measured : Table
        One row per catalogued spectrum and arm, columns :data:`COLUMNS` (DR8 names plus
        extras). Rows are grouped by plate (in plate-set order), then exposure (log
        order), then spectrograph and fibre; a spectrum's B row comes right before its R
        row. Spectra of lost spectrograph arms are left out (module
        :mod:`lkmrs_sched.synth.exposures`), so some spectra have one arm only.
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
    layouts = None
    if engineering:
        exposures, plates, layouts = with_engineering(exposures, plates, scenario)
    lk, plate_of = lkmrs_exposures(exposures, plates, where)
    cat = catalogue or build_catalogue(plates, scenario.population, ss,
                                       f"{where}: [population]", layouts)
    ex = _exposure_info(lk, plate_of, plates, ss, scenario.snr, lunar_days, where)
    w, transparency = _synthesize_plates(cat, ex, plate_of, len(plates), model, scenario, ss)
    truth = Truth(stars=_truth_stars(cat, np.bincount(plate_of, minlength=len(plates))),
                  spectra=w.truth_table(),
                  exposures=_truth_exposures(ex, plates.plan_id[plate_of], transparency))
    measured = w.measured_table()
    # Short upper-case keys: they are FITS header keywords too.
    provenance = {"ORIGIN": "lkmrs_sched.synth.synth", "SEED": str(ss.entropy),
                  "SEEDKEY": str(ss.spawn_key), "SCENARIO": scenario.name,
                  "SCENHASH": scenario.hash}
    for t in (measured, truth.stars, truth.spectra, truth.exposures):
        t.meta.update(provenance)
    return measured, truth


def _truth_exposures(ex: _Exposures, planid: np.ndarray, transparency: np.ndarray) -> Table:
    """The truth's exposures table (one row per LK-MRS exposure, engineering ones too)."""
    lk = ex.lk
    return Table({
        "exposure_id": ex.exp_id, "planid": planid.astype("S18"), "lmjm": ex.lmjm,
        "mid_mjd": ex.mid, "transparency": transparency, "alt_lamp": ex.lamp,
        "lunardate": ex.lday,
        "engineering": (np.asarray(lk["engineering"], bool) if "engineering" in lk.colnames
                        else np.zeros(len(lk), bool)),
    })


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
            w.fill(e_idx, rows, cat, ex, star_cols, blk)
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
    # Zero point per (spectrograph, exposure): slow drift + jitter + the constant absolute
    # offset of the MRS scale; the lamp offset on top.
    zp_unit = zp_slow[:, e_idx].T + cfg.zero_point_jitter.to_value(u.km / u.s) * noise.zp_z
    zp = zp_unit[:, spid0] + cfg.rv_absolute_offset.to_value(u.km / u.s)
    shift = zp + cfg.alt_lamp_offset.to_value(u.km / u.s) * ex.lamp[e_idx, None]
    out = measure(snr_b, snr_r, rv + shift, stars.take(st), noise.zs, noise.us, law, cfg,
                  nominal_snr(model, cat, rows, cfg), scenario.population)
    out.update(rv_true=rv, zp=zp, snr_b=snr_b, snr_r=snr_r, thr=thr, transparency=tr,
               kept_b=blk.catalogued["blue"], kept_r=blk.catalogued["red"])
    return out


def core_laws(cfg) -> dict[str, PrecisionLaw]:
    """The core noise laws of ``[snr]`` (``core_teff`` … ``core_rv``), per parameter."""
    return {par: PrecisionLaw(*getattr(cfg, f"core_{par}")) for par in PARAMS}


def is_sb2(stars) -> np.ndarray:
    """Double-lined binaries for LASP: q ≥ :data:`SB2_MIN_Q` and P < :data:`SB2_MAX_PERIOD_D`."""
    return stars.binary & (stars.q >= SB2_MIN_Q) & (stars.period_d < SB2_MAX_PERIOD_D)


def lasp_success(snr_b: np.ndarray, snr_star: np.ndarray, teff: np.ndarray,
                 lasp_u: np.ndarray, sb2: np.ndarray, u_low: np.ndarray, cfg) -> np.ndarray:
    """Whether LASP gives parameters for each blue spectrum, shape (n_e, n).

    LASP runs on spectra with S/N ≥ ``lasp_snr_min`` and on a share
    ``lasp_low_snr_fraction`` of those from ``lasp_low_snr_min`` (uniforms ``u_low``),
    for stars within ``lasp_teff_min … lasp_teff_max``. A star's chance that LASP works
    for it is

        p = p_T(Teff) · (1 − exp(−(S/N★ − lasp_snr_zero) / lasp_snr_scale)) · f_SB2

    where S/N★ is the star's own blue S/N on its fibre at the nominal conditions (how good
    its spectra typically are, :func:`lkmrs_sched.synth.exposures.nominal_snr`), p_T = 1
    in the trusted range (``lasp_trusted_teff_*``, 3500–7500 K) falling linearly to 0 at
    the limits, and f_SB2 = ``lasp_sb2_factor`` for double-lined binaries. LASP works on
    every spectrum it runs on where the star's ``lasp_u`` < p, and on none elsewhere:
    failures belong to the star (per plate, since the fibre enters S/N★). Failures that
    vary from epoch to epoch, or follow each epoch's S/N, give a target success *above*
    the spectra success; the paper has 75 % against 92 % (``tools/fit_synth.py``).

    Parameters
    ----------
    snr_b : ndarray, shape (n_e, n)
        Blue S/N of each spectrum.
    snr_star : ndarray, shape (n,)
        Each object's nominal blue S/N on its fibre.
    teff, lasp_u : ndarray, shape (n,)
        True Teff (K) and LASP difficulty (uniform) of each object.
    sb2 : ndarray of bool, shape (n,)
        Double-lined binaries (:func:`is_sb2`).
    u_low : ndarray, shape (n_e, n)
        Uniforms of the 8 ≤ S/N < 10 selection.
    """
    t_lo, t_hi = cfg.lasp_teff_min.to_value(u.K), cfg.lasp_teff_max.to_value(u.K)
    tr_lo, tr_hi = cfg.lasp_trusted_teff_min.to_value(u.K), cfg.lasp_trusted_teff_max.to_value(
        u.K)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_t = np.clip(np.minimum((teff - t_lo) / max(tr_lo - t_lo, 1e-9),
                                 (t_hi - teff) / max(t_hi - tr_hi, 1e-9)), 0.0, 1.0)
    p = p_t * np.where(sb2, cfg.lasp_sb2_factor, 1.0) * -np.expm1(
        -np.maximum(snr_star - cfg.lasp_snr_zero, 0.0) / cfg.lasp_snr_scale)
    star_ok = (teff >= t_lo) & (teff <= t_hi) & (lasp_u < p)
    return star_ok[None, :] & ((snr_b >= cfg.lasp_snr_min) | (
        (snr_b >= cfg.lasp_low_snr_min) & (u_low < cfg.lasp_low_snr_fraction)))


def measure(snr_b: np.ndarray, snr_r: np.ndarray, rv_obs: np.ndarray, stars,
            zs: np.ndarray, us: np.ndarray, law: Mapping[str, PrecisionLaw], cfg,
            snr_star: np.ndarray, pop) -> dict[str, np.ndarray]:
    """Arm RVs and LASP parameters with their errors (NaN where not measured).

    Every measurement is truth + core noise (the ``[snr] core_*`` law, extended below
    S/N 8 as :meth:`~lkmrs_sched.core.precision.PrecisionLaw.extended`) with a small
    independent tail (``outlier_fraction``, ``rv_outlier_fraction``, ``outlier_scale``),
    plus, for variable stars, their own epoch scatter in quadrature: ``variable_scale`` ×
    Table 4's σ at S/N 20 for the RVs, times ``[population] variable_parameter_factor``
    for Teff, log g and [Fe/H]. Binaries' RVs move with their orbits (in ``rv_obs``).
    LASP's errors follow Table 4 (``law``) with a log-normal scatter; which spectra get
    LASP parameters is :func:`lasp_success`.

    Parameters
    ----------
    snr_b, snr_r : ndarray, shape (n_exp, n_obj)
        S/N per arm.
    rv_obs : ndarray, shape (n_exp, n_obj)
        True RV plus zero point and lamp offset, km/s.
    stars : Stars
        The objects (``teff, logg, feh, variable_scale, lasp_u, binary, q, period_d``).
    zs, us : ndarray, shapes (13, n_exp, n_obj) and (7, n_exp, n_obj)
        Normal and uniform deviates (rows 1–12 of ``zs`` and 0–6 of ``us`` are used).
    law : mapping of str to PrecisionLaw
        Table 4 laws (:func:`lkmrs_sched.core.precision.published_laws`).
    cfg : SNRConfig
    snr_star : ndarray, shape (n_obj,)
        Each object's nominal blue S/N on its fibre (for :func:`lasp_success`).
    pop : PopulationConfig
        ``variable_parameter_factor``.

    Returns
    -------
    dict
        ``rv_b, rv_b_err, rv_r, rv_r_err`` and ``teff, logg, feh, rv`` with ``_err``
        (LASP; ``rv`` is rv_lasp0), each (n_exp, n_obj), in km/s, K, dex.
    """
    out: dict[str, np.ndarray] = {}
    core = core_laws(cfg)
    scat = cfg.lasp_error_scatter
    extra = variable_scatter(stars, law, pop)
    for i, (arm, snr) in enumerate((("b", snr_b), ("r", snr_r))):
        ok = snr >= cfg.rv_min_snr
        noise = measurement_noise(zs[1 + i], us[1 + i], core["rv"].extended(snr),
                                  cfg.rv_outlier_fraction, cfg.outlier_scale, extra["rv"])
        out[f"rv_{arm}"] = np.where(ok, rv_obs + noise, np.nan)
        err = law["rv"].extended(snr) * np.exp(scat * zs[11 + i] - 0.5 * scat**2)
        out[f"rv_{arm}_err"] = np.where(ok, err, np.nan)
    runs = lasp_success(snr_b, snr_star, stars.teff, stars.lasp_u, is_sb2(stars), us[0], cfg)
    truth = {"teff": stars.teff[None, :], "logg": stars.logg[None, :],
             "feh": stars.feh[None, :], "rv": rv_obs}
    lasp = lasp_measurements(snr_b, truth, zs, us, law, cfg, extra)
    for name, value in lasp.items():
        out[name] = np.where(runs, value, np.nan)
    return out


def variable_scatter(stars, law: Mapping[str, PrecisionLaw], pop) -> dict[str, np.ndarray]:
    """Each object's own epoch scatter per parameter (0 for non-variable stars).

    ``variable_scale`` × Table 4's σ (``law``) at :data:`VARIABLE_REFERENCE_SNR` for RV
    (km/s), times ``pop.variable_parameter_factor`` for Teff (K), log g and [Fe/H] (dex);
    shape (n,) each, in the order of ``stars``.
    """
    factor = {"rv": 1.0}
    return {par: stars.variable_scale * float(law[par](VARIABLE_REFERENCE_SNR))
            * factor.get(par, pop.variable_parameter_factor) for par in PARAMS}


def lasp_measurements(snr_b: np.ndarray, truth: Mapping[str, np.ndarray], zs: np.ndarray,
                      us: np.ndarray, law: Mapping[str, PrecisionLaw], cfg,
                      extra: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """LASP's Teff, log g, [Fe/H] and RV with their quoted errors, wherever LASP runs.

    The one implementation of LASP's error model, used by :func:`measure` on a plate's
    exposures × objects and by the per-star fast path
    (:func:`lkmrs_sched.synth.outcomes.block_measurements`) on the spectra LASP runs on.
    Values are truth + core noise (``[snr] core_*``, extended below S/N 8) with the
    independent tail (``outlier_fraction``, ``rv_outlier_fraction``, ``outlier_scale``)
    and the object's ``extra`` scatter in quadrature
    (:func:`lkmrs_sched.synth.snr.measurement_noise`); quoted errors are
    ``lasp_error_scale`` × Table 4's σ with a log-normal scatter ``lasp_error_scatter``.

    Parameters
    ----------
    snr_b : ndarray
        Blue S/N of each spectrum, any shape S.
    truth : mapping of str to ndarray
        True ``teff`` (K), ``logg``, ``feh`` (dex), ``rv`` (km/s; for synth including the
        zero point), broadcastable to S.
    zs, us : ndarray, shapes (≥ 11, *S) and (≥ 7, *S)
        The per-exposure stream's normals and uniforms at these spectra (rows 3–6 of
        ``zs`` and ``us``: the values, rows 7–10 of ``zs``: the quoted errors).
    law : mapping of str to PrecisionLaw
        Table 4 (:func:`lkmrs_sched.core.precision.published_laws`).
    cfg : SNRConfig
    extra : mapping of str to ndarray
        Each spectrum's object's own scatter (:func:`variable_scatter`), broadcastable
        to S.

    Returns
    -------
    dict
        ``teff, logg, feh, rv`` and the same with ``_err``, shape S each.
    """
    core = core_laws(cfg)
    scat = cfg.lasp_error_scatter
    out: dict[str, np.ndarray] = {}
    for i, par in enumerate(PARAMS):
        frac = cfg.rv_outlier_fraction if par == "rv" else cfg.outlier_fraction
        out[par] = truth[par] + measurement_noise(zs[3 + i], us[3 + i],
                                                  core[par].extended(snr_b), frac,
                                                  cfg.outlier_scale, extra[par])
        out[par + "_err"] = cfg.lasp_error_scale * law[par].extended(snr_b) * np.exp(
            scat * zs[7 + i] - 0.5 * scat**2)
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

    A plate block of ``n_e`` exposures × ``n`` objects is first written to scratch
    columns of 2·n_e·n rows, viewed as an array of shape (n_e, n, 2): per-exposure values
    broadcast along the objects, per-object values along the exposures, per-arm values go
    to ``[..., 0]`` (B) and ``[..., 1]`` (R). Its catalogued rows (not of a lost
    spectrograph arm) are then appended to the output columns, so the table is built in
    one pass and the scratch stays in cache.
    """

    def __init__(self, n_spec: int):
        self.n_spec = n_spec
        self.cols = {k: np.empty(2 * n_spec, d) for k, d in COLUMNS.items()}
        self.truth = {k: np.empty(n_spec, d) for k, d in _TRUTH_SPECTRA.items()}
        self.pos = self.pos_t = 0
        self._scratch: dict[str, np.ndarray] = {}

    def _scratch_for(self, m: int) -> dict[str, np.ndarray]:
        """Scratch columns of at least ``m`` spectra (2·m rows), reused between blocks."""
        if not self._scratch or len(self._scratch["obsid"]) < 2 * m:
            self._scratch = {k: np.empty(2 * m, d) for k, d in COLUMNS.items()}
        return self._scratch

    def fill(self, e_idx: np.ndarray, rows: np.ndarray, cat: Catalogue, ex: _Exposures,
             star_cols: dict, blk: dict) -> None:
        """Append the catalogued rows of one plate block."""
        n_e, n = len(e_idx), len(rows)
        m = n_e * n
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
        keep = np.stack([blk["kept_b"], blk["kept_r"]], axis=-1).ravel()
        k = int(np.count_nonzero(keep))
        scratch = self._scratch_for(m)
        for name, col in scratch.items():
            v = col[:2 * m].reshape(n_e, n, 2)
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
            self.cols[name][self.pos:self.pos + k] = col[:2 * m][keep]
        self.pos += k
        self._fill_truth(e_idx, obsid, per_obj["uid"], ex, blk)

    def _fill_truth(self, e_idx: np.ndarray, obsid: np.ndarray, uid: np.ndarray,
                    ex: _Exposures, blk: dict) -> None:
        """Append the truth rows of the block's spectra with at least one catalogued arm."""
        any_arm = (blk["kept_b"] | blk["kept_r"]).ravel()
        k = int(np.count_nonzero(any_arm))
        shape = obsid.shape
        values = {
            "obsid": obsid, "uid": np.broadcast_to(uid[None, :], shape),
            "exposure_id": np.broadcast_to(ex.exp_id[e_idx, None], shape),
            "rv_true": blk["rv_true"], "rv_zero_point": blk["zp"],
            "alt_lamp": np.broadcast_to(ex.lamp[e_idx, None], shape), "throughput": blk["thr"],
            "snr_b": blk["snr_b"], "snr_r": blk["snr_r"],
        }
        for name, col in self.truth.items():
            col[self.pos_t:self.pos_t + k] = values[name].ravel()[any_arm]
        self.pos_t += k

    def measured_table(self) -> Table:
        """The catalogued rows (views of the filled part of the output columns)."""
        t = Table({k: v[:self.pos] for k, v in self.cols.items()}, copy=False)
        for name, unit in UNITS.items():
            t[name].unit = unit
        return t

    def truth_table(self) -> Table:
        """One row per spectrum with at least one catalogued arm."""
        return Table({k: v[:self.pos_t] for k, v in self.truth.items()}, copy=False)


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
        "catalogue_class": np.array(CLASS_NAMES, "S4")[s.cclass],
        "kepler_observed": s.kepler_observed, "variable": s.variable,
        "variable_scale": s.variable_scale, "lasp_difficulty": s.lasp_u, "sb2": is_sb2(s),
        "kic_id": cat.kic_id[first], "epic_id": cat.epic_id[first],
        "n_plates": np.bincount(cat.star, minlength=len(s)),
        "n_spectra": n_spectra.astype(np.int64),
    })


def summarize(measured: Table, snr_high: float = 10.0) -> dict:
    """Counts for ``synth_summary.json`` (the numbers the paper's year-1 totals give).

    Returns
    -------
    dict
        Spectra per arm, spectra with S/N > ``snr_high`` per arm and their share of all
        spectra, share with S/N < 2, exposures and spectra per exposure per arm, distinct
        targets with blue S/N > ``snr_high``, spectra and targets with LASP parameters
        and LASP's success shares (LASP spectra over blue spectra with S/N > ``snr_high``;
        LASP targets over targets with such a spectrum).
    """
    def text(col: str) -> np.ndarray:
        a = np.asarray(measured[col])
        return a.astype(str) if a.dtype.kind == "S" else a

    blue = text("band") == "B"
    snr = np.asarray(measured["snr"])
    uid = np.asarray(measured["uid"])
    target = text("objtype") == "target"
    lasp = blue & np.isfinite(np.asarray(measured["teff_lasp"]))
    n_exp = len(np.unique(np.asarray(measured["obsid"]) // 100000))
    arms = {"B": blue, "R": ~blue}
    high = {a: int((m & (snr > snr_high)).sum()) for a, m in arms.items()}
    n_high_targets = len(np.unique(uid[blue & target & (snr > snr_high)]))
    n_lasp_targets = len(np.unique(uid[lasp & target]))

    def share(num: float, den: float) -> float:
        return float(num / den) if den else 0.0

    return {
        "spectra": {a: int(m.sum()) for a, m in arms.items()},
        f"spectra_snr_gt_{snr_high:g}": high,
        f"share_snr_gt_{snr_high:g}": {a: share(high[a], m.sum()) for a, m in arms.items()},
        "share_snr_lt_2": {a: share((m & (snr < 2)).sum(), m.sum()) for a, m in arms.items()},
        f"targets_blue_snr_gt_{snr_high:g}": n_high_targets,
        "spectra_with_lasp": int(lasp.sum()),
        "spectra_with_lasp_snr_8_10": int((lasp & (snr > 8) & (snr <= 10)).sum()),
        "targets_with_lasp": n_lasp_targets,
        "flux_standards_with_lasp": len(np.unique(uid[lasp & ~target])),
        "lasp_spectra_success": share(lasp.sum(), high["B"]),
        "lasp_target_success": share(n_lasp_targets, n_high_targets),
        "exposures": n_exp,
        "spectra_per_exposure": {a: share(m.sum(), n_exp) for a, m in arms.items()},
        "plates": len(np.unique(np.asarray(measured["planid"]))),
    }


# --- output ---------------------------------------------------------------------------


#: Extensions :func:`write_table` writes.
TABLE_EXTENSIONS = (".fits", ".fit", ".vot", ".xml", ".votable", ".ecsv")
#: Why the table formats a user might expect are not written.
UNWRITTEN = {".parquet": "not written: astropy's Table.read needs pandas for Parquet "
                         "(the reduction still reads Parquet catalogues)",
             ".csv": "not written: CSV carries no units (ECSV is CSV with a units header)"}


def write_table(table: Table, path: str | Path) -> Path:
    """Write a synthesis table atomically: FITS, VOTable or ECSV by extension.

    Columns carry their units (``dex`` for log g and [Fe/H]), descriptions and UCDs
    (:mod:`lkmrs_sched.core.tablemeta`); ``table.meta`` goes to the FITS header or the
    table metadata. Every format reads back with astropy's ``Table.read``, units
    included, without pandas. Parquet is not written: astropy's Parquet reader needs
    pandas (the reduction still reads Parquet catalogues).

    Raises
    ------
    InputError
        If the extension is none of :data:`TABLE_EXTENSIONS`.
    """
    from lkmrs_sched.core.atomic import write_table as write_annotated

    return write_annotated(table, check_table_path(path))


def check_table_path(path: str | Path, where: str = "path") -> Path:
    """``path`` if :func:`write_table` writes its extension.

    Raises
    ------
    InputError
        Naming ``where``, the path, the extensions allowed and, for Parquet and CSV, why
        they are not written.
    """
    p = Path(path)
    if p.suffix.lower() not in TABLE_EXTENSIONS:
        raise InputError(where, str(p), "a file ending in .fits, .vot/.xml or .ecsv",
                         UNWRITTEN.get(p.suffix.lower(), "unknown format"))
    return p
