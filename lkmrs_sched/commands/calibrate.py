"""``lkmrs-sched calibrate``: fit the free parameters to an observed log and the release
totals (ABC), write a calibrated scenario and its posterior draws."""

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
                   help="comma-separated subset of the free parameters (default: the joint "
                        "set with the release totals, else the log-only set)")
    p.add_argument("--draws", type=int_range(10, MAX_REALIZATIONS, "a number of draws"),
                   default=600, metavar="M", help="prior draws")
    p.add_argument("--accept", type=float_range(0, 1, lo_open=True), default=0.1, metavar="Q",
                   help="fraction of draws kept (default 0.1)")
    p.add_argument("--no-releases", action="store_true",
                   help="fit the observed log only (not the release totals)")
    p.add_argument("--later-draws", type=int_range(0, MAX_REALIZATIONS, "a number of draws"),
                   default=0, metavar="M2",
                   help="draws of the second stage: the usable-time scale of the next "
                        "release window, which sizes the season-to-season variation "
                        "(default 0: skip)")
    p.add_argument("--seed", type=seed_type, default=1, metavar="S")
    add_backend_arguments(p)
    p.add_argument("--out", metavar="DIR", default="runs/calibrate",
                   help="folder for the resumable draws and the results")
    p.add_argument("--write-scenario", metavar="FILE",
                   help="calibrated scenario file (default: DIR/calibrated.toml); the "
                        "posterior draws go next to it (NAME-posterior.csv)")
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
    from lkmrs_sched.sim.schedule import season_of

    scenario = load_scenario(args.scenario or scenario_file("year1-2018-prior.toml"))
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
    common = {"draws": args.draws, "accept_fraction": args.accept, "seed": args.seed,
              "workers": args.workers, "dask_address": args.dask}
    if args.no_releases:
        cal = calibrate.calibrate(statistics(log), scenario, names=names,
                                  store=out / "draws", **common)
    else:
        cal = calibrate.calibrate_joint(log, scenario, names=names, store=out / "draws",
                                        **common)
        source += " and the LAMOST MRS release totals"
    print(cal.format())
    later = window = None
    if args.later_draws and not args.no_releases:
        _, windows = calibrate.observed_releases(scenario)
        window = next((w for w in windows if w.first > scenario.end), None)
        if window is not None:
            later = calibrate.calibrate_seasons(cal, scenario, log, window,
                                                draws=args.later_draws, seed=args.seed,
                                                workers=args.workers,
                                                store=out / f"draws-{window.tag}")
    posterior = calibrate.build_posterior(cal, season_of(scenario.start), later, window,
                                          seed=args.seed)
    post_path = target.with_name(f"{target.stem}-posterior.csv")
    posterior.write(post_path)
    _, text = calibrate.calibrated_scenario(scenario, cal, source, folder=target.parent,
                                            posterior=str(post_path.resolve()))
    write_text(target, text)
    write_json(out / "calibration.json", {"source": source, **cal.to_dict(),
                                          "posterior": _summary(posterior)})
    print(f"Wrote {target}, {post_path} ({len(posterior)} posterior draws) and "
          f"{out / 'calibration.json'}")
    return 0


def _summary(posterior) -> dict:
    """Weighted median and 16-84 % of each numeric posterior column."""
    import numpy as np

    w = np.asarray(posterior.columns["weight"], float)
    out = {}
    for name, col in posterior.columns.items():
        if name == "weight" or col.dtype.kind not in "fi":
            continue
        order = np.argsort(col)
        cw = np.cumsum(w[order]) / w.sum()
        out[name] = {q: float(np.interp(v, cw, col[order]))
                     for q, v in (("p16", 0.16), ("median", 0.5), ("p84", 0.84))}
    return out
