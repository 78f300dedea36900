"""The night schedule (dated rules, lunar-day tolerance), aborted exposures and plate pools
(issue #11, items 2, 6 and 7)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

import lkmrs_sched  # noqa: F401  (offline astropy)
from lkmrs_sched.core.config import RuleChange, default_scenario
from lkmrs_sched.core.resources import FOOTPRINTS
from lkmrs_sched.sim.importers import import_table2
from lkmrs_sched.sim.policy import LKMRS
from lkmrs_sched.sim.schedule import night_schedule, season_of
from lkmrs_sched.sim.simulator import Simulation
from lkmrs_sched.sim.sky import plate_pools, prepared_sky
from lkmrs_sched.sky.almanac import get_almanac

SHORT = ("2018-10-01", "2018-12-31")


def with_rules(scenario, **sections):
    return scenario.replace(**{k: dataclasses.replace(getattr(scenario, k), **v)
                               for k, v in sections.items()})


def dated(scenario, start: str, until: str | None, section: str, **values):
    change = RuleChange(dt.date.fromisoformat(start),
                        dt.date.fromisoformat(until) if until else None,
                        ((section, tuple(values.items())),))
    return dataclasses.replace(scenario, changes=(*scenario.changes, change))


def test_edge_nights_follow_the_tolerance_and_their_chance():
    sc = default_scenario("2018-09-01", "2023-06-30")
    alm = get_almanac(sc)
    s = night_schedule(sc, alm, np.random.default_rng(3))
    ld = alm.lunar_day
    core = (ld >= 7) & (ld <= 22)
    assert np.array_equal(s.mrs_night[core], np.ones(core.sum(), bool))
    assert np.array_equal(s.edge, ~core & ((ld == 6) | (ld == 23)))
    assert not s.mrs_night[~core & ~s.edge].any()
    # each edge night is an MRS night with chance edge_night_share (binomial, ~4 sigma)
    n = s.edge.sum()
    share = sc.night.edge_night_share
    assert abs(s.mrs_night[s.edge].mean() - share) < 4 * np.sqrt(share * (1 - share) / n)
    # no tolerance: the core nights only; the draw for the other nights is unchanged
    none = night_schedule(with_rules(sc, night={"lunar_day_tolerance": 0}), alm,
                          np.random.default_rng(3))
    assert np.array_equal(none.mrs_night, core)
    # Table 2's one pointing on lunar day 23 (2018-11-30) is a night the rule allows
    i = alm.night_index("2018-11-30")
    assert ld[i] == 23 and s.edge[i]


def test_dated_rules_change_the_simulation_from_their_date():
    sc = default_scenario(*SHORT)
    # LK-MRS gets no time from 2018-11-15 on; a shutdown 2018-12-01 .. 2018-12-10
    sc = dated(sc, "2018-11-15", None, "selector", lkmrs_share=0.0)
    sc = dated(sc, "2018-12-01", "2018-12-10", "night", shutdown=(("12-01", "12-10"),))
    sim = Simulation(sc, 4)
    log = sim.run()
    e = log.exposures
    nights = np.asarray(e["night"], dtype=str)
    lk = np.asarray(e["project"]) == LKMRS
    assert lk[nights < "2018-11-15"].any()  # it had time before ...
    assert not lk[nights >= "2018-11-15"].any()  # ... and none after
    assert not ((nights >= "2018-12-01") & (nights <= "2018-12-10")).any()
    assert (nights > "2018-12-10").any()  # the shutdown ended
    assert set(sim.schedule.regime.tolist()) == {0, 1, 2, 3}
    # the nights table says shutdown for the dated window
    n = log.nights
    mode = dict(zip(np.asarray(n["night"], str), np.asarray(n["mode"], str), strict=True))
    assert mode["2018-12-05"] == "shutdown" and mode["2018-12-15"] != "shutdown"


def test_weather_rules_change_by_date_without_touching_other_nights():
    sc = default_scenario(*SHORT)
    worse = dated(sc, "2018-12-01", None, "weather", usable_scale=0.0)
    a, b = Simulation(sc, 9), Simulation(worse, 9)
    cut = a.almanac.night_index("2018-12-01")
    assert b.weather.open_hours()[cut:].sum() == 0
    assert a.weather.open_hours()[cut:].sum() > 0
    # the chances per night are the schedule's
    assert np.all(b.schedule.usable[cut:] == 0) and np.all(b.schedule.usable[:cut] > 0)


@pytest.mark.parametrize("minimum", [0.0, 1200.0])
def test_weather_cut_exposures_shorter_than_the_minimum_are_aborted(minimum):
    import astropy.units as u

    sc = with_rules(default_scenario("2018-10-01", "2019-03-31"),
                    observing={"min_exposure_time": minimum * u.s})
    log = Simulation(sc, 11).run()
    e, p = log.exposures, log.pointings
    cut = np.asarray(e["interrupted"]) == 1
    aborted = np.asarray(p["end_reason"]) == "aborted"
    if minimum == 0:
        assert cut.sum() > 3 and not aborted.any()  # every cut exposure is an epoch
        assert np.asarray(e["exptime_s"])[cut].min() < 600
    else:
        assert aborted.sum() > 3 and not cut.any()  # none is: all aborted, none logged
        # an aborted pointing took no more exposures after the cut one
        for row in p[aborted]:
            mine = e[np.asarray(e["pointing_id"]) == row["pointing_id"]]
            assert len(mine) == row["n_exposures"]
    assert np.all(np.asarray(e["exptime_s"]) >= min(minimum, 1200) - 1e-3)


def test_default_minimum_keeps_table2s_600_s_exposure():
    """Table 2 counts a 600 s exposure (K2d3, 2018-11-29): the default minimum allows it."""
    sc = default_scenario()
    t2 = import_table2()
    assert np.asarray(t2.exposures["exptime_s"]).min() == 600
    assert sc.observing.min_exposure_time.to_value("s") <= 600


def test_plate_pools_give_each_realization_its_own_plates():
    sc = default_scenario("2019-09-01", "2019-12-31")
    sky = prepared_sky(sc)
    pools = plate_pools(FOOTPRINTS / "td_other.csv")
    assert pools and len(sky.pools) == len(pools)
    sims = [Simulation(sc, seed, sky=sky) for seed in (1, 1, 2)]
    night = sims[0].almanac.night_index("2019-10-15")
    for idx, k in sky.pools:
        used = [np.flatnonzero(s.active[idx, :].any(axis=1)) for s in sims]
        for u_ in used:
            assert len(u_) in (0, k)  # a pool outside its dates has none active
        assert np.array_equal(used[0], used[1])  # same seed, same plates
        on = sky.active[idx, night]
        if on.all():  # active that night: exactly pool_draw plates in use
            assert sims[0].active[idx, night].sum() == k
    differ = [not np.array_equal(sims[0].active[idx], sims[2].active[idx]) for idx, _ in sky.pools
              if sky.active[idx].any()]
    assert any(differ)  # another seed draws other plates


def test_seasons_run_july_to_june():
    assert season_of(dt.date(2019, 6, 30)) == 2018
    assert season_of(dt.date(2019, 7, 1)) == 2019
    assert season_of(dt.date(2020, 1, 15)) == 2019
