"""``lkmrs-sched forecast``: Monte Carlo forecast of the remaining seasons."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_ensemble_arguments(p: argparse.ArgumentParser, realizations: int) -> None:
    """Options shared by ``forecast``, ``compare`` and ``run``."""
    p.add_argument("--from-log", metavar="LOG",
                   help="observed starting state: .sqlite log, Table 2 CSV or MRS_plan CSV "
                        "(default: Table 2)")
    p.add_argument("--realizations", type=int, default=realizations, metavar="N")
    p.add_argument("--seed", type=int, default=2019, metavar="S", help="master seed")
    backend = p.add_mutually_exclusive_group()
    backend.add_argument("--workers", type=int, metavar="W",
                         help="local processes (default: all cores)")
    backend.add_argument("--dask", metavar="ADDRESS",
                         help="Dask scheduler address (e.g. tcp://host:8786)")
    p.add_argument("--no-stars", action="store_true", help="skip per-star outcomes (faster)")
    p.add_argument("--per-star", choices=("fast", "full"), default="fast",
                   help="per-star outcomes from the fast path (default) or from the full "
                        "chain: synth and reduce inside every realization (forecast, run)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forecast", help="forecast the remaining seasons", description=__doc__)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario TOML")
    add_ensemble_arguments(p, 100)
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/forecast-NAME)")
    p.set_defaults(func=run)


def load_inputs(args: argparse.Namespace, scenario_path: str):
    """Scenario and observed log from the command line (validated)."""
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.errors import InputError
    from lkmrs_sched.sim.importers import import_table2, read_any_log

    if args.realizations < 1:
        raise InputError("--realizations", args.realizations, "a positive integer")
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", args.workers, "a positive integer")
    scenario = load_scenario(scenario_path)
    log = read_any_log(args.from_log) if args.from_log else import_table2()
    return scenario, log


def forecast_to_folder(scenario, log, args: argparse.Namespace, out: Path) -> dict:
    """Run a forecast and write forecast.json, stars.ecsv and the figures to ``out``."""
    from lkmrs_sched.core.atomic import atomic_path, write_json
    from lkmrs_sched.ensembles import forecast
    from lkmrs_sched.plots import figures as plots
    from lkmrs_sched.sky.footprints import load_plates

    result = forecast.run_forecast(scenario, log, args.realizations, args.seed, out=out,
                                    workers=args.workers, dask_address=args.dask,
                                    stars=not args.no_stars, per_star=args.per_star)
    summary = result.to_dict()
    write_json(out / "forecast.json", summary)
    print(result.format())
    lk = load_plates(scenario.path(scenario.selector.lkmrs_footprints))
    figures = [plots.forecast_fan_chart(summary, log, lk, out / "fan_chart.png"),
               plots.goal_chances(summary, out / "goal_chances.png"),
               plots.footprint_sky_map(summary, lk, out / "sky_map.png")]
    stars = forecast.star_table(out, summary["realizations"])
    if stars is not None:
        with atomic_path(out / "stars.ecsv") as tmp:
            stars.write(tmp, format="ascii.ecsv")
        figures.append(plots.epochs_per_star(stars, out / "epochs_per_star.png"))
    print(f"Wrote {out / 'forecast.json'}, per-realization logs in {out / 'logs'}, "
          + ("stars.ecsv, " if stars is not None else "")
          + "figures: " + ", ".join(f.name for f in figures))
    return summary


def run(args: argparse.Namespace) -> int:
    scenario, log = load_inputs(args, args.scenario)
    out = Path(args.out or f"runs/forecast-{scenario.name}")
    forecast_to_folder(scenario, log, args, out)
    return 0
