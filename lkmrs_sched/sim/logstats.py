"""Statistics of an observation log, one code path for simulated and observed logs."""

from __future__ import annotations

from typing import Any

import numpy as np

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


def statistics(log: ObservationLog, project: str = LKMRS) -> dict[str, Any]:
    """Statistics of a project's observations in a log (simulated or observed alike).

    Returns
    -------
    dict
        Scalars: ``nights``, ``pointings``, ``exposures``, ``plates_visited``,
        ``max_exposures_per_plate``, ``mean_exposures_per_pointing``,
        ``share_oct_to_mar`` (share of exposures from October to March),
        ``nights_with_two_plates``, ``median_seeing`` (median over pointings of their mean
        seeing, arcsec, as Table 2 records it; NaN without exposures),
        ``group_<K1a|K2b|…>`` (exposures per field group). Vectors:
        ``exposures_per_plate_sorted`` (descending, zero-padded to the plates of the
        project seen), ``exposures_per_pointing_hist`` (counts of pointings with 1, 2, …,
        ≥10 exposures), ``exposures_per_month`` (12 counts, September … August).
    """
    p = log.pointings[(log.pointings["project"] == project) & (log.pointings["n_exposures"] > 0)]
    e = log.exposures[log.exposures["project"] == project]
    nights = np.asarray(p["night"], dtype=str)
    per_plate = np.array(sorted(log.exposures_per_plate(project).values(), reverse=True),
                         dtype=int)
    n_exp = np.asarray(p["n_exposures"], dtype=int)
    months = np.array([int(s[5:7]) for s in np.asarray(e["night"], dtype=str)], dtype=int)
    per_month = np.array([(months == m).sum() for m in SEASON_MONTHS], dtype=int)
    names = np.asarray(e["plate_name"], dtype=str)
    plates_per_night: dict[str, set[str]] = {}
    for night, name in zip(nights, np.asarray(p["plate_name"], dtype=str), strict=True):
        plates_per_night.setdefault(str(night), set()).add(str(name))
    hist = np.bincount(np.clip(n_exp[n_exp > 0], 1, MAX_PER_POINTING_BIN),
                       minlength=MAX_PER_POINTING_BIN + 1)[1:]
    # Table 2 records one seeing per pointing: compare pointing means, not exposures.
    pid = np.asarray(e["pointing_id"], dtype=np.int64)
    see = np.asarray(e["seeing_arcsec"], dtype=float)
    ok = np.isfinite(see)
    if ok.any():
        _, inv = np.unique(pid[ok], return_inverse=True)
        seeing = np.bincount(inv, weights=see[ok]) / np.bincount(inv)
    else:
        seeing = np.zeros(0)
    out: dict[str, Any] = {
        "nights": len(plates_per_night),
        "pointings": int((n_exp > 0).sum()),
        "exposures": len(e),
        "plates_visited": len(per_plate),
        "max_exposures_per_plate": int(per_plate[0]) if len(per_plate) else 0,
        "mean_exposures_per_pointing": float(n_exp[n_exp > 0].mean()) if (n_exp > 0).any()
        else 0.0,
        "share_oct_to_mar": float(np.isin(months, (10, 11, 12, 1, 2, 3)).mean()) if len(months)
        else 0.0,
        "nights_with_two_plates": sum(len(v) >= 2 for v in plates_per_night.values()),
        "median_seeing": float(np.median(seeing)) if len(seeing) else float("nan"),
    }
    for g in FIELD_GROUPS:
        out[f"group_{g}"] = int(np.char.startswith(names, g).sum()) if len(names) else 0
    out["exposures_per_plate_sorted"] = per_plate.tolist()
    out["exposures_per_pointing_hist"] = hist.tolist()
    out["exposures_per_month"] = per_month.tolist()
    return out


#: The headline statistics of the Table 2 scorecard, in display order.
HEADLINE = ("nights", "pointings", "exposures", "plates_visited", "max_exposures_per_plate",
            "mean_exposures_per_pointing", "share_oct_to_mar", "nights_with_two_plates",
            "median_seeing", *(f"group_{g}" for g in FIELD_GROUPS))
