"""Benchmark: a 200-realization year-1 ensemble (what ``reproduce-table2`` runs).

Target (issue #4): at most 60 s on this 2-core machine, all cores, no result store. The
sky (almanac, windows) is computed or loaded once before the clock starts, as a rerun of
``reproduce-table2`` would find it in the cache.

Run standalone: ``.venv/bin/python benchmarks/bench_ensemble.py`` (exit 1 on a miss), or
import :func:`main`, which returns ``(name, measured, target, passed)`` rows.
"""

from __future__ import annotations

import sys
import time

REALIZATIONS = 200
TARGET_S = 60.0


def main() -> list[tuple[str, float, float, bool]]:
    """Run the ensemble, print the report, return the rows."""
    import lkmrs_sched  # noqa: F401  (offline astropy)
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.resources import scenario_file
    from lkmrs_sched.ensembles.ensemble import default_workers
    from lkmrs_sched.ensembles.reproduce import run_statistics_ensemble
    from lkmrs_sched.sim.sky import prepared_sky

    scenario = load_scenario(scenario_file("year1-2018.toml"))
    prepared_sky(scenario)
    workers = default_workers()
    t = time.perf_counter()
    stats = run_statistics_ensemble(scenario, REALIZATIONS, 2019, workers=workers)
    elapsed = time.perf_counter() - t
    assert len(stats) == REALIZATIONS
    print(f"year-1 ensemble: {REALIZATIONS} realizations on {workers} workers in "
          f"{elapsed:.1f} s ({REALIZATIONS / elapsed:.1f} realizations/s); "
          f"ratio to the {TARGET_S:g} s target {elapsed / TARGET_S:.2f} "
          f"{'PASS' if elapsed <= TARGET_S else 'FAIL'}")
    return [("year-1 ensemble, 200 realizations [s]", elapsed, TARGET_S, elapsed <= TARGET_S)]


if __name__ == "__main__":
    sys.exit(0 if all(row[3] for row in main()) else 1)
