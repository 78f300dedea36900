"""Benchmark: almanac plus visibility windows of the 20 LK-MRS plates, 2018-09 .. 2023-06.

Compared, in the same run, with astroplan's ``observability_table`` for the same 20 plates
with ``AltitudeConstraint(min=30 deg)`` and ``AtNightConstraint.twilight_astronomical()``
on a 10-minute grid over the same span (the reference a user would otherwise run; it
answers a simpler question — no hour-angle limit, no Moon, no lunar calendar).

- **cold**: a fresh Python process with an empty ``LKMRS_CACHE_DIR``:
  ``get_almanac`` (computes and writes the cache; astropy's IERS table is loaded inside
  the timed call) + ``load_plates`` + ``compute_windows``. Imports are timed separately
  and not counted (astroplan's imports are not counted either).
- **warm**: the same calls in the same process once the almanac is cached on disk (best
  of 5).

Targets: astroplan time / ours ≥ 30 cold and ≥ 300 warm. Accuracy figures: the largest
dusk/dawn difference (s) and Moon illumination difference against astroplan's
``twilight_*_astronomical(which='next')`` and ``moon_illumination`` on 24 nights spread
over the span (targets: < 60 s, < 0.01).

Run standalone: ``.venv/bin/python benchmarks/bench_almanac.py`` (exit 1 if a target is
missed), or call :func:`main`, which returns ``(name, measured, target, passed)`` rows.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

START, END = "2018-09-01", "2023-06-30"
LAT_DEG, LON_DEG, HEIGHT_M = 40.393333, 117.577222, 960.0
GRID_MIN = 10
#: astroplan runs in chunks of this many days (its memory grows with the grid).
CHUNK_DAYS = 120
WARM_REPEATS = 5
TARGET_COLD, TARGET_WARM = 30.0, 300.0
TARGET_TWILIGHT_S, TARGET_ILLUMINATION = 60.0, 0.01
N_ACCURACY_NIGHTS = 24

#: Run in a fresh interpreter: cold almanac + windows, then warm repeats; prints JSON.
CHILD = f"""
import json, time
t0 = time.perf_counter()
import lkmrs_sched
from lkmrs_sched.sky.almanac import get_almanac
from lkmrs_sched.core.config import default_scenario
from lkmrs_sched.sky.footprints import load_plates
from lkmrs_sched.sky.visibility import compute_windows
t_import = time.perf_counter() - t0

def once():
    scenario = default_scenario({START!r}, {END!r})
    alm = get_almanac(scenario)
    plates = load_plates(scenario.path(scenario.selector.lkmrs_footprints))
    win = compute_windows(plates, alm, scenario.observing)
    return alm, win

t0 = time.perf_counter()
alm, win = once()
cold = time.perf_counter() - t0
warm = []
for _ in range({WARM_REPEATS}):
    t0 = time.perf_counter()
    once()
    warm.append(time.perf_counter() - t0)
print(json.dumps({{"import_s": t_import, "cold_s": cold, "warm_s": min(warm),
                  "nights": len(alm), "plates": len(win.plates),
                  "window_hours": float(win.hours[:, alm.observable].sum())}}))
"""


def measure_ours() -> dict[str, float]:
    """Cold and warm timings from a fresh process with an empty cache folder."""
    with tempfile.TemporaryDirectory(prefix="bench-almanac-cache-") as cache:
        env = {**os.environ, "LKMRS_CACHE_DIR": cache}
        res = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                             env=env, check=False, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _observer_and_targets():
    import astropy.units as u
    from astroplan import FixedTarget, Observer
    from astropy.coordinates import EarthLocation, SkyCoord

    from lkmrs_sched.sky.footprints import load_lkmrs

    plates = load_lkmrs()
    loc = EarthLocation.from_geodetic(LON_DEG * u.deg, LAT_DEG * u.deg, HEIGHT_M * u.m)
    targets = [FixedTarget(SkyCoord(ra * u.deg, dec * u.deg), name=str(name))
               for ra, dec, name in zip(plates.ra_deg, plates.dec_deg, plates.plate_name,
                                        strict=True)]
    return Observer(location=loc, timezone="Asia/Shanghai"), targets


def measure_astroplan() -> dict[str, float]:
    """astroplan's observability_table over the whole span (10-min grid), in chunks."""
    import astropy.units as u
    import numpy as np
    from astroplan import AltitudeConstraint, AtNightConstraint, observability_table
    from astropy.time import Time

    t0 = time.perf_counter()
    observer, targets = _observer_and_targets()
    constraints = [AltitudeConstraint(min=30 * u.deg), AtNightConstraint.twilight_astronomical()]
    # Local noon (04:00 UTC) of the first evening to local noon after the last night.
    lo = Time(f"{START}T04:00:00", scale="utc")
    hi = Time(f"{END}T04:00:00", scale="utc") + 1 * u.day
    edges = [*np.arange(lo.mjd, hi.mjd, CHUNK_DAYS).tolist(), hi.mjd]
    fraction = np.zeros(len(targets))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a, b in itertools.pairwise(edges):
            table = observability_table(constraints, observer, targets,
                                        time_range=Time([a, b], format="mjd"),
                                        time_grid_resolution=GRID_MIN * u.min)
            fraction += np.asarray(table["fraction of time observable"]) * (b - a)
    seconds = time.perf_counter() - t0
    hours = float(fraction.sum() * 24.0)
    return {"seconds": seconds, "grid_points": int((hi.mjd - lo.mjd) * 1440 / GRID_MIN),
            "observable_hours": hours}


def measure_accuracy() -> dict[str, float]:
    """Largest dusk/dawn (s) and illumination differences against astroplan, 24 nights."""
    import numpy as np
    from astroplan import moon_illumination
    from astropy.time import Time

    import lkmrs_sched  # noqa: F401  (offline astropy)
    from lkmrs_sched.core.config import default_scenario
    from lkmrs_sched.sky.almanac import compute_almanac

    alm = compute_almanac(default_scenario(START, END))
    idx = np.linspace(0, len(alm) - 1, N_ACCURACY_NIGHTS).astype(int)
    observer, _ = _observer_and_targets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dusk = observer.twilight_evening_astronomical(
            Time(alm.midnight[idx] - 0.5, format="mjd"), which="next").mjd
        dawn = observer.twilight_morning_astronomical(
            Time(alm.midnight[idx], format="mjd"), which="next").mjd
        illum = np.asarray(moon_illumination(Time(alm.midnight[idx], format="mjd")))
    return {
        "dusk_s": float(np.abs(dusk - alm.dusk[idx]).max() * 86400),
        "dawn_s": float(np.abs(dawn - alm.dawn[idx]).max() * 86400),
        "illumination": float(np.abs(illum - alm.moon_illumination[idx]).max()),
    }


def main() -> list[tuple[str, float, float, bool]]:
    """Run the benchmark, print it, and return ``(name, measured, target, passed)`` rows."""
    import lkmrs_sched  # noqa: F401  (offline astropy before astroplan is imported)

    ours = measure_ours()
    print(f"almanac + windows, {ours['plates']} plates x {ours['nights']} nights "
          f"({START} .. {END}): cold {ours['cold_s']:.3f} s (fresh process, empty cache; "
          f"imports {ours['import_s']:.2f} s not counted), warm {ours['warm_s']:.3f} s "
          f"(best of {WARM_REPEATS})")
    ref = measure_astroplan()
    print(f"astroplan observability_table, {ours['plates']} targets x {ref['grid_points']:,} "
          f"grid points ({GRID_MIN}-min grid, alt > 30 deg, astronomical night): "
          f"{ref['seconds']:.1f} s")
    cold = ref["seconds"] / ours["cold_s"]
    warm = ref["seconds"] / ours["warm_s"]
    acc = measure_accuracy()
    twilight = max(acc["dusk_s"], acc["dawn_s"])
    rows = [
        ("almanac+visibility speed-up, cold [x]", cold, TARGET_COLD, cold >= TARGET_COLD),
        ("almanac+visibility speed-up, warm [x]", warm, TARGET_WARM, warm >= TARGET_WARM),
        ("dusk/dawn max |diff| vs astroplan [s]", twilight, TARGET_TWILIGHT_S,
         twilight < TARGET_TWILIGHT_S),
        ("Moon illumination max |diff| vs astroplan", acc["illumination"],
         TARGET_ILLUMINATION, acc["illumination"] < TARGET_ILLUMINATION),
    ]
    print(f"  speed-up cold: {cold:7.1f}x  (target >= {TARGET_COLD:g}x)  "
          f"{'PASS' if rows[0][3] else 'FAIL'}")
    print(f"  speed-up warm: {warm:7.1f}x  (target >= {TARGET_WARM:g}x)  "
          f"{'PASS' if rows[1][3] else 'FAIL'}")
    print(f"  accuracy on {N_ACCURACY_NIGHTS} nights: max |dusk diff| {acc['dusk_s']:.2f} s, "
          f"max |dawn diff| {acc['dawn_s']:.2f} s (target < {TARGET_TWILIGHT_S:g} s) "
          f"{'PASS' if rows[2][3] else 'FAIL'}; max |illumination diff| "
          f"{acc['illumination']:.1e} (target < {TARGET_ILLUMINATION:g}) "
          f"{'PASS' if rows[3][3] else 'FAIL'}")
    return rows


if __name__ == "__main__":
    result = main()
    sys.exit(0 if all(passed for *_, passed in result) else 1)
