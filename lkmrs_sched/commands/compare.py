"""``lkmrs-sched compare``: what-if scenarios against a baseline, pair by pair."""

from __future__ import annotations

import argparse
from pathlib import Path

from lkmrs_sched.commands.forecast import add_ensemble_arguments, load_inputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare scenarios with common random numbers",
                       description=__doc__ + " The first scenario is the baseline; "
                       "realization k of every scenario shares its weather and seeing.")
    p.add_argument("scenarios", metavar="SCENARIO", nargs="+", help="scenario TOML files")
    add_ensemble_arguments(p, 40)
    p.add_argument("--out", metavar="DIR", default="runs/compare",
                   help="output folder (default: runs/compare)")
    p.add_argument("--json", metavar="FILE", help="also write the comparison here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lkmrs_sched.core.atomic import write_json
    from lkmrs_sched.core.errors import InputError
    from lkmrs_sched.ensembles.compare import compare, unique_names

    if args.per_star != "fast":
        raise InputError("--per-star", args.per_star, "fast (compare uses the fast path)")
    if len(args.scenarios) < 2:
        raise InputError("compare", args.scenarios, "at least two scenario files",
                         "nothing to compare")
    # Every scenario is read and checked before any ensemble runs.
    inputs = [load_inputs(args, path) for path in args.scenarios]
    log = inputs[0][1]
    scenarios = {name: sc for name, (sc, _) in zip(unique_names(args.scenarios), inputs,
                                                   strict=True)}
    out = Path(args.out)
    result = compare(scenarios, log, args.realizations, args.seed, out=out,
                     workers=args.workers, dask_address=args.dask, stars=not args.no_stars)
    report = result.to_dict()
    write_json(out / "comparison.json", report)
    if args.json:
        write_json(args.json, report)
    print(result.format())
    print(f"Wrote {out / 'comparison.json'}")
    return 0
