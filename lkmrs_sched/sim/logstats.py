"""Statistics of an observation log, one code path for simulated and observed logs.

Three sets, each declared once here with the reports that use them:
:data:`LOG_STATISTICS` (one project's observations: the Table 2 scorecard and the
calibration distance), :data:`SHARE_STATISTICS` (realised shares of the hours: every
summary, scorecard and forecast) and :func:`release_statistics` (spectra per release
window, against LAMOST's release totals: the joint calibration and its report).
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Any

import numpy as np

from lkmrs_sched.core.resources import RELEASES
from lkmrs_sched.core.sections import ReleasesConfig
from lkmrs_sched.core.statistics import Statistic, StatisticSet
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sim.policy import LKMRS, NT
from lkmrs_sched.sim.releases import (
    Output,
    ReleaseWindow,
    log_output,
    read_releases,
    release_windows,
)

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
        "shares": _summary_shares(log),
    }


def _summary_shares(log: ObservationLog) -> dict[str, Any]:
    """The realised shares of :func:`reported_shares` (defined below), rounded."""
    realised = reported_shares(log, "summary")
    out: dict[str, Any] = {k: (round(v, 4) if isinstance(v, float) else v)
                           for k, v in realised.items() if k != "td_hour_shares"}
    out["td_hour_shares"] = {k: round(v, 4) for k, v in realised["td_hour_shares"].items()}
    return out


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
    sh = s.get("shares")
    if sh and sh.get("td_hours"):
        lines.append(f"Realised shares: LK-MRS {sh['lkmrs_share_of_td_hours']:.1%} of TD hours "
                     f"(allocated 30 %), NT {sh['nt_share_of_mrs_hours']:.1%} of MRS hours "
                     "(3/8); TD hours by project: " + ", ".join(
                         f"{k} {v:.0%}" for k, v in sh["td_hour_shares"].items()))
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


# ---- realised shares of the hours ----------------------------------------------------

class HoursLog:
    """Hours per project of a log: its time ledger (overhead, exposures, read-outs), or
    for a log without one (imported), its pointings' spans."""

    def __init__(self, log: ObservationLog):
        led = log.ledger
        hours: dict[str, float] = {}
        if len(led):
            total = (np.asarray(led["science_h"], float) + np.asarray(led["overhead_h"], float)
                     + np.asarray(led["readout_h"], float))
            names = np.asarray(led["project"], dtype=str)
        else:
            p = log.pointings
            total = (np.asarray(p["end_mjd"], float) - np.asarray(p["start_mjd"], float)) * HOURS
            names = np.asarray(p["project"], dtype=str)
        for name in np.unique(names):
            hours[str(name)] = float(total[names == name].sum())
        self.hours = hours
        self.nt = hours.get(NT, 0.0)
        self.td = sum(v for k, v in hours.items() if k != NT)
        self.lkmrs = hours.get(LKMRS, 0.0)

    def td_shares(self) -> dict[str, float]:
        """Each TD project's share of the TD hours."""
        return {k: v / self.td for k, v in sorted(self.hours.items())
                if k != NT and self.td > 0}


_SHARES = frozenset({"summary", "forecast"})

#: Realised shares of the time (context: :class:`HoursLog`).
SHARE_STATISTICS = StatisticSet(
    Statistic("lkmrs_share_of_td_hours", lambda h: h.lkmrs / h.td if h.td else float("nan"),
              "", "LK-MRS's realised share of the TD hours (allocated 30 %)", _SHARES),
    Statistic("nt_share_of_mrs_hours",
              lambda h: h.nt / (h.nt + h.td) if h.nt + h.td else float("nan"), "",
              "NT's realised share of the MRS hours (allocated 3/8)", _SHARES),
    Statistic("lkmrs_hours", lambda h: h.lkmrs, "h", "LK-MRS hours (overhead, exposures, "
              "read-outs)", _SHARES),
    Statistic("td_hours", lambda h: h.td, "h", "TD hours, all TD projects", _SHARES),
    Statistic("nt_hours", lambda h: h.nt, "h", "NT hours", _SHARES),
    Statistic("td_hour_shares", lambda h: h.td_shares(), "",
              "each TD project's share of the TD hours (a mapping)"),
)


def shares(log: ObservationLog) -> dict[str, Any]:
    """Every :data:`SHARE_STATISTICS` entry of a log."""
    return SHARE_STATISTICS.compute(HoursLog(log))


def reported_shares(log: ObservationLog, report: str) -> dict[str, Any]:
    """The realised shares a report uses (``summary`` or ``forecast``) and, under
    ``td_hour_shares``, each TD project's share of the TD hours (a mapping).

    The one source of the per-project shares: ``simulate``'s summary, the Table 2
    scorecard and the forecast all take them from here.
    """
    realised = shares(log)
    out = {k: realised[k] for k in SHARE_STATISTICS.names(report)}
    out["td_hour_shares"] = dict(realised["td_hour_shares"])
    return out


# ---- release windows -------------------------------------------------------------------

class ReleaseLog:
    """A log counted as LAMOST's releases count spectra, per release window.

    Parameters
    ----------
    log : ObservationLog
    config : ReleasesConfig
        Per-exposure and per-plate-night counts.
    lkmrs_targets : dict
        Table-1 targets + standards per LK-MRS plate name.
    """

    def __init__(self, log: ObservationLog, config: ReleasesConfig,
                 lkmrs_targets: dict[str, int]):
        self.log, self.config, self.targets = log, config, lkmrs_targets
        self._cache: dict[tuple[dt.date, dt.date], Output] = {}

    def output(self, w: ReleaseWindow) -> Output:
        """The log's output in a window (memoised)."""
        key = (w.first, w.last)
        if key not in self._cache:
            self._cache[key] = log_output(self.log, w.first, w.last, self.config, self.targets)
        return self._cache[key]


_REL = frozenset({"calibration", "releases"})


def release_statistics(windows: list[ReleaseWindow]) -> StatisticSet:
    """The statistics of the release windows (context: :class:`ReleaseLog`).

    For each window ``w`` (tag ``dr7``, ``dr9``, …): ``td_spectra_<tag>`` and
    ``nt_spectra_<tag>`` (spectra in the window, as the release counts them) and
    ``lkmrs_td_spectra_<tag>`` (LK-MRS's part of the TD spectra, reported only).
    """
    stats = []
    for w in windows:
        span = f"{w.first}..{w.last} ({w.name} minus the previous release)"
        stats += [
            Statistic(f"td_spectra_{w.tag}", lambda c, w=w: c.output(w).td, "",
                      f"TD single-exposure spectra, one per target and exposure, {span}", _REL),
            Statistic(f"nt_spectra_{w.tag}", lambda c, w=w: c.output(w).nt, "",
                      f"NT coadded spectra, one per target and plate-night, {span}", _REL),
            Statistic(f"lkmrs_td_spectra_{w.tag}", lambda c, w=w: c.output(w).lkmrs, "",
                      f"LK-MRS's part of the TD spectra, {span}", frozenset({"releases"})),
        ]
    return StatisticSet(*stats)


#: The release windows of the shipped table (DR6 → DR7: year 1; DR7 → DR9: 2019-21).
RELEASE_WINDOWS = release_windows(read_releases(RELEASES))
#: Their statistics.
RELEASE_STATISTICS = release_statistics(RELEASE_WINDOWS)


class RealReleases:
    """Release windows' real totals as a context for :func:`release_statistics`."""

    def __init__(self, windows: list[ReleaseWindow] | None = None):
        self.windows = RELEASE_WINDOWS if windows is None else windows

    @cached_property
    def by_window(self) -> dict[tuple[dt.date, dt.date], Output]:
        return {(w.first, w.last): Output(float(w.td), float(w.nt), float("nan"), 0, 0)
                for w in self.windows}

    def output(self, w: ReleaseWindow) -> Output:
        return self.by_window[(w.first, w.last)]


def observed_release_statistics(windows: list[ReleaseWindow] | None = None
                                ) -> dict[str, float]:
    """The real values of the windows' statistics (LK-MRS's part unknown: NaN)."""
    windows = RELEASE_WINDOWS if windows is None else windows
    return release_statistics(windows).compute(RealReleases(windows))
