"""``lkmrs-sched forecast``: Monte Carlo forecast of the remaining seasons."""

from __future__ import annotations

import argparse
from pathlib import Path

from lkmrs_sched.commands.common import add_backend_arguments, realizations_type, seed_type

#: What a forecast writes into its ``--out`` folder.
WRITES = ("realizations/*", "logs/*", "stars/*", "forecast.json", "stars.ecsv", "*.png")


def add_ensemble_arguments(p: argparse.ArgumentParser, realizations: int) -> None:
    """Options shared by ``forecast``, ``compare`` and ``run``."""
    p.add_argument("--from-log", metavar="LOG",
                   help="observed starting state: .sqlite log, Table 2 CSV or MRS_plan CSV "
                        "(default: Table 2)")
    p.add_argument("--realizations", type=realizations_type, default=realizations,
                   metavar="N")
    p.add_argument("--seed", type=seed_type, default=2019, metavar="S", help="master seed")
    add_backend_arguments(p)
    p.add_argument("--no-stars", action="store_true", help="skip per-star outcomes (faster)")
    p.add_argument("--point-estimate", action="store_true",
                   help="every realization at the scenario's own (posterior-median) values, "
                        "no season variation (default: the scenario's posterior draws)")
    p.add_argument("--per-star", choices=("fast", "full"), default="fast",
                   help="per-star outcomes from the fast path (default) or from the full "
                        "chain: synth and reduce inside every realization (forecast, run)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forecast", help="forecast the remaining seasons", description=__doc__)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario TOML")
    add_ensemble_arguments(p, 100)
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/forecast-NAME, "
                   "NAME the scenario's name made a safe folder name)")
    p.set_defaults(func=run)


def load_inputs(args: argparse.Namespace, scenario_path: str, log=None):
    """Scenario and observed log from the command line (validated and cross-checked).

    ``log``: an observed log already read (several scenarios share one).
    """
    from lkmrs_sched.commands.common import check_log_plates, read_observed
    from lkmrs_sched.core.config import load_scenario

    scenario = load_scenario(scenario_path)
    if log is None:
        log = read_observed(args.from_log, "--from-log")
    check_log_plates(log, scenario, f"--from-log {args.from_log or 'Table 2'}")
    return scenario, log


def prepare_out(scenario, args: argparse.Namespace, out: str | Path) -> Path:
    """The checked ``--out`` folder of a forecast (before any work)."""
    from lkmrs_sched.commands.common import scenario_inputs
    from lkmrs_sched.core.outputs import prepare_folder

    return prepare_folder(out, inputs=[*scenario_inputs(scenario), args.from_log],
                          writes=WRITES)


def forecast_to_folder(scenario, log, args: argparse.Namespace, out: Path) -> dict:
    """Run a forecast and write forecast.json, stars.ecsv and the figures to ``out``."""
    from lkmrs_sched.core.atomic import write_json, write_table
    from lkmrs_sched.ensembles import forecast
    from lkmrs_sched.plots.runs import forecast_figures
    from lkmrs_sched.sim.sky import prepared_sky

    result = forecast.run_forecast(scenario, log, args.realizations, args.seed, out=out,
                                    workers=args.workers, dask_address=args.dask,
                                    stars=not args.no_stars,
                                    point_estimate=args.point_estimate, per_star=args.per_star)
    summary = result.to_dict()
    write_json(out / "forecast.json", summary)
    print(result.format())
    stars = forecast.star_table(out, summary["realizations"])
    if stars is not None:
        write_table(stars, out / "stars.ecsv")  # with units, descriptions, UCDs
    figures = forecast_figures(summary, result.realizations, log,
                               prepared_sky(forecast.start_after(scenario, log)), out, stars)
    print(f"Wrote {out / 'forecast.json'}, per-realization logs in {out / 'logs'}, "
          + ("stars.ecsv, " if stars is not None else "")
          + "figures: " + ", ".join(f.name for f in figures))
    return summary


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.core.outputs import safe_component

    scenario, log = load_inputs(args, args.scenario)
    out = prepare_out(scenario, args, args.out or
                      Path("runs") / f"forecast-{safe_component(scenario.name)}")
    forecast_to_folder(scenario, log, args, out)
    return 0
