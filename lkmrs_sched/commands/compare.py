"""``lkmrs-sched compare``: what-if scenarios against a baseline, pair by pair."""

from __future__ import annotations

import argparse
from pathlib import Path

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


def labels(paths: list[str]) -> list[str]:
    """One distinct, safe name per scenario file: its stem, numbered when stems repeat
    (``a``, ``a-2``); also the sub-folder of its ensemble."""
    from lkmrs_sched.core.outputs import safe_component

    stems = [safe_component(Path(p).stem) for p in paths]
    out: list[str] = []
    for stem in stems:
        name, k = stem, 1
        while name in out:
            k += 1
            name = f"{stem}-{k}"
        out.append(name)
    return out


def run(args: argparse.Namespace) -> int:
    import json

    from lkmrs_sched.commands.common import scenario_inputs
    from lkmrs_sched.core.atomic import write_json
    from lkmrs_sched.core.errors import InputError
    from lkmrs_sched.core.outputs import prepare_file, prepare_folder
    from lkmrs_sched.ensembles import forecast

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
    runs = []
    for name, scenario in zip(labels(args.scenarios), loaded, strict=True):
        folder = out / name
        summary = forecast.run_forecast(scenario, log, args.realizations, args.seed,
                                        out=folder, workers=args.workers,
                                        dask_address=args.dask, stars=not args.no_stars,
                                        keep_logs=False)
        results = [json.loads((folder / "realizations" / f"realization-{k:04d}.json")
                              .read_text()) for k in range(args.realizations)]
        runs.append((name, summary, results))
    base_name, _, base = runs[0]
    report = {"baseline": base_name, "realizations": args.realizations, "seed": args.seed,
              "totals": {name: s["totals"] for name, s, _ in runs},
              "differences": {name: forecast.paired_differences(base, res)
                              for name, _, res in runs[1:]}}
    write_json(out / "comparison.json", report)
    if args.json:
        write_json(args.json, report)
    print(f"Paired differences against {base_name} ({args.realizations} realizations, common "
          "random numbers): mean [95 % CI]; 5-95 % of the differences; share > 0")
    for name, diffs in report["differences"].items():
        print(f"{name}:")
        for k, d in diffs.items():
            print(f"  {k:<26} {d['mean']:+9.1f} [{d['ci95_lo']:+.1f}, {d['ci95_hi']:+.1f}]  "
                  f"{d['p05']:+.0f}..{d['p95']:+.0f}  {d['share_positive']:.0%}")
    print(f"Wrote {out / 'comparison.json'}")
    return 0
