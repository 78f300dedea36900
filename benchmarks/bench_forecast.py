"""Benchmark: forecast from Table 2 to 2023-06-30, 100 realizations, per-star outcomes.

Target (issue #7): within 15 min on this 2-core machine, with a progress bar. Runs
``lkmrs_sched.ensembles.forecast.run_forecast`` on the baseline scenario with every realization's
log and per-star arrays written to a temporary folder, as ``lkmrs-sched forecast`` does.

Run standalone: ``.venv/bin/python benchmarks/bench_forecast.py`` (exit 1 on a miss), or
import :func:`main`, which returns ``(name, measured, target, passed)`` rows.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REALIZATIONS = 100
TARGET_S = 900.0


def main() -> list[tuple[str, float, float, bool]]:
    """Run the forecast, print the report, return the rows."""
    import lkmrs_sched  # noqa: F401  (offline astropy)
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.resources import scenario_file
    from lkmrs_sched.ensembles.forecast import run_forecast, star_table
    from lkmrs_sched.sim.importers import import_table2

    scenario = load_scenario(scenario_file("forecast-2019.toml"))
    log = import_table2()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        summary = run_forecast(scenario, log, REALIZATIONS, 2019, out=Path(tmp),
                               stars=True).to_dict()
        stars = star_table(Path(tmp), REALIZATIONS)
        elapsed = time.perf_counter() - t
    n_good = summary["totals"]["stars_ge_10_good_epochs"]["median"]
    print(f"forecast {summary['start']}..{summary['end']}: {REALIZATIONS} realizations with "
          f"per-star outcomes ({len(stars)} stars; median {n_good:.0f} with >= 10 good epochs) "
          f"in {elapsed:.1f} s = {elapsed / REALIZATIONS:.2f} s per realization; ratio to the "
          f"{TARGET_S:g} s target {elapsed / TARGET_S:.2f} "
          f"{'PASS' if elapsed <= TARGET_S else 'FAIL'}")
    return [("forecast, 100 realizations with stars [s]", elapsed, TARGET_S,
             elapsed <= TARGET_S)]


if __name__ == "__main__":
    sys.exit(0 if all(row[3] for row in main()) else 1)
