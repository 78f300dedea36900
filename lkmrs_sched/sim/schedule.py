"""Which nights are MRS nights, and which rules are in force on each night.

A scenario's rules may change by date (:meth:`~lkmrs_sched.core.config.Scenario.regimes`);
:func:`night_schedule` maps every night of an almanac to the regime in force on its local
date and derives, under that regime's ``[night]`` and ``[weather]`` sections:

* **MRS nights.** Lunar days within ``mrs_lunar_days``, plus *edge* nights up to
  ``lunar_day_tolerance`` days outside it, each an MRS night with chance
  ``edge_night_share`` (one uniform per night from the schedule's own stream, drawn for
  every night whatever the rules, so a change of rules leaves the other nights' draws
  alone). Table 2 has one TD pointing on lunar day 23 (2018-11-30).
* **Shutdown.** The regime's yearly ``shutdown`` windows.
* **Weather chances.** Each night's usable-night chance (``usable_night_fraction`` of its
  calendar month times ``usable_scale``, at most 1) and open fraction from the regime's
  ``[weather]``.

:func:`scheduled_sky` returns the sky with the almanac's MRS and shutdown flags replaced by
the schedule's, so the simulator, the recorder and the nights table agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.sim.sky import Sky
from lkmrs_sched.sky.almanac import Almanac, in_shutdown


@dataclass(frozen=True)
class NightSchedule:
    """The rules and the MRS calendar of every night of an almanac.

    Attributes
    ----------
    regime : ndarray of int
        Index into :attr:`rules` of the rules in force on each night.
    rules : tuple of Scenario
        The scenario at the start of each regime (no changes left in it).
    mrs_night, shutdown : ndarray of bool
        MRS night (core or drawn edge night); in a shutdown window.
    edge : ndarray of bool
        Nights within the lunar-day tolerance but outside ``mrs_lunar_days``.
    usable, open_fraction : ndarray of float
        Usable-night chance and mean open fraction of each night (``[weather]``).
    """

    regime: np.ndarray
    rules: tuple[Scenario, ...]
    mrs_night: np.ndarray
    shutdown: np.ndarray
    edge: np.ndarray
    usable: np.ndarray
    open_fraction: np.ndarray

    @property
    def observable(self) -> np.ndarray:
        """MRS nights outside shutdown."""
        return self.mrs_night & ~self.shutdown


def _regime_index(scenario: Scenario, nights: np.ndarray
                  ) -> tuple[np.ndarray, tuple[Scenario, ...]]:
    regimes = scenario.regimes()
    starts = np.array([np.datetime64(a, "D") for a, _, _ in regimes])
    idx = np.searchsorted(starts, nights.astype("datetime64[D]"), side="right") - 1
    return np.clip(idx, 0, len(regimes) - 1), tuple(r for _, _, r in regimes)


def night_schedule(scenario: Scenario, almanac: Almanac, rng: np.random.Generator
                   ) -> NightSchedule:
    """The schedule of every night of ``almanac`` under ``scenario``'s rules.

    Parameters
    ----------
    scenario : Scenario
    almanac : Almanac
        Its lunar days and local dates are used (not its MRS or shutdown flags).
    rng : numpy.random.Generator
        The schedule stream: exactly one uniform per night is drawn.
    """
    nights = almanac.night
    n = len(nights)
    draw = rng.random(n)
    regime, rules = _regime_index(scenario, nights)
    months = nights.astype("datetime64[M]").astype(int) % 12
    lday = np.asarray(almanac.lunar_day)
    mrs, shut, edge = (np.zeros(n, dtype=bool) for _ in range(3))
    usable, f_open = np.zeros(n), np.zeros(n)
    for k, r in enumerate(rules):
        m = regime == k
        lo, hi = r.night.mrs_lunar_days
        tol = r.night.lunar_day_tolerance
        core = (lday >= lo) & (lday <= hi)
        near = ~core & (lday >= lo - tol) & (lday <= hi + tol)
        edge[m] = near[m]
        mrs[m] = (core | (near & (draw < r.night.edge_night_share)))[m]
        shut[m] = in_shutdown(nights[m], r.night.shutdown)
        usable[m] = np.minimum(1.0, r.weather.usable_scale * np.asarray(
            r.weather.usable_night_fraction, dtype=float)[months[m]])
        f_open[m] = np.asarray(r.weather.open_fraction, dtype=float)[months[m]]
    return NightSchedule(regime, rules, mrs, shut, edge, usable, f_open)


def scheduled_sky(sky: Sky, schedule: NightSchedule) -> Sky:
    """``sky`` with its almanac's MRS and shutdown flags taken from ``schedule``."""
    alm = dataclasses.replace(sky.almanac, mrs_night=schedule.mrs_night,
                              shutdown=schedule.shutdown)
    return dataclasses.replace(sky, almanac=alm)


def season_of(date: dt.date) -> int:
    """The observing season of a local date: the year of the July 1 that starts it.

    Seasons run July 1 .. June 30, as LAMOST's data releases cover them (``covers_until``
    is June 30); the summer shutdown separates them.
    """
    return date.year if date.month >= 7 else date.year - 1
