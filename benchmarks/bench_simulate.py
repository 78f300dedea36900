"""Benchmark: one realization of the whole survey (2018-09-01 .. 2023-06-30).

Target (issue #3): with the almanac cached (and the windows cached), one realization
``Simulation(scenario, seed).run()`` (the sky prepared once) takes at most 1 s on this machine.

Measured with ``time.perf_counter()`` around that call: one warm-up (which also fills the
windows cache), then the best of 5. The almanac is taken from the cache folder
(``$LKMRS_CACHE_DIR`` or ``<project>/.lkmrs-cache``), computing it on the first run.

Run standalone: ``.venv/bin/python benchmarks/bench_simulate.py`` (exit 1 if a target is
missed), or import :func:`main`, which returns ``(name, measured, target, passed)`` rows.
"""

from __future__ import annotations

import sys
import time

START, END = "2018-09-01", "2023-06-30"
SEED = 2018
REPEATS = 5
TARGET_S = 1.0


def measure(repeats: int = REPEATS, seed: int = SEED) -> dict[str, float]:
    """Best realization time (s) after one warm-up, and the simulation's event count."""
    import lkmrs_sched  # noqa: F401  (offline astropy)
    from lkmrs_sched.core.config import default_scenario
    from lkmrs_sched.sim.simulator import Simulation
    from lkmrs_sched.sim.sky import prepared_sky
    from lkmrs_sched.sky.almanac import get_almanac

    scenario = default_scenario(START, END, seed=seed)
    t = time.perf_counter()
    alm = get_almanac(scenario)  # cached on disk after the first run
    almanac_s = time.perf_counter() - t
    sky = prepared_sky(scenario)  # warm-up; fills the windows cache
    warm = Simulation(scenario, seed, sky=sky)
    warm.run()
    times = []
    events = 0
    for _ in range(repeats):
        t = time.perf_counter()
        sim = Simulation(scenario, seed, sky=sky)
        log = sim.run()
        times.append(time.perf_counter() - t)
        events = sim.events
    best = min(times)
    return {"best_s": best, "median_s": sorted(times)[len(times) // 2], "events": events,
            "events_per_s": events / best, "almanac_s": almanac_s, "nights": len(alm),
            "exposures": len(log.exposures), "pointings": len(log.pointings)}


def main() -> list[tuple[str, float, float, bool]]:
    """Run the benchmark, print it, and return ``(name, measured, target, passed)`` rows."""
    m = measure()
    ratio = m["best_s"] / TARGET_S
    print(f"simulate {START}..{END} ({m['nights']} nights, {m['pointings']} pointings, "
          f"{m['exposures']} exposures), almanac cached (load {m['almanac_s']:.2f} s)")
    print(f"  realization: best {m['best_s']:.3f} s of {REPEATS} (median {m['median_s']:.3f} s)"
          f"; {m['events']} events, {m['events_per_s']:,.0f} events/s")
    print(f"  ratio to the {TARGET_S:g} s target: {ratio:.2f}"
          f" ({'met' if ratio <= 1 else 'MISSED'})")
    need = m["events"] / TARGET_S
    return [
        ("simulate survey realization [s]", m["best_s"], TARGET_S, m["best_s"] <= TARGET_S),
        ("simulate events per second", m["events_per_s"], need, m["events_per_s"] >= need),
    ]


if __name__ == "__main__":
    rows = main()
    sys.exit(0 if all(passed for *_, passed in rows) else 1)
