"""Statistics of an observation log, one code path for simulated and observed logs."""

from __future__ import annotations

from typing import Any

import numpy as np

from lkmrs_sched.core.statistics import Statistic, StatisticSet
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sim.policy import LKMRS

HOURS = 24.0


def _sum(values: Any) -> float:
    return float(np.sum(np.asarray(values, dtype=float))) if len(values) else 0.0


def summary(log: ObservationLog, project: str = LKMRS) -> dict[str, Any]:
    """The ``simulate`` summary of a log.

    Pointings and nights count only pointings with at least one exposure (a set-up lost to
    the weather leaves no trace in a real log); the time ledger keeps their hours.

    Returns
    -------
    dict
        ``nights_with_lkmrs``, ``lkmrs_pointings``, ``lkmrs_exposures``, ``plates_visited``,
        ``exposures_per_plate`` (plate name → count), ``hours`` (``exposing``, ``overhead``,
        ``read-out`` for the project), ``time_ledger`` (per project: science, overhead,
        read-out hours; and the nights' totals: dark, set-up, open, closed, idle, other).
    """
    sub = log.project(project)
    observed = sub.pointings[sub.pointings["n_exposures"] > 0]  # as the real logs list them
    per_plate = log.exposures_per_plate(project)
    ledger = log.ledger
    mine = ledger[ledger["project"] == project] if len(ledger) else ledger
    exposing = _sum(sub.exposures["exptime_s"]) / 3600.0
    if len(mine):
        overhead, readout = _sum(mine["overhead_h"]), _sum(mine["readout_h"])
    else:  # an imported log has no ledger: what is not exposing in a pointing is overhead
        spans = _sum(sub.pointings["end_mjd"] - sub.pointings["start_mjd"]) * HOURS
        readout = 0.0
        overhead = max(spans - exposing, 0.0)
    by_project: dict[str, dict[str, float]] = {}
    for name in sorted(set(np.asarray(ledger["project"], dtype=str))) if len(ledger) else []:
        rows = ledger[ledger["project"] == name]
        by_project[name] = {"science_h": round(_sum(rows["science_h"]), 3),
                            "overhead_h": round(_sum(rows["overhead_h"]), 3),
                            "readout_h": round(_sum(rows["readout_h"]), 3)}
    nights = log.nights
    totals = {f"{c}": round(_sum(nights[c]), 3)
              for c in ("dark_h", "setup_h", "open_h", "closed_h", "idle_h", "other_h")}
    return {
        "nights_with_lkmrs": len(set(np.asarray(observed["night"], dtype=str))),
        "lkmrs_pointings": len(observed),
        "lkmrs_exposures": len(sub.exposures),
        "plates_visited": len(per_plate),
        "exposures_per_plate": dict(sorted(per_plate.items())),
        "hours": {"exposing": round(exposing, 3), "overhead": round(overhead, 3),
                  "read-out": round(readout, 3)},
        "time_ledger": {"projects": by_project, "nights": totals},
    }


def format_summary(s: dict[str, Any]) -> str:
    """A readable text version of :func:`summary`."""
    lines = [
        f"LK-MRS: {s['lkmrs_exposures']} exposures in {s['lkmrs_pointings']} pointings on "
        f"{s['nights_with_lkmrs']} nights; {s['plates_visited']} plates visited.",
        "Hours: " + ", ".join(f"{k} {v:.1f}" for k, v in s["hours"].items()),
        "Exposures per plate: " + ", ".join(f"{k} {v}" for k, v in
                                           sorted(s["exposures_per_plate"].items(),
                                                  key=lambda kv: -kv[1])),
    ]
    led = s["time_ledger"]
    if led["projects"]:
        lines.append("Time ledger (h): " + "; ".join(
            f"{p} {v['science_h'] + v['overhead_h'] + v['readout_h']:.0f}"
            for p, v in led["projects"].items()))
        n = led["nights"]
        lines.append(f"Nights (h): dark {n['dark_h']:.0f}, closed {n['closed_h']:.0f}, "
                     f"idle {n['idle_h']:.0f}, LRS/shutdown {n['other_h']:.0f}")
    return "\n".join(lines)


#: LK-MRS field groups by plate-name prefix.
FIELD_GROUPS = ("K1a", "K2b", "K2c", "K2d", "K2e")
#: Months of the observing season, in order (September to June).
SEASON_MONTHS = (9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7, 8)
#: Largest exposures-per-pointing bin (the last bin holds this many or more).
MAX_PER_POINTING_BIN = 10


class ProjectLog:
    """One project's observations in a log, with the pieces the statistics share.

    Pointings count only if they have at least one exposure (as real logs list them).
    """

    def __init__(self, log: ObservationLog, project: str = LKMRS):
        p = log.pointings[(log.pointings["project"] == project)
                          & (log.pointings["n_exposures"] > 0)]
        e = log.exposures[log.exposures["project"] == project]
        self.pointing_nights = np.asarray(p["night"], dtype=str)
        self.n_exp = np.asarray(p["n_exposures"], dtype=int)
        self.per_plate = np.array(sorted(log.exposures_per_plate(project).values(),
                                         reverse=True), dtype=int)
        self.months = np.array([int(s[5:7]) for s in np.asarray(e["night"], dtype=str)],
                               dtype=int)
        self.plate_names = np.asarray(e["plate_name"], dtype=str)
        self.plates_per_night: dict[str, set[str]] = {}
        for night, name in zip(self.pointing_nights, np.asarray(p["plate_name"], dtype=str),
                               strict=True):
            self.plates_per_night.setdefault(str(night), set()).add(str(name))
        # Table 2 records one seeing per pointing: compare pointing means, not exposures.
        pid = np.asarray(e["pointing_id"], dtype=np.int64)
        see = np.asarray(e["seeing_arcsec"], dtype=float)
        ok = np.isfinite(see)
        if ok.any():
            _, inv = np.unique(pid[ok], return_inverse=True)
            self.pointing_seeing = np.bincount(inv, weights=see[ok]) / np.bincount(inv)
        else:
            self.pointing_seeing = np.zeros(0)
        self.n_exposures = len(e)


def _group(g: str) -> Statistic:
    return Statistic(
        f"group_{g}", lambda v: int(np.char.startswith(v.plate_names, g).sum())
        if len(v.plate_names) else 0, "", f"exposures of the {g} plates",
        frozenset({"scorecard"}))


def _hist(v: ProjectLog) -> list[int]:
    n = v.n_exp[v.n_exp > 0]
    return np.bincount(np.clip(n, 1, MAX_PER_POINTING_BIN),
                       minlength=MAX_PER_POINTING_BIN + 1)[1:].tolist()


_FIT = frozenset({"scorecard", "calibration"})

#: Statistics of a project's observations in a log (simulated or observed alike).
LOG_STATISTICS = StatisticSet(
    Statistic("nights", lambda v: len(v.plates_per_night), "", "nights with a pointing", _FIT),
    Statistic("pointings", lambda v: int((v.n_exp > 0).sum()), "",
              "pointings with at least one exposure", _FIT),
    Statistic("exposures", lambda v: v.n_exposures, "", "exposures", _FIT),
    Statistic("plates_visited", lambda v: len(v.per_plate), "", "plates with an exposure",
              _FIT),
    Statistic("max_exposures_per_plate",
              lambda v: int(v.per_plate[0]) if len(v.per_plate) else 0, "",
              "exposures of the most observed plate", _FIT),
    Statistic("mean_exposures_per_pointing",
              lambda v: float(v.n_exp[v.n_exp > 0].mean()) if (v.n_exp > 0).any() else 0.0,
              "", "mean exposures per pointing", _FIT),
    Statistic("share_oct_to_mar",
              lambda v: float(np.isin(v.months, (10, 11, 12, 1, 2, 3)).mean())
              if len(v.months) else 0.0, "", "share of exposures from October to March", _FIT),
    Statistic("nights_with_two_plates",
              lambda v: sum(len(s) >= 2 for s in v.plates_per_night.values()), "",
              "nights with pointings at two or more plates", _FIT),
    Statistic("median_seeing",
              lambda v: float(np.median(v.pointing_seeing)) if len(v.pointing_seeing)
              else float("nan"), "arcsec",
              "median over pointings of their mean seeing (as Table 2 records it)",
              frozenset({"scorecard"})),
    *(_group(g) for g in FIELD_GROUPS),
    Statistic("exposures_per_plate_sorted", lambda v: v.per_plate.tolist(), "",
              "exposures per plate, descending"),
    Statistic("exposures_per_pointing_hist", _hist, "",
              f"pointings with 1, 2, ..., >= {MAX_PER_POINTING_BIN} exposures"),
    Statistic("exposures_per_month",
              lambda v: [int((v.months == m).sum()) for m in SEASON_MONTHS], "",
              "exposures per month, September .. August"),
)


def statistics(log: ObservationLog, project: str = LKMRS) -> dict[str, Any]:
    """Every :data:`LOG_STATISTICS` entry of a project's observations in a log.

    One code path for simulated and observed logs.
    """
    return LOG_STATISTICS.compute(ProjectLog(log, project))


#: The headline statistics of the Table 2 scorecard, in display order.
HEADLINE = LOG_STATISTICS.names("scorecard")
