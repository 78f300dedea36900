"""Per-star outcomes through the full chain: synth → reduce, inside every realization.

``forecast --per-star full`` runs, for each realization, :func:`full_chain_outcomes`:

1. :func:`lkmrs_sched.synth.synth.synthesize` of the realization's LK-MRS exposures (the
   observed log plus the simulated seasons), with the realization's seed (conditions,
   measurement noise, zero points, alternate-lamp nights) and the forecast's star
   catalogue (built once per process from ``scenario.seed``, as the fast path's);
2. the DR8-layout table (its blue-arm rows, :func:`blue_rows`) goes through the
   reduction's own reader
   (:func:`~lkmrs_sched.reduction.readers.spectra_from_table`) and pipeline
   (:func:`~lkmrs_sched.reduction.pipeline.reduce_spectra`: zero points with the lamp
   detected from the data, Eq. 3–4 for RV, Eq. 1–2, RV variables; :data:`FULL_CHAIN_CONFIG`),
   exactly as a real catalogue;
3. the per-star outcomes (:class:`~lkmrs_sched.synth.outcomes.StarOutcomes`, the fast
   path's fields and definitions) come from the measured table (good epochs, usable
   spectra, time baselines), the reduction's catalogue (Eq. 2 σ_w, the mean RV's error,
   RV epochs) and its RV-variable table (robust, paper's and χ² flags); the truth
   (binaries, periods, LASP's Teff range) from the catalogue.

Survey totals are :func:`lkmrs_sched.synth.outcomes.survey_totals` of those outcomes, so
the two paths report the same keys. The chain is deterministic per realization seed.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from lkmrs_sched.reduction.checks import wanted_columns
from lkmrs_sched.reduction.pipeline import ReductionConfig, ReductionResult, reduce_spectra
from lkmrs_sched.reduction.readers import spectra_from_table
from lkmrs_sched.sky.footprints import PlateSet
from lkmrs_sched.synth.fibres import Catalogue
from lkmrs_sched.synth.outcomes import (
    PARAMS,
    SNR_GOOD,
    Reduced,
    StarOutcomes,
    build_star_catalogue,
    target_outcomes,
)
from lkmrs_sched.synth.synth import Truth, synthesize


def full_chain_outcomes(
    exposures: Table,
    plates: PlateSet,
    scenario,
    seed: int | np.random.SeedSequence,
    *,
    catalogue: Catalogue | None = None,
    config: ReductionConfig | None = None,
) -> StarOutcomes:
    """Per-target outcomes of one realization by synthesizing and reducing its exposures.

    Parameters
    ----------
    exposures : astropy.table.Table
        The realization's exposures (obslog schema; only LK-MRS rows are used).
    plates : PlateSet
        The LK-MRS plates with their Table 1 counts.
    scenario : Scenario
    seed : int or SeedSequence
        The realization's seed (synth's master seed).
    catalogue : Catalogue, optional
        :func:`~lkmrs_sched.synth.outcomes.build_star_catalogue` (built when not given).
    config : ReductionConfig, optional
        Reduction options (default: the defaults of ``lkmrs-sched reduce``).

    Returns
    -------
    StarOutcomes
        One entry per target of the plate set, as the fast path's.
    """
    cat = catalogue if catalogue is not None else build_star_catalogue(plates, scenario)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    # The observed log and the simulated seasons number their exposures from 1 each;
    # synth builds obsid from exposure_id, so give every exposure its own (the random
    # streams are keyed by plan ID and lmjm, not by exposure_id).
    exposures = exposures.copy(copy_data=False)
    exposures["exposure_id"] = np.arange(1, len(exposures) + 1, dtype=np.int64)
    measured, truth = synthesize(exposures, plates, scenario, seq, catalogue=cat)
    result = reduce_spectra(spectra_from_table(blue_rows(measured), where="synth"),
                            config or FULL_CHAIN_CONFIG)
    return outcomes_from_reduction(truth, result, cat, plates, scenario)


#: The reduction of the full chain: ``lkmrs-sched reduce``'s defaults, with the internal
#: precision fitted for RV only (the outcomes use Eq. 2 for Teff, log g, [Fe/H], which
#: needs no fit; their Table 4 is what ``reduce`` on the synthetic files is for).
FULL_CHAIN_CONFIG = ReductionConfig(precision_parameters=("rv",))


def blue_rows(measured: Table) -> dict[str, np.ndarray]:
    """The blue-arm rows of the columns the reader reads, as arrays.

    Every value the outcomes use (LASP's parameters, ``rv_lasp0``, the blue S/N) is on
    them; the red rows would only add ``snr_r``. A catalogue of one arm is valid input
    to the reader (its rows join into spectra without the other). synth writes each
    spectrum's B row right before its R row, so the blue rows are every other row (views,
    no copy); other layouts are selected by ``band``.
    """
    band = np.asarray(measured["band"])
    blue = b"B" if band.dtype.kind == "S" else "B"
    names = [n for n in wanted_columns("rv_lasp0", "rv_lasp0_err") if n in measured.colnames]
    if band.size % 2 == 0 and np.all(band[0::2] == blue) and not np.any(band[1::2] == blue):
        return {n: np.asarray(measured[n])[0::2] for n in names}
    sel = band == blue
    return {n: np.asarray(measured[n])[sel] for n in names}


def _star_index(cat: Catalogue, uid: np.ndarray) -> np.ndarray:
    """Index into ``cat.stars`` of each uid (str or bytes; a few tens of thousands)."""
    cat_uid = np.asarray(cat.stars.uid).astype(str)
    order = np.argsort(cat_uid)
    pos = np.searchsorted(cat_uid, np.asarray(uid).astype(str), sorter=order)
    return order[np.clip(pos, 0, order.size - 1)]


def epoch_counts(result: ReductionResult, truth: Truth, cat: Catalogue
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Good epochs, usable spectra and good-epoch baseline (days) per catalogue star, from
    the spectra the reduction read (the fast path's definitions; synth flags a spectrum
    ``bad_b`` exactly when its fibre is dead, ``fibermask`` = 1, or its S/N < 1)."""
    sp = result.spectra.spectra
    snr = np.asarray(sp["snr"], np.float32)
    usable = (np.asarray(sp["fibermask"]) == 0) & (snr >= 1)
    good = usable & (snr > np.float32(SNR_GOOD))
    star = _star_index(cat, np.asarray(result.spectra.stars["uid"]))[np.asarray(sp["star"])]
    # Mid-exposure times from synth's exposures, matched by (plan ID, lmjm).
    ex = result.spectra.exposures
    key_read = np.char.add(np.asarray(ex["planid"]).astype(str),
                           np.asarray(ex["lmjm"]).astype(str))
    key_true = np.char.add(np.asarray(truth.exposures["planid"]).astype(str),
                           np.asarray(truth.exposures["lmjm"]).astype(str))
    order = np.argsort(key_true)
    mid_e = np.asarray(truth.exposures["mid_mjd"], float)[
        order[np.searchsorted(key_true, key_read, sorter=order)]]
    mid = mid_e[np.asarray(sp["exposure"])]
    n = len(cat.stars)
    t0 = np.full(n, np.inf)
    t1 = np.full(n, -np.inf)
    np.minimum.at(t0, star[good], mid[good])
    np.maximum.at(t1, star[good], mid[good])
    n_good = np.bincount(star[good], minlength=n)
    return (n_good, np.bincount(star[usable], minlength=n),
            np.where(n_good >= 2, t1 - t0, 0.0))


def reduced_per_star(result: ReductionResult, cat: Catalogue) -> Reduced:
    """The reduction's per-star numbers on the catalogue's stars (NaN / 0 / False where
    the reduction has none)."""
    n = len(cat.stars)
    c = result.catalogue
    k = _star_index(cat, np.asarray(c["uid"]))
    sigma = {}
    for p in PARAMS:
        sigma[p] = np.full(n, np.nan)
        sigma[p][k] = np.asarray(c[f"{p}_scatter"], float)
    mean_err = np.full(n, np.nan)
    mean_err[k] = np.asarray(c["rv_err_mean"], float)
    n_rv = np.zeros(n, np.int64)
    n_rv[k] = np.asarray(c["n_rv"])
    v = result.variables
    kv = _star_index(cat, np.asarray(v["uid"]))
    flags = {}
    for name in ("robust", "paper", "chi2"):
        flags[name] = np.zeros(n, bool)
        flags[name][kv] = np.asarray(v[f"var_{name}"], bool)
    return Reduced(sigma, mean_err, n_rv, flags)


def outcomes_from_reduction(truth: Truth, result: ReductionResult, cat: Catalogue,
                            plates: PlateSet, scenario) -> StarOutcomes:
    """:class:`StarOutcomes` from synth's truth and the reduction of its table."""
    cfg = scenario.snr
    stars = cat.stars
    lasp_ok = ((stars.teff >= cfg.lasp_teff_min.to_value("K"))
               & (stars.teff <= cfg.lasp_teff_max.to_value("K")))
    n_good, n_spectra, baseline = epoch_counts(result, truth, cat)
    return target_outcomes(cat, plates, lasp_ok, n_good, n_spectra, baseline,
                           reduced_per_star(result, cat))
