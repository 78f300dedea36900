"""Per-star outcomes of a survey realization, fast: epochs, precision, binaries.

:func:`star_outcomes` is the forecast's shortcut for *simulation → synthetic exposures
(:func:`lkmrs_sched.synth.synth.synthesize`) → reduction*. It never builds the DR8
table; per plate it evaluates the blue S/N of every (exposure, object) as one
``n_exp × n_obj`` matrix, then simulates the measurements LASP would give with synth's
own error model and runs the reduction's own code on them. The full chain itself is
:mod:`lkmrs_sched.ensembles.per_star` (``forecast --per-star full``); a test runs both on
the same realizations and checks that the survey totals agree within the full chain's
Monte Carlo error.

What is the same as the full chain (bit for bit)
    The blue S/N of every spectrum: the same catalogue (stars, binaries, fibres from
    ``scenario.seed``, see :func:`build_star_catalogue`), the same per-exposure random
    streams as ``synthesize(exposures, plates, scenario, seed, catalogue=…)`` with the
    realization's ``seed`` (the night's and the exposure's cloud extinction, the fibre's
    per-exposure throughput jitter, the lost spectrograph arms), and the same S/N model
    call on the same operands (:func:`exposure_chunks`). Hence ``n_good``, ``n_spectra``
    and the baselines equal the counts from synth's measured table (tested).

What is the same code on the same deviates
    The measurements (:func:`block_measurements`): which spectra LASP gives values for
    (:func:`lkmrs_sched.synth.synth.lasp_success`: usable blue spectra above
    ``lasp_snr_min`` and a share from ``lasp_low_snr_min``, of the stars LASP works for —
    Teff, the star's nominal S/N on its fibre, double-lined binaries), and the values and
    LASP's quoted errors (:func:`lkmrs_sched.synth.synth.lasp_measurements`: the core
    law below Table 4, the independent tail, the variable stars' own scatter from
    :func:`lkmrs_sched.synth.synth.variable_scatter`, binaries' orbits at mid-exposure,
    log-normal error scatter), all from synth's own per-exposure deviates. So ``n_rv``
    equals synth's, and every value equals synth's but for the spectrograph zero points
    and the alternate-lamp offset that synth adds to the RVs (and float32 storage). The
    reduction's code then gives ``sigma_*`` (Eq. 2, :func:`~lkmrs_sched.reduction.combine.
    combine_parameter`), the RV law (Eq. 3–4, :func:`~lkmrs_sched.reduction.uncertainty.
    fit_internal_precision`), ``sigma_rv_mean`` (:func:`~lkmrs_sched.reduction.combine.
    mean_error`) and the RV variables (:func:`~lkmrs_sched.reduction.variability.
    rv_variability`: robust test, the paper's range test, χ²).

Not modelled here (the full chain has them): the RV zero points and the alternate-lamp
offset, which the full chain's reduction estimates from the data and removes (its
residual and the realizations where that fails are the main difference between the two
paths), the red arm, the reduction's reader and zero-point code. Neither path adds the
engineering exposures (``synthesize(engineering=False)``).

Definitions (per target; flux standards are left out)
    * good epoch: a blue spectrum whose S/N, stored as float32 like DR8's ``snr``,
      is > 10 (the paper's "high quality") and that is not flagged ``bad_b`` (the
      reduction drops flagged arms' values; a few bright stars on dead fibres reach
      S/N > 10 flagged and are not counted);
    * ``n_spectra``: spectra not flagged ``bad_b`` (fibre not dead and blue S/N ≥ 1);
    * RV epoch: an epoch with an RV (above); ``n_rv`` of them;
    * a star on two overlapping plates counts epochs from both.

:func:`expected_precision` keeps the closed form of Eq. 2's expectation for Gaussian
errors, E[σ_w²] = N/(N−1) · (Σ w σ²/W − Σ w² σ²/W²), and of the mean's error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.precision import published_laws
from lkmrs_sched.reduction.combine import combine_parameter, mean_error
from lkmrs_sched.reduction.uncertainty import fit_internal_precision
from lkmrs_sched.reduction.variability import rv_variability
from lkmrs_sched.sky.footprints import PlateSet
from lkmrs_sched.synth.exposures import (
    ExposureNoise,
    dead_fibres,
    exposure_block,
    exposure_nights,
    lkmrs_exposures,
    mid_exposure_mjd,
    needs_night_clouds,
    nominal_snr,
    plan_key,
)
from lkmrs_sched.synth.fibres import Catalogue, build_catalogue
from lkmrs_sched.synth.population import KIND_TARGET
from lkmrs_sched.synth.snr import SNRLike, model_from_config
from lkmrs_sched.synth.synth import (
    CHUNK,
    is_sb2,
    lasp_measurements,
    lasp_success,
    variable_scatter,
)

#: "High quality" blue S/N (brief §5).
SNR_GOOD = 10.0
#: log10(P/d) bin edges of the completeness table; the outer bins are open.
LOG_PERIOD_EDGES = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
PARAMS = ("teff", "logg", "feh", "rv")


@dataclass(frozen=True)
class PlateSNR:
    """Blue S/N of one plate's exposures × objects (the layout of synth's blocks).

    Attributes
    ----------
    plate : int
        Index into the PlateSet.
    exposures : ndarray of int
        Row of each exposure in the LK-MRS exposures (log order).
    rows : ndarray of int
        Catalogue assignment of each object (``Catalogue.rows_of(plate)``).
    mid_mjd : ndarray, shape (n_exp,)
        UTC MJD at mid-exposure.
    snr : ndarray, shape (n_exp, n_obj)
        Blue-arm S/N (float64, as synth computes it before storing it as float32).
    usable : ndarray of bool, shape (n_exp, n_obj)
        In synth's table and not flagged ``bad_b``: blue arm not lost, fibre not dead and
        S/N ≥ 1.
    good : ndarray of bool, shape (n_exp, n_obj)
        Usable and float32(S/N) > 10.
    """

    plate: int
    exposures: np.ndarray
    rows: np.ndarray
    mid_mjd: np.ndarray
    snr: np.ndarray
    usable: np.ndarray
    good: np.ndarray


@dataclass(frozen=True)
class StarOutcomes:
    """Per-target outcome of one realization (parallel arrays, one entry per target).

    Attributes
    ----------
    uid : ndarray of str
        ``LKnnnnnnnnnn`` (synth's ``uid``).
    plate : ndarray of str
        Name of the (first, in plate-set order) plate the target is on.
    n_plates : ndarray of int
        Plates the target is on (2 in overlaps; epochs of all are counted).
    gaia_g : ndarray
        Gaia G, mag.
    teff : ndarray
        True Teff, K.
    lasp_ok : ndarray of bool
        Teff within LASP's limits (LASP gives parameters and RVs).
    n_good : ndarray of int
        Epochs with blue S/N > 10.
    n_spectra : ndarray of int
        Epochs with a usable fibre (not ``bad_b``).
    n_rv : ndarray of int
        Epochs with an RV (LASP ran).
    baseline_days : ndarray
        Last minus first good epoch (mid-exposure), days; 0 with fewer than 2.
    sigma_teff, sigma_logg, sigma_feh, sigma_rv : ndarray
        Eq. 2's σ_w of the combined values (K, dex, dex, km/s); LASP's error for one
        epoch; NaN without epochs or outside LASP's Teff range.
    sigma_rv_mean : ndarray
        Error of the weighted mean RV, sqrt(Σ w_k² σ_k²) / Σ w_k, km/s (NaN as above).
    is_binary : ndarray of bool
    is_variable : ndarray of bool
        An intrinsic RV variable of synth's (``[population] variable_fraction``: extra
        epoch scatter, a real RV variable; may also be a binary).
    period_d : ndarray
        Orbital period, days (NaN for single stars).
    k1_kms : ndarray
        Primary's RV semi-amplitude, km/s (0 for single stars).
    rv_variable_detected : ndarray of bool
        Flagged by the reduction's robust test (likelihood ratio under the fitted core +
        tail errors, p < α; needs ≥ 2 RV epochs).
    rv_variable_paper : ndarray of bool
        Flagged by the paper's 3σ_RV(S/N) range test (kept for comparison).
    rv_variable_chi2 : ndarray of bool
        Flagged by the Gaussian χ² test (P(χ² ≥ observed) < 0.001).
    """

    uid: np.ndarray
    plate: np.ndarray
    n_plates: np.ndarray
    gaia_g: np.ndarray
    teff: np.ndarray
    lasp_ok: np.ndarray
    n_good: np.ndarray
    n_spectra: np.ndarray
    n_rv: np.ndarray
    baseline_days: np.ndarray
    sigma_teff: np.ndarray
    sigma_logg: np.ndarray
    sigma_feh: np.ndarray
    sigma_rv: np.ndarray
    sigma_rv_mean: np.ndarray
    is_binary: np.ndarray
    is_variable: np.ndarray
    period_d: np.ndarray
    k1_kms: np.ndarray
    rv_variable_detected: np.ndarray
    rv_variable_paper: np.ndarray
    rv_variable_chi2: np.ndarray

    def __len__(self) -> int:
        return len(self.uid)

    def to_table(self) -> Table:
        """The outcomes as an astropy Table (units on the physical columns)."""
        t = Table({f.name: getattr(self, f.name) for f in fields(self)}, copy=False)
        units = {"gaia_g": "mag", "teff": "K", "baseline_days": "d", "sigma_teff": "K",
                 "sigma_logg": "dex", "sigma_feh": "dex", "sigma_rv": "km/s",
                 "sigma_rv_mean": "km/s", "period_d": "d", "k1_kms": "km/s"}
        for name, unit in units.items():
            t[name].unit = unit
        return t


def build_star_catalogue(plates: PlateSet, scenario) -> Catalogue:
    """The catalogue synth uses by default: stars, binaries and fibres from ``scenario.seed``.

    Build it once per process and pass it to :func:`star_outcomes` (and to
    :func:`lkmrs_sched.synth.synth.synthesize`) for every realization.
    """
    return build_catalogue(plates, scenario.population, np.random.SeedSequence(scenario.seed),
                           f"{scenario.source}: [population]")


def plate_snr(
    exposures: Table,
    plates: PlateSet,
    scenario,
    *,
    catalogue: Catalogue | None = None,
    snr_model: SNRLike | None = None,
    seed: int | np.random.SeedSequence | None = None,
) -> list[PlateSNR]:
    """Blue S/N of every LK-MRS spectrum, per plate, exactly as synth computes it.

    Parameters
    ----------
    exposures : astropy.table.Table
        Exposures (obslog schema; rows of other projects are ignored; an optional
        ``transparency`` column is used as in synth).
    plates : PlateSet
        The LK-MRS plates.
    scenario : Scenario
        ``[population]``, ``[snr]`` and ``seed`` (the conditions' streams).
    catalogue : Catalogue, optional
        From :func:`build_star_catalogue` (built here otherwise).
    snr_model : optional
        S/N model (default: the scenario's).
    seed : int or SeedSequence, optional
        synth's master seed for the conditions' streams (default ``scenario.seed``, as
        ``synthesize``'s default).

    Returns
    -------
    list of PlateSNR
        One per plate with exposures, in plate-set order. Concatenating
        ``snr.ravel()`` over the list gives the order of synth's spectra (synth leaves
        out those of lost spectrograph arms, see ``usable``).

    Raises
    ------
    InputError
        As synth: missing columns, unknown plates, conditions out of range.
    """
    return [b for b, _ in exposure_chunks(exposures, plates, scenario, catalogue=catalogue,
                                          snr_model=snr_model, seed=seed)]


def exposure_chunks(
    exposures: Table,
    plates: PlateSet,
    scenario,
    *,
    catalogue: Catalogue | None = None,
    snr_model: SNRLike | None = None,
    seed: int | np.random.SeedSequence | None = None,
    deviates: bool = False,
) -> Iterator[tuple[PlateSNR, ExposureNoise]]:
    """synth's plate blocks (:func:`~lkmrs_sched.synth.exposures.exposure_block`), in order.

    With ``deviates=False`` one block per plate, drawing the per-exposure streams only up
    to the fibre jitter (the S/N needs no more). With ``deviates=True`` the blocks are
    synth's own chunks of about :data:`~lkmrs_sched.synth.synth.CHUNK` spectra and carry
    all the deviates synth's :func:`~lkmrs_sched.synth.synth.measure` uses. Parameters as
    :func:`plate_snr`.

    Yields
    ------
    PlateSNR, ExposureNoise
        S/N, usable and good spectra of the block, and its deviates.
    """
    where = scenario.source
    cfg = scenario.snr
    ss = _seed_sequence(scenario.seed if seed is None else seed)
    cat = catalogue if catalogue is not None else build_star_catalogue(plates, scenario)
    model = snr_model or model_from_config(cfg, f"{where}: [snr]")
    lk, plate_of = lkmrs_exposures(exposures, plates, where)
    if len(lk) == 0:
        return
    mid = mid_exposure_mjd(lk)
    keys = np.array([plan_key(p) for p in plates.plan_id], np.int64)[plate_of]
    cloud_night = exposure_nights(lk, ss, cfg, where)[2] if needs_night_clouds(lk, cfg) else None
    # synth's per-exposure streams: all rows, or up to the first row of normals (the jitter).
    draw = {} if deviates else {"normal_rows": 1, "uniform_rows": 0}
    for p in np.unique(plate_of).tolist():
        e_all = np.flatnonzero(plate_of == p)
        rows = cat.rows_of(p)
        dead = dead_fibres(cat, rows)[None, :]
        n_chunks = max(1, int(np.ceil(len(e_all) * len(rows) / CHUNK))) if deviates else 1
        for e_idx in np.array_split(e_all, n_chunks):
            if len(e_idx) == 0:
                continue
            blk = exposure_block(model, cat, rows, lk, e_idx, keys, ss, scenario, cloud_night,
                                 arms=("blue",), **draw)
            snr = blk.snr["blue"]
            # Spectra of lost spectrograph arms are not in synth's table (synth.exposures).
            usable = ~dead & ~(snr < 1) & blk.catalogued["blue"]
            good = usable & (snr.astype(np.float32) > np.float32(SNR_GOOD))
            yield PlateSNR(p, e_idx, rows, mid[e_idx], snr, usable, good), blk.noise


def _seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))


def expected_precision(
    codes: np.ndarray, weights: np.ndarray, variances: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected Eq. 2 error and error of the weighted mean of independent epochs.

    Parameters
    ----------
    codes : ndarray of int
        Star of each epoch, ``0 <= code < n``.
    weights : ndarray of float
        w_k (the reduction's (S/N_k)²).
    variances : ndarray of float
        σ_k², the variance of epoch k's measurement error (unit of P squared).
    n : int
        Number of stars.

    Returns
    -------
    sigma_w : ndarray
        sqrt(E[σ_w²]) with E[σ_w²] = N/(N−1) · (Σ w σ²/W − Σ w² σ²/W²), W = Σ w, for
        N ≥ 2; σ_k of the one epoch for N = 1; NaN for N = 0.
    sigma_mean : ndarray
        sqrt(Σ w² σ²)/W, the standard deviation of the weighted mean (Eq. 1).
    count : ndarray of int
        N.
    """
    w = np.asarray(weights, float)
    var = np.asarray(variances, float)
    count = np.bincount(codes, minlength=n)
    wsum = np.bincount(codes, w, n)
    a = np.bincount(codes, w * var, n)
    b = np.bincount(codes, w * w * var, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = count / (count - 1.0) * (a / wsum - b / wsum**2)
        sigma_w = np.where(count >= 2, np.sqrt(np.maximum(ev, 0.0)), np.sqrt(a / wsum))
        sigma_mean = np.sqrt(b) / wsum
    return sigma_w, sigma_mean, count


@dataclass(frozen=True)
class Epochs:
    """The epochs of one realization LASP could measure, flat, and per-star counts.

    Attributes
    ----------
    codes, snr, mjd : ndarray, one entry per epoch
        Star (index into ``Catalogue.stars``), blue S/N and mid-exposure UTC MJD of every
        usable spectrum with S/N ≥ ``lasp_low_snr_min``, in plate order, then exposure and
        object order within a plate.
    good : ndarray of bool, per epoch
        A good epoch (float32 S/N > 10).
    n_good, n_spectra : ndarray of int, per star
        Good epochs and usable spectra (not ``bad_b``) of all its plates.
    baseline_days : ndarray, per star
        Last minus first good epoch, days; 0 with fewer than 2.
    """

    codes: np.ndarray
    snr: np.ndarray
    mjd: np.ndarray
    good: np.ndarray
    n_good: np.ndarray
    n_spectra: np.ndarray
    baseline_days: np.ndarray


class EpochCounter:
    """Good epochs, usable spectra and good-epoch time span per catalogue assignment,
    summed block by block (blocks of one plate may come in chunks of exposures)."""

    def __init__(self, cat: Catalogue):
        self.cat = cat
        n_as = len(cat.plate)
        self.n_good = np.zeros(n_as, np.int64)
        self.n_spec = np.zeros(n_as, np.int64)
        self.first = np.full(n_as, np.inf)
        self.last = np.full(n_as, -np.inf)

    def add(self, b: PlateSNR) -> None:
        """Count one block (its ``rows`` are distinct assignments)."""
        t = b.mid_mjd[:, None]
        self.n_good[b.rows] += b.good.sum(axis=0)
        self.n_spec[b.rows] += b.usable.sum(axis=0)
        self.first[b.rows] = np.minimum(self.first[b.rows],
                                        np.where(b.good, t, np.inf).min(axis=0))
        self.last[b.rows] = np.maximum(self.last[b.rows],
                                       np.where(b.good, t, -np.inf).max(axis=0))

    def per_star(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n_good``, ``n_spectra`` and ``baseline_days`` per star (all its plates)."""
        cat = self.cat
        n_st = len(cat.stars)
        n_good = np.bincount(cat.star, self.n_good, n_st).round().astype(np.int64)
        n_spec = np.bincount(cat.star, self.n_spec, n_st).round().astype(np.int64)
        t0 = np.full(n_st, np.inf)
        t1 = np.full(n_st, -np.inf)
        np.minimum.at(t0, cat.star, self.first)
        np.maximum.at(t1, cat.star, self.last)
        return n_good, n_spec, np.where(n_good >= 2, t1 - t0, 0.0)


@dataclass(frozen=True)
class Measurements:
    """Simulated LASP measurements of one realization (one entry per RV epoch).

    Attributes
    ----------
    codes, snr, mjd : ndarray
        Star, blue S/N, mid-exposure UTC MJD.
    values : dict of str to ndarray
        Measured Teff (K), log g, [Fe/H] (dex), RV (km/s).
    errors : dict of str to ndarray
        LASP's quoted errors (:func:`lkmrs_sched.synth.synth.lasp_measurements`).
    """

    codes: np.ndarray
    snr: np.ndarray
    mjd: np.ndarray
    values: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]

    @staticmethod
    def concat(parts: list[Measurements]) -> Measurements:
        """The epochs of ``parts``, in order (an empty list gives no epochs)."""
        def cat(get, dtype) -> np.ndarray:
            return np.concatenate([np.zeros(0, dtype), *(get(m) for m in parts)])

        return Measurements(
            cat(lambda m: m.codes, np.int64), cat(lambda m: m.snr, float),
            cat(lambda m: m.mjd, float),
            {p: cat(lambda m, p=p: m.values[p], float) for p in PARAMS},
            {p: cat(lambda m, p=p: m.errors[p], float) for p in PARAMS})


def true_values(stars, idx: np.ndarray, mjd: np.ndarray) -> dict[str, np.ndarray]:
    """True Teff, log g, [Fe/H] and RV at ``mjd`` (the orbit's, binaries) of ``stars[idx]``."""
    truth = {"teff": stars.teff[idx], "logg": stars.logg[idx], "feh": stars.feh[idx],
             "rv": stars.rv_systemic[idx].astype(float)}
    isb = np.flatnonzero(stars.binary[idx])
    if len(isb):
        truth["rv"][isb] = stars.take(idx[isb]).rv(mjd[isb])
    return truth


def block_measurements(b: PlateSNR, noise: ExposureNoise, cat: Catalogue, scenario,
                       model: SNRLike) -> Measurements:
    """LASP's measurements of one block, as synth makes them, without the zero points.

    The same deviates (``noise``, synth's per-exposure streams) through the same code as
    :func:`lkmrs_sched.synth.synth.measure`: LASP's success law
    (:func:`~lkmrs_sched.synth.synth.lasp_success`) on the usable spectra,
    :func:`~lkmrs_sched.synth.synth.variable_scatter` and
    :func:`~lkmrs_sched.synth.synth.lasp_measurements`. The RVs are the true ones, with no
    spectrograph zero point or alternate-lamp offset (the reduction removes those).
    """
    cfg = scenario.snr
    law = published_laws()
    sub = cat.stars.take(cat.star[b.rows])
    runs = b.usable & lasp_success(b.snr, nominal_snr(model, cat, b.rows, cfg), sub.teff,
                                   sub.lasp_u, is_sb2(sub), noise.us[0], cfg)
    ei, oi = np.nonzero(runs)
    snr, mjd = b.snr[ei, oi], b.mid_mjd[ei]
    extra = {p: v[oi] for p, v in variable_scatter(sub, law, scenario.population).items()}
    m = lasp_measurements(snr, true_values(sub, oi, mjd), noise.zs[:, ei, oi],
                          noise.us[:, ei, oi], law, cfg, extra)
    return Measurements(cat.star[b.rows[oi]], snr, mjd, {p: m[p] for p in PARAMS},
                        {p: m[p + "_err"] for p in PARAMS})


def simulate_measurements(ep: Epochs, stars, lasp_ok: np.ndarray, cfg,
                          rng: np.random.Generator, pop=None) -> Measurements:
    """LASP's measurements of given epochs with synth's error model and a generator's noise.

    For epochs that are not synth's (tests, what-ifs): LASP runs on the epochs with
    S/N ≥ ``lasp_snr_min`` and a share ``lasp_low_snr_fraction`` of the others, of stars
    with ``lasp_ok`` (the star-level success law of synth needs the stars' fibres; pass
    it in ``lasp_ok``). Values and errors are
    :func:`lkmrs_sched.synth.synth.lasp_measurements` with the stars' own scatter
    (:func:`~lkmrs_sched.synth.synth.variable_scatter`, ``pop``: ``[population]``, needed
    only when some star is variable). Draws, in order: one uniform per epoch, then 11
    normals and 7 uniforms per RV epoch (the rows of synth's per-exposure stream).
    """
    low = rng.random(ep.codes.size) < cfg.lasp_low_snr_fraction
    runs = ((ep.snr >= cfg.lasp_snr_min) | low) & lasp_ok[ep.codes]
    c, s, t = ep.codes[runs], ep.snr[runs], ep.mjd[runs]
    zs = rng.standard_normal((11, c.size))
    us = rng.random((7, c.size))
    law = published_laws()
    if pop is None and np.any(stars.variable_scale[c] > 0):
        raise ValueError("simulate_measurements: variable stars need pop ([population])")
    extra = ({p: v[c] for p, v in variable_scatter(stars, law, pop).items()} if pop is not None
             else {p: np.zeros(c.size) for p in PARAMS})
    m = lasp_measurements(s, true_values(stars, c, t), zs, us, law, cfg, extra)
    return Measurements(c, s, t, {p: m[p] for p in PARAMS}, {p: m[p + "_err"] for p in PARAMS})


@dataclass(frozen=True)
class Reduced:
    """Per star (all stars): Eq. 2 σ_w per parameter, the RV mean's error, RV epochs and
    the three RV-variability flags."""

    sigma: dict[str, np.ndarray]
    sigma_rv_mean: np.ndarray
    n_rv: np.ndarray
    flags: dict[str, np.ndarray]


def reduce_measurements(ms: Measurements, n: int, *, alpha: float = 1e-3,
                        nsigma: float = 3.0, p_threshold: float = 1e-3) -> Reduced:
    """The reduction's code on simulated measurements: Eq. 3–4 for RV, Eq. 1–2, the
    error of the mean RV and the RV-variability tests (module docstring)."""
    fit = fit_internal_precision(ms.codes, ms.values["rv"], ms.snr, n_groups=n,
                                 parameter="rv", unit="km / s")
    law = fit.law if fit.law.ok else published_laws()["rv"]
    sigma = {}
    for p in PARAMS:
        _, sigma[p], count = combine_parameter(ms.codes, ms.values[p], ms.snr, ms.errors[p], n)
    mean_err = mean_error(ms.codes, ms.values["rv"], ms.snr, law, ms.errors["rv"], n)
    flags = {k: np.zeros(n, bool) for k in ("robust", "paper", "chi2")}
    if ms.codes.size:
        var = rv_variability(ms.codes, ms.values["rv"], ms.snr, law, n, nsigma=nsigma,
                             p_threshold=p_threshold, alpha=alpha)
        idx = np.asarray(var["star"])
        for k in flags:
            flags[k][idx] = np.asarray(var[f"var_{k}"], bool)
    return Reduced(sigma, mean_err, count, flags)


def star_outcomes(
    exposures: Table,
    plates: PlateSet,
    scenario,
    seed: int | np.random.SeedSequence,
    *,
    catalogue: Catalogue | None = None,
    snr_model: SNRLike | None = None,
    alpha: float = 1e-3,
    nsigma: float = 3.0,
    p_threshold: float = 1e-3,
) -> StarOutcomes:
    """Per-target epochs, precision and RV variables of one realization (fast path).

    Parameters
    ----------
    exposures : astropy.table.Table
        LK-MRS exposures (obslog ``exposures`` schema; other projects' rows ignored).
    plates : PlateSet
        The LK-MRS plates (Table 1 counts).
    scenario : Scenario
        ``[population]``, ``[snr]``; ``scenario.seed`` fixes the population.
    seed : int or SeedSequence
        The realization's seed: the exposures' conditions and the measurement noise,
        from synth's own streams (as ``synthesize`` with this seed).
    catalogue : Catalogue, optional
        Prebuilt :func:`build_star_catalogue` (build once, reuse per realization).
    snr_model : optional
        S/N model (default: the scenario's).
    alpha, nsigma, p_threshold : float
        Thresholds of the robust, the paper's range and the χ² criteria.

    Returns
    -------
    StarOutcomes
        One entry per target of the plate set, observed or not.

    Raises
    ------
    InputError
        Bad exposures (see :func:`plate_snr`).
    """
    cfg = scenario.snr
    cat = catalogue if catalogue is not None else build_star_catalogue(plates, scenario)
    model = snr_model or model_from_config(cfg, f"{scenario.source}: [snr]")
    counter = EpochCounter(cat)
    parts = []
    for b, noise in exposure_chunks(exposures, plates, scenario, catalogue=cat,
                                    snr_model=model, seed=_seed_sequence(seed), deviates=True):
        counter.add(b)
        parts.append(block_measurements(b, noise, cat, scenario, model))
    stars = cat.stars
    lasp_ok = ((stars.teff >= cfg.lasp_teff_min.to_value("K"))
               & (stars.teff <= cfg.lasp_teff_max.to_value("K")))
    red = reduce_measurements(Measurements.concat(parts), len(stars), alpha=alpha,
                              nsigma=nsigma, p_threshold=p_threshold)
    return target_outcomes(cat, plates, lasp_ok, *counter.per_star(), red)


def target_outcomes(cat: Catalogue, plates: PlateSet, lasp_ok: np.ndarray, n_good: np.ndarray,
                    n_spectra: np.ndarray, baseline: np.ndarray, red: Reduced
                    ) -> StarOutcomes:
    """The per-star results (arrays over ``cat.stars``) restricted to targets (flux
    standards left out); shared by the fast path and the full chain."""
    stars = cat.stars
    n_st, n_as = len(stars), len(cat.plate)
    # Targets only; the plate of the first assignment (assignments are in plate order).
    tg = np.flatnonzero(stars.kind == KIND_TARGET)
    first_as = np.full(n_st, -1, np.int64)
    first_as[cat.star[::-1]] = np.arange(n_as)[::-1]
    binary = stars.binary[tg].astype(bool)
    sig = {p: np.where(lasp_ok, red.sigma[p], np.nan)[tg] for p in PARAMS}
    return StarOutcomes(
        uid=stars.take(tg).uid.astype(str),
        plate=np.asarray(plates.plate_name).astype(str)[cat.plate[first_as[tg]]],
        n_plates=np.bincount(cat.star, minlength=n_st)[tg],
        gaia_g=stars.gmag[tg].astype(float),
        teff=stars.teff[tg].astype(float),
        lasp_ok=lasp_ok[tg],
        n_good=n_good[tg],
        n_spectra=n_spectra[tg],
        n_rv=red.n_rv[tg],
        baseline_days=baseline[tg],
        sigma_teff=sig["teff"],
        sigma_logg=sig["logg"],
        sigma_feh=sig["feh"],
        sigma_rv=sig["rv"],
        sigma_rv_mean=np.where(lasp_ok, red.sigma_rv_mean, np.nan)[tg],
        is_binary=binary,
        is_variable=stars.variable[tg].astype(bool),
        period_d=np.where(binary, stars.period_d[tg], np.nan),
        k1_kms=np.where(binary, stars.k1_kms[tg], 0.0),
        rv_variable_detected=red.flags["robust"][tg],
        rv_variable_paper=red.flags["paper"][tg],
        rv_variable_chi2=red.flags["chi2"][tg],
    )


def survey_totals(o: StarOutcomes) -> dict:
    """Survey-level counts of one realization.

    Returns
    -------
    dict
        ``spectra_snr_gt_10`` (good blue spectra of targets), ``stars_ge_{10,30,60}
        _good_epochs``, ``rv_tested`` (targets with ≥ 2 RV epochs), the combined
        precision ``median_sigma_rv`` (Eq. 2) and ``median_sigma_rv_mean`` (error of the
        mean RV) of targets with ≥ 10 good epochs (km/s), and by the robust criterion
        ``rv_variable_detections``, ``binaries_detected``, ``variables_detected``
        (detected intrinsic variables that are not binaries), ``false_detections``
        (detected constant stars: neither binary nor variable) and
        ``completeness_vs_period``: a list of ``{log10_period_lo, log10_period_hi,
        n_binaries, n_detected, completeness}`` over tested binaries in log10(P/d) bins
        <1 (``lo`` None: includes P < 1 d), 1–2, …, 5–6, ≥6 (``hi`` None); completeness
        is NaN in empty bins. The same five by the paper's range test under ``"paper"``
        and by χ² under ``"chi2"``.
    """
    out = _counts(o, o.rv_variable_detected)
    deep = (o.n_good >= 10) & np.isfinite(o.sigma_rv)
    out["median_sigma_rv"] = float(np.median(o.sigma_rv[deep])) if deep.any() else float("nan")
    out["median_sigma_rv_mean"] = (float(np.median(o.sigma_rv_mean[deep])) if deep.any()
                                   else float("nan"))
    for name, det in (("paper", o.rv_variable_paper), ("chi2", o.rv_variable_chi2)):
        c = _counts(o, det)
        out[name] = {k: c[k] for k in DETECTION_KEYS}
    return out


#: The keys of :func:`survey_totals` that depend on the RV-variability criterion.
DETECTION_KEYS = ("rv_variable_detections", "binaries_detected", "variables_detected",
                  "false_detections", "completeness_vs_period")


def _counts(o: StarOutcomes, det: np.ndarray) -> dict:
    tested = (o.n_rv >= 2) & o.lasp_ok
    det = det & tested
    out = {
        "spectra_snr_gt_10": int(o.n_good.sum()),
        "stars_ge_10_good_epochs": int((o.n_good >= 10).sum()),
        "stars_ge_30_good_epochs": int((o.n_good >= 30).sum()),
        "stars_ge_60_good_epochs": int((o.n_good >= 60).sum()),
        "rv_tested": int(tested.sum()),
        "rv_variable_detections": int(det.sum()),
        "binaries_detected": int((det & o.is_binary).sum()),
        "variables_detected": int((det & o.is_variable & ~o.is_binary).sum()),
        "false_detections": int((det & ~o.is_binary & ~o.is_variable).sum()),
    }
    b = tested & o.is_binary
    logp = np.log10(o.period_d[b])
    k = np.searchsorted(np.asarray(LOG_PERIOD_EDGES), logp, side="right")
    n_bin = np.bincount(k, minlength=len(LOG_PERIOD_EDGES) + 1)
    n_det = np.bincount(k[det[b]], minlength=len(LOG_PERIOD_EDGES) + 1)
    edges = (None, *LOG_PERIOD_EDGES, None)
    out["completeness_vs_period"] = [
        {"log10_period_lo": edges[i], "log10_period_hi": edges[i + 1],
         "n_binaries": int(n_bin[i]), "n_detected": int(n_det[i]),
         "completeness": float(n_det[i] / n_bin[i]) if n_bin[i] else float("nan")}
        for i in range(len(n_bin))
    ]
    return out
