"""Engineering exposures (K1a1 May-2018 test, K02 test plates) and the Gaia-like reference RVs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from astropy.table import Table
from synth.test_synth import make_exposures, no_lost_arms

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import TABLES
from lkmrs_sched.sky.almanac import lunar_days_of
from lkmrs_sched.sky.footprints import plan_id_for
from lkmrs_sched.synth.exposures import (
    ENGINEERING_ID0,
    engineering_path,
    read_engineering,
    with_engineering,
)
from lkmrs_sched.synth.fibres import build_catalogue
from lkmrs_sched.synth.reference import GRVS_LIMIT, gaia_rv_error, grvs_minus, reference_rvs
from lkmrs_sched.synth.synth import synthesize


def _s(col) -> np.ndarray:
    a = np.asarray(col)
    return a.astype(str) if a.dtype.kind == "S" else a


def test_packaged_table_follows_the_brief(plates, scenario):
    """30 K1a1 test exposures in May 2018 and four K02 plates at survey centres, all on
    MRS nights (lunar days 7–22) with mid-exposure hour angles within ±2 h."""
    path = engineering_path(scenario)
    assert path == TABLES / "engineering_exposures.csv"
    eng = read_engineering(path)
    plan = _s(eng["plan_id"])
    test = eng[plan == "HIP95119KP01"]
    assert len(test) == 30 and set(_s(test["twin_plate"])) == {"K1a1"}
    assert all(n.startswith("2018-05") for n in _s(test["night"]))
    k02 = eng[np.char.endswith(plan, "K02")]
    assert len(np.unique(_s(k02["plan_id"]))) == 4 and len(k02) == 20
    for r in k02:
        p = plates.index(str(r["twin_plate"]))
        assert r["plan_id"] == plan_id_for(plates.ra_deg[p], plates.dec_deg[p], "TD", "K02")
    days = lunar_days_of(_s(eng["night"]))
    assert np.all((days >= 6) & (days <= 23))
    assert np.all(np.abs(np.asarray(eng["hour_angle_h"])) <= 2.0 + 1e-6)
    assert set(_s(eng["fibres"])) == {"same", "own"}


@pytest.fixture(scope="module")
def small(plates, scenario):
    """A two-night log ending 2018-11-20, plus its engineering exposures."""
    exp = make_exposures(("K1a1", "K2c3"), ("2018-10-30", "2018-11-20"), 2)
    return exp, with_engineering(exp, plates, scenario)


def test_with_engineering_adds_the_exposures_up_to_the_last_night(small, plates):
    exp, (out, all_plates, layouts) = small
    eng = out[np.asarray(out["engineering"], bool)]
    # May 2018 (30), K2b3-K02 (2018-10-26) and K2c3-K02 (2018-11-14); not K2d4/K2e1-K02.
    assert len(eng) == 40 and len(out) == len(exp) + 40
    assert set(_s(eng["plan_id"])) == {"HIP95119KP01", "TD010605N031628K02",
                                       "TD043446N210613K02"}
    np.testing.assert_array_equal(eng["exposure_id"], ENGINEERING_ID0 + np.arange(40))
    assert set(_s(eng["project"])) == {"LK-MRS"}
    assert not np.any(np.asarray(out["engineering"], bool)[:len(exp)])
    assert len(all_plates) == len(plates) + 3  # the test plates of those exposures
    i = list(all_plates.plan_id).index("HIP95119KP01")
    k1 = plates.index("K1a1")
    assert layouts.assignment_ids[i] == plates.plan_id[k1] and not layouts.own_targets[i]
    j = list(all_plates.plan_id).index("TD043446N210613K02")
    assert layouts.assignment_ids[j] == "TD043446N210613K02" and layouts.own_targets[j]
    assert all_plates.ra_deg[j] == plates.ra_deg[plates.index("K2c3")]


def test_test_plates_stars_and_fibres(small, plates, scenario):
    """KP01 is K1a1 again (its stars on its fibres); a K02 plate draws its own targets of
    the same classes and counts (partly the twin's) on its own fibres."""
    _, (_, all_plates, layouts) = small
    names = list(all_plates.plate_name)
    pick = [plates.index("K1a1"), names.index("K1a1-KP01"), plates.index("K2c3"),
            names.index("K2c3-K02")]
    sub = all_plates.subset(pick)
    sub_layouts = dataclasses.replace(layouts, assignment_ids=layouts.assignment_ids[pick],
                                      own_targets=layouts.own_targets[pick])
    cat = build_catalogue(sub, scenario.population, np.random.SeedSequence(4), "t",
                          sub_layouts)

    def objects(p):
        rows = cat.rows_of(p)
        return dict(zip(cat.stars.gp_id[cat.star[rows]].tolist(),
                        (cat.spid[rows].astype(int) * 1000 + cat.fiberid[rows]).tolist(),
                        strict=True))

    k1, kp, c3, k02 = (objects(p) for p in range(4))
    assert k1 == kp
    shared = set(c3) & set(k02)
    assert 0.2 < len(shared) / len(c3) < 0.8
    assert np.mean([c3[g] == k02[g] for g in shared]) < 0.05
    cls = cat.stars.cclass
    for p in (2, 3):
        c = np.bincount(cls[cat.star[cat.rows_of(p)]], minlength=3)
        kk = plates.index("K2c3")
        assert c[0] == plates.counts["n_kepler_observed"][kk]


def test_synthesize_with_engineering(small, plates, scenario):
    exp, _ = small
    sc = no_lost_arms(scenario)
    m, truth = synthesize(exp, plates, sc, seed=3, engineering=True)
    assert int(np.sum(truth.exposures["engineering"])) == 40
    assert "HIP95119KP01" in set(_s(m["planid"]))
    base, _ = synthesize(exp, plates, sc, seed=3)
    # The K1a1 stars gain the 30 test epochs, and the first epoch moves to May 2018.
    b = m[_s(m["band"]) == "B"]
    k1 = _s(b["planid"]) == "HIP95119KP01"
    assert np.sum(k1) == 30 * int(plates.counts["n_total"][plates.index("K1a1")])
    assert np.asarray(b["mjd"]).min() < 58270 < np.asarray(base["mjd"]).min()


def test_bad_engineering_tables(tmp_path, plates, scenario):
    src = (TABLES / "engineering_exposures.csv").read_text().splitlines()
    bad = tmp_path / "no_night.csv"
    bad.write_text("\n".join([src[0].replace("night,", "nite,"), *src[1:3]]) + "\n")
    with pytest.raises(InputError, match="missing column"):
        read_engineering(bad)
    twin = tmp_path / "twin.csv"
    twin.write_text("\n".join([src[0], src[1].replace(",K1a1,", ",K9z9,")]) + "\n")
    sc = scenario.replace(population=dataclasses.replace(
        scenario.population, engineering_exposures=str(twin)))
    with pytest.raises(InputError, match="unknown plate"):
        with_engineering(make_exposures(("K1a1",), ("2018-10-30",), 1), plates, sc)
    off = scenario.replace(population=dataclasses.replace(scenario.population,
                                                          engineering_exposures=""))
    exp = make_exposures(("K1a1",), ("2018-10-30",), 1)
    out, p2, _ = with_engineering(exp, plates, off)
    assert len(out) == len(exp) and len(p2) == len(plates)


# --- reference RVs --------------------------------------------------------------------


@pytest.fixture(scope="module")
def reduced(plates, scenario, tmp_path_factory):
    """A small synthetic catalogue, its reference table, and both reductions."""
    from lkmrs_sched.reduction import (
        ReductionConfig,
        read_reference_rvs,
        reduce_spectra,
        spectra_from_table,
    )
    from lkmrs_sched.synth.synth import write_table

    exp = make_exposures(("K2d4", "K2d3"), ("2018-11-20", "2018-12-20", "2019-01-20"), 4)
    m, truth = synthesize(exp, plates, scenario, seed=8)
    ref = reference_rvs(truth.stars, scenario.snr, np.random.SeedSequence(8))
    path = write_table(ref, tmp_path_factory.mktemp("ref") / "ref.fits")
    spectra = spectra_from_table(m)
    common = reduce_spectra(spectra)
    by_ref = reduce_spectra(spectra, ReductionConfig(zero_point="reference",
                                                     reference_rv=str(path)),
                            reference=read_reference_rvs(path))
    return m, truth, ref, common, by_ref


def test_reference_table(reduced, scenario):
    _, truth, ref, _, _ = reduced
    ts = truth.stars
    row = {int(g): i for i, g in enumerate(np.asarray(ts["gp_id"]))}
    i = np.array([row[int(s) - 4_000_000_000_000_000_000] for s in ref["source_id"]])
    g, teff = np.asarray(ts["gmag"])[i], np.asarray(ts["teff"])[i]
    np.testing.assert_allclose(ref["grvs_mag"], g - grvs_minus(teff))
    assert np.all(ref["grvs_mag"] <= GRVS_LIMIT) and np.all(np.asarray(ts["n_spectra"])[i] > 0)
    # Every observed star bright enough is there.
    seen = np.asarray(ts["n_spectra"]) > 0
    t_all = np.asarray(ts["teff"])
    bright = seen & (np.asarray(ts["gmag"]) - grvs_minus(t_all) <= GRVS_LIMIT) & (
        t_all >= 3100) & (t_all <= 14500)
    assert len(ref) == bright.sum()
    np.testing.assert_allclose(ref["radial_velocity_error"], gaia_rv_error(ref["grvs_mag"]))
    assert gaia_rv_error(12.0) == pytest.approx(0.87, abs=0.02)
    single = ~np.asarray(ts["binary"])[i]
    pull = (np.asarray(ref["radial_velocity"]) - np.asarray(ts["rv_systemic"])[i]) / np.asarray(
        ref["radial_velocity_error"])
    assert np.std(pull[single]) == pytest.approx(1.0, abs=0.05)
    assert abs(np.mean(pull[single])) < 0.05
    assert ref.meta["RVOFFSET"] == pytest.approx(scenario.snr.rv_absolute_offset.value)


def test_reference_zero_points_remove_the_absolute_offset(reduced, scenario):
    """With --reference-rv the corrected RVs agree with the truth; with the relative
    (common constant star) zero points they keep the +0.5 km/s of the MRS scale."""
    _, truth, _, common, by_ref = reduced
    true_rv = dict(zip(np.asarray(truth.spectra["obsid"]).tolist(),
                       np.asarray(truth.spectra["rv_true"]).tolist(), strict=True))
    ts = truth.stars
    constant = set(_s(ts["uid"])[~np.asarray(ts["binary"]) & ~np.asarray(ts["variable"])])
    offset = scenario.snr.rv_absolute_offset.value
    for res, want, tol in ((by_ref, 0.0, 0.1), (common, offset, 0.35)):
        sp = res.spectra.spectra
        uid = _s(res.spectra.stars["uid"])[np.asarray(sp["star"])]
        ok = np.isfinite(np.asarray(sp["rv"])) & np.isin(uid, list(constant))
        d = np.asarray(sp["rv"])[ok] - np.array([true_rv[o] for o in np.asarray(sp["obsid"])[ok]])
        assert np.median(d) == pytest.approx(want, abs=tol), res.zero_points.method
    assert Table(by_ref.zero_points.offsets)["offset"].size > 0
