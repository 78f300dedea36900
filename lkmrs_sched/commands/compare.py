"""``lkmrs-sched compare``: what-if scenarios against a baseline, pair by pair."""

from __future__ import annotations

import argparse

from lkmrs_sched.commands.forecast import add_ensemble_arguments, load_inputs

#: What ``compare`` writes into ``--out`` (one sub-folder per scenario).
WRITES = ("comparison.json", "*/realizations/*", "*/stars/*", "*/logs/*")


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
    from lkmrs_sched.commands.common import scenario_inputs
    from lkmrs_sched.core.atomic import write_json
    from lkmrs_sched.core.errors import InputError
    from lkmrs_sched.core.outputs import prepare_file, prepare_folder
    from lkmrs_sched.ensembles.compare import compare, unique_names
    from lkmrs_sched.plots.runs import compare_figures

    if args.per_star != "fast":
        raise InputError("--per-star", args.per_star, "fast (compare uses the fast path)")
    if len(args.scenarios) < 2:
        raise InputError("compare", args.scenarios, "at least two scenario files",
                         "nothing to compare")
    # Every input is read and checked before the first ensemble runs.
    loaded, log = [], None
    for path in args.scenarios:
        scenario, log = load_inputs(args, path, log)
        loaded.append(scenario)
    inputs = [args.from_log, *(f for s in loaded for f in scenario_inputs(s))]
    out = prepare_folder(args.out, inputs=inputs, writes=WRITES)
    if args.json:
        prepare_file(args.json, "--json", inputs=inputs)
    scenarios = dict(zip(unique_names(args.scenarios), loaded, strict=True))
    result = compare(scenarios, log, args.realizations, args.seed, out=out,
                     workers=args.workers, dask_address=args.dask, stars=not args.no_stars,
                     point_estimate=args.point_estimate)
    report = result.to_dict()
    write_json(out / "comparison.json", report)
    if args.json:
        write_json(args.json, report)
    print(result.format())
    goal = next(iter(scenarios.values())).selector.goal_exposures
    figures = compare_figures(report, out, goal)
    print(f"Wrote {out / 'comparison.json'}, figures: " + ", ".join(f.name for f in figures))
    return 0
