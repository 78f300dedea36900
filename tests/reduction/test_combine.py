"""Eq. 1 and Eq. 2 (per-star combination): hand-worked examples and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reduction_fakes import small_catalogue

from lkmrs_sched.core.precision import published_laws
from lkmrs_sched.reduction import combine_epochs, combine_parameter, spectra_from_table
from lkmrs_sched.reduction.groups import weighted_mean_scatter, weighted_median


def test_eq1_eq2_hand_worked_three_epochs():
    # P = 10, 12, 14 with S/N 10, 20, 10 → w = 100, 400, 100; Σw = 600.
    # P̄ = (1000 + 4800 + 1400) / 600 = 12.
    # Σw(P−P̄)² / Σw = (400 + 0 + 400) / 600 = 4/3; × N/(N−1) = 3/2 → 2; σ = √2.
    mean, err, n = combine_parameter(
        np.zeros(3, int), np.array([10.0, 12.0, 14.0]), np.array([10.0, 20.0, 10.0]), None, 1
    )
    assert mean[0] == pytest.approx(12.0, abs=1e-12)
    assert err[0] == pytest.approx(np.sqrt(2.0), rel=1e-12)
    assert n[0] == 3


def test_eq1_eq2_hand_worked_two_epochs_teff():
    # Teff 5000, 5100 K at S/N 20, 40 → w = 400, 1600; P̄ = 10 160 000 / 2000 = 5080 K.
    # Σw(P−P̄)² = 400·80² + 1600·20² = 3 200 000; /2000 = 1600; ×2 = 3200 → 56.5685 K.
    mean, err, _ = combine_parameter(
        np.zeros(2, int), np.array([5000.0, 5100.0]), np.array([20.0, 40.0]), None, 1
    )
    assert mean[0] == pytest.approx(5080.0, abs=1e-9)
    assert err[0] == pytest.approx(np.sqrt(3200.0), rel=1e-12)


def test_one_epoch_keeps_pipeline_error_and_missing_values_are_skipped():
    codes = np.array([0, 1, 1, 1, 2])
    values = np.array([4.2, 2.0, np.nan, 2.4, np.nan])
    snr = np.array([30.0, 10.0, 50.0, 10.0, 40.0])
    errors = np.array([0.07, 0.2, 0.1, 0.2, 0.05])
    mean, err, n = combine_parameter(codes, values, snr, errors, 3)
    assert (n == [1, 2, 0]).all()
    assert mean[0] == 4.2 and err[0] == 0.07  # one epoch: LASP's value and error
    assert mean[1] == pytest.approx(2.2)  # NaN epoch ignored, equal weights
    assert err[1] == pytest.approx(np.sqrt(2 * 0.04))
    assert np.isnan(mean[2]) and np.isnan(err[2])


def test_nonpositive_or_missing_snr_is_not_used():
    mean, _, n = combine_parameter(
        np.zeros(3, int), np.array([1.0, 100.0, 3.0]), np.array([10.0, 0.0, np.nan]), None, 1
    )
    assert n[0] == 1 and mean[0] == 1.0


epochs = st.lists(
    st.tuples(
        st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
        st.floats(0.5, 500.0, allow_nan=False),
    ),
    min_size=2,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(epochs, st.randoms(use_true_random=False))
def test_combination_invariant_to_epoch_order(eps, rnd):
    values = np.array([e[0] for e in eps])
    snr = np.array([e[1] for e in eps])
    perm = np.arange(len(eps))
    rnd.shuffle(perm)
    codes = np.zeros(len(eps), int)
    m1, e1, _ = combine_parameter(codes, values, snr, None, 1)
    m2, e2, _ = combine_parameter(codes, values[perm], snr[perm], None, 1)
    scale = max(1.0, np.abs(values).max())
    assert m1[0] == pytest.approx(m2[0], abs=1e-9 * scale)
    assert e1[0] == pytest.approx(e2[0], abs=1e-6 * scale)


@settings(max_examples=200, deadline=None)
@given(epochs, st.floats(1e-3, 1e3))
def test_combination_invariant_to_scaling_all_weights(eps, factor):
    values = np.array([e[0] for e in eps])
    w = np.array([e[1] for e in eps]) ** 2
    codes = np.zeros(len(eps), int)
    m1, s1, _, _ = weighted_mean_scatter(codes, values, w, 1)
    m2, s2, _, _ = weighted_mean_scatter(codes, values, w * factor, 1)
    scale = max(1.0, np.abs(values).max())
    assert m1[0] == pytest.approx(m2[0], abs=1e-9 * scale)
    assert s1[0] == pytest.approx(s2[0], abs=1e-6 * scale)
    # The same through combine_parameter: S/N × k scales every weight by k².
    m3, s3, _ = combine_parameter(codes, values, np.sqrt(w) * np.sqrt(factor), None, 1)
    assert m3[0] == pytest.approx(m1[0], abs=1e-9 * scale)
    assert s3[0] == pytest.approx(s1[0], abs=1e-6 * scale)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-1e4, 1e4, allow_nan=False),
    st.lists(st.floats(0.5, 500.0), min_size=2, max_size=30),
)
def test_identical_epochs_give_zero_scatter(value, snrs):
    n = len(snrs)
    mean, err, count = combine_parameter(
        np.zeros(n, int), np.full(n, value), np.array(snrs), None, 1
    )
    assert count[0] == n
    assert mean[0] == pytest.approx(value, abs=1e-9 * max(1.0, abs(value)))
    assert err[0] == pytest.approx(0.0, abs=1e-9 * max(1.0, abs(value)))


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-1e4, 1e4, allow_nan=False),
    st.floats(0.5, 500.0),
    st.floats(1e-3, 1e3),
)
def test_one_epoch_keeps_lasp_error(value, snr, lasp_err):
    mean, err, count = combine_parameter(
        np.zeros(1, int), np.array([value]), np.array([snr]), np.array([lasp_err]), 1
    )
    assert count[0] == 1 and mean[0] == value and err[0] == lasp_err


def test_many_stars_at_once_match_star_by_star():
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 50, 2000)
    values = rng.normal(0, 1, 2000)
    snr = rng.uniform(5, 100, 2000)
    mean, err, n = combine_parameter(codes, values, snr, None, 50)
    for k in (0, 17, 49):
        sel = codes == k
        w = snr[sel] ** 2
        m = np.sum(w * values[sel]) / w.sum()
        s = np.sqrt(sel.sum() / (sel.sum() - 1) * np.sum(w * (values[sel] - m) ** 2) / w.sum())
        assert mean[k] == pytest.approx(m) and err[k] == pytest.approx(s) and n[k] == sel.sum()


def test_weighted_median_is_the_l1_minimiser():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 5, 300)
    values = rng.normal(0, 1, 300)
    w = rng.uniform(0.1, 2.0, 300)
    med = weighted_median(codes, values, w, 5)
    for k in range(5):
        sel = codes == k
        cost = lambda m, sel=sel: np.sum(w[sel] * np.abs(values[sel] - m))  # noqa: E731
        grid = values[sel]
        assert cost(med[k]) <= min(cost(g) for g in grid) + 1e-12


def test_table3_columns_and_kic_epic():
    fake = small_catalogue(seed=2, n_plates=2, stars_per_spid=3)
    spectra = spectra_from_table(fake.table())
    cat = combine_epochs(spectra)
    for col in ("name", "kic_epic", "kic_epic_cat", "ra", "dec", "n_spec", "n_rv"):
        assert col in cat.colnames
    for p in ("teff", "logg", "feh", "rv"):
        assert {p, f"{p}_scatter", f"{p}_err_mean"} <= set(cat.colnames)
        assert "Eq. 2" in cat[f"{p}_scatter"].description
    assert str(cat["teff"].unit) == "K" and str(cat["rv_err_mean"].unit) == "km / s"
    assert all(n.startswith("J") and len(n) == 19 for n in cat["name"])
    assert cat["kic_epic"].dtype.kind == "i"  # numeric, as in the paper's Table 3
    assert set(cat["kic_epic_cat"]) == {"KIC", "EPIC"}  # plate 0 in the Kepler field
    kic = np.asarray(cat["kic_epic_cat"]) == "KIC"
    assert (cat["kic_epic"][kic] < 2e7).all() and (cat["kic_epic"][~kic] >= 2e8).all()
    assert cat["n_spec"].max() <= 6 and cat["n_spec"].min() >= 1
    # Per-star Teff lands near the truth (σ ≲ 100 K per epoch at S/N ≥ 12).
    truth = dict(zip(fake.stars["uid"], fake.stars["teff"], strict=True))
    diff = np.array([t - truth[u] for u, t in zip(cat["uid"], cat["teff"], strict=True)])
    assert np.nanmedian(np.abs(diff)) < 60


def test_error_of_the_mean_is_the_spread_of_the_means_not_eq2():
    """Many epochs: Eq. 2 stays at the single-epoch σ, the mean's error falls as 1/√N, and
    it is what the means scatter by (Monte Carlo)."""
    from lkmrs_sched.reduction.combine import mean_error

    law = published_laws()["rv"]
    rng = np.random.default_rng(11)
    n_star, n_ep = 3000, 25
    codes = np.repeat(np.arange(n_star), n_ep)
    snr = rng.uniform(15.0, 80.0, codes.size)
    values = rng.standard_normal(codes.size) * law(snr)
    mean, scatter, _ = combine_parameter(codes, values, snr, None, n_star)
    err = mean_error(codes, values, snr, law, None, n_star)
    assert np.std(mean) == pytest.approx(np.sqrt(np.mean(err**2)), rel=0.05)
    assert np.median(scatter) > 4 * np.median(err)
    one = mean_error(np.zeros(1, int), np.ones(1), np.array([30.0]), law, np.array([0.7]), 1)
    assert one[0] == 0.7  # one epoch: the pipeline's own error
