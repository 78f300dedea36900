"""``lkmrs-sched simulate``: one realization of a scenario, as an observation log."""

from __future__ import annotations

import argparse

from lkmrs_sched.commands.common import scenario_inputs, seed_type

#: What ``simulate`` writes into ``--out``.
WRITES = ("observations.sqlite", "summary.json", "*.png")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="simulate one realization of a scenario",
                       description=__doc__)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario TOML")
    p.add_argument("--seed", type=seed_type, help="master seed (default: the scenario's)")
    p.add_argument("--out", metavar="DIR", default="runs/simulate",
                   help="output folder (default: runs/simulate)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.core.atomic import write_json
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.outputs import prepare_folder
    from lkmrs_sched.plots.runs import simulate_figures
    from lkmrs_sched.sim import logstats
    from lkmrs_sched.sim.simulator import Simulation

    scenario = load_scenario(args.scenario)
    out = prepare_folder(args.out, inputs=scenario_inputs(scenario), writes=WRITES)
    sim = Simulation(scenario, args.seed)
    log = sim.run()
    log.write(out / "observations.sqlite")
    summary = logstats.summary(log)
    summary["seed"] = int(sim.seed)
    summary["scenario"] = scenario.name
    write_json(out / "summary.json", summary)
    print(f"{scenario.name} {scenario.start}..{scenario.end}, seed {sim.seed}")
    print(logstats.format_summary(summary))
    if not args.no_figures:
        simulate_figures(log, sim.sky, scenario.selector.goal_exposures, out)
    print(f"Wrote {out / 'observations.sqlite'}, {out / 'summary.json'} and figures.")
    return 0
