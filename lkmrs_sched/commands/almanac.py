"""``lkmrs-sched almanac``: per-night twilight, Moon, lunar day, MRS/LRS, shutdown."""

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
    p = sub.add_parser("almanac", help="per-night almanac (dusk, dawn, Moon, lunar day)",
                       description=__doc__)
    add_date_range(p)
    add_scenario_argument(p)
    p.add_argument("--json", action="store_true", help="JSON for machines")
    p.set_defaults(func=run)


def almanac_records(alm) -> list[dict]:
    """The almanac as JSON-ready records (one per night)."""
    return [{
        "night": str(alm.night[i]),
        "dusk_utc": iso_time(alm.dusk[i]),
        "dawn_utc": iso_time(alm.dawn[i]),
        "dark_hours": round(float(alm.dark_hours[i]), 4),
        "moon_illumination": round(float(alm.moon_illumination[i]), 4),
        "lunar_day": int(alm.lunar_day[i]),
        "mrs_night": bool(alm.mrs_night[i]),
        "shutdown": bool(alm.shutdown[i]),
    } for i in range(len(alm))]


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.sky.almanac import get_almanac

    scenario = scenario_from_args(args)
    records = almanac_records(get_almanac(scenario))
    if args.json:
        print_json(records)
        return 0
    print(f"{'night':<11} {'dusk (UTC)':<20} {'dawn (UTC)':<20} {'dark h':>6} {'Moon':>5} "
          f"{'lday':>4}  mode")
    for r in records:
        mode = "shutdown" if r["shutdown"] else ("MRS" if r["mrs_night"] else "LRS")
        print(f"{r['night']:<11} {r['dusk_utc']:<20} {r['dawn_utc']:<20} {r['dark_hours']:6.2f} "
              f"{r['moon_illumination']:5.2f} {r['lunar_day']:4d}  {mode}")
    return 0
