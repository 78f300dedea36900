"""``lkmrs-sched run``: the main job on the built-in defaults (what ``make run`` does)."""

from __future__ import annotations

import argparse

from lkmrs_sched.commands.common import add_scenario_argument, scenario_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the main job on the built-in defaults", description=__doc__)
    add_scenario_argument(p)
    p.set_defaults(func=run, start=None, end=None)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from lkmrs_sched.almanac import get_almanac
    from lkmrs_sched.footprints import load_plates
    from lkmrs_sched.visibility import compute_windows

    scenario = scenario_from_args(args)
    alm = get_almanac(scenario)
    plates = load_plates(scenario.path(scenario.selector.lkmrs_footprints))
    win = compute_windows(plates, alm, scenario.observing)
    obs = alm.observable
    print(f"Season {scenario.start} .. {scenario.end} at {scenario.site.name}: "
          f"{len(alm)} nights, {obs.sum()} MRS nights outside shutdown, "
          f"{alm.dark_hours[obs].sum():.0f} dark hours on them.")
    print(f"{'plate':<6} {'field':<7} {'MRS nights with window':>23} {'window hours':>13}")
    for p in np.argsort(plates.ra_deg):
        has = (win.hours[p] > 0) & obs
        print(f"{plates.plate_name[p]:<6} {plates.field[p]:<7} {has.sum():23d} "
              f"{win.hours[p, obs].sum():13.1f}")
    return 0
