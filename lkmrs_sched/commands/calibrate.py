"""``lkmrs-sched calibrate``: fit the free parameters to an observed log (ABC)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lkmrs_sched.commands.common import (
    MAX_REALIZATIONS,
    add_backend_arguments,
    float_range,
    int_range,
    seed_type,
)

#: What ``calibrate`` writes into ``--out``.
WRITES = ("draws/*", "calibration.json", "calibrated.toml")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="fit the free parameters to an observed log (ABC)",
                       description=__doc__)
    p.add_argument("--log", metavar="FILE", help="observed log: .sqlite, Table 2 CSV or "
                   "MRS_plan CSV (default: Table 2)")
    p.add_argument("--scenario", metavar="FILE",
                   help="base scenario, uncalibrated (default: scenarios/year1-2018-prior.toml)")
    p.add_argument("--parameters", metavar="NAMES",
                   help="comma-separated subset of the free parameters (default: all)")
    p.add_argument("--draws", type=int_range(10, MAX_REALIZATIONS, "a number of draws"),
                   default=600, metavar="M", help="prior draws")
    p.add_argument("--accept", type=float_range(0, 1, lo_open=True), default=0.1, metavar="Q",
                   help="fraction of draws kept (default 0.1)")
    p.add_argument("--seed", type=seed_type, default=1, metavar="S")
    add_backend_arguments(p)
    p.add_argument("--out", metavar="DIR", default="runs/calibrate",
                   help="folder for the resumable draws and the results")
    p.add_argument("--write-scenario", metavar="FILE",
                   help="calibrated scenario file (default: DIR/calibrated.toml)")
    p.set_defaults(func=run, flag_names={"names": "--parameters", "accept_fraction": "--accept"})


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.commands.common import check_log_plates, read_observed, scenario_inputs
    from lkmrs_sched.core.atomic import write_json, write_text
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.errors import InputError
    from lkmrs_sched.core.outputs import prepare_file, prepare_folder
    from lkmrs_sched.core.resources import scenario_file
    from lkmrs_sched.ensembles import calibrate
    from lkmrs_sched.sim.logstats import statistics

    scenario = load_scenario(args.scenario
                             or scenario_file("year1-2018-prior.toml"))
    names = args.parameters.split(",") if args.parameters else None
    for i, n in enumerate(names or ()):
        if n not in calibrate.FREE_PARAMETERS:
            raise InputError("--parameters", n, "one of " + ", ".join(calibrate.FREE_PARAMETERS),
                             "unknown parameter")
        if n in names[:i]:
            raise InputError("--parameters", n, "each parameter once", "duplicate parameter")
    log = read_observed(args.log, "--log")
    check_log_plates(log, scenario, f"--log {args.log or 'Table 2'}")
    source = Path(args.log).name if args.log else "Table 2 (Zong et al. 2020)"
    inputs = [*scenario_inputs(scenario), args.log]
    out = prepare_folder(args.out, inputs=inputs, writes=WRITES)
    target = Path(args.write_scenario) if args.write_scenario else out / "calibrated.toml"
    prepare_file(target, "--write-scenario", inputs=inputs)
    cal = calibrate.calibrate(statistics(log), scenario, names=names, draws=args.draws,
                              accept_fraction=args.accept, seed=args.seed, workers=args.workers,
                              store=out / "draws", dask_address=args.dask)
    print(cal.format())
    _, text = calibrate.calibrated_scenario(scenario, cal, source, folder=target.parent)
    write_text(target, text)
    write_json(out / "calibration.json", {"source": source, **cal.to_dict()})
    print(f"Wrote {target} and {out / 'calibration.json'}")
    return 0
