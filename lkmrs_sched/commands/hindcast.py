"""``lkmrs-sched hindcast``: calibrate on an observed log up to a date, forecast on, and
score the forecast against what the log really has (per-plate PIT, band coverage)."""

from __future__ import annotations

import argparse
from pathlib import Path


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
    p.add_argument("--draws", type=int, default=600, metavar="M", help="ABC prior draws")
    p.add_argument("--accept", type=float, default=0.1, metavar="Q",
                   help="fraction of draws kept (default 0.1)")
    p.add_argument("--realizations", type=int, default=200, metavar="N")
    p.add_argument("--seed", type=int, default=1, metavar="S")
    p.add_argument("--workers", type=int, metavar="W")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/hindcast-D)")
    p.set_defaults(func=run, flag_names={"accept_fraction": "--accept"})


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.commands.common import parse_date
    from lkmrs_sched.core.atomic import atomic_path, write_json
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.errors import InputError
    from lkmrs_sched.core.resources import scenario_file
    from lkmrs_sched.ensembles import hindcast
    from lkmrs_sched.sim.importers import import_table2, read_any_log

    for flag, value, lo in (("--draws", args.draws, 10), ("--realizations", args.realizations, 2)):
        if value < lo:
            raise InputError(flag, value, f"at least {lo}")
    d = parse_date(args.train_until, "--train-until")
    e = parse_date(args.until, "--until") if args.until else None
    scenario = load_scenario(args.scenario or scenario_file("year1-2018-prior.toml"))
    log = read_any_log(args.log) if args.log else import_table2()
    out = Path(args.out or f"runs/hindcast-{d.isoformat()}")
    result = hindcast.hindcast(log, scenario, d, e, draws=args.draws,
                               accept_fraction=args.accept, realizations=args.realizations,
                               seed=args.seed, workers=args.workers, out=out)
    print(result.format())
    write_json(out / "hindcast.json", result.to_dict())
    with atomic_path(out / "plates.ecsv") as tmp:
        result.to_table().write(tmp, format="ascii.ecsv")
    fig = hindcast.pit_figure(result, out / "pit.png")
    print(f"Wrote {out / 'hindcast.json'}, {out / 'plates.ecsv'} and {fig}")
    return 0
