"""``lkmrs-sched run``: the main job — a baseline forecast of the remaining LK-MRS seasons.

Starts from the first-year log (Table 2), runs a modest ensemble of the baseline scenario
(``scenarios/forecast-2019.toml``) to 2023-06-30 with per-star outcomes, prints a summary
and writes ``forecast.json``, ``stars.ecsv``, per-realization logs, figures and
``report.html`` (one self-contained page of it all), whose path it prints last.
"""

from __future__ import annotations

import argparse

from lkmrs_sched.commands.forecast import add_ensemble_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the main job: a baseline forecast (what `make run` does)",
                       description=__doc__)
    p.add_argument("--scenario", metavar="FILE",
                   help="scenario (default: scenarios/forecast-2019.toml)")
    add_ensemble_arguments(p, 64)
    p.add_argument("--out", metavar="DIR", default="runs/main",
                   help="output folder (default: runs/main)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.commands.forecast import forecast_to_folder, load_inputs, prepare_out
    from lkmrs_sched.core.resources import scenario_file
    from lkmrs_sched.plots.report import write_report

    path = args.scenario or str(scenario_file("forecast-2019.toml"))
    scenario, log = load_inputs(args, path)
    out = prepare_out(scenario, args, args.out)
    forecast_to_folder(scenario, log, args, out)
    print(f"Report: {write_report(out)}")
    return 0
