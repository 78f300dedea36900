"""The SimPy simulator: reproducibility, independent random streams, and the invariants of
every simulated log (dark time, windows, MRS nights, shutdown, dome, pointings, ledger).

Runs are short (2018-10-01 .. 2019-01-31, a few seeds, stochastic and ideal weather) and
share one module-scoped almanac and windows, so the whole file takes a few seconds.
"""

from __future__ import annotations

import bisect
import dataclasses
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers import cache_dir

import lkmrs_sched  # noqa: F401  (offline astropy before anything else)
from lkmrs_sched.core.config import default_scenario, load_scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import SCENARIOS
from lkmrs_sched.sim.obslog import TABLES, ObservationLog
from lkmrs_sched.sim.policy import LKMRS, Decision
from lkmrs_sched.sim.simulator import InitialState, Simulation, streams
from lkmrs_sched.sim.sky import Sky, load_all_plates
from lkmrs_sched.sky.almanac import compute_almanac
from lkmrs_sched.sky.visibility import compute_windows

SHORT = ("2018-10-01", "2019-01-31")
SEEDS = (1, 2, 3)
DAY_S = 86400.0
#: Time tolerance: exposure times are stored rounded to 1 ms.
TOL_D = 0.002 / DAY_S


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    """A private almanac/windows cache for this module (the env var is read at call time)."""
    with cache_dir(tmp_path_factory.mktemp("sim-cache")):
        yield


def ideal(scenario):
    return scenario.replace(weather=dataclasses.replace(scenario.weather, model="ideal"))


@dataclasses.dataclass
class Setup:
    scenario: object
    almanac: object
    plates: object
    windows: object

    def sim(self, seed: int, scenario=None, **kw) -> Simulation:
        return Simulation(scenario or self.scenario, seed,
                          sky=Sky(self.almanac, self.plates, self.windows), **kw)


@pytest.fixture(scope="module")
def short():
    sc = default_scenario(*SHORT)
    alm = compute_almanac(sc)
    plates = load_all_plates(sc)
    return Setup(sc, alm, plates, compute_windows(plates, alm, sc.observing))


@pytest.fixture(scope="module")
def runs(short):
    """(label, Simulation, log) for three stochastic seeds and one ideal-weather run."""
    out = []
    for seed in SEEDS:
        sim = short.sim(seed)
        out.append((f"stochastic-{seed}", sim, sim.run()))
    sim = short.sim(5, ideal(short.scenario))
    out.append(("ideal-5", sim, sim.run()))
    return out


@pytest.fixture(scope="module")
def year1():
    """The shipped year-1 scenario (2018-09 .. 2019-06), its almanac and windows."""
    sc = load_scenario(SCENARIOS / "year1-2018.toml")
    alm = compute_almanac(sc)
    plates = load_all_plates(sc)
    return Setup(sc, alm, plates, compute_windows(plates, alm, sc.observing))


def indices(sim: Simulation, log: ObservationLog) -> tuple[np.ndarray, np.ndarray]:
    """Plate and night index of every exposure of a log."""
    by_name = {str(n): i for i, n in enumerate(sim.plates.plate_name)}
    p = np.array([by_name[str(n)] for n in log.exposures["plate_name"]], dtype=np.int64)
    n = np.searchsorted(sim.almanac.night,
                        np.asarray(log.exposures["night"], dtype="datetime64[D]"))
    assert np.all(sim.almanac.night[n] == np.asarray(log.exposures["night"], "datetime64[D]"))
    return p, n


def sqlite_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of every log table, straight from the file (info without created_utc)."""
    con = sqlite3.connect(path)
    try:
        out = {t: con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in TABLES}
        out["info"] = con.execute(
            "SELECT key, value FROM info WHERE key != 'created_utc' ORDER BY key").fetchall()
    finally:
        con.close()
    return out


# ---------------------------------------------------------------------- reproducibility
def test_same_seed_identical_sqlite_other_seed_differs(short, tmp_path):
    a, b, c = short.sim(11).run(), short.sim(11).run(), short.sim(12).run()
    assert len(a.exposures) > 50
    assert a.content_digest() == b.content_digest()
    for name, log in (("a", a), ("b", b), ("c", c)):
        log.write(tmp_path / f"{name}.sqlite")
    ra, rb, rc = (sqlite_rows(tmp_path / f"{x}.sqlite") for x in "abc")
    assert ra == rb
    assert ObservationLog.read(tmp_path / "a.sqlite").content_digest() == a.content_digest()
    assert c.content_digest() != a.content_digest()
    assert rc["exposures"] != ra["exposures"]
    assert rc["nights"] != ra["nights"]


def test_streams_are_independent_children_of_the_seed():
    a, b = streams(4), streams(4)
    for name in ("weather", "seeing", "selection"):
        assert np.array_equal(a[name].random(5), b[name].random(5))
    c = streams(4)
    draws = [c[name].random(5) for name in ("weather", "seeing", "selection")]
    assert not np.array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[1], draws[2])
    assert not np.array_equal(streams(5)["weather"].random(5), streams(4)["weather"].random(5))


@pytest.mark.parametrize("change", [{"started_plate_boost": 1.0},
                                    {"lkmrs_share": 0.6, "rebalance_gain": 0.0}])
def test_selector_change_leaves_weather_and_seeing_identical(short, change):
    sc2 = short.scenario.replace(selector=dataclasses.replace(short.scenario.selector, **change))
    s1, s2 = short.sim(21), short.sim(21, sc2)
    log1, log2 = s1.run(), s2.run()
    # The change does change what is observed ...
    assert log1.content_digest() != log2.content_digest()
    assert not np.array_equal(np.asarray(log1.exposures["plate_name"]),
                              np.asarray(log2.exposures["plate_name"]))
    # ... but not the dome's open intervals nor the seeing of any (night, exposure).
    assert s1.weather.intervals.shape[0] > 20
    assert np.array_equal(s1.weather.intervals, s2.weather.intervals)
    assert np.array_equal(s1.weather.night_of, s2.weather.night_of)
    for n in np.flatnonzero(short.almanac.observable):
        for k in range(10):
            assert s1.seeing.sample(int(n), k) == s2.seeing.sample(int(n), k)
    # Another seed changes the weather (the test above could fail).
    assert not np.array_equal(short.sim(22).weather.intervals, s1.weather.intervals)


def aborted_before(log: ObservationLog, night: str, mjd: float) -> int:
    """Aborted exposures (one at the end of each 'aborted' pointing) before ``mjd``."""
    p = log.pointings
    mask = (p["end_reason"] == "aborted") & (p["night"] == night) & (p["end_mjd"] <= mjd)
    return int(np.sum(mask))


def test_logged_seeing_is_the_models_sample(runs):
    """Each exposure's seeing is the model's sample for its place in the night; an aborted
    exposure (not logged) still took its sample."""
    aborted = 0
    for _, sim, log in runs:
        _, n = indices(sim, log)
        e = log.exposures
        k = np.zeros(len(e), dtype=int)
        seen: Counter = Counter()
        for i in np.argsort(np.asarray(e["start_mjd"]), kind="stable"):
            k[i] = seen[n[i]] + aborted_before(log, str(e["night"][i]), e["start_mjd"][i])
            seen[n[i]] += 1
        expect = [sim.seeing.sample(int(a), int(b)) for a, b in zip(n, k, strict=True)]
        np.testing.assert_array_equal(np.asarray(e["seeing_arcsec"]), expect)
        aborted += int(np.sum(log.pointings["end_reason"] == "aborted"))
    assert aborted > 0  # the case is exercised


# ---------------------------------------------------------------------- invariants
def test_logs_are_not_trivial(runs):
    for label, _, log in runs:
        lk = log.exposures[log.exposures["project"] == LKMRS]
        assert len(log.exposures) > 300, label
        assert len(lk) > 30, label
        assert set(log.pointings["programme"]) == {"TD", "NT"}, label


def test_exposures_in_dark_time_of_their_night(runs):
    for label, sim, log in runs:
        _, n = indices(sim, log)
        s = np.asarray(log.exposures["start_mjd"])
        end = s + np.asarray(log.exposures["exptime_s"]) / DAY_S
        assert np.all(s >= sim.almanac.dusk[n] - TOL_D), label
        assert np.all(end <= sim.almanac.dawn[n] + TOL_D), label


def test_first_and_last_exposures_are_dark_by_astropy(runs):
    """Independent check of the dark-time edges: the Sun is below −18° (astropy)."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, get_body
    from astropy.time import Time

    _, sim, log = runs[-1]  # ideal weather: exposures run from dusk to dawn
    e = log.exposures
    s = np.asarray(e["start_mjd"])
    end = s + np.asarray(e["exptime_s"]) / DAY_S
    nights = np.asarray(e["night"])
    first = [s[nights == x].min() for x in np.unique(nights)]
    last = [end[nights == x].max() for x in np.unique(nights)]
    site = sim.scenario.site
    loc = EarthLocation.from_geodetic(site.longitude, site.latitude, site.elevation)
    t = Time(np.concatenate([first, last]), format="mjd", scale="utc")
    alt = get_body("sun", t).transform_to(AltAz(obstime=t, location=loc)).alt.to_value(u.deg)
    assert np.all(alt < -18.0 + 0.05)
    # Not vacuous: with an ideal dome the night starts at the twilight.
    assert alt.max() > -18.5


def test_exposures_inside_their_plate_window(runs):
    for label, sim, log in runs:
        p, n = indices(sim, log)
        s = np.asarray(log.exposures["start_mjd"])
        end = s + np.asarray(log.exposures["exptime_s"]) / DAY_S
        w0, w1 = sim.windows.exp_start[p, n], sim.windows.exp_end[p, n]
        assert np.all(np.isfinite(w0)), label
        assert np.all(s >= w0 - TOL_D), label
        assert np.all(end <= w1 + TOL_D), label
        # hour_angle_applies_to = 'midpoint': |HA| at the planned mid-exposure ≤ 2 h.
        texp = sim.rules.exposure
        ha_mid = sim.windows.hour_angle(p, n, s + texp / 2)
        assert np.all(np.abs(ha_mid) <= 2.0 + 1e-6), label
        assert np.abs(ha_mid).max() > 1.9, label  # pointings do run to the window's edge
        # The logged hour angle is that at the real mid-exposure.
        full = np.asarray(log.exposures["interrupted"]) == 0
        np.testing.assert_allclose(np.asarray(log.exposures["hour_angle_h"])[full],
                                   ha_mid[full], atol=1e-6)


def test_logged_hour_angle_agrees_with_astropy(runs):
    """Independent check of the hour angle: apparent sidereal time − apparent RA (TETE)."""
    import astropy.units as u
    from astropy.coordinates import TETE, SkyCoord
    from astropy.time import Time

    _, sim, log = runs[0]
    e = log.exposures
    p, _ = indices(sim, log)
    mid = np.asarray(e["start_mjd"]) + np.asarray(e["exptime_s"]) / DAY_S / 2
    t = Time(mid, format="mjd", scale="utc")
    c = SkyCoord(sim.plates.ra_deg[p] * u.deg, sim.plates.dec_deg[p] * u.deg)
    ra_app = c.transform_to(TETE(obstime=t)).ra
    lst = t.sidereal_time("apparent", longitude=sim.scenario.site.longitude)
    ha = ((lst - ra_app).wrap_at(180 * u.deg)).to_value(u.hourangle)
    np.testing.assert_allclose(np.asarray(e["hour_angle_h"]), ha, atol=3e-3)  # ~10 s


def test_exposures_only_on_mrs_nights_outside_shutdown(runs):
    for label, sim, log in runs:
        _, n = indices(sim, log)
        alm = sim.almanac
        assert np.all(alm.mrs_night[n] & ~alm.shutdown[n]), label
        ld = alm.lunar_day[n]
        # lunar days 7-22, or a drawn edge night within the 1-day tolerance
        core = (ld >= 7) & (ld <= 22)
        assert np.all(core | sim.schedule.edge[n]), label
        assert np.all((ld >= 6) & (ld <= 23)), label
        nights = log.nights
        mode = dict(zip(np.asarray(nights["night"]), np.asarray(nights["mode"]), strict=True))
        assert {mode[x] for x in np.asarray(log.exposures["night"])} == {"MRS"}, label
        lday = dict(zip(np.asarray(nights["night"]), np.asarray(nights["lunar_day"]),
                        strict=True))
        assert all(6 <= lday[x] <= 23 for x in np.asarray(log.pointings["night"])), label


def test_no_exposure_in_summer_shutdown(short):
    sc = ideal(default_scenario("2019-06-01", "2019-09-30"))
    sim = Simulation(sc, 3)
    log = sim.run()
    months = np.asarray(log.exposures["night"], dtype="datetime64[M]").astype(int) % 12 + 1
    assert not np.any((months == 7) | (months == 8))
    assert np.any(months == 6) and np.any(months == 9)  # there is something to forbid
    nights = log.nights
    summer = np.isin(np.asarray(nights["night"], "datetime64[M]").astype(int) % 12 + 1, [7, 8])
    assert set(np.asarray(nights["mode"])[summer]) == {"shutdown"}
    np.testing.assert_allclose(np.asarray(nights["other_h"])[summer],
                               np.asarray(nights["dark_h"] + nights["setup_h"])[summer])


def test_no_exposure_while_dome_closed(runs):
    for label, sim, log in runs:
        w = sim.weather
        starts, ends = w.intervals[:, 0].tolist(), w.intervals[:, 1].tolist()
        s = np.asarray(log.exposures["start_mjd"])
        end = s + np.asarray(log.exposures["exptime_s"]) / DAY_S
        interrupted = np.asarray(log.exposures["interrupted"]) == 1
        for a, b, cut in zip(s, end, interrupted, strict=True):
            assert w.clear(float(a))[0], (label, a)
            i = bisect.bisect_right(starts, a) - 1
            assert i >= 0 and starts[i] <= a < ends[i], (label, a)
            # the exposure lies in that one open interval: no overlap with closed time
            assert b <= ends[i] + TOL_D, (label, a, b, ends[i])
            if not cut:
                assert b == pytest.approx(a + sim.rules.exposure, abs=TOL_D)


def test_interrupted_exposures_end_when_the_dome_closes(runs, year1):
    sim = year1.sim(year1.scenario.seed)
    season = sim.run()
    logs = [("year1", sim, season)] + [r for r in runs if r[0].startswith("stochastic")]
    total = 0
    for label, s, log in logs:
        e = log.exposures
        cut = np.flatnonzero(np.asarray(e["interrupted"]) == 1)
        total += len(cut)
        ends = s.weather.intervals[:, 1]
        for i in cut:
            assert e["exptime_s"][i] < 1200.0, label
            end = e["start_mjd"][i] + e["exptime_s"][i] / DAY_S
            j = np.argmin(np.abs(ends - end))
            assert abs(ends[j] - end) * DAY_S < 0.002, (label, i)
            # it is the last exposure of its pointing, which ended for the weather
            pid = e["pointing_id"][i]
            same = np.flatnonzero(np.asarray(e["pointing_id"]) == pid)
            assert i == same[np.argmax(np.asarray(e["start_mjd"])[same])]
            pt = log.pointings[np.asarray(log.pointings["pointing_id"]) == pid][0]
            assert pt["end_reason"] == "weather"
        assert np.all(np.asarray(e["exptime_s"])[np.asarray(e["interrupted"]) == 0] == 1200.0)
    assert np.count_nonzero(season.exposures["interrupted"]) >= 1
    assert total >= 10


def test_ideal_weather_has_no_closed_hours_and_no_interruptions(runs):
    label, _, log = runs[-1]
    assert label.startswith("ideal")
    nights = log.nights
    mrs = np.asarray(nights["mode"]) == "MRS"
    assert mrs.sum() > 30
    assert np.all(np.asarray(nights["closed_h"])[mrs] == 0.0)
    np.testing.assert_allclose(np.asarray(nights["open_h"])[mrs],
                               np.asarray(nights["dark_h"] + nights["setup_h"])[mrs], atol=1e-9)
    assert not np.any(np.asarray(log.exposures["interrupted"]))
    assert set(log.pointings["end_reason"]) <= {"window", "dawn", "planned", "max_exposures",
                                                "goal"}
    # and the stochastic runs do have closed hours on MRS nights (the check can fail)
    for lab, _, lg in runs[:-1]:
        assert np.asarray(lg.nights["closed_h"])[mrs].sum() > 10, lab


def test_pointings_at_most_8_exposures_and_consistent(runs):
    for label, sim, log in runs:
        e, p = log.exposures, log.pointings
        counts = Counter(np.asarray(e["pointing_id"]).tolist())
        assert max(counts.values()) <= 8, label
        assert max(counts.values()) == 8, label  # the cap is reached, so it is enforced
        for row in p:
            pid = int(row["pointing_id"])
            assert row["n_exposures"] == counts.get(pid, 0), label
            mine = e[np.asarray(e["pointing_id"]) == pid]
            if len(mine):
                assert str(mine["plate_name"][0]) == row["plate_name"]
                assert set(mine["plate_name"]) == {row["plate_name"]}
                assert set(mine["night"]) == {row["night"]}
                first = float(np.min(mine["start_mjd"]))
                last = np.argmax(np.asarray(mine["start_mjd"]))
                end = mine["start_mjd"][last] + mine["exptime_s"][last] / DAY_S
                # the overhead comes first, the pointing ends after the last read-out
                # (or, aborted, after the cut exposure's read-out)
                assert first - row["start_mjd"] >= sim.rules.overhead - TOL_D, label
                if row["end_reason"] == "aborted":
                    assert row["end_mjd"] > end + sim.rules.readout, label
                else:
                    assert row["end_mjd"] == pytest.approx(end + sim.rules.readout, abs=TOL_D)
            if row["programme"] == "NT":
                assert row["n_exposures"] <= sim.scenario.selector.nt_exposures_per_pointing


def test_no_overlapping_exposures_or_pointings(runs):
    for label, sim, log in runs:
        e = log.exposures
        order = np.argsort(np.asarray(e["start_mjd"]))
        s = np.asarray(e["start_mjd"])[order]
        end = s + np.asarray(e["exptime_s"])[order] / DAY_S + sim.rules.readout
        assert np.all(end[:-1] <= s[1:] + TOL_D), label
        p = log.pointings
        ps, pe = np.asarray(p["start_mjd"]), np.asarray(p["end_mjd"])
        assert np.all(np.diff(ps) > 0), label
        assert np.all(pe[:-1] <= ps[1:] + TOL_D), label
        assert np.array_equal(np.asarray(e["exposure_id"]), np.arange(1, len(e) + 1))


def night_balance(log: ObservationLog) -> np.ndarray:
    """dark_h + setup_h − (closed_h + idle_h + other_h + Σ ledger) per night (h)."""
    n, led = log.nights, log.ledger
    used = Counter()
    for r in led:
        used[str(r["night"])] += r["science_h"] + r["overhead_h"] + r["readout_h"]
    lhs = np.asarray(n["dark_h"] + n["setup_h"])
    rhs = np.asarray(n["closed_h"] + n["idle_h"] + n["other_h"]) + np.array(
        [used[str(x)] for x in n["night"]])
    return lhs - rhs


def dawn_overrun_h(log: ObservationLog) -> np.ndarray:
    """Per night: hours by which the night's last pointing (its last read-out) ends after dawn."""
    n = log.nights
    end = {}
    for r in log.pointings:
        end[str(r["night"])] = max(end.get(str(r["night"]), -np.inf), r["end_mjd"])
    last = np.array([end.get(str(x), -np.inf) for x in n["night"]])
    return np.maximum(last - np.asarray(n["dawn_mjd"]), 0.0) * 24


def test_nightly_ledger_adds_up(runs):
    for label, _, log in runs:
        np.testing.assert_allclose(night_balance(log), 0.0, atol=1e-6, rtol=0, err_msg=label)


def test_no_readout_runs_past_dawn_and_ledger_parts_match(runs):
    """Every read-out ends by dawn; science and read-out hours are the exposures' own."""
    for label, sim, log in runs:
        n = log.nights
        assert np.all(dawn_overrun_h(log) <= 1e-9), label
        assert len(n) == len(sim.almanac)
        # science and read-out hours are the exposures' own, night by night and project
        e, p = log.exposures, log.pointings
        for r in log.ledger:
            mine = e[(e["night"] == r["night"]) & (e["project"] == r["project"])]
            cut = np.sum((p["night"] == r["night"]) & (p["project"] == r["project"])
                         & (p["end_reason"] == "aborted"))
            assert r["science_h"] == pytest.approx(np.sum(mine["exptime_s"]) / 3600, abs=1e-5)
            # an aborted exposure is read out too (its time is overhead, not science)
            assert r["readout_h"] == pytest.approx((len(mine) + cut) * 3 / 60, abs=1e-9)
        assert np.all(np.asarray(n["idle_h"]) >= 0) and np.all(np.asarray(n["closed_h"]) >= 0)
        # LRS and shutdown nights are 'other' time only
        off = np.asarray(n["mode"]) != "MRS"
        np.testing.assert_allclose(np.asarray(n["other_h"])[off],
                                   np.asarray(n["dark_h"] + n["setup_h"])[off])
        assert np.all(np.asarray(n["other_h"])[~off] == 0)


def test_log_round_trips_through_sqlite(runs, tmp_path):
    _, _, log = runs[0]
    log.write(tmp_path / "x.sqlite")
    back = ObservationLog.read(tmp_path / "x.sqlite")
    assert back.content_digest() == log.content_digest()
    for name in TABLES:
        a, b = getattr(log, name), getattr(back, name)
        assert a.colnames == b.colnames
        for c in a.colnames:
            assert np.array_equal(np.asarray(a[c]), np.asarray(b[c])), (name, c)
    assert back.info["kind"] == "simulated"
    assert back.info["seed"] == str(SEEDS[0])


# ---------------------------------------------------------------------- year 1, initial state
def test_year1_scenario_gives_a_log_of_table2s_order(year1):
    for seed in (year1.scenario.seed, 1, 2):
        log = year1.sim(seed).run()
        lk = log.exposures[log.exposures["project"] == LKMRS]
        nights = len(set(np.asarray(lk["night"])))
        assert 15 <= nights <= 120, (seed, nights)
        assert 100 <= len(lk) <= 700, (seed, len(lk))
        plates = set(np.asarray(lk["plate_name"]))
        assert 5 <= len(plates) <= 20
        # nothing in July–August (shutdown) nor before September 2018
        months = np.asarray(lk["night"], dtype="datetime64[M]").astype(int) % 12 + 1
        assert not np.any((months == 7) | (months == 8))


def test_initial_state_plates_at_goal_are_not_observed(short):
    lk = short.plates.plate_name[short.plates.project == LKMRS]
    done = InitialState(exposures={str(n): 60 for n in lk})
    log = short.sim(2, initial=done).run()
    assert len(log.exposures) > 100
    assert LKMRS not in set(log.exposures["project"])
    # without the initial state LK-MRS is observed in the same realization
    assert LKMRS in set(short.sim(2).run().exposures["project"])


def test_initial_state_from_log(runs):
    log = runs[0][2]
    init = InitialState.from_log(log, {"LK-MRS": 0.3, "TD-B": 0.7 / 3, "TD-C": 0.7 / 3,
                                       "TD-D": 0.7 / 3})
    assert init.exposures == dict(Counter(np.asarray(log.exposures["plate_name"]).tolist()))
    p = log.pointings
    lk = p[p["project"] == LKMRS]
    assert init.time_used_h[LKMRS] == pytest.approx(np.sum(lk["end_mjd"] - lk["start_mjd"]) * 24)


# ---------------------------------------------------------------------- bad input
def test_range_without_mrs_night_is_an_input_error():
    # 2018-10-09: new moon (lunar day 1); 2019-07-20: summer shutdown.
    for day in ("2018-10-09", "2019-07-20"):
        with pytest.raises(InputError, match="no MRS night"):
            Simulation(default_scenario(day, day), 0)


def test_empty_lkmrs_plate_set_is_an_input_error(tmp_path):
    f = tmp_path / "empty.csv"
    f.write_text("plan_id,ra_j2000,dec_j2000,plate_name\n")
    sc = default_scenario(*SHORT)
    sc = sc.replace(selector=dataclasses.replace(sc.selector, lkmrs_footprints=str(f)))
    with pytest.raises(InputError, match="plate"):
        load_all_plates(sc)


def test_replay_weather_next_to_its_scenario_runs_through_simulation(tmp_path, monkeypatch):
    """A scenario's relative replay_file is found in the scenario's own folder."""
    folder = tmp_path / "here"
    folder.mkdir()
    (folder / "open.csv").write_text(
        "start_utc,end_utc\n"
        "2018-12-15T10:00:00Z,2018-12-15T23:00:00Z\n"
        "2018-12-17T10:00:00Z,2018-12-17T14:00:00Z\n")
    path = folder / "replay.toml"
    path.write_text(
        '[scenario]\nbase = "' + str(SCENARIOS / "year1-2018.toml") + '"\n'
        'name = "replay"\nstart = "2018-12-14"\nend = "2018-12-18"\n'
        '[weather]\nmodel = "replay"\nreplay_file = "open.csv"\n')
    monkeypatch.chdir(tmp_path)  # not the scenario's folder, nor one above it
    scenario = load_scenario(path)
    sim = Simulation(scenario, 1)
    assert sim.weather.model == "replay"
    log = sim.run()
    nights = log.nights
    open_h = {str(n): h for n, h in zip(nights["night"], nights["open_h"], strict=True)}
    # Dark time is bounded by the replayed intervals: only 12-15 and 12-17 had open time.
    assert open_h["2018-12-14"] == 0 and open_h["2018-12-16"] == 0
    # (a read-out after a weather cut counts as operating time: at most 3 min more)
    assert open_h["2018-12-15"] > 5 and 0 < open_h["2018-12-17"] <= 4 + 0.05 + 1e-9
    assert set(np.asarray(log.exposures["night"], dtype=str)) <= {"2018-12-15", "2018-12-17"}


def test_collaborators_are_injected(short):
    """Simulation takes its policy, weather and seeing from the caller."""
    from lkmrs_sched.sim.policy import Policy
    from lkmrs_sched.sim.weather import IntervalWeather

    class NTOnly:
        """A policy that always points at the first NT candidate."""

        def __init__(self):
            self.calls = 0

        def choose(self, conditions, rng):
            rng.random(3)
            self.calls += 1
            c = conditions.candidates
            nt = np.flatnonzero((c.project == "NT") & (c.n_exposures_possible >= 1))
            if not len(nt):
                return None
            return Decision("NT", "NT", int(c.plate_index[nt[0]]), 1)

        def probabilities(self, conditions):
            return np.zeros(len(conditions.candidates))

        def planned_end(self, decision, exposures_after):
            return "planned"

    class Fixed:
        def sample(self, night, k):
            return 2.5

    policy = NTOnly()
    assert isinstance(policy, Policy)
    alm = short.almanac
    closed = IntervalWeather(np.zeros((0, 2)), np.zeros(0, np.int64), len(alm), "closed")
    log = short.sim(1, policy=policy, weather=closed, seeing=Fixed()).run()
    assert len(log.exposures) == 0 and policy.calls == 0  # never open: never asked
    log = short.sim(1, policy=policy, seeing=Fixed()).run()
    assert policy.calls > 0 and len(log.exposures) > 0
    assert set(np.asarray(log.exposures["programme"], dtype=str)) == {"NT"}
    assert np.all(np.asarray(log.exposures["seeing_arcsec"]) == 2.5)
