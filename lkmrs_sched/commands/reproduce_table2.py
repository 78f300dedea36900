"""``lkmrs-sched reproduce-table2``: the year-1 ensemble against the observed log."""

from __future__ import annotations

import argparse

from lkmrs_sched.commands.common import add_backend_arguments, realizations_type, seed_type

#: What ``reproduce-table2`` writes into ``--out``.
WRITES = ("realizations/*", "scorecard.json", "*.png")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce-table2", help="score the year-1 model against Table 2",
                       description=__doc__)
    p.add_argument("--realizations", type=realizations_type, default=200, metavar="N")
    p.add_argument("--seed", type=seed_type, default=2019, metavar="S", help="master seed")
    add_backend_arguments(p)
    p.add_argument("--json", metavar="FILE", help="write the scorecard as JSON")
    p.add_argument("--scenario", metavar="FILE", default=None,
                   help="year-1 scenario (default: scenarios/year1-2018.toml)")
    p.add_argument("--log", metavar="FILE", help="observed log (default: Table 2)")
    p.add_argument("--out", metavar="DIR", default="runs/reproduce-table2",
                   help="folder for figures and resumable per-realization results")
    p.add_argument("--point-estimate", action="store_true",
                   help="every realization at the scenario's own values (default: its "
                        "posterior draws)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.commands.common import check_log_plates, read_observed, scenario_inputs
    from lkmrs_sched.core.atomic import write_json
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.outputs import prepare_file, prepare_folder
    from lkmrs_sched.core.resources import scenario_file
    from lkmrs_sched.ensembles import reproduce

    scenario = load_scenario(args.scenario or scenario_file("year1-2018.toml"))
    log = read_observed(args.log, "--log")
    check_log_plates(log, scenario, f"--log {args.log or 'Table 2'}")
    observed = reproduce.observed_statistics(log)
    inputs = [*scenario_inputs(scenario), args.log]
    out = prepare_folder(args.out, inputs=inputs, writes=WRITES)
    if args.json:
        prepare_file(args.json, "--json", inputs=inputs)
    sims = reproduce.run_statistics_ensemble(scenario, args.realizations, args.seed,
                                             workers=args.workers, store=out / "realizations",
                                             dask_address=args.dask,
                                             point_estimate=args.point_estimate)
    from lkmrs_sched.ensembles.calibrate import observed_releases
    from lkmrs_sched.ensembles.ensemble import allocated_shares

    card = reproduce.scorecard(observed, sims, observed_releases(scenario)[0],
                               allocated_shares(scenario))
    print(card.format())
    figures = reproduce.plot_against_ensemble(observed, sims, out)
    result = {"scenario": scenario.name, "scenario_hash": scenario.hash, "seed": args.seed,
              "realizations": len(sims), "statistics": card.to_dict(), **card.extras()}
    write_json(out / "scorecard.json", result)
    if args.json:
        write_json(args.json, result)
    print("Figures: " + ", ".join(str(f) for f in figures))
    return 0
