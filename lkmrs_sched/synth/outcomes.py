"""Per-star outcomes of a survey realization, fast: epochs, expected precision, binaries.

:func:`star_outcomes` is the forecast's shortcut for *simulation → synthetic exposures
(:func:`lkmrs_sched.synth.synth.synthesize`) → reduction* when only per-star numbers are
wanted. It never builds the per-spectrum table; per plate it evaluates the blue S/N of
every (exposure, object) as one ``n_exp × n_obj`` matrix and reduces it to per-star sums.

What is the same as the full path (bit for bit)
    The blue S/N of every spectrum. It uses the same catalogue (stars, binaries, fibres
    from ``scenario.seed``, see :func:`build_star_catalogue`), the same per-exposure
    random streams as ``synthesize(exposures, plates, scenario)`` with its default seed
    (``scenario.seed``): the night's and the exposure's cloud extinction, the fibre's
    per-exposure throughput jitter (the first row of synth's per-exposure normals), and
    the same S/N model call on the same operands. Hence ``n_good`` and ``n_spectra``
    equal the counts from synth's measured table (tested). The conditions of an exposure
    depend only on its plate, its ``lmjm`` and its night, not on the realization seed,
    so every realization sees the same S/N for the same exposure.

Definitions (per target; flux standards are left out)
    * good epoch: a blue spectrum whose S/N, stored as float32 like DR8's ``snr``,
      is > 10 (the paper's "high quality") and that is not flagged ``bad_b`` (the
      reduction drops flagged arms' values; a few bright stars on dead fibres reach
      S/N > 10 flagged and are not counted);
    * ``n_spectra``: spectra not flagged ``bad_b`` (fibre not dead and blue S/N ≥ 1);
    * a star on two overlapping plates counts epochs from both.

Expected precision of the combined values (Eq. 1–2 of the brief)
    For a star with N good epochs, each with noise σ_k = σ_P(S/N_k) (Table 4 law,
    :meth:`lkmrs_sched.core.precision.PrecisionLaw.extended`) and weight
    w_k = (S/N_k)², W = Σ w_k, the expectation of Eq. 2's squared error over the
    measurement noise is

        E[σ_w²] = N/(N−1) · (Σ w_k σ_k² / W − Σ w_k² σ_k² / W²)

    (expand Σ w_k (P_k − P̄)² = Σ w_k ε_k² − W ε̄² with E[ε_k²] = σ_k² and
    E[W ε̄²] = Σ w_k² σ_k² / W). ``sigma_*`` report sqrt(E[σ_w²]), the RMS of the σ_w a
    reduction would print. Eq. 2 is a weighted *scatter*: with equal S/N it estimates
    σ_P itself, not the error of the mean; that is ``sigma_rv_mean`` =
    sqrt(Σ w_k² σ_k²) / W (= σ/√N for equal S/N). With N = 1 ``sigma_*`` is LASP's own
    error (``lasp_error_scale`` · σ_P(S/N), as Eq. 2's one-epoch rule), with N = 0 NaN.
    Stars outside LASP's Teff range (``[snr] lasp_teff_min … lasp_teff_max``) get no
    LASP parameters, so NaN, and are not tested for RV variability.

Binary detection
    The RV at each good epoch is the true orbit RV at mid-exposure plus Gaussian noise
    σ_RV(S/N) drawn from the realization ``seed``; the reduction's own test
    (:func:`lkmrs_sched.reduction.variability.rv_variability`, range criterion: the
    highest and lowest RVs differ by more than 3 times their combined σ_RV(S/N), the law
    evaluated at min(S/N, 300)) flags the variables. Stars need ≥ 2 good epochs.
    The range test compares the two most discrepant epochs, so its false-alarm rate
    grows with N: for equal-S/N Gaussian epochs P(range > 3√2 σ) is 0.3 % at N = 2,
    2.3 % at 5, 23 % at 20 and 72 % at 60 (tested). ``rv_variable_chi2`` also carries
    the reduction's χ² test (P < 0.001 at any N).

Speed: the 2019–2023 goal survey (1,200 exposures × ~2,700 fibres, 2.0 M good target
spectra) takes ~0.7–0.8 s per realization on one core after the catalogue (0.2 s) is
built; Kepler's equation for the binaries' epochs and the variability test are the
largest parts.

Not modelled here (the full path has them): the heavy-tailed outliers of the
measurement noise (unless ``outliers=True``), the RV zero points and the alternate-lamp
offset (the reduction removes them to ~0.1 km/s), the LASP runs on the share of spectra
with blue S/N 8–10 (synth's ``lasp_low_snr_fraction``) and the noise on LASP's errors.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.precision import LAW_MIN_SNR, published_laws
from lkmrs_sched.reduction.variability import rv_variability
from lkmrs_sched.sky.footprints import PlateSet
from lkmrs_sched.synth.exposures import (
    dead_fibres,
    exposure_block,
    exposure_nights,
    lkmrs_exposures,
    mid_exposure_mjd,
    needs_night_clouds,
    plan_key,
)
from lkmrs_sched.synth.fibres import Catalogue, build_catalogue
from lkmrs_sched.synth.population import KIND_TARGET, radial_velocity
from lkmrs_sched.synth.snr import SNRLike, model_from_config

#: Spawn-key head of the detection-noise stream ("OUT").
OUTCOMES = 0x4F5554
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
    baseline_days : ndarray
        Last minus first good epoch (mid-exposure), days; 0 with fewer than 2.
    sigma_teff, sigma_logg, sigma_feh, sigma_rv : ndarray
        sqrt(E[σ_w²]) of Eq. 2 over the good epochs (K, dex, dex, km/s); LASP's error
        for one epoch; NaN without epochs or outside LASP's Teff range.
    sigma_rv_mean : ndarray
        Error of the weighted mean RV, sqrt(Σ w_k² σ_k²) / Σ w_k, km/s (NaN as above).
    is_binary : ndarray of bool
    period_d : ndarray
        Orbital period, days (NaN for single stars).
    k1_kms : ndarray
        Primary's RV semi-amplitude, km/s (0 for single stars).
    rv_variable_detected : ndarray of bool
        Flagged by the reduction's 3σ_RV(S/N) range criterion (needs ≥ 2 good epochs
        and ``lasp_ok``).
    rv_variable_chi2 : ndarray of bool
        Flagged by the reduction's χ² criterion (P(χ² ≥ observed) < 0.001), whose
        false-alarm rate does not grow with the number of epochs.
    """

    uid: np.ndarray
    plate: np.ndarray
    n_plates: np.ndarray
    gaia_g: np.ndarray
    teff: np.ndarray
    lasp_ok: np.ndarray
    n_good: np.ndarray
    n_spectra: np.ndarray
    baseline_days: np.ndarray
    sigma_teff: np.ndarray
    sigma_logg: np.ndarray
    sigma_feh: np.ndarray
    sigma_rv: np.ndarray
    sigma_rv_mean: np.ndarray
    is_binary: np.ndarray
    period_d: np.ndarray
    k1_kms: np.ndarray
    rv_variable_detected: np.ndarray
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

    Returns
    -------
    list of PlateSNR
        One per plate with exposures, in plate-set order. Concatenating
        ``snr.ravel()`` over the list gives synth's ``truth.spectra['snr_b']`` order.

    Raises
    ------
    InputError
        As synth: missing columns, unknown plates, conditions out of range.
    """
    where = scenario.source
    cfg = scenario.snr
    ss = np.random.SeedSequence(scenario.seed)
    cat = catalogue if catalogue is not None else build_star_catalogue(plates, scenario)
    model = snr_model or model_from_config(cfg, f"{where}: [snr]")
    lk, plate_of = lkmrs_exposures(exposures, plates, where)
    if len(lk) == 0:
        return []
    mid = mid_exposure_mjd(lk)
    keys = np.array([plan_key(p) for p in plates.plan_id], np.int64)[plate_of]
    cloud_night = exposure_nights(lk, ss, cfg, where)[2] if needs_night_clouds(lk, cfg) else None
    out = []
    for p in np.unique(plate_of).tolist():
        e_idx = np.flatnonzero(plate_of == p)
        rows = cat.rows_of(p)
        # synth's per-exposure streams, up to the first row of normals (the fibre jitter).
        blk = exposure_block(model, cat, rows, lk, e_idx, keys, ss, scenario, cloud_night,
                             arms=("blue",), normal_rows=1, uniform_rows=0)
        snr = blk.snr["blue"]
        dead = dead_fibres(cat, rows)[None, :]
        # Spectra of lost spectrograph arms are not in synth's table (synth.exposures).
        usable = ~dead & ~(snr < 1) & blk.catalogued["blue"]
        good = usable & (snr.astype(np.float32) > np.float32(SNR_GOOD))
        out.append(PlateSNR(p, e_idx, rows, mid[e_idx], snr, usable, good))
    return out


def _realization_rng(seed: int | np.random.SeedSequence) -> np.random.Generator:
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
    return np.random.default_rng(
        np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, OUTCOMES)))


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


def simulate_rv_detection(
    codes: np.ndarray,
    mjd: np.ndarray,
    snr: np.ndarray,
    stars,
    rng: np.random.Generator,
    *,
    nsigma: float = 3.0,
    p_threshold: float = 1e-3,
    outliers: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated RV epochs of stars run through the reduction's variability test.

    Parameters
    ----------
    codes : ndarray of int
        Star (index into ``stars``) of each epoch.
    mjd : ndarray
        UTC MJD of each epoch (mid-exposure).
    snr : ndarray
        S/N of each epoch's RV (blue arm for LASP's RV).
    stars : Stars
        True RVs: systemic velocity and orbit (:meth:`lkmrs_sched.synth.population.Stars.rv`).
    rng : numpy.random.Generator
        Noise stream: one standard normal per epoch (then one uniform per epoch with
        ``outliers``), in epoch order.
    nsigma, p_threshold : float
        Thresholds of the range and χ² criteria
        (:func:`lkmrs_sched.reduction.variability.rv_variability`).
    outliers : (fraction, scale), optional
        Share of epochs whose error is ``scale`` times wider.

    Returns
    -------
    range_flag, chi2_flag : ndarray of bool, shape (len(stars),)
        Candidates by the range criterion (brief §6) and by χ²; False for stars with
        fewer than 2 epochs.
    """
    n = len(stars)
    codes = np.asarray(codes, np.int64)
    snr = np.asarray(snr, float)
    rv = stars.rv_systemic[codes].astype(float)
    isb = stars.binary[codes].astype(bool) & (stars.k1_kms[codes] > 0)
    if isb.any():
        c = codes[isb]
        rv[isb] = radial_velocity(np.asarray(mjd, float)[isb], stars.rv_systemic[c],
                                  stars.k1_kms[c], stars.period_d[c], stars.ecc[c],
                                  stars.omega_rad[c], stars.t_peri_mjd[c])
    law = published_laws()["rv"]
    sig = (law.extended_from_log(np.log(snr)) if snr.size and snr.min() >= LAW_MIN_SNR
           else law.extended(snr))
    noise = sig * rng.standard_normal(len(codes))
    if outliers is not None:
        wide = rng.random(len(codes)) < outliers[0]
        noise = noise * np.where(wide, outliers[1], 1.0)
    flag_range = np.zeros(n, bool)
    flag_chi2 = np.zeros(n, bool)
    if len(codes):
        var = rv_variability(codes, rv + noise, snr, law, n,
                             nsigma=nsigma, p_threshold=p_threshold)
        idx = np.asarray(var["star"])
        flag_range[idx] = np.asarray(var["var_range"], bool)
        flag_chi2[idx] = np.asarray(var["var_chi2"], bool)
    return flag_range, flag_chi2


def star_outcomes(
    exposures: Table,
    plates: PlateSet,
    scenario,
    seed: int | np.random.SeedSequence,
    *,
    catalogue: Catalogue | None = None,
    snr_model: SNRLike | None = None,
    outliers: bool = False,
    nsigma: float = 3.0,
    p_threshold: float = 1e-3,
) -> StarOutcomes:
    """Per-target epochs, expected precision and binary detection of one realization.

    Parameters
    ----------
    exposures : astropy.table.Table
        LK-MRS exposures (obslog ``exposures`` schema; other projects' rows ignored).
    plates : PlateSet
        The LK-MRS plates (Table 1 counts).
    scenario : Scenario
        ``[population]``, ``[snr]``; ``scenario.seed`` fixes the population and the
        exposures' conditions (as synth's default seed).
    seed : int or SeedSequence
        The realization's seed: only the RV noise of the binary detection uses it.
    catalogue : Catalogue, optional
        Prebuilt :func:`build_star_catalogue` (build once, reuse per realization).
    snr_model : optional
        S/N model (default: the scenario's).
    outliers : bool
        Use synth's noise mixture (a share f = ``outlier_fraction`` /
        ``rv_outlier_fraction`` of errors k = ``outlier_scale`` times wider) in the
        expected precision (σ² × (1 − f + f·k²)) and in the detection noise.
        Default: Gaussian σ_P(S/N), as the module docstring describes.
    nsigma, p_threshold : float
        Thresholds of the range (reported) and χ² criteria.

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
    blocks = plate_snr(exposures, plates, scenario, catalogue=cat, snr_model=snr_model)
    stars = cat.stars
    lasp_ok = ((stars.teff >= cfg.lasp_teff_min.to_value("K"))
               & (stars.teff <= cfg.lasp_teff_max.to_value("K")))
    ep = good_epochs(blocks, cat)
    sigma = _expected_sigmas(ep, lasp_ok, cfg, outliers)
    rv_ent = lasp_ok[ep.codes]
    out_mix = (cfg.rv_outlier_fraction, cfg.outlier_scale) if outliers else None
    det_range, det_chi2 = simulate_rv_detection(
        ep.codes[rv_ent], ep.mjd[rv_ent], ep.snr[rv_ent], stars, _realization_rng(seed),
        nsigma=nsigma, p_threshold=p_threshold, outliers=out_mix)
    return _target_outcomes(cat, plates, lasp_ok, ep, sigma, det_range, det_chi2)


@dataclass(frozen=True)
class GoodEpochs:
    """The good epochs of one realization, flat, and per-star counts.

    Attributes
    ----------
    codes, snr, mjd : ndarray, one entry per good epoch
        Star (index into ``Catalogue.stars``), blue S/N and mid-exposure UTC MJD, in plate
        order, then exposure and object order within a plate.
    n_good : ndarray of int, per star
        Good epochs (of all its plates).
    n_spectra : ndarray of int, per star
        Usable spectra (not ``bad_b``).
    baseline_days : ndarray, per star
        Last minus first good epoch, days; 0 with fewer than 2.
    """

    codes: np.ndarray
    snr: np.ndarray
    mjd: np.ndarray
    n_good: np.ndarray
    n_spectra: np.ndarray
    baseline_days: np.ndarray


def good_epochs(blocks: list[PlateSNR], cat: Catalogue) -> GoodEpochs:
    """Flatten :func:`plate_snr`'s blocks into good epochs and per-star counts."""
    n_st, n_as = len(cat.stars), len(cat.plate)
    # Per assignment (plate, object): usable spectra and first/last good epoch; the
    # good epochs themselves as flat (star, S/N, time) entries.
    n_spec = np.zeros(n_as)
    first = np.full(n_as, np.inf)
    last = np.full(n_as, -np.inf)
    ent_star, ent_snr, ent_t = [], [], []
    for b in blocks:
        n_spec[b.rows] = b.usable.sum(axis=0)
        t = b.mid_mjd[:, None]
        first[b.rows] = np.where(b.good, t, np.inf).min(axis=0)
        last[b.rows] = np.where(b.good, t, -np.inf).max(axis=0)
        ei, oi = np.nonzero(b.good)
        ent_star.append(cat.star[b.rows[oi]])
        ent_snr.append(b.snr[ei, oi])
        ent_t.append(b.mid_mjd[ei])
    codes = np.concatenate([np.zeros(0, np.int64), *ent_star])
    n_good = np.bincount(codes, minlength=n_st)
    t0 = np.full(n_st, np.inf)
    t1 = np.full(n_st, -np.inf)
    np.minimum.at(t0, cat.star, first)
    np.maximum.at(t1, cat.star, last)
    return GoodEpochs(
        codes=codes,
        snr=np.concatenate([np.zeros(0), *ent_snr]),
        mjd=np.concatenate([np.zeros(0), *ent_t]),
        n_good=n_good,
        n_spectra=np.rint(np.bincount(cat.star, n_spec, n_st)).astype(np.int64),
        baseline_days=np.where(n_good >= 2, t1 - t0, 0.0),
    )


def _expected_sigmas(ep: GoodEpochs, lasp_ok: np.ndarray, cfg, outliers: bool
                     ) -> dict[str, np.ndarray]:
    """Per star: sqrt(E[σ_w²]) of each parameter and ``rv_mean`` (module docstring)."""
    law = published_laws()
    n_st = len(lasp_ok)
    sigma: dict[str, np.ndarray] = {}
    log_snr = np.log(ep.snr)  # good epochs: S/N > 10, where σ_P is a·(S/N)^b + c
    for p in PARAMS:
        f = cfg.rv_outlier_fraction if p == "rv" else cfg.outlier_fraction
        factor = 1.0 - f + f * cfg.outlier_scale**2 if outliers else 1.0
        var = law[p].extended_from_log(log_snr) ** 2
        sig_w, sig_mean, _ = expected_precision(ep.codes, ep.snr * ep.snr, factor * var, n_st)
        # One epoch: LASP's own error, lasp_error_scale · σ_P(S/N) (no outliers).
        sig_w = np.where(ep.n_good == 1, cfg.lasp_error_scale * sig_w / np.sqrt(factor), sig_w)
        sigma[p] = np.where(lasp_ok, sig_w, np.nan)
        if p == "rv":
            sigma["rv_mean"] = np.where(lasp_ok, sig_mean, np.nan)
    return sigma


def _target_outcomes(cat: Catalogue, plates: PlateSet, lasp_ok: np.ndarray, ep: GoodEpochs,
                     sigma: dict[str, np.ndarray], det_range: np.ndarray,
                     det_chi2: np.ndarray) -> StarOutcomes:
    """The per-star results restricted to targets (flux standards left out)."""
    stars = cat.stars
    n_st, n_as = len(stars), len(cat.plate)
    # Targets only; the plate of the first assignment (assignments are in plate order).
    tg = np.flatnonzero(stars.kind == KIND_TARGET)
    first_as = np.full(n_st, -1, np.int64)
    first_as[cat.star[::-1]] = np.arange(n_as)[::-1]
    binary = stars.binary[tg].astype(bool)
    return StarOutcomes(
        uid=stars.take(tg).uid.astype(str),
        plate=np.asarray(plates.plate_name).astype(str)[cat.plate[first_as[tg]]],
        n_plates=np.bincount(cat.star, minlength=n_st)[tg],
        gaia_g=stars.gmag[tg].astype(float),
        teff=stars.teff[tg].astype(float),
        lasp_ok=lasp_ok[tg],
        n_good=ep.n_good[tg],
        n_spectra=ep.n_spectra[tg],
        baseline_days=ep.baseline_days[tg],
        sigma_teff=sigma["teff"][tg],
        sigma_logg=sigma["logg"][tg],
        sigma_feh=sigma["feh"][tg],
        sigma_rv=sigma["rv"][tg],
        sigma_rv_mean=sigma["rv_mean"][tg],
        is_binary=binary,
        period_d=np.where(binary, stars.period_d[tg], np.nan),
        k1_kms=np.where(binary, stars.k1_kms[tg], 0.0),
        rv_variable_detected=det_range[tg],
        rv_variable_chi2=det_chi2[tg],
    )


def survey_totals(o: StarOutcomes) -> dict:
    """Survey-level counts of one realization.

    Returns
    -------
    dict
        ``spectra_snr_gt_10`` (good blue spectra of targets), ``stars_ge_{10,30,60}
        _good_epochs``, ``rv_tested`` (targets with ≥ 2 good epochs in LASP's range),
        ``rv_variable_detections``, ``binaries_detected``, ``false_detections``
        (detected, not binary), ``completeness_vs_period``: a list of
        ``{log10_period_lo, log10_period_hi, n_binaries, n_detected, completeness}``
        over tested binaries in log10(P/d) bins <1 (``lo`` None: includes P < 1 d),
        1–2, …, 5–6, ≥6 (``hi`` None); completeness is NaN in empty bins. The same
        counts by the χ² criterion under ``"chi2"`` (``rv_variable_detections``,
        ``binaries_detected``, ``false_detections``, ``completeness_vs_period``).
    """
    out = _counts(o, o.rv_variable_detected)
    chi2 = _counts(o, o.rv_variable_chi2)
    out["chi2"] = {k: chi2[k] for k in ("rv_variable_detections", "binaries_detected",
                                        "false_detections", "completeness_vs_period")}
    return out


def _counts(o: StarOutcomes, det: np.ndarray) -> dict:
    tested = (o.n_good >= 2) & o.lasp_ok
    out = {
        "spectra_snr_gt_10": int(o.n_good.sum()),
        "stars_ge_10_good_epochs": int((o.n_good >= 10).sum()),
        "stars_ge_30_good_epochs": int((o.n_good >= 30).sum()),
        "stars_ge_60_good_epochs": int((o.n_good >= 60).sum()),
        "rv_tested": int(tested.sum()),
        "rv_variable_detections": int(det.sum()),
        "binaries_detected": int((det & o.is_binary).sum()),
        "false_detections": int((det & ~o.is_binary).sum()),
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
