"""Per-star outcomes (fast path): S/N = synth's, shared error model, Eq. 2 expectation,
detection, determinism. The fast path against the full chain: tests/ensembles/test_per_star.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate, stats

from lkmrs_sched.core.precision import published_laws
from lkmrs_sched.reduction.combine import combine_parameter
from lkmrs_sched.sim.importers import import_table2
from lkmrs_sched.synth.outcomes import (
    Epochs,
    StarOutcomes,
    build_star_catalogue,
    expected_precision,
    plate_snr,
    reduce_measurements,
    simulate_measurements,
    star_outcomes,
    survey_totals,
)
from lkmrs_sched.synth.population import KIND_TARGET
from lkmrs_sched.synth.synth import synthesize

#: K1a1 and K1a2 overlap (stars on two plates); K2e4 stands alone.
SMALL = ("K1a1", "K1a2", "K2e4")


@pytest.fixture(scope="module")
def catalogue(plates, scenario):
    return build_star_catalogue(plates, scenario)


@pytest.fixture(scope="module")
def table2():
    """The first-year log (Table 2, 222 exposures on 13 plates), times placed by rules."""
    return import_table2().exposures


@pytest.fixture(scope="module")
def small(table2):
    """Table 2 restricted to three plates (26 exposures), plus a row of another project."""
    names = np.asarray(table2["plate_name"]).astype(str)
    e = table2[np.isin(names, SMALL)]
    other = table2[:1].copy()
    other["project"] = "TD-B"
    other["plan_id"] = "TD000000N000000B01"
    e.add_row(other[0])
    return e


@pytest.fixture(scope="module")
def synth_small(small, plates, scenario, catalogue):
    """synth with the realization seed 11 (conditions and noise)."""
    return synthesize(small, plates, scenario, 11, catalogue=catalogue)


def _s(col) -> np.ndarray:
    a = np.asarray(col)
    return a.astype(str) if a.dtype.kind in "SO" else a


# --- 1. fast path = full path ----------------------------------------------------------


def test_snr_matrix_is_synths(small, plates, scenario, catalogue, synth_small):
    measured, truth = synth_small
    blocks = plate_snr(small, plates, scenario, catalogue=catalogue, seed=11)
    assert [plates.plate_name[b.plate] for b in blocks] == sorted(
        SMALL, key=lambda n: list(plates.plate_name).index(n))
    fast = np.concatenate([b.snr.ravel() for b in blocks])
    # Bit for bit: synth stores float32 (truth and the DR8-layout table). Spectra of lost
    # spectrograph arms are not in synth's tables (the truth keeps a spectrum with either
    # arm; the table has blue rows where the blue arm is kept).
    obsid = np.concatenate([
        (np.asarray(small["exposure_id"])[b.exposures][:, None] * 100000
         + catalogue.spid[b.rows].astype(np.int64) * 1000 + catalogue.fiberid[b.rows]).ravel()
        for b in blocks])
    in_truth = np.isin(obsid, np.asarray(truth.spectra["obsid"]))
    assert 0.7 < in_truth.mean() < 0.9
    np.testing.assert_array_equal(fast[in_truth].astype(np.float32),
                                  np.asarray(truth.spectra["snr_b"]))
    blue = _s(measured["band"]) == "B"
    kept = np.isin(obsid, np.asarray(measured["obsid"])[blue])
    np.testing.assert_array_equal(fast[kept].astype(np.float32),
                                  np.asarray(measured["snr"])[blue])
    usable = np.concatenate([b.usable.ravel() for b in blocks])
    assert not np.any(usable & ~kept)  # the fast path does not count lost blue arms
    # synth's default catalogue (no catalogue passed) is build_star_catalogue's.
    _, truth_default = synthesize(small[:1], plates, scenario)
    np.testing.assert_array_equal(_s(truth_default.stars["uid"]), _s(catalogue.stars.uid))
    b0 = plate_snr(small[:1], plates, scenario, catalogue=catalogue)[0]
    obsid0 = (np.asarray(small["exposure_id"])[b0.exposures][:, None] * 100000
              + catalogue.spid[b0.rows].astype(np.int64) * 1000 + catalogue.fiberid[b0.rows])
    in0 = np.isin(obsid0.ravel(), np.asarray(truth_default.spectra["obsid"]))
    np.testing.assert_array_equal(b0.snr.ravel()[in0].astype(np.float32),
                                  np.asarray(truth_default.spectra["snr_b"]))


def test_n_good_n_spectra_baseline_equal_synth_table(small, plates, scenario, catalogue,
                                                     synth_small):
    measured, truth = synth_small
    o = star_outcomes(small, plates, scenario, 11, catalogue=catalogue)
    blue = (_s(measured["band"]) == "B") & (_s(measured["objtype"]) == "target")
    uid = _s(measured["uid"])[blue]
    snr = np.asarray(measured["snr"])[blue]
    bad = np.asarray(measured["bad_b"])[blue] != 0
    exp_id = np.asarray(measured["obsid"])[blue] // 100000
    mid = dict(zip(np.asarray(truth.exposures["exposure_id"]).tolist(),
                   np.asarray(truth.exposures["mid_mjd"]).tolist(), strict=True))
    t = np.array([mid[i] for i in exp_id.tolist()])
    index = {u: i for i, u in enumerate(o.uid.tolist())}
    k = np.array([index[u] for u in uid.tolist()])
    # A good epoch: S/N > 10 on an arm LAMOST did not flag (the reduction drops flagged
    # arms' values). Only a few bright stars on dead fibres reach S/N > 10 flagged.
    good = (snr > 10) & ~bad
    assert 0 < int(((snr > 10) & bad).sum()) < 100
    n_good = np.bincount(k[good], minlength=len(o))
    n_spec = np.bincount(k[~bad], minlength=len(o))
    np.testing.assert_array_equal(o.n_good, n_good)
    np.testing.assert_array_equal(o.n_spectra, n_spec)
    t0 = np.full(len(o), np.inf)
    t1 = np.full(len(o), -np.inf)
    np.minimum.at(t0, k[good], t[good])
    np.maximum.at(t1, k[good], t[good])
    np.testing.assert_allclose(o.baseline_days, np.where(n_good >= 2, t1 - t0, 0.0),
                               rtol=0, atol=1e-9)
    # Stars on both overlapping plates count the epochs of both.
    both = o.n_plates == 2
    assert both.sum() > 100 and o.n_good[both].max() > 10
    # RV epochs: synth's LASP runs (good epochs and a share of the S/N 8-10 ones, of the
    # stars LASP works for: it fails star by star, so some stars with good epochs have
    # none). The fast path draws them from synth's own streams: the same counts.
    rv_synth = np.bincount(k[np.isfinite(np.asarray(measured["rv_lasp0"])[blue]) & ~bad],
                           minlength=len(o))
    m = o.lasp_ok
    np.testing.assert_array_equal(o.n_rv, rv_synth)
    assert not o.n_rv[~m].any() and (o.n_rv[m & (o.n_good > 0)] == 0).any()
    assert abs(o.n_rv[m].sum() - rv_synth[m].sum()) < 0.02 * rv_synth[m].sum()
    assert np.all(np.isnan(o.sigma_rv[~o.lasp_ok])) and np.all(np.isnan(o.sigma_rv[o.n_rv == 0]))
    assert np.all(np.isfinite(o.sigma_rv_mean[m & (o.n_rv >= 1)]))
    # Targets only, all of them (observed or not); flux standards left out.
    assert len(o) == int((catalogue.stars.kind == KIND_TARGET).sum())


# --- 2. expected precision = Monte Carlo of Eq. 2 --------------------------------------


@pytest.mark.parametrize("snr", [(11.0, 60.0), (12.0, 15.0, 25.0, 40.0, 80.0, 150.0),
                                 tuple(np.linspace(11, 300, 30))])
@pytest.mark.parametrize("param", ["teff", "rv"])
def test_expected_precision_matches_monte_carlo_of_eq2(snr, param):
    law = published_laws()[param]
    snr = np.asarray(snr)
    n_ep, trials = len(snr), 40_000
    sigma = law.extended(snr)
    codes = np.repeat(np.arange(trials), n_ep)
    s = np.tile(snr, trials)
    rng = np.random.default_rng(5)
    values = 100.0 + np.tile(sigma, trials) * rng.standard_normal(codes.size)
    mean, sigma_w, count = combine_parameter(codes, values, s, None, trials)  # Eq. 1, 2
    assert np.all(count == n_ep)
    ew, em, _ = expected_precision(np.zeros(n_ep, np.int64), snr**2, sigma**2, 1)
    assert np.mean(sigma_w**2) == pytest.approx(ew[0] ** 2, rel=0.03)
    assert np.std(mean) == pytest.approx(em[0], rel=0.02)


def test_expected_precision_special_cases():
    law = published_laws()["rv"]
    # Equal S/N: Eq. 2 estimates σ_P itself, the mean's error is σ_P/√N.
    s = np.full(9, 40.0)
    sig = law.extended(s)
    ew, em, n = expected_precision(np.zeros(9, np.int64), s**2, sig**2, 1)
    assert ew[0] == pytest.approx(sig[0]) and em[0] == pytest.approx(sig[0] / 3)
    # One epoch: its own σ; none: NaN.
    ew, em, n = expected_precision(np.array([0]), np.array([400.0]), np.array([0.81]), 2)
    assert ew[0] == pytest.approx(0.9) and em[0] == pytest.approx(0.9)
    assert np.isnan(ew[1]) and np.isnan(em[1]) and n.tolist() == [1, 0]


# --- 3. detection ----------------------------------------------------------------------


def _stars(catalogue, n, **orbit):
    """``n`` copies of one target with the given orbit fields."""
    i = int(np.flatnonzero(catalogue.stars.kind == KIND_TARGET)[0])
    s = catalogue.stars.take(np.full(n, i))
    return dataclasses.replace(s, **{k: np.full(n, v) for k, v in orbit.items()})


def _detect(stars, n_ep, snr, scenario, seed, **snr_cfg):
    """Simulated LASP epochs (``n_ep`` per star, a day apart) through the reduction."""
    n_star = len(stars)
    codes = np.repeat(np.arange(n_star), n_ep)
    t = 58400 + np.tile(np.arange(n_ep, dtype=float), n_star)
    s = np.full(codes.size, float(snr))
    ep = Epochs(codes, s, t, s > 10, np.bincount(codes, minlength=n_star),
                np.bincount(codes, minlength=n_star), np.zeros(n_star))
    cfg = dataclasses.replace(scenario.snr, **snr_cfg)
    ms = simulate_measurements(ep, stars, np.ones(n_star, bool), cfg,
                               np.random.default_rng(seed))
    return reduce_measurements(ms, n_star).flags


def test_short_period_large_k_binaries_are_detected(catalogue, scenario):
    """300 binaries (K 30 km/s, P 3 d) among 3000 constant stars: the reduction's error
    model comes from the many constant stars, and all three tests find the binaries."""
    n = 3300
    st = _stars(catalogue, n, binary=False, k1_kms=0.0, period_d=3.0, ecc=0.0,
                omega_rad=0.0, t_peri_mjd=58000.0)
    st = dataclasses.replace(st, binary=np.arange(n) < 300,
                             k1_kms=np.where(np.arange(n) < 300, 30.0, 0.0))
    flags = _detect(st, 20, 30.0, scenario, 1)
    for name in ("robust", "paper", "chi2"):
        assert flags[name][:300].all(), name
    assert flags["robust"][300:].mean() <= 0.005


def _range_false_alarm(n: int, r: float) -> float:
    """P(range of n iid standard normals > r) = 1 − n ∫ φ(x) [Φ(x+r) − Φ(x)]^(n−1) dx."""
    def f(x):
        return stats.norm.pdf(x) * (stats.norm.cdf(x + r) - stats.norm.cdf(x)) ** (n - 1)
    return 1.0 - n * integrate.quad(f, -12, 12, limit=200)[0]


@pytest.mark.parametrize("n_ep", [5, 20, 60])
def test_constant_stars_false_alarm_rate(catalogue, scenario, n_ep):
    """Gaussian errors at Table 4's σ (which the reduction assumes when it cannot fit its
    own law, as here with one S/N): the paper's range test fires as the range distribution
    says; with 4 % 10σ tails it fires far more often and the robust test stays below
    0.5 %. With synth's own noise (core law below Table 4, its 0.5 % tail) the robust test
    stays below 0.5 % too."""
    n_star = 3000
    st = _stars(catalogue, n_star, binary=False, k1_kms=0.0)
    t4 = published_laws()["rv"]
    table4 = {"core_rv": (t4.a, t4.b, t4.c)}
    gauss = _detect(st, n_ep, 50.0, scenario, n_ep, rv_outlier_fraction=0.0, **table4)
    # Equal σ at every epoch: the range test fires when max − min > 3·√2·σ.
    p = _range_false_alarm(n_ep, 3.0 * np.sqrt(2.0))
    se = np.sqrt(p * (1 - p) / n_star)
    assert abs(gauss["paper"].mean() - p) < 4 * se + 1e-3, (gauss["paper"].mean(), p)
    assert gauss["chi2"].mean() < 0.004 and gauss["robust"].mean() < 0.004
    tails = _detect(st, n_ep, 50.0, scenario, n_ep + 1, rv_outlier_fraction=0.04, **table4)
    assert tails["paper"].mean() > min(3 * p, p + 0.15)
    assert tails["robust"].mean() <= 0.005
    own = _detect(st, n_ep, 50.0, scenario, n_ep + 2)
    assert own["robust"].mean() <= 0.005


def test_completeness_falls_with_period_on_table2(table2, plates, scenario, catalogue):
    o = star_outcomes(table2, plates, scenario, 2019, catalogue=catalogue)
    tot = survey_totals(o)
    # Synth's stars are binaries, intrinsic RV variables (its star-correlated scatter) or
    # constant: a detection is one of the three (binaries that also vary count as binaries).
    assert tot["rv_variable_detections"] == (tot["binaries_detected"]
                                             + tot["variables_detected"]
                                             + tot["false_detections"])
    assert tot["variables_detected"] > 0.5 * int(((o.n_rv >= 2) & o.lasp_ok & o.is_variable
                                                  & ~o.is_binary).sum())
    assert tot["spectra_snr_gt_10"] == int(o.n_good.sum())
    assert 0.5 < tot["median_sigma_rv"] < 2.0 and tot["median_sigma_rv_mean"] < 0.5
    # The robust test keeps false detections near its false-alarm rate; the paper's does not.
    assert tot["false_detections"] < 0.005 * tot["rv_tested"]
    assert tot["paper"]["false_detections"] > 10 * max(tot["false_detections"], 1)
    for crit in (tot, tot["paper"], tot["chi2"]):
        bins = crit["completeness_vs_period"]
        assert [b["log10_period_hi"] for b in bins] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, None]
        assert bins[0]["log10_period_lo"] is None
        assert sum(b["n_binaries"] for b in bins) == int(
            ((o.n_rv >= 2) & o.lasp_ok & o.is_binary).sum())

        def share(sel, bins=bins):
            return (sum(bins[i]["n_detected"] for i in sel)
                    / sum(bins[i]["n_binaries"] for i in sel))
        assert share([0, 1]) > share([5, 6]) + 0.3
        assert share([0, 1, 2]) > share([3]) >= share([5, 6])


# --- 4. determinism -----------------------------------------------------------------------


def test_same_seed_same_outcomes_other_seed_other_noise(table2, plates, scenario, catalogue):
    a = star_outcomes(table2, plates, scenario, 7, catalogue=catalogue)
    b = star_outcomes(table2, plates, scenario, 7, catalogue=catalogue)
    c = star_outcomes(table2, plates, scenario, np.random.SeedSequence(8), catalogue=catalogue)
    changed = []
    for f in dataclasses.fields(StarOutcomes):
        np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name))
        x, y = getattr(a, f.name), getattr(c, f.name)
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            changed.append(f.name)
    # The seed draws the conditions and the noise; the stars are the scenario's.
    assert {"n_good", "sigma_rv", "rv_variable_paper"} <= set(changed)
    assert not set(changed) & {"uid", "plate", "n_plates", "gaia_g", "teff", "lasp_ok",
                               "is_binary", "period_d", "k1_kms"}
    # The catalogue need not be passed (built from scenario.seed).
    d = star_outcomes(table2[:20], plates, scenario, 7)
    e = star_outcomes(table2[:20], plates, scenario, 7, catalogue=catalogue)
    np.testing.assert_array_equal(d.n_good, e.n_good)


# --- 5. monotone in exposures -------------------------------------------------------------


def test_adding_exposures_never_reduces_epochs_or_baseline(table2, plates, scenario,
                                                           catalogue):
    rng = np.random.default_rng(4)
    part = rng.random(len(table2)) < 0.5
    a = star_outcomes(table2[part], plates, scenario, 1, catalogue=catalogue)
    b = star_outcomes(table2[~part], plates, scenario, 1, catalogue=catalogue)
    full = star_outcomes(table2, plates, scenario, 1, catalogue=catalogue)
    for sub in (a, b):
        assert np.all(full.n_good >= sub.n_good)
        assert np.all(full.n_spectra >= sub.n_spectra)
        assert np.all(full.baseline_days >= sub.baseline_days)
    # An exposure's S/N does not depend on the other exposures: counts simply add up.
    np.testing.assert_array_equal(full.n_good, a.n_good + b.n_good)
    np.testing.assert_array_equal(full.n_spectra, a.n_spectra + b.n_spectra)


def test_empty_and_other_projects_only(table2, plates, scenario, catalogue):
    other = table2[:3].copy()
    other["project"] = "NT"
    o = star_outcomes(other, plates, scenario, 0, catalogue=catalogue)
    assert o.n_good.sum() == 0 and np.all(np.isnan(o.sigma_teff))
    assert not o.rv_variable_detected.any() and not o.rv_variable_paper.any()
    tot = survey_totals(o)
    assert tot["stars_ge_10_good_epochs"] == 0
    assert np.isnan(tot["completeness_vs_period"][0]["completeness"])
    assert len(o.to_table()) == len(o)
