"""Eq. 3 and Eq. 4: internal precision from repeat measurements."""

from __future__ import annotations

import numpy as np
import pytest

from lkmrs_sched.reduction import (
    PrecisionLaw,
    fit_internal_precision,
    internal_deltas,
    published_laws,
    reduce_spectra,
    spectra_from_table,
)
from lkmrs_sched.reduction.fakes import fake_catalogue
from lkmrs_sched.reduction.uncertainty import fit_law, precision_table


def test_eq3_hand_worked():
    # P = 10, 12, 14 at S/N 10, 20, 10: P̄ = 12, ΔP = (−2, 0, 2)·√(3/2).
    delta, count = internal_deltas(
        np.zeros(3, int), np.array([10.0, 12.0, 14.0]), np.array([100.0, 400.0, 100.0]), 1
    )
    assert count[0] == 3
    assert delta == pytest.approx(np.array([-2.0, 0.0, 2.0]) * np.sqrt(1.5))


def test_eq3_one_epoch_star_has_no_delta():
    delta, _ = internal_deltas(np.array([0, 1, 1]), np.array([5.0, 1.0, 3.0]), np.ones(3), 2)
    assert np.isnan(delta[0]) and delta[1:] == pytest.approx([-np.sqrt(2), np.sqrt(2)])


@pytest.mark.parametrize("p", ["teff", "logg", "feh", "rv"])
def test_fit_law_recovers_exact_law(p):
    law = published_laws()[p]
    x = 8.0 + 2.0 * np.arange(80)
    got, err = fit_law(x, law(x), 0.01 * law(x))
    assert [float(got(s)) for s in (10, 20, 50)] == pytest.approx(
        [float(law(s)) for s in (10, 20, 50)], rel=1e-4
    )
    assert np.isfinite(err).all()


def test_too_few_repeats_gives_a_status_not_a_crash():
    fit = fit_internal_precision(np.array([0, 0]), np.array([1.0, 2.0]), np.array([20.0, 30.0]))
    assert not fit.law.ok and "too few" in fit.status
    assert fit.to_dict()["a"] is None


@pytest.fixture(scope="module")
def recovery():
    """Table 4 noise, 5 % outliers at 8–30 σ, LASP down to S/N 8, RV offsets and lamp shift."""
    fake = fake_catalogue(
        seed=11,
        n_plates=2,
        stars_per_spid=150,
        n_exposures=20,
        snr_range=(5.0, 300.0),
        snr_epoch_scatter=0.3,
        lasp_min_snr=8.0,
        outlier_fraction=0.05,
        rv_offset_sigma=0.3,
        lamp_exposures=2,
    )
    spectra = spectra_from_table(fake.arrow())
    return fake, reduce_spectra(spectra)


@pytest.mark.parametrize("p", ["teff", "logg", "feh", "rv"])
def test_sigma_at_snr_10_20_50_recovered_within_10_percent(recovery, p):
    _, result = recovery
    law = published_laws()[p]
    fit = result.precision[p]
    for s in (10, 20, 50):
        got, want = float(fit.sigma_at(s)), float(law(s))  # the law the noise follows
        assert abs(got / want - 1) < 0.10, (p, s, got, want)


@pytest.mark.parametrize("p", ["teff", "logg", "feh", "rv"])
def test_injected_outlier_share_found(recovery, p):
    _, result = recovery
    fit = result.precision[p]
    # 5 % injected per measurement; some fall on stars with too few epochs to judge.
    assert 0.04 < fit.outlier_fraction < 0.06, fit.outlier_fraction
    assert fit.status == "ok" and fit.clip_iterations >= 2


def test_uncertainty_dict_and_table4_layout(recovery):
    _, result = recovery
    d = result.uncertainty_dict()
    assert set(d) == {"teff", "logg", "feh", "rv"}
    for entry in d.values():
        assert {"a", "b", "c", "sigma_at_snr", "outlier_fraction"} <= set(entry)
        assert set(entry["sigma_at_snr"]) == {"10", "20", "50"}
    t = precision_table(result.precision)
    assert list(t["parameter"]) == ["teff", "logg", "feh", "rv"]
    assert {"sigma_at_snr10", "sigma_at_snr20", "sigma_at_snr50", "outlier_fraction"} <= set(
        t.colnames
    )


def test_clean_gaussian_data_no_outliers_found():
    rng = np.random.default_rng(5)
    n_star, n_ep = 800, 15
    codes = np.repeat(np.arange(n_star), n_ep)
    # Each star has its own S/N level; epochs scatter around it by 30 %.
    level = np.exp(rng.uniform(np.log(8), np.log(250), n_star))
    snr = level[codes] * np.exp(rng.normal(0, 0.3, codes.size))
    law = PrecisionLaw(1.0, -1.0, 0.01)
    values = rng.normal(0, 1, codes.size) * law(snr)
    fit = fit_internal_precision(codes, values, snr)
    assert fit.outlier_fraction < 0.001  # 6σ: essentially none for Gaussian noise
    assert float(fit.sigma_at(20)) == pytest.approx(float(law(20)), rel=0.05)
