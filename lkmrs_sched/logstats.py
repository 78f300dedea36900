"""Statistics of an observation log, one code path for simulated and observed logs."""

from __future__ import annotations

from typing import Any

import numpy as np

from lkmrs_sched.obslog import ObservationLog
from lkmrs_sched.selector import LKMRS

HOURS = 24.0


def _sum(values: Any) -> float:
    return float(np.sum(np.asarray(values, dtype=float))) if len(values) else 0.0


def summary(log: ObservationLog, project: str = LKMRS) -> dict[str, Any]:
    """The ``simulate`` summary of a log.

    Returns
    -------
    dict
        ``nights_with_lkmrs``, ``lkmrs_pointings``, ``lkmrs_exposures``, ``plates_visited``,
        ``exposures_per_plate`` (plate name → count), ``hours`` (``exposing``, ``overhead``,
        ``read-out`` for the project), ``time_ledger`` (per project: science, overhead,
        read-out hours; and the nights' totals: dark, set-up, open, closed, idle, other).
    """
    sub = log.project(project)
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
        "nights_with_lkmrs": len(set(np.asarray(sub.pointings["night"], dtype=str))),
        "lkmrs_pointings": len(sub.pointings),
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
