"""The sky a simulation runs under: the almanac, every plate, their windows and seasons.

:func:`prepared_sky` memoises them per process (and the almanac and windows are cached
on disk), so an ensemble computes the sky once per scenario, in each worker.

Plate sets may rotate: a plate file (other TD projects', NT) may carry optional
``active_from`` and ``active_until`` columns (ISO dates, inclusive; empty: open-ended), and
a plate is a candidate only on the nights it is active (:attr:`Sky.active`).

Plate positions may be uncertain: rows with the same ``pool`` name form a pool of possible
plates of which each realization uses ``pool_draw`` (the same positive integer on every
row of the pool), drawn by the simulator (:attr:`Sky.pools`).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.sim.policy import LKMRS, NT
from lkmrs_sched.sky.almanac import Almanac, get_almanac
from lkmrs_sched.sky.footprints import PlateSet, load_plates
from lkmrs_sched.sky.visibility import Windows, get_windows, window_settings


@dataclass(frozen=True)
class Sky:
    """Almanac, plates (LK-MRS, other TD projects, NT as one set) and their windows.

    Attributes
    ----------
    active : ndarray of bool, shape (n_plates, n_nights), or None
        Whether each plate is in its project's set on each night (None: always).
    pools : tuple of (ndarray of int, int)
        Pools of possible plates (indices into :attr:`plates`) and how many of each a
        realization uses.
    """

    almanac: Almanac
    plates: PlateSet
    windows: Windows
    active: np.ndarray | None = None
    pools: tuple[tuple[np.ndarray, int], ...] = ()


def _date_or_none(raw: str | None, where: str) -> dt.date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(where, text, "an ISO date YYYY-MM-DD or empty") from None


def plate_pools(path: Path) -> list[tuple[np.ndarray, int]]:
    """Pools of a plate file (row indices and how many each realization uses).

    Raises
    ------
    InputError
        A ``pool_draw`` that is not a positive integer, differs within a pool or exceeds
        the pool's size (file, line, column, value).
    """
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "pool" not in rows[0]:
        return []
    members: dict[str, list[int]] = {}
    draws: dict[str, int] = {}
    for i, row in enumerate(rows):
        name = (row.get("pool") or "").strip()
        if not name:
            continue
        where = f"{path}: line {i + 2} pool_draw"
        raw = (row.get("pool_draw") or "").strip()
        if not raw.isdigit() or int(raw) < 1:
            raise InputError(where, raw, "a positive integer (plates used from the pool)")
        if draws.setdefault(name, int(raw)) != int(raw):
            raise InputError(where, raw, f"the pool's value on its other rows ({draws[name]})",
                             "pool_draw differs within a pool")
        members.setdefault(name, []).append(i)
    for name, idx in members.items():
        if draws[name] > len(idx):
            raise InputError(f"{path}: pool {name} pool_draw", draws[name],
                             f"at most the pool's {len(idx)} plates")
    return [(np.array(members[n]), draws[n]) for n in members]


def plate_activity(path: Path, names: np.ndarray, nights: np.ndarray) -> np.ndarray | None:
    """Active mask (plates × nights) from a plate file's optional active_from/active_until.

    Returns ``None`` when the file has neither column.

    Raises
    ------
    InputError
        A malformed date, or active_until before active_from (file, line, column, value).
    """
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not ({"active_from", "active_until"} & set(rows[0])):
        return None
    days = nights.astype("datetime64[D]")
    out = np.ones((len(rows), len(days)), dtype=bool)
    for i, row in enumerate(rows):
        where = f"{path}: line {i + 2}"
        a = _date_or_none(row.get("active_from"), f"{where} active_from")
        b = _date_or_none(row.get("active_until"), f"{where} active_until")
        if a and b and b < a:
            raise InputError(f"{where} active_until", b.isoformat(),
                             f"a date on or after active_from ({a.isoformat()})")
        if a:
            out[i] &= days >= np.datetime64(a, "D")
        if b:
            out[i] &= days <= np.datetime64(b, "D")
    assert len(rows) == len(names)
    return out


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
        _PREPARED[key] = Sky(alm, plates, get_windows(plates, alm, scenario.observing),
                             *_activity(scenario, plates, alm))
    return _PREPARED[key]


def _activity(scenario: Scenario, plates: PlateSet, alm: Almanac
              ) -> tuple[np.ndarray | None, tuple[tuple[np.ndarray, int], ...]]:
    """The combined set's active mask and pools: LK-MRS always, the others by their files."""
    sel = scenario.selector
    parts = [np.ones((int(np.sum(plates.project == LKMRS)), len(alm)), dtype=bool)]
    found = False
    pools: list[tuple[np.ndarray, int]] = []
    for f, which in ((sel.other_td_footprints, (plates.project != LKMRS) & (plates.project != NT)),
                     (sel.nt_footprints, plates.project == NT)):
        mask = plate_activity(scenario.path(f), plates.plate_name[which], alm.night)
        found |= mask is not None
        parts.append(mask if mask is not None else np.ones((int(which.sum()), len(alm)), bool))
        offset = int(np.flatnonzero(which)[0]) if which.any() else 0
        pools += [(idx + offset, k) for idx, k in plate_pools(scenario.path(f))]
    return (np.concatenate(parts) if found else None), tuple(pools)
