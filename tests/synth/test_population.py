"""Synthetic targets, binaries and fibres."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.geometry import angular_separation
from lkmrs_sched.synth.fibres import STATUS_DEAD, STATUS_WEAK, build_catalogue, draw_fibres
from lkmrs_sched.synth.population import (
    CLASS_GAIA,
    CLASS_KNO,
    CLASS_KO,
    N_NORMAL,
    N_UNIFORM,
    PopulationConfig,
    draw_binaries,
    draw_magnitudes,
    draw_parameters,
    draw_variables,
    magnitude_slope,
    own_rank,
    radial_velocity,
    solve_kepler,
)

CFG = PopulationConfig()


def angular_distance(ra1, dec1, ra2, dec2):
    """Great-circle distance in degrees, from degrees."""
    return np.degrees(angular_separation(*map(np.radians, (ra1, dec1, ra2, dec2))))


@pytest.fixture(scope="module")
def catalogue(plates):
    return build_catalogue(plates, CFG, np.random.SeedSequence(7))


def _deviates(n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((N_UNIFORM, n)), rng.standard_normal((N_NORMAL, n))


def test_table1_counts_and_field_radius(plates, catalogue):
    for p in range(len(plates)):
        rows = catalogue.rows_of(p)
        kinds = catalogue.stars.kind[catalogue.star[rows]]
        assert np.sum(kinds == 0) == plates.counts["n_target"][p]
        assert np.sum(kinds == 1) == plates.counts["n_flux_std"][p]
        s = catalogue.stars.take(catalogue.star[rows])
        d = angular_distance(s.ra_deg, s.dec_deg, plates.ra_deg[p], plates.dec_deg[p])
        assert d.max() < 2.5
        # Table 1's priority classes: KO, KNO (flux standards among them), not in KIC/EPIC.
        c = plates.counts
        assert np.sum(s.cclass == CLASS_KO) == c["n_kepler_observed"][p]
        assert np.sum(s.cclass == CLASS_KNO) == c["n_kepler_not_observed"][p]
        assert np.sum(s.cclass == CLASS_GAIA) == c["n_not_in_kic_epic"][p]
        assert np.all(s.cclass[s.kind == 1] == CLASS_KNO)
        np.testing.assert_array_equal(s.kepler_observed, s.cclass == CLASS_KO)
        np.testing.assert_array_equal(s.has_catalogue_id, s.cclass != CLASS_GAIA)
    assert len(catalogue.plate) == plates.counts["n_total"].sum() == 54285


def test_overlap_stars_are_the_same_stars(plates):
    """K1a1 and K1a2 overlap: built separately, their shared stars are identical."""
    seed = np.random.SeedSequence(3)
    i, j = plates.index("K1a1"), plates.index("K1a2")
    assert angular_distance(plates.ra_deg[i], plates.dec_deg[i], plates.ra_deg[j],
                            plates.dec_deg[j]) < 5
    a = build_catalogue(plates.subset([i]), CFG, seed).stars
    b = build_catalogue(plates.subset([j]), CFG, seed).stars
    both = build_catalogue(plates.subset([i, j]), CFG, seed)
    common, ia, ib = np.intersect1d(a.gp_id, b.gp_id, return_indices=True)
    assert len(common) > 100
    for f in dataclasses.fields(a):
        np.testing.assert_array_equal(getattr(a, f.name)[ia], getattr(b, f.name)[ib], f.name)
    # Together: one star entry each, on both plates.
    assert len(both.stars) == len(a) + len(b) - len(common)
    assert np.sum(np.bincount(both.star) == 2) == len(common)
    assert len(np.unique(both.stars.uid)) == len(both.stars)


def test_same_seed_same_stars_other_seed_other_stars(plates):
    sub = plates.subset([0, 1])
    a = build_catalogue(sub, CFG, np.random.SeedSequence(11))
    b = build_catalogue(sub, CFG, np.random.SeedSequence(11))
    c = build_catalogue(sub, CFG, np.random.SeedSequence(12))
    np.testing.assert_array_equal(a.stars.teff, b.stars.teff)
    np.testing.assert_array_equal(a.fiberid, b.fiberid)
    assert not np.array_equal(a.stars.gp_id, c.stars.gp_id)


def test_ids(plates, catalogue):
    s = catalogue.stars
    assert len(np.unique(s.uid)) == len(s)
    names = s.designation.astype(str)
    assert all(re.fullmatch(r"J\d{6}\.\d{2}[+-]\d{6}\.\d", n) for n in names[:2000])
    kepler = np.isin(catalogue.plate, np.flatnonzero(plates.field == "Kepler"))
    assert np.all(catalogue.epic_id[kepler] == 0)
    assert np.all(catalogue.kic_id[~kepler] == 0)
    ids = np.where(kepler, catalogue.kic_id, catalogue.epic_id)
    # Table 1: 130 of its 54,285 objects are in neither catalogue.
    assert np.sum(ids == 0) == plates.counts["n_not_in_kic_epic"].sum() == 130
    per_star = {}
    for st, i in zip(catalogue.star.tolist(), ids.tolist(), strict=True):
        assert per_star.setdefault(st, i) == i  # one ID per star on every plate
    given = np.array([i for i in per_star.values() if i])
    assert len(np.unique(given)) == len(given)
    assert np.all(catalogue.kic_id[kepler & (ids > 0)] < 14_000_000)
    assert np.all(catalogue.epic_id[~kepler & (ids > 0)] >= 201_000_000)


@pytest.mark.parametrize("slope", [0.0, 0.2, 0.3, 0.35])
def test_magnitude_laws(slope):
    """dN/dG ∝ 10^(α G) from G 8 to 15, a 3 % tail to 15.5 (counts per mag checked)."""
    uu, _ = _deviates(200_000)
    g = draw_magnitudes(uu[3:6], slope, CFG)
    assert g.min() >= CFG.mag_bright == 8.0 and g.max() <= CFG.mag_faint
    assert np.mean(g > 15.0) == pytest.approx(CFG.faint_tail_fraction, abs=0.003)
    h, _ = np.histogram(g, bins=np.arange(9.0, 15.01, 1.0))
    np.testing.assert_allclose(h[1:] / h[:-1], 10**slope, rtol=0.08)
    # The median of the exponential part, from its inverse CDF.
    a = slope * np.log(10)
    want = 8 + (np.log1p(0.5 * np.expm1(a * 7)) / a if a else 3.5)
    assert np.median(g[g <= 15]) == pytest.approx(want, abs=0.03)


def test_class_slopes_and_k2_targets_brighter(plates, catalogue):
    dec = np.array([44.0, 10.0, 44.0, 10.0, 10.0])
    cls = np.array([CLASS_KO, CLASS_KO, CLASS_KNO, CLASS_KNO, CLASS_GAIA])
    np.testing.assert_allclose(magnitude_slope(cls, dec, CFG), [
        CFG.ko_kepler_slope, CFG.ko_k2_slope, CFG.kno_slope, CFG.kno_slope, CFG.gaia_slope])
    s = catalogue.stars
    ko = (s.cclass == CLASS_KO) & (s.kind == 0)
    kepler = s.dec_deg > 30
    # K2 guest-observer targets are brighter than the Kepler planet-search targets.
    assert np.median(s.gmag[ko & ~kepler]) < np.median(s.gmag[ko & kepler]) - 0.3
    assert s.gmag[s.kind == 0].min() < 8.2  # the bright end reaches G ≈ 8


def test_variables_and_own_rank():
    uu, _ = _deviates(100_000)
    var, scale = draw_variables(uu[:2], CFG)
    assert np.mean(var) == pytest.approx(CFG.variable_fraction, abs=0.004)
    assert np.all(scale[~var] == 0)
    lo, hi = CFG.variable_scale_min, CFG.variable_scale_max
    assert scale[var].min() >= lo and scale[var].max() <= hi
    # Log-uniform: the median is the geometric mean.
    assert np.median(scale[var]) == pytest.approx(np.sqrt(lo * hi), rel=0.05)
    ids = np.arange(200_000, dtype=np.int64) * 7 + 3
    r = own_rank(ids, 12345)
    np.testing.assert_array_equal(r, own_rank(ids, 12345))
    assert 0 <= r.min() and r.max() < 1
    assert np.histogram(r, bins=10)[0] == pytest.approx(np.full(10, 20_000), rel=0.03)
    assert abs(np.corrcoef(r, own_rank(ids, 999))[0, 1]) < 0.01


def test_parameters_like_the_brief():
    uu, z = _deviates(200_000)
    p = draw_parameters(uu[6:9], z, CFG)
    teff, logg, feh, rv = p["teff"], p["logg"], p["feh"], p["rv_systemic"]
    giants = p["giant"]
    assert np.mean(giants) == pytest.approx(CFG.giant_fraction, abs=0.01)
    assert np.median(teff[giants]) == pytest.approx(4800, abs=50)
    assert np.median(logg[giants]) == pytest.approx(2.5, abs=0.1)
    dwarfs = ~giants & (teff > 3200) & (teff < 8500)
    assert np.median(teff[dwarfs]) == pytest.approx(5800, abs=60)
    assert np.median(logg[dwarfs]) == pytest.approx(4.2, abs=0.1)
    outside = (teff < 3200) | (teff > 8500)
    assert np.mean(outside) == pytest.approx(CFG.hot_fraction + CFG.cool_fraction, abs=0.003)
    assert np.mean((feh > -0.9) & (feh < 0.4)) > 0.85
    hist, edges = np.histogram(feh, bins=np.arange(-1.5, 0.8, 0.2))
    assert abs(edges[np.argmax(hist)] + 0.1) < 0.25  # peak at solar
    assert abs(np.median(rv)) < 3
    assert 0 < np.mean(np.abs(rv) > 300) < 0.002  # "a few"


def test_binaries_raghavan():
    uu, z = _deviates(200_000)
    p = draw_parameters(uu[6:9], z, CFG)
    b = draw_binaries(uu[9:17], z[4], p, CFG)
    is_b = b["binary"]
    assert np.mean(is_b) == pytest.approx(0.44, abs=0.01)
    logp = np.log10(b["period_d"][is_b])
    # Log-normal, truncated only in its wings (orbit wider than 3 primary radii, P < 1e10 d).
    q25, q50, q75 = np.percentile(logp, [25, 50, 75])
    assert q50 == pytest.approx(5.03, abs=0.1)
    assert (q75 - q25) / 1.349 == pytest.approx(2.28, rel=0.05)
    q = b["q"][is_b]
    assert q.min() >= 0.1 and q.max() <= 1
    h, _ = np.histogram(q, bins=[0.1, 0.3, 0.5, 0.7, 0.9])
    assert h.max() / h.min() < 1.1  # flat
    e, per = b["ecc"][is_b], b["period_d"][is_b]
    assert np.all(e[per < 12] == 0)
    means = [e[(per >= lo) & (per < hi)].mean() for lo, hi in ((12, 100), (100, 1e4), (1e4, 1e8))]
    assert means[0] < means[1] < means[2]
    assert np.all(e < 1)
    # Single stars carry no orbit.
    assert np.all(b["k1_kms"][~is_b] == 0) and np.all(b["period_d"][~is_b] == 0)


def _kepler_bisect(m: float, e: float) -> float:
    """Independent scalar solver: bisection of E − e sin E − M on [0, 2π]."""
    m = m % (2 * math.pi)
    lo, hi = 0.0, 2 * math.pi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid - e * math.sin(mid) - m > 0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def _rv_scalar(t, gamma, k, p, e, w, tp):
    big_e = _kepler_bisect(2 * math.pi * (t - tp) / p, e)
    nu = 2 * math.atan(math.sqrt((1 + e) / (1 - e)) * math.tan(big_e / 2))
    return gamma + k * (math.cos(w + nu) + e * math.cos(w))


@pytest.mark.parametrize("e", [0.0, 0.3, 0.7, 0.95])
def test_binary_rv_matches_an_independent_kepler_solution(e):
    t = np.linspace(58400.0, 58500.0, 301)
    orbit = dict(gamma=-12.0, k=23.0, p=7.3, e=e, w=1.1, tp=58401.7)
    got = radial_velocity(t, orbit["gamma"], orbit["k"], orbit["p"], orbit["e"], orbit["w"],
                          orbit["tp"])
    want = [_rv_scalar(x, **orbit) for x in t]
    np.testing.assert_allclose(got, want, atol=1e-7)
    m = np.linspace(-20, 20, 1001)
    big_e = solve_kepler(m, np.full_like(m, e))
    np.testing.assert_allclose(big_e - e * np.sin(big_e), np.remainder(m, 2 * np.pi),
                               atol=1e-10)


def test_fibres(plates, catalogue):
    key = catalogue.plate * 100_000 + catalogue.spid.astype(int) * 1000 + catalogue.fiberid
    assert len(np.unique(key)) == len(key)  # one object per fibre
    sky = catalogue.sky_plate * 100_000 + catalogue.sky_spid.astype(int) * 1000 \
        + catalogue.sky_fiberid
    assert not np.intersect1d(key, sky).size
    assert catalogue.spid.min() == 1 and catalogue.spid.max() == 16
    assert catalogue.fiberid.min() >= 1 and catalogue.fiberid.max() <= 250
    # Each spectrograph serves about a sixteenth of a plate.
    n = np.bincount(catalogue.spid[catalogue.plate == 0])[1:]
    assert n.max() - n.min() <= 1
    # Table 1: 4000 fibres, n_total objects, the rest sky.
    n_sky = np.bincount(catalogue.sky_plate, minlength=len(plates))
    np.testing.assert_array_equal(n_sky, 4000 - plates.counts["n_total"])
    f = catalogue.fibres
    assert f.throughput.shape == (16, 250)
    assert np.mean(f.status == STATUS_DEAD) == pytest.approx(CFG.dead_fibre_fraction, abs=0.03)
    assert np.mean(f.status == STATUS_WEAK) == pytest.approx(CFG.weak_fibre_fraction, abs=0.03)
    assert np.all(f.throughput[f.status == STATUS_DEAD] < 0.01)
    # The fibres are the instrument's: the same on any plate set.
    g = draw_fibres(CFG, np.random.SeedSequence(7))
    np.testing.assert_array_equal(g.throughput, f.throughput)


def test_bad_population_settings(plates):
    with pytest.raises(InputError, match="magnitudes out of range"):
        dataclasses.replace(CFG, mag_limit=16.0)
    with pytest.raises(InputError, match="dead_fibre_fraction"):
        dataclasses.replace(CFG, weak_fibre_fraction=0.9)
    thin = dataclasses.replace(CFG, ko_pool_density=CFG.ko_pool_density / 100)
    with pytest.raises(InputError, match="ko_pool_density"):
        build_catalogue(plates.subset([0]), thin, np.random.SeedSequence(1))
    crowded = dataclasses.replace(CFG, sky_fibres_per_spectrograph=150)
    with pytest.raises(InputError, match="too many objects"):
        build_catalogue(plates.subset([0]), crowded, np.random.SeedSequence(1))
