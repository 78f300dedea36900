"""Per-star outcomes: fast path = synth, Eq. 2 expectation, detection, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate, stats

from lkmrs_sched.core.precision import published_laws
from lkmrs_sched.reduction.combine import combine_parameter
from lkmrs_sched.sim.importers import import_table2
from lkmrs_sched.synth.outcomes import (
    StarOutcomes,
    build_star_catalogue,
    expected_precision,
    plate_snr,
    simulate_rv_detection,
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
    return synthesize(small, plates, scenario, catalogue=catalogue)


def _s(col) -> np.ndarray:
    a = np.asarray(col)
    return a.astype(str) if a.dtype.kind in "SO" else a


# --- 1. fast path = full path ----------------------------------------------------------


def test_snr_matrix_is_synths(small, plates, scenario, catalogue, synth_small):
    measured, truth = synth_small
    blocks = plate_snr(small, plates, scenario, catalogue=catalogue)
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
    # Expected RV precision from the same S/N as read back from the table (float32).
    law = published_laws()
    sig_w, sig_mean, count = expected_precision(k[good], snr[good].astype(float) ** 2,
                                                law["rv"].extended(snr[good]) ** 2, len(o))
    m = o.lasp_ok & (count >= 1)
    np.testing.assert_allclose(o.sigma_rv[m], sig_w[m], rtol=1e-5)
    np.testing.assert_allclose(o.sigma_rv_mean[m], sig_mean[m], rtol=1e-5)
    assert np.all(np.isnan(o.sigma_rv[~o.lasp_ok])) and np.all(np.isnan(o.sigma_rv[count == 0]))
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


def test_short_period_large_k_binary_is_detected(catalogue):
    st = _stars(catalogue, 1, binary=True, k1_kms=30.0, period_d=3.0, ecc=0.0,
                omega_rad=0.0, t_peri_mjd=58000.0)
    rng = np.random.default_rng(0)
    t = 58400 + np.sort(rng.uniform(0, 120, 40))
    rg, chi = simulate_rv_detection(np.zeros(40, np.int64), t, np.full(40, 30.0), st,
                                    np.random.default_rng(1))
    assert rg[0] and chi[0]


def _range_false_alarm(n: int, r: float) -> float:
    """P(range of n iid standard normals > r) = 1 − n ∫ φ(x) [Φ(x+r) − Φ(x)]^(n−1) dx."""
    def f(x):
        return stats.norm.pdf(x) * (stats.norm.cdf(x + r) - stats.norm.cdf(x)) ** (n - 1)
    return 1.0 - n * integrate.quad(f, -12, 12, limit=200)[0]


@pytest.mark.parametrize("n_ep", [5, 20, 60])
def test_constant_stars_false_alarm_rate(catalogue, n_ep):
    n_star = 4000
    st = _stars(catalogue, n_star, binary=False, k1_kms=0.0)
    codes = np.repeat(np.arange(n_star), n_ep)
    t = 58400 + np.tile(np.arange(n_ep, dtype=float), n_star)
    rg, chi = simulate_rv_detection(codes, t, np.full(codes.size, 50.0), st,
                                    np.random.default_rng(n_ep))
    # Equal σ at every epoch: the range test fires when max − min > 3·√2·σ.
    p = _range_false_alarm(n_ep, 3.0 * np.sqrt(2.0))
    se = np.sqrt(p * (1 - p) / n_star)
    assert abs(rg.mean() - p) < 4 * se + 1e-3, (rg.mean(), p)
    assert chi.mean() < 0.004  # p-value threshold 0.001


def test_completeness_falls_with_period_on_table2(table2, plates, scenario, catalogue):
    o = star_outcomes(table2, plates, scenario, 2019, catalogue=catalogue)
    tot = survey_totals(o)
    assert tot["rv_variable_detections"] == tot["binaries_detected"] + tot["false_detections"]
    assert tot["spectra_snr_gt_10"] == int(o.n_good.sum())
    for crit in (tot, tot["chi2"]):
        bins = crit["completeness_vs_period"]
        assert [b["log10_period_hi"] for b in bins] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, None]
        assert bins[0]["log10_period_lo"] is None
        assert sum(b["n_binaries"] for b in bins) == int(
            ((o.n_good >= 2) & o.lasp_ok & o.is_binary).sum())

        def share(sel, bins=bins):
            return (sum(bins[i]["n_detected"] for i in sel)
                    / sum(bins[i]["n_binaries"] for i in sel))
        assert share([0, 1]) > share([5, 6]) + 0.3
        assert share([0, 1, 2]) > share([3]) > share([5, 6])


# --- 4. determinism -----------------------------------------------------------------------


def test_same_seed_same_outcomes_other_seed_only_detections(table2, plates, scenario,
                                                           catalogue):
    a = star_outcomes(table2, plates, scenario, 7, catalogue=catalogue)
    b = star_outcomes(table2, plates, scenario, 7, catalogue=catalogue)
    c = star_outcomes(table2, plates, scenario, np.random.SeedSequence(8), catalogue=catalogue)
    changed = []
    for f in dataclasses.fields(StarOutcomes):
        np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name))
        x, y = getattr(a, f.name), getattr(c, f.name)
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            changed.append(f.name)
    assert changed == ["rv_variable_detected", "rv_variable_chi2"]
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
    # More epochs never worsen the mean's expected error.
    m = (a.n_good >= 1) & a.lasp_ok
    assert np.all(full.sigma_rv_mean[m] <= a.sigma_rv_mean[m] * (1 + 1e-12))


def test_empty_and_other_projects_only(table2, plates, scenario, catalogue):
    other = table2[:3].copy()
    other["project"] = "NT"
    o = star_outcomes(other, plates, scenario, 0, catalogue=catalogue)
    assert o.n_good.sum() == 0 and np.all(np.isnan(o.sigma_teff))
    assert not o.rv_variable_detected.any()
    tot = survey_totals(o)
    assert tot["stars_ge_10_good_epochs"] == 0
    assert np.isnan(tot["completeness_vs_period"][0]["completeness"])
    assert len(o.to_table()) == len(o)
