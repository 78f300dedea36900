"""``lkmrs-sched visibility``: each plate's nightly window (±HA, dark, Moon distance)."""

from __future__ import annotations

import argparse

from lkmrs_sched.commands.common import (
    add_date_range,
    add_scenario_argument,
    print_json,
    scenario_from_args,
)
from lkmrs_sched.core.timeconv import iso_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("visibility", help="plate windows per night", description=__doc__)
    add_date_range(p)
    add_scenario_argument(p)
    p.add_argument("--plates", metavar="NAMES",
                   help="comma-separated plate names or plan IDs (default: all LK-MRS plates)")
    p.add_argument("--all-nights", action="store_true",
                   help="include LRS and shutdown nights (default: observable MRS nights only)")
    p.add_argument("--json", action="store_true", help="JSON for machines")
    p.set_defaults(func=run)


def visibility_records(windows, nights_mask) -> list[dict]:
    """Windows as JSON-ready records (one per plate and night with a window)."""
    alm, plates = windows.almanac, windows.plates
    out = []
    for n in range(len(alm)):
        if not nights_mask[n]:
            continue
        for p in range(len(plates)):
            if windows.hours[p, n] <= 0:
                continue
            out.append({"night": str(alm.night[n]), "plan_id": str(plates.plan_id[p]),
                        "plate_name": str(plates.plate_name[p]),
                        "start_utc": iso_time(windows.start[p, n]),
                        "end_utc": iso_time(windows.end[p, n]),
                        "hours": round(float(windows.hours[p, n]), 4)})
    return out


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.sky.almanac import get_almanac
    from lkmrs_sched.sky.footprints import load_plates
    from lkmrs_sched.sky.visibility import compute_windows

    scenario = scenario_from_args(args)
    plates = load_plates(scenario.path(scenario.selector.lkmrs_footprints))
    plates = plates.select(args.plates.split(",") if args.plates else None)
    alm = get_almanac(scenario)
    windows = compute_windows(plates, alm, scenario.observing)
    mask = alm.observable | args.all_nights
    records = visibility_records(windows, mask)
    if args.json:
        print_json(records)
        return 0
    print(f"{'night':<11} {'plate':<6} {'plan_id':<19} {'start (UTC)':<20} {'end (UTC)':<20} "
          f"{'hours':>5}")
    for r in records:
        print(f"{r['night']:<11} {r['plate_name']:<6} {r['plan_id']:<19} {r['start_utc']:<20} "
              f"{r['end_utc']:<20} {r['hours']:5.2f}")
    return 0
