"""The sky a simulation runs under: the almanac, every plate, and their windows.

:func:`prepared_sky` memoises them per process (and the almanac and windows are cached
on disk), so an ensemble computes the sky once per scenario, in each worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.sim.policy import LKMRS, NT
from lkmrs_sched.sky.almanac import Almanac, get_almanac
from lkmrs_sched.sky.footprints import PlateSet, load_plates
from lkmrs_sched.sky.visibility import Windows, get_windows, window_settings


@dataclass(frozen=True)
class Sky:
    """Almanac, plates (LK-MRS, other TD projects, NT as one set) and their windows."""

    almanac: Almanac
    plates: PlateSet
    windows: Windows


def load_all_plates(scenario: Scenario) -> PlateSet:
    """LK-MRS, other TD projects' and NT plates of a scenario, as one set.

    Raises
    ------
    InputError
        If a plate file is bad, or a TD project named in ``[selector] other_td_projects``
        has no plate (warned about by the caller otherwise).
    """
    sel = scenario.selector
    lk = load_plates(scenario.path(sel.lkmrs_footprints), project=LKMRS)
    others = load_plates(scenario.path(sel.other_td_footprints), project="TD", lkmrs=False)
    nt = load_plates(scenario.path(sel.nt_footprints), project=NT, lkmrs=False)
    unknown = sorted(set(others.project) - set(sel.other_td_projects))
    if unknown:
        raise InputError(f"{scenario.path(sel.other_td_footprints)}: project", unknown[0],
                         "one of [selector] other_td_projects: "
                         + ", ".join(sel.other_td_projects), "unknown TD project")
    if len(lk) == 0:
        raise InputError(str(scenario.path(sel.lkmrs_footprints)), ..., "at least one plate",
                         "empty plate set")
    return PlateSet.concat([lk, others, nt])


_PREPARED: dict[str, Sky] = {}


def prepared_sky(scenario: Scenario) -> Sky:
    """The scenario's :class:`Sky`, memoised per process (almanac and windows disk-cached).

    Ensembles call this in every worker: the sky is computed once per scenario.
    """
    canon = scenario.canonical()
    sel = scenario.selector
    key = repr((canon["start"], canon["end"], canon["site"], canon["night"],
                window_settings(scenario.observing),
                *(str(scenario.path(f)) for f in (sel.lkmrs_footprints, sel.other_td_footprints,
                                                  sel.nt_footprints))))
    if key not in _PREPARED:
        alm = get_almanac(scenario)
        plates = load_all_plates(scenario)
        _PREPARED[key] = Sky(alm, plates, get_windows(plates, alm, scenario.observing))
    return _PREPARED[key]
