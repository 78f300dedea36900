"""RV-variable candidates: range (3σ) and χ² criteria."""

from __future__ import annotations

import numpy as np
import pytest

from lkmrs_sched.core.precision import published_laws
from lkmrs_sched.reduction import PrecisionLaw, reduce_spectra, rv_variability, spectra_from_table
from lkmrs_sched.reduction.fakes import fake_catalogue


def test_hand_made_stars():
    law = PrecisionLaw(0.0, -1.0, 1.0)  # σ = 1 km/s at any S/N
    codes = np.array([0, 0, 0, 1, 1, 1, 2])
    rv = np.array([0.0, 0.5, -0.5, 0.0, 10.0, 0.0, 3.0])
    snr = np.full(7, 50.0)
    t = rv_variability(codes, rv, snr, law, 3)
    assert list(t["star"]) == [0, 1]  # star 2 has one epoch: not tested
    assert list(t["var_range"]) == [False, True]  # 1/√2 σ vs 10/√2 = 7.1σ
    assert t["delta_rv_sigma"][1] == pytest.approx(10 / np.sqrt(2))
    assert t["chi2"][0] == pytest.approx(0.5)
    assert list(t["var_chi2"]) == [False, True]
    assert t.meta["n_tested"] == 2 and t.meta["n_var_range"] == 1


def test_binaries_found_constant_stars_rarely_flagged():
    fake = fake_catalogue(
        seed=31,
        n_plates=1,
        stars_per_spid=60,
        n_exposures=10,
        snr_range=(20.0, 200.0),
        binary_fraction=0.2,
        binary_k_range=(10.0, 40.0),
    )
    result = reduce_spectra(spectra_from_table(fake.arrow()), None)
    var = result.variables
    uid_binary = dict(zip(fake.stars["uid"], fake.stars["binary_k"] > 0, strict=True))
    is_bin = np.array([uid_binary[u] for u in var["uid"]])
    assert is_bin.sum() > 150
    # K ≥ 10 km/s against σ ≲ 1 km/s: nearly every binary is caught by both tests.
    assert np.mean(var["var_range"][is_bin]) > 0.9
    assert np.mean(var["var_chi2"][is_bin]) > 0.9
    # False alarms: χ² at p < 0.001 should flag ~0.1 % of constant stars; the range
    # test's rate grows with the number of epochs (10 here) but stays small.
    assert np.mean(var["var_chi2"][~is_bin]) < 0.01
    assert np.mean(var["var_range"][~is_bin]) < 0.05
    assert set(var.colnames) >= {"name", "uid", "n_rv", "delta_rv", "p_chi2", "var_range"}


def test_law_beyond_snr_max_is_held_constant():
    law = published_laws()["rv"]  # goes negative near S/N ~ 1000
    codes = np.zeros(2, int)
    t = rv_variability(codes, np.array([0.0, 0.5]), np.array([2000.0, 2000.0]), law, 1)
    assert np.isfinite(t["delta_rv_sigma"][0])
    assert t["delta_rv_sigma"][0] == pytest.approx(0.5 / (np.sqrt(2) * float(law(300.0))))
