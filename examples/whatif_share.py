"""What if LK-MRS got 40 % of the time-domain draws? Forecasts from Table 2, side by side.

Run: .venv/bin/python examples/whatif_share.py   (about a minute on two cores)
For paired differences with confidence intervals use the command line:
    lkmrs-sched compare scenarios/forecast-2019.toml scenarios/whatif-lkmrs40.toml
"""

import dataclasses

from lkmrs_sched.core.config import load_scenario
from lkmrs_sched.core.resources import scenario_file
from lkmrs_sched.ensembles.forecast import run_forecast
from lkmrs_sched.sim.importers import import_table2

base = load_scenario(scenario_file("forecast-2019.toml"))
more = base.replace(name="lkmrs40",
                    selector=dataclasses.replace(base.selector, lkmrs_share=0.40))
log = import_table2()  # the observed first year is the starting state
for scenario in (base, more):
    # The same master seed: realization k of both scenarios shares its weather.
    summary = run_forecast(scenario, log, realizations=12, seed=7, stars=False).to_dict()
    t = summary["totals"]
    print(f"{scenario.name:>9}: new LK-MRS exposures {t['lkmrs_exposures_new']['median']:.0f} "
          f"[{t['lkmrs_exposures_new']['p05']:.0f}-{t['lkmrs_exposures_new']['p95']:.0f}], "
          f"plates at 60 by {summary['end']}: {t['plates_at_goal']['median']:.0f}")
