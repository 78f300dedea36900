"""Score simulated years, synthesized and reduced, against the paper's year-1 numbers.

    .venv/bin/python tools/validate_synth.py [--seeds 1 2 3] [--json FILE]

For each seed: ``lkmrs-sched simulate year1-2018 --seed S`` (in memory), ``synth`` with
the engineering exposures (as the command does), then ``reduce`` with the default
options. Prints, per seed and on average, the issue #12 acceptance numbers:

* blue and red shares of all spectra with S/N > 10 (paper 49.5 % and 61.8 %; within
  3 points);
* spectra per exposure per arm against the bound the paper's totals imply: 568,372 blue
  and 597,280 red spectra over 222 (Table 2) + 30 (K1a1 May-2018 test) + 12–32 (four K02
  test plates, one pointing of 3–8 exposures each; 20 assumed) exposures, i.e.
  ≤ 2,153 blue / 2,262 red per exposure (at the 264-exposure end; 2,090 / 2,196 at 272);
* LASP's success: LASP spectra over blue spectra with S/N > 10 (paper 92.1 %) and LASP
  targets over targets with such a spectrum (75 %); within 5 points;
* the reduction's σ at S/N 10/20/50 per parameter over Table 4's (within 5 %) and the
  shares beyond the final 6σ clip (paper: ~5 % for RV, < 2 % for the others).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

PAPER = {"blue": 568_372, "red": 597_280, "blue_high": 281_300, "red_high": 368_873}
#: Exposures behind the paper's totals: Table 2, K1a1 test, K02 plates (assumed range).
EXPOSURES = {"low": 222 + 30 + 12, "assumed": 222 + 30 + 20, "high": 222 + 30 + 32}
QUOTED = (10, 20, 50)


def one_year(scenario, plates, seed: int) -> dict:
    """Simulate, synthesize and reduce one year; the acceptance numbers."""
    from lkmrs_sched.core.precision import published_laws
    from lkmrs_sched.reduction import reduce_spectra, spectra_from_table
    from lkmrs_sched.sim.simulator import Simulation
    from lkmrs_sched.synth.synth import summarize, synthesize

    log = Simulation(scenario, seed).run()
    nights = log.nights
    lunar = {str(n): int(d) for n, d in zip(nights["night"], nights["lunar_day"], strict=True)}
    measured, truth = synthesize(log.exposures, plates, scenario, seed, lunar_days=lunar,
                                 engineering=True)
    s = summarize(measured)
    res = reduce_spectra(spectra_from_table(measured, where=f"seed {seed}"))
    t4 = published_laws()
    out = {
        "seed": seed, "exposures": s["exposures"],
        "engineering": int(np.sum(truth.exposures["engineering"])),
        "share_high": s["share_snr_gt_10"], "share_low": s["share_snr_lt_2"],
        "per_exposure": s["spectra_per_exposure"],
        "lasp_spectra_success": s["lasp_spectra_success"],
        "lasp_target_success": s["lasp_target_success"],
        "lasp_spectra": s["spectra_with_lasp"], "lasp_targets": s["targets_with_lasp"],
        "sigma_ratio": {p: [float(f.law(x)) / float(t4[p](x)) for x in QUOTED]
                        for p, f in res.precision.items()},
        "beyond_clip": {p: f.outlier_fraction for p, f in res.precision.items()},
    }
    return out


def report(rows: list[dict]) -> str:
    """The acceptance table (per seed, then the mean)."""
    bound = {a: PAPER[k] / EXPOSURES["low"] for a, k in (("B", "blue"), ("R", "red"))}
    lines = [f"bound on spectra per exposure (≤ {EXPOSURES['low']} exposures): "
             f"blue {bound['B']:.0f}, red {bound['R']:.0f}; paper S/N > 10 shares "
             f"{PAPER['blue_high'] / PAPER['blue']:.3f} / {PAPER['red_high'] / PAPER['red']:.3f}"]
    for r in [*rows, mean(rows)]:
        sig = "; ".join(f"{p} " + "/".join(f"{v:.3f}" for v in r["sigma_ratio"][p])
                        for p in r["sigma_ratio"])
        clip = ", ".join(f"{p} {100 * v:.1f}%" for p, v in r["beyond_clip"].items())
        lines.append(
            f"seed {r['seed']}: {r['exposures']} exposures ({r['engineering']} eng.); S/N>10 "
            f"B {100 * r['share_high']['B']:.1f}% R {100 * r['share_high']['R']:.1f}%; S/N<2 "
            f"B {100 * r['share_low']['B']:.1f}%; per exposure B {r['per_exposure']['B']:.0f} "
            f"R {r['per_exposure']['R']:.0f}; LASP spectra {100 * r['lasp_spectra_success']:.1f}%"
            f" targets {100 * r['lasp_target_success']:.1f}%; σ/Table4 at 10/20/50: {sig}; "
            f"beyond clip: {clip}")
    return "\n".join(lines)


def mean(rows: list[dict]) -> dict:
    """The mean of the numeric entries of ``rows`` (seed ``"mean"``)."""
    def avg(values):
        v0 = values[0]
        if isinstance(v0, dict):
            return {k: avg([v[k] for v in values]) for k in v0}
        if isinstance(v0, list):
            return list(np.mean(values, axis=0))
        return float(np.mean(values))

    out = {k: avg([r[k] for r in rows]) for k in rows[0] if k != "seed"}
    out["exposures"] = round(out["exposures"])
    out["engineering"] = round(out["engineering"])
    return {"seed": "mean", **out}


def main(argv: list[str] | None = None) -> int:
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.resources import SCENARIOS
    from lkmrs_sched.sky.footprints import load_plates

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args(argv)
    scenario = load_scenario(SCENARIOS / "year1-2018.toml")
    plates = load_plates(scenario.path(scenario.selector.lkmrs_footprints))
    rows = []
    for seed in args.seeds:
        rows.append(one_year(scenario, plates, seed))
        print(report(rows[-1:]).splitlines()[1], flush=True)
    print(report(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"rows": rows, "mean": mean(rows)}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
