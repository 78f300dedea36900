"""Synthetic per-exposure measurements: layout, determinism, truth, noise, errors, CLI."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from astropy.table import Table

from lkmrs_sched import cli
from lkmrs_sched.core.config import parse_scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.precision import published_laws
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sky.almanac import lunar_days_of
from lkmrs_sched.sky.footprints import load_lkmrs
from lkmrs_sched.synth.snr import ConstantSNRModel, SNRConfig
from lkmrs_sched.synth.synth import (
    COLUMNS,
    PARAMS,
    core_laws,
    measure,
    summarize,
    synthesize,
    write_table,
)

PLATES = ("K1a1", "K1a2", "K2d4")  # the first two overlap


def make_exposures(plate_names=PLATES, nights=("2018-10-15", "2018-12-20", "2019-03-01"),
                   per_night=3, seed=0, **conditions) -> Table:
    """An exposures table like ObservationLog.exposures (plus one NT and one TD-B row)."""
    plates = load_lkmrs()
    rng = np.random.default_rng(seed)
    rows = []
    eid = 100
    for night in nights:
        mjd0 = (np.datetime64(night) - np.datetime64("1858-11-17")).astype(int)
        for k, name in enumerate(plate_names):
            p = plates.index(name)
            for j in range(per_night):
                start = mjd0 + 0.55 + 0.06 * k + j * 23 / 1440
                row = dict(
                    exposure_id=eid, pointing_id=eid // 10, programme="TD", project="LK-MRS",
                    plan_id=str(plates.plan_id[p]), plate_name=name, night=night,
                    start_mjd=start, lmjm=round((start + 8 / 24) * 1440),
                    exptime_s=1200.0, hour_angle_h=0.0, airmass=1.05 + 0.3 * rng.random(),
                    moon_illumination=0.5 + 0.5 * rng.random(),
                    moon_separation_deg=30 + 100 * rng.random(),
                    moon_altitude_deg=-10 + 60 * rng.random(),
                    seeing_arcsec=float(np.exp(np.log(3.3) + 0.2 * rng.standard_normal())),
                    interrupted=0)
                row.update(conditions)
                rows.append(row)
                eid += 1
    extra = dict(rows[0], exposure_id=1, project="NT", programme="NT", plan_id="NT000000N000000X01")
    rows.append(extra)
    rows.append(dict(rows[0], exposure_id=2, project="TD-B", plan_id="TD000000N000000B01"))
    return Table(rows=rows)


@pytest.fixture(scope="module")
def exposures():
    return make_exposures()


def no_lost_arms(scenario):
    """The scenario with every spectrograph arm in the catalogue (B row before R row)."""
    pop = dataclasses.replace(scenario.population, spectrograph_loss_fraction=0.0,
                              blue_loss_fraction=0.0)
    return scenario.replace(population=pop)


@pytest.fixture(scope="module")
def complete(scenario):
    return no_lost_arms(scenario)


@pytest.fixture(scope="module")
def result(exposures, plates, complete):
    return synthesize(exposures, plates, complete, seed=5)


def _s(col) -> np.ndarray:
    a = np.asarray(col)
    return a.astype(str) if a.dtype.kind == "S" else a


def test_layout_exactly_dr8(result, exposures, plates):
    m, _ = result
    assert m.colnames == list(COLUMNS)
    for name, dtype in COLUMNS.items():
        assert m[name].dtype == np.dtype(dtype), name
    n_obj = {p: int(plates.counts["n_total"][plates.index(p)]) for p in PLATES}
    lk = exposures[exposures["project"] == "LK-MRS"]
    assert len(m) == 2 * sum(n_obj[str(p)] for p in lk["plate_name"])
    band = _s(m["band"])
    assert np.all(band[0::2] == "B") and np.all(band[1::2] == "R")
    obsid = np.asarray(m["obsid"])
    np.testing.assert_array_equal(obsid[0::2], obsid[1::2])
    assert len(np.unique(obsid)) == len(m) // 2
    # LASP and arm RVs live on their own rows only.
    for col in ("rv_b0", "rv_lasp0", "teff_lasp", "logg_lasp_err", "feh_lasp"):
        assert np.all(np.isnan(m[col][1::2])), col
    assert np.all(np.isnan(m["rv_r0"][0::2]))
    lmjm = np.asarray(m["lmjm"])
    assert set(np.unique(lmjm)) == set(lk["lmjm"])
    assert set(_s(m["planid"])) == {str(plates.plan_id[plates.index(p)]) for p in PLATES}
    assert np.all((m["spid"] >= 1) & (m["spid"] <= 16))
    assert np.all((m["fiberid"] >= 1) & (m["fiberid"] <= 250))
    assert set(_s(m["objtype"])) == {"target", "flux_std"}
    assert np.all(np.asarray(m["lunardate"]) >= 1)
    assert m["rv_b0"].unit == "km / s" and m["teff_lasp"].unit == "K"


def test_lasp_rules(result, scenario):
    """LASP: S/N ≥ 10 (a share of 8–10), Teff 3200–8500 K, all or none of a star's spectra
    on a plate, and the stars it fails are the faint (low nominal S/N) and hard ones."""
    m, truth = result
    b = m[0::2]
    snr = np.asarray(b["snr"])
    ts = truth.stars
    row = {u: i for i, u in enumerate(_s(ts["uid"]))}
    i = np.array([row[u] for u in _s(b["uid"])])
    t_true = np.asarray(ts["teff"])[i]
    in_range = (t_true >= 3200) & (t_true <= 8500)
    has = np.isfinite(np.asarray(b["teff_lasp"]))
    assert not np.any(has[snr < 8]) and not np.any(has[~in_range])
    high = (snr >= 10) & in_range
    key = np.char.add(_s(b["uid"]), _s(b["planid"]))
    for k in np.unique(key[high])[:3000]:
        sel = high & (key == k)
        assert has[sel].all() or not has[sel].any()  # the star's, not the epoch's
    easy = (np.asarray(ts["gmag"])[i] < 12.5) & (t_true > 3600) & (t_true < 7400) & ~np.asarray(
        ts["sb2"])[i] & (np.asarray(ts["lasp_difficulty"])[i] < 0.9)
    thr = np.asarray(truth.spectra["throughput"])
    assert has[high & easy & (thr > 0.5)].mean() > 0.99
    faint = high & (np.asarray(ts["gmag"])[i] > 14.9)
    assert has[faint].mean() < 0.2
    assert 0.8 < has[high].mean() < 0.98
    low = (snr >= 8) & (snr < 10) & in_range
    assert 0 < has[low].mean() < 0.3  # "a few 8–10"
    for col in ("teff_lasp_err", "logg_lasp", "feh_lasp", "rv_lasp0", "rv_lasp0_err"):
        np.testing.assert_array_equal(np.isfinite(np.asarray(b[col])), has, col)
    assert np.all(np.isfinite(np.asarray(b["rv_b0"])[snr >= scenario.snr.rv_min_snr]))


def test_same_seed_same_table(exposures, plates, complete, result):
    again, truth2 = synthesize(exposures, plates, complete, seed=5)
    m, truth = result
    for name in m.colnames:
        np.testing.assert_array_equal(np.asarray(m[name]), np.asarray(again[name]), name)
    np.testing.assert_array_equal(truth.spectra["rv_true"], truth2.spectra["rv_true"])
    other, _ = synthesize(exposures, plates, complete, seed=6)
    assert not np.array_equal(np.asarray(m["snr"]), np.asarray(other["snr"]))


def test_an_exposure_does_not_depend_on_the_others(exposures, plates, complete, result):
    m, _ = result
    lk = exposures[exposures["project"] == "LK-MRS"]
    some = lk[[0, 5, 11]]
    part, _ = synthesize(some, plates, complete, seed=5)
    obsid = np.asarray(m["obsid"])
    idx = {o: i for i, o in enumerate(obsid[0::2].tolist())}
    rows = np.array([2 * idx[o] for o in np.asarray(part["obsid"])[0::2].tolist()])
    rows = np.stack([rows, rows + 1], axis=1).ravel()
    for name in ("snr", "rv_b0", "teff_lasp", "rv_r0", "uid", "fiberid"):
        np.testing.assert_array_equal(np.asarray(part[name]), np.asarray(m[name])[rows], name)


def test_truth_joins_and_stays_apart(result):
    m, truth = result
    assert not {"rv_true", "teff", "binary"} & set(m.colnames)
    spec = truth.spectra
    np.testing.assert_array_equal(np.asarray(spec["obsid"]), np.asarray(m["obsid"])[0::2])
    np.testing.assert_array_equal(np.asarray(spec["uid"]), np.asarray(m["uid"])[0::2])
    seen = truth.stars[truth.stars["n_spectra"] > 0]
    assert set(_s(m["uid"])) == set(_s(seen["uid"]))
    n = dict(zip(_s(seen["uid"]), seen["n_spectra"], strict=True))
    u, c = np.unique(_s(m["uid"])[0::2], return_counts=True)
    assert all(n[a] == b for a, b in zip(u, c, strict=True))
    assert len(np.unique(truth.stars["uid"])) == len(truth.stars)
    assert set(truth.exposures["exposure_id"]) == set(np.asarray(spec["exposure_id"]))


def test_overlap_and_fibres_across_epochs(result):
    m, _truth = result
    b = m[0::2]
    uid, plan = _s(b["uid"]), _s(b["planid"])
    fibre = np.asarray(b["spid"]).astype(int) * 1000 + np.asarray(b["fiberid"])
    key = np.char.add(np.char.add(uid, "|"), plan)
    for k in np.unique(key)[:3000]:
        assert len(np.unique(fibre[key == k])) == 1  # a target keeps its fibre
    # K1a1 and K1a2 overlap: stars observed on both plates are the same stars.
    pairs = np.unique(np.char.add(np.char.add(uid, "|"), plan))
    on_two = np.unique(np.char.partition(pairs, "|")[:, 0], return_counts=True)
    shared = on_two[0][on_two[1] == 2]
    assert len(shared) > 100
    for u in shared[:50]:
        sel = uid == u
        assert len(np.unique(_s(b["designation"])[sel])) == 1
        assert len(np.unique(np.asarray(b["gaia_g_mean_mag"])[sel])) == 1
        assert len(np.unique(np.asarray(b["gp_id"])[sel])) == 1


def test_about_a_fifth_below_snr2_and_calibration(plates, scenario):
    """Healthy fibres, nominal conditions, clear sky: G ≈ 15 solar-type stars have the
    calibration S/N; about a fifth of the spectra have S/N < 2 (dead_fibre_fraction fit)."""
    cfg = dataclasses.replace(scenario.snr, transparency_model="clear")
    sc = no_lost_arms(scenario.replace(snr=cfg))
    nom = SNRConfig()
    exp = make_exposures(("K2d4",), ("2018-12-20",), 2, airmass=nom.nominal_airmass,
                         moon_illumination=nom.nominal_moon_illumination,
                         moon_separation_deg=60.0, moon_altitude_deg=30.0, seeing_arcsec=3.3)
    m, truth = synthesize(exp, plates, sc, seed=1)
    b = m[0::2]
    ts = truth.stars
    teff = dict(zip(_s(ts["uid"]), ts["teff"], strict=True))
    t = np.array([teff[x] for x in _s(b["uid"])])
    g = np.asarray(b["gaia_g_mean_mag"])
    thr = np.asarray(truth.spectra["throughput"])
    sel = (np.abs(g - 15) < 0.15) & (np.abs(t - 5800) < 400) & (np.abs(thr - 1) < 0.2)
    assert sel.sum() > 20
    assert np.median(np.asarray(b["snr"])[sel]) == pytest.approx(nom.calibration_snr_blue,
                                                                 rel=0.12)
    assert summarize(m)["share_snr_lt_2"]["B"] == pytest.approx(0.2, abs=0.04)


def test_lost_spectrograph_arms(exposures, plates, scenario):
    """A (spectrograph, exposure) unit loses both arms or the blue one, at the fitted rates;
    its spectra are left out of the table (and of the truth if both arms are)."""
    m, truth = synthesize(exposures, plates, scenario, seed=5)
    pop = scenario.population
    n_obj = {p: int(plates.counts["n_total"][plates.index(p)]) for p in PLATES}
    lk = exposures[exposures["project"] == "LK-MRS"]
    n_all = sum(n_obj[str(p)] for p in lk["plate_name"])
    band = _s(m["band"])
    kept_r, kept_b = np.sum(band == "R") / n_all, np.sum(band == "B") / n_all
    f_sp, f_b = pop.spectrograph_loss_fraction, pop.blue_loss_fraction
    # 27 exposures × 16 spectrographs = 432 units: binomial errors of ~2 %.
    assert kept_r == pytest.approx(1 - f_sp, abs=0.06)
    assert kept_b / kept_r == pytest.approx(1 - f_b, abs=0.03)
    obsid = np.asarray(m["obsid"])
    unit = obsid // 1000
    blue_units = set(unit[band == "B"].tolist())
    assert blue_units <= set(unit[band == "R"].tolist())  # no blue-only spectra
    full = np.unique(np.asarray(result_units(lk, plates)))  # every unit of the exposures
    assert len(set(unit[band == "R"].tolist())) < len(full)
    np.testing.assert_array_equal(np.sort(np.unique(obsid)), np.sort(truth.spectra["obsid"]))
    s = summarize(m)
    assert s["spectra_per_exposure"]["R"] == pytest.approx(np.sum(band == "R") / len(lk))


def result_units(lk, plates):
    """(exposure, spectrograph) unit codes, obsid // 1000, of every exposure of ``lk``."""
    return [int(e) * 100 + sp for e in lk["exposure_id"] for sp in range(1, 17)]


def test_rv_zero_points_lamp_and_binaries(plates, scenario):
    cfg = dataclasses.replace(scenario.snr, alt_lamp_until="2019-01-01", alt_lamp_fraction=1.0,
                              rv_outlier_fraction=0.0)
    pop = dataclasses.replace(scenario.population, variable_fraction=0.0)
    sc = no_lost_arms(scenario.replace(snr=cfg, population=pop))
    exp = make_exposures(("K1a1",), ("2018-10-15", "2019-03-01"), 2)
    m, truth = synthesize(exp, plates, sc, seed=2, snr_model=ConstantSNRModel(300.0, 300.0))
    spec = truth.spectra
    b = m[0::2]
    lamp = np.asarray(b["alt_lamp"])
    assert lamp.any() and not lamp.all()
    np.testing.assert_array_equal(lamp, np.asarray(b["obsdate"]) < b"2019-01-01")
    resid = np.asarray(b["rv_lasp0"]) - spec["rv_true"] - spec["rv_zero_point"]
    ok = np.isfinite(resid)
    sig = core_laws(cfg)["rv"].extended(np.asarray(b["snr"]))
    assert np.mean(resid[ok & lamp]) == pytest.approx(6.5, abs=0.02)
    assert np.mean(resid[ok & ~lamp]) == pytest.approx(0.0, abs=0.02)
    assert np.std(resid[ok & ~lamp] / sig[ok & ~lamp]) == pytest.approx(1, abs=0.05)
    # One zero point per (spectrograph, exposure), a few hundred m/s.
    zp = np.asarray(spec["rv_zero_point"])
    unit = np.asarray(spec["exposure_id"]) * 100 + np.asarray(b["spid"])
    for k in np.unique(unit):
        assert np.ptp(zp[unit == k]) == 0
    per_unit = np.array([zp[unit == k][0] for k in np.unique(unit)])
    assert 0.05 < np.std(per_unit) < 1.0
    # ... around the absolute offset of the MRS scale (drift and jitter average ~0).
    assert np.mean(per_unit) == pytest.approx(cfg.rv_absolute_offset.value, abs=0.3)
    # Binaries: the true RV follows the orbit, solved here independently.
    ts = truth.stars
    mid = dict(zip(truth.exposures["exposure_id"], truth.exposures["mid_mjd"], strict=True))
    row = {u: i for i, u in enumerate(_s(ts["uid"]))}
    uids = _s(spec["uid"])
    checked = 0
    pick = np.asarray(ts["binary"]) & (np.asarray(ts["k1_kms"]) > 5) & (ts["n_spectra"] > 0)
    for i in np.flatnonzero(pick)[:20]:
        for j in np.flatnonzero(uids == _s(ts["uid"])[i]):
            t = mid[int(spec["exposure_id"][j])]
            want = _rv_independent(t, ts[i])
            assert spec["rv_true"][j] == pytest.approx(want, abs=1e-6)
            checked += 1
        assert row[str(_s(ts["uid"])[i])] == i
    assert checked > 10


def _rv_independent(t: float, s) -> float:
    """γ + K[cos(ω + ν) + e cos ω] with Kepler's equation solved by bisection."""
    e, p = float(s["ecc"]), float(s["period_d"])
    m = (2 * math.pi * (t - float(s["t_peri_mjd"])) / p) % (2 * math.pi)
    lo, hi = 0.0, 2 * math.pi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if mid - e * math.sin(mid) > m else (mid, hi)
    big_e = 0.5 * (lo + hi)
    nu = 2 * math.atan2(math.sqrt(1 + e) * math.sin(big_e / 2),
                        math.sqrt(1 - e) * math.cos(big_e / 2))
    w = math.radians(float(s["omega_deg"]))
    return float(s["rv_systemic"]) + float(s["k1_kms"]) * (math.cos(w + nu) + e * math.cos(w))


def _objects(n, variable_scale=0.0):
    """n single, non-variable (or equally variable) solar-type objects for measure()."""
    from types import SimpleNamespace

    return SimpleNamespace(teff=np.full(n, 5500.0), logg=np.full(n, 4.0), feh=np.full(n, -0.2),
                           variable_scale=np.full(n, variable_scale), lasp_u=np.zeros(n),
                           binary=np.zeros(n, bool), q=np.zeros(n), period_d=np.zeros(n))


@pytest.mark.parametrize("snr", [9.0, 20.0, 60.0])
def test_injected_noise_core_variables_and_tail(snr, scenario):
    """Over 1e5 draws: the core law alone (variables and tail off) within 2 %; with every
    object variable at scale k, σ² = core² + (k·σ_Table4(20)·factor)²; with the default
    tail, the |ΔP| > 6σ_core share is the tail's 0.5 % × P(|10z| > 6) = 0.27 %."""
    n = 100_000
    rng = np.random.default_rng(int(snr))
    law = published_laws()
    s = np.full((1, n), snr)
    pop = scenario.population
    zs, us = rng.standard_normal((13, 1, n)), rng.random((7, 1, n))
    for frac, k in ((0.0, 0.0), (0.0, 3.0), (SNRConfig().outlier_fraction, 0.0)):
        cfg = dataclasses.replace(SNRConfig(), outlier_fraction=frac, rv_outlier_fraction=frac,
                                  lasp_low_snr_fraction=1.0)
        obj = _objects(n, k)
        out = measure(s, s, np.zeros((1, n)), obj, zs, us, law, cfg, np.full(n, 100.0), pop)
        core = core_laws(cfg)
        for par in PARAMS:
            d = out[par][0] - (0.0 if par == "rv" else getattr(obj, par))
            sig = float(core[par].extended(snr))
            assert sig < float(law[par].extended(snr))  # the core is below Table 4
            f = 1.0 if par == "rv" else pop.variable_parameter_factor
            want = np.hypot(sig, k * float(law[par](20.0)) * f)
            if frac == 0:
                assert np.std(d) == pytest.approx(want, rel=0.02), (par, k)
                assert np.median(out[par + "_err"]) == pytest.approx(
                    float(law[par].extended(snr)), rel=0.05)  # LASP's errors follow Table 4
            else:
                assert np.mean(np.abs(d) > 6 * sig) == pytest.approx(0.0027, abs=0.001), par


def test_lunar_day_of_nights_without_an_almanac():
    # synth uses the almanac's rule for nights an imported log's nights table lacks.
    # New moons 2018-09-09 18:01 UTC (Beijing 09-10) and 2018-10-09 03:47 UTC.
    days = lunar_days_of(np.array(["2018-09-10", "2018-10-08", "2018-10-09", "2018-10-15",
                                   "2019-01-06"]))
    np.testing.assert_array_equal(days, [1, 29, 1, 7, 1])


def test_bad_inputs(exposures, plates, scenario):
    with pytest.raises(InputError, match=r"missing column.*airmass"):
        synthesize(exposures[[c for c in exposures.colnames if c != "airmass"]], plates, scenario)
    bad = exposures.copy()
    bad["plan_id"][0] = "TD000000N000000K01"
    with pytest.raises(InputError, match="unknown LK-MRS plate"):
        synthesize(bad, plates, scenario)
    bad = exposures.copy()
    bad["airmass"][3] = 0.5
    with pytest.raises(InputError, match="exposures airmass"):
        synthesize(bad, plates, scenario)
    sc = parse_scenario({"scenario": {"start": "2018-09-01", "end": "2019-06-30"},
                         "snr": {"calibration_snr_blue": 1000.0}}, source="bad.toml")
    with pytest.raises(InputError) as exc:
        synthesize(exposures, plates, sc)
    assert exc.value.where == "bad.toml: [snr] calibration_snr_blue"
    # Section checks run once, when the scenario is read.
    with pytest.raises(InputError, match=r"bad.toml: \[population\] mag_limit.*magnitudes"):
        parse_scenario({"scenario": {"start": "2018-09-01", "end": "2019-06-30"},
                        "population": {"mag_limit": 15.8}}, source="bad.toml")
    sc = scenario.replace(snr=dataclasses.replace(scenario.snr, alt_lamp_until="soon"))
    with pytest.raises(InputError, match="alt_lamp_until"):
        synthesize(exposures, plates, sc)


def test_write_read_roundtrip(result, tmp_path):
    m, _truth = result
    small = m[:1000]
    p = write_table(small, tmp_path / "x.ecsv")
    back = Table.read(p)
    assert back.colnames == small.colnames
    np.testing.assert_array_equal(back["designation"], _s(small["designation"]))
    np.testing.assert_array_equal(back["rv_b0"], small["rv_b0"])
    assert back["teff_lasp"].unit == "K"
    assert back.meta["SCENHASH"] == small.meta["SCENHASH"]
    f = write_table(small, tmp_path / "x.fits")
    assert len(Table.read(f)) == 1000
    for ext, why in ((".csv", "no units"), (".parquet", "pandas"), (".txt", "unknown")):
        with pytest.raises(InputError, match=rf"{why}.*allowed: a file ending in \.fits, \.vot"):
            write_table(small, tmp_path / f"x{ext}")


def _run_dir(tmp_path, exposures, scenario_text=None):
    info = {"kind": "simulated", "seed": "42"}
    if scenario_text:
        info.update(scenario_text=scenario_text, source=str(tmp_path / "s.toml"))
    log = ObservationLog(exposures=exposures, info=info)
    log.write(tmp_path / "observations.sqlite")
    return tmp_path


def test_cli(tmp_path, capsys):
    exp = make_exposures(("K2d4",), ("2018-12-20",), 2)
    exp = exp[exp["project"] == "LK-MRS"]  # the NT/TD-B rows copy its times: not a real log
    exp["time_estimated"] = 0
    exp["start_utc"] = ""
    text = '[scenario]\nname = "t"\nstart = "2018-12-01"\nend = "2018-12-31"\nseed = 3\n'
    d = _run_dir(tmp_path / "run", exp, None)
    assert cli.main(["synth", str(d), "--out", str(d / "m.fits"), "--no-figures",
                     "--no-engineering"]) == 0
    summary = json.loads((d / "synth_summary.json").read_text())
    assert summary["seed"] == 42 and summary["exposures"] == 2
    assert summary["engineering_exposures"] == 0
    assert summary["spectra"]["B"] <= summary["spectra"]["R"] <= 2 * 2750
    assert {"spectra_snr_gt_10", "targets_blue_snr_gt_10", "spectra_with_lasp",
            "targets_with_lasp", "spectra_per_exposure", "lasp_target_success",
            "lasp_spectra_success", "share_snr_gt_10"} <= set(summary)
    assert (d / "m_truth_stars.fits").is_file()
    assert len(Table.read(d / "m.fits")) == summary["spectra"]["B"] + summary["spectra"]["R"]
    ref = Table.read(d / "m_reference_rv.fits")
    assert {"source_id", "radial_velocity", "radial_velocity_error"} <= set(ref.colnames)
    # Default output, figures, and the scenario stored in the log.
    d2 = _run_dir(tmp_path / "run2", exp, text)
    assert cli.main(["synth", str(d2), "--seed", "9"]) == 0
    assert (d2 / "synth_exposures.fits").is_file()
    assert (d2 / "synth_snr_hist.png").stat().st_size > 1000
    assert (d2 / "synth_kiel.png").stat().st_size > 1000
    s2 = json.loads((d2 / "synth_summary.json").read_text())
    assert s2["scenario"] == "t"
    # By default the engineering exposures up to the log's last night (2018-12-20) come
    # too: the K1a1 May-2018 test (30) and the K2b3, K2c3, K2d4 K02 plates (5 each).
    assert s2["engineering_exposures"] == 45 and s2["exposures"] == 47 and s2["plates"] == 5
    capsys.readouterr()
    # Bad input: one line, exit code 2.
    (tmp_path / "empty").mkdir()
    assert cli.main(["synth", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert "observations.sqlite" in err and "no observation log" in err
    assert len(err.splitlines()) == 1
    assert cli.main(["synth", str(tmp_path / "nowhere")]) == 2
    assert cli.main(["synth", str(d), "--out", str(d / "x.txt")]) == 2
