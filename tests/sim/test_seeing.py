"""Seeing: the Table 2 fit, the sampled distribution, night correlation, determinism."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.sim.seeing import TABLE2, SeeingConfig, SeeingModel, fit_seeing


def test_fit_reproduces_defaults():
    median, sigma_ln = fit_seeing(TABLE2)
    cfg = SeeingConfig()
    # The defaults are the fit rounded to 4 significant digits.
    assert cfg.median.to_value(u.arcsec) == pytest.approx(median, abs=5e-4)
    assert cfg.sigma_ln == pytest.approx(sigma_ln, abs=5e-5)
    # Sanity against the brief: sample median 3.3″.
    assert 3.2 < median < 3.45


def test_fit_handles_censoring(tmp_path: Path):
    """Censored rows pull the fit up compared with treating them as measured."""
    rows = ["seeing_arcsec,seeing_is_lower_bound"] + [f"{x},0" for x in (2.5, 3.0, 3.5, 4.0)]
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join([*rows, "6.0,0"]) + "\n")
    cens = tmp_path / "cens.csv"
    cens.write_text("\n".join([*rows, "6.0,1"]) + "\n")
    m0, s0 = fit_seeing(plain)
    m1, s1 = fit_seeing(cens)
    x = np.log([2.5, 3.0, 3.5, 4.0, 6.0])
    assert m0 == pytest.approx(np.exp(x.mean()), rel=1e-6)  # uncensored MLE: mean, ddof=0 std
    assert s0 == pytest.approx(x.std(), rel=1e-5)
    assert m1 > m0 and s1 > s0


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("seeing,flag\n3.0,0\n", "missing column"),
        ("seeing_arcsec,seeing_is_lower_bound\nfoggy,0\n3.0,0\n", "line 2 seeing_arcsec"),
        ("seeing_arcsec,seeing_is_lower_bound\n3.0,0\n-1,0\n", "line 3 seeing_arcsec"),
        ("seeing_arcsec,seeing_is_lower_bound\n3.0,yes\n3.1,0\n", "line 2 seeing_is_lower"),
        ("seeing_arcsec,seeing_is_lower_bound\n3.0,0\n", "too few rows"),
    ],
)
def test_fit_bad_file(tmp_path: Path, text: str, match: str):
    f = tmp_path / "log.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=match):
        fit_seeing(f)


@pytest.fixture(scope="module")
def grid():
    """Seeing of 10 exposures in each of 4000 nights (default config)."""
    m = SeeingModel(SeeingConfig(), 4000, np.random.default_rng(21))
    return np.array([[m.sample(j, k) for k in range(10)] for j in range(4000)])


def test_sample_median_and_dispersion(grid):
    cfg = SeeingConfig()
    # Effective sample ~ number of nights (night term dominates): the median's ln has
    # sigma ~ 1.25 * 0.23 / sqrt(4000 / 1.7) ~ 0.006; tolerance 2 %.
    assert np.median(grid) == pytest.approx(cfg.median.to_value(u.arcsec), rel=0.02)
    assert np.median(grid) == pytest.approx(3.3, rel=0.03)  # the brief's Table 2 median
    assert np.log(grid).std() == pytest.approx(cfg.sigma_ln, rel=0.05)


def test_within_night_correlation(grid):
    ln = np.log(grid)
    same_night = np.corrcoef(ln[:, 0], ln[:, 1])[0, 1]
    other_night = np.corrcoef(ln[:-1, 0], ln[1:, 0])[0, 1]
    # n = 4000: sigma of a correlation ~ 0.016 (0.006 near 0.7).
    assert same_night == pytest.approx(SeeingConfig().night_fraction, abs=0.04)
    assert abs(other_night) < 0.05


def test_night_fraction_split():
    for w in (0.0, 1.0):
        m = SeeingModel(SeeingConfig(night_fraction=w), 500, np.random.default_rng(2))
        ln = np.log([[m.sample(j, k) for k in range(4)] for j in range(500)])
        within = ln.std(axis=1).mean()
        assert (within == 0) if w == 1.0 else (within > 0.1)


def test_deterministic_regardless_of_other_nights():
    cfg = SeeingConfig()
    a = SeeingModel(cfg, 100, np.random.default_rng(5))
    first = [a.sample(42, k) for k in range(40)]  # beyond one cached block
    b = SeeingModel(cfg, 100, np.random.default_rng(5))
    for j in range(100):  # other nights take any number of exposures first
        for k in range(j % 7):
            b.sample(j, k)
    later = [b.sample(42, k) for k in reversed(range(40))][::-1]  # and out of order
    assert first == later
    c = SeeingModel(cfg, 100, np.random.default_rng(6))
    assert c.sample(42, 0) != first[0]


def test_constant_and_minimum():
    m = SeeingModel(SeeingConfig(model="constant"), 3, np.random.default_rng(0))
    assert {m.sample(j, k) for j in range(3) for k in range(5)} == {3.351}
    floor = SeeingConfig(median=2.0 * u.arcsec, sigma_ln=1.0, minimum=1.5 * u.arcsec)
    m = SeeingModel(floor, 300, np.random.default_rng(0))
    x = np.array([m.sample(j, k) for j in range(300) for k in range(3)])
    assert x.min() == 1.5 and (x == 1.5).mean() > 0.2


def test_bad_indices():
    m = SeeingModel(SeeingConfig(), 3, np.random.default_rng(0))
    with pytest.raises(IndexError):
        m.sample(3, 0)
    with pytest.raises(IndexError):
        m.sample(0, -1)
