"""``lkmrs-sched hindcast``: calibrate on an observed log up to a date, forecast on, and
score the forecast against what the log really has (per-plate PIT, band coverage)."""

from __future__ import annotations

import argparse

from lkmrs_sched.commands.common import (
    MAX_REALIZATIONS,
    float_range,
    int_range,
    seed_type,
    workers_type,
)

#: What ``hindcast`` writes into ``--out``.
WRITES = ("hindcast.json", "plates.ecsv", "pit.png", "draws/*", "draws-*/*",
          "realizations/*", "logs/*", "stars/*")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hindcast", help="calibrate on a log up to D, forecast D..E, score it",
                       description=__doc__)
    p.add_argument("--train-until", required=True, metavar="D",
                   help="last night (ISO date) of the log used to calibrate")
    p.add_argument("--until", metavar="E",
                   help="last night forecast and scored (default: the log's last night)")
    p.add_argument("--log", metavar="FILE", help="observed log: .sqlite, Table 2 CSV or "
                   "MRS_plan CSV (default: Table 2)")
    p.add_argument("--scenario", metavar="FILE",
                   help="uncalibrated base (default: scenarios/year1-2018-prior.toml)")
    p.add_argument("--draws", type=int_range(10, MAX_REALIZATIONS, "a number of draws"),
                   default=600, metavar="M", help="ABC prior draws")
    p.add_argument("--accept", type=float_range(0, 1, lo_open=True), default=0.1, metavar="Q",
                   help="fraction of draws kept (default 0.1)")
    p.add_argument("--realizations", type=int_range(2, MAX_REALIZATIONS, "a number of "
                                                    "realizations"), default=200, metavar="N")
    p.add_argument("--seed", type=seed_type, default=1, metavar="S")
    p.add_argument("--workers", type=workers_type, metavar="W")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/hindcast-D)")
    p.set_defaults(func=run, flag_names={"accept_fraction": "--accept"})


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.commands.common import (
        check_log_plates,
        parse_date,
        read_observed,
        scenario_inputs,
    )
    from lkmrs_sched.core.atomic import write_json, write_table
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.outputs import prepare_folder
    from lkmrs_sched.core.resources import scenario_file
    from lkmrs_sched.ensembles import hindcast

    d = parse_date(args.train_until, "--train-until")
    e = parse_date(args.until, "--until") if args.until else None
    scenario = load_scenario(args.scenario or scenario_file("year1-2018-prior.toml"))
    log = read_observed(args.log, "--log")
    check_log_plates(log, scenario, f"--log {args.log or 'Table 2'}")
    out = prepare_folder(args.out or f"runs/hindcast-{d.isoformat()}",
                         inputs=[*scenario_inputs(scenario), args.log], writes=WRITES)
    result = hindcast.hindcast(log, scenario, d, e, draws=args.draws,
                               accept_fraction=args.accept, realizations=args.realizations,
                               seed=args.seed, workers=args.workers, out=out)
    print(result.format())
    write_json(out / "hindcast.json", result.to_dict())
    write_table(result.to_table(), out / "plates.ecsv")
    fig = hindcast.pit_figure(result, out / "pit.png")
    print(f"Wrote {out / 'hindcast.json'}, {out / 'plates.ecsv'} and {fig}")
    return 0
