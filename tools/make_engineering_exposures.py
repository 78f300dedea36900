"""Write ``lkmrs_sched/data/tables/engineering_exposures.csv`` (the LK-MRS test exposures).

    .venv/bin/python tools/make_engineering_exposures.py [--out FILE]

The paper's year-1 totals (568,372 blue / 597,280 red spectra) include exposures that are
not LK-MRS survey time (brief §4): K1a1 was observed 30 times in a May 2018 test (plate
``HIP95119KP01``), and four test plates (``…K02``) shared four LK-MRS centres with other
fibre assignments. The paper gives neither their dates nor the K02 plates' centres or
exposure counts; this script places them by documented assumptions, with the same sky
code (almanac, windows, pointing rules) as the simulator, and writes one row per exposure
(conditions at mid-exposure):

* ``HIP95119KP01`` (``K1a1-KP01``, twin K1a1, the same fibres: the survey later reused
  its configuration): 30 × 1200 s on the MRS nights of May 2018 (lunar days 7–22) in
  date order, as many exposures a night as K1a1's window (HA ±2 h ∩ dark ∩ Moon ≥ 10°)
  holds, at most 8.
* Four ``…K02`` plates, their own fibre draws, at the centres of K2b3 (C8), K2c3 (C13),
  K2d4 (C5/C16) and K2e1 (C14) — one per K2 campaign group observed at least 12 times in
  Table 2 (assumption). Each gets one pointing of :data:`K02_EXPOSURES` = 5 exposures
  (Table 2's mean, 5.05 a pointing; a pointing has 3–8, so the four give 12–32) on the
  first MRS night at least :data:`K02_AFTER_DAYS` days after its twin's first Table 2
  night whose window holds them and on which Table 2 has no pointing of the twin.

Seeing is drawn from the scenario's log-normal (median 3.351″, σ_ln 0.23, fit to Table 2)
with the fixed seed :data:`SEED`. Rerunning the script gives the same file.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

import numpy as np

SEED = 20180501
K1A1_TEST_EXPOSURES = 30
K02_TWINS = ("K2b3", "K2c3", "K2d4", "K2e1")
K02_EXPOSURES = 5
K02_AFTER_DAYS = 7
COLUMNS = ("plan_id", "plate_name", "twin_plate", "fibres", "night", "start_mjd",
           "exptime_s", "seeing_arcsec", "airmass", "hour_angle_h", "moon_illumination",
           "moon_separation_deg", "moon_altitude_deg")


def _sky(scenario, plates):
    from lkmrs_sched.sky.almanac import get_almanac
    from lkmrs_sched.sky.visibility import PointingRules, compute_windows

    alm = get_almanac(scenario, dt.date(2018, 4, 1), dt.date(2019, 6, 30))
    return alm, compute_windows(plates, alm, scenario.observing), PointingRules.from_config(
        scenario.observing)


def _pointing(win, rules, p: int, n: int, max_n: int) -> list[float]:
    """Exposure starts of a pointing on night ``n`` of plate ``p`` (earliest possible)."""
    w0, w1 = win.exp_start[p, n], win.exp_end[p, n]
    if not np.isfinite(w0):
        return []
    t0 = rules.first_exposure_start(w0 - rules.overhead, w0)
    k = min(int(rules.n_fit(t0, w1)), max_n)
    return [float(t0 + i * rules.cadence) for i in range(k)]


def k1a1_test(alm, win, rules, p: int) -> list[tuple[str, float]]:
    """(night, start MJD) of the 30 May-2018 test exposures of K1a1."""
    out: list[tuple[str, float]] = []
    for n in np.flatnonzero(alm.observable):
        night = str(alm.night[n])
        if not night.startswith("2018-05"):
            continue
        for t in _pointing(win, rules, p, n, rules.max_exposures):
            if len(out) < K1A1_TEST_EXPOSURES:
                out.append((night, t))
    if len(out) < K1A1_TEST_EXPOSURES:
        raise SystemExit(f"only {len(out)} K1a1 test exposures fit in May 2018")
    return out


def k02_pointing(alm, win, rules, p: int, first: str, observed: set[str]
                 ) -> list[tuple[str, float]]:
    """(night, start MJD) of one K02 test pointing at plate ``p``'s centre."""
    after = np.datetime64(first) + np.timedelta64(K02_AFTER_DAYS, "D")
    for n in np.flatnonzero(alm.observable & (alm.night >= after)):
        night = str(alm.night[n])
        starts = _pointing(win, rules, p, n, K02_EXPOSURES)
        if night not in observed and len(starts) == K02_EXPOSURES:
            return [(night, t) for t in starts]
    raise SystemExit(f"no night for a K02 pointing after {first}")


def rows(scenario) -> list[dict]:
    """Every engineering exposure, with its conditions, sorted by start time."""
    from lkmrs_sched.sim.importers import import_table2
    from lkmrs_sched.sky.footprints import load_lkmrs, plan_id_for

    plates = load_lkmrs()
    alm, win, rules = _sky(scenario, plates)
    t2 = import_table2(plates=plates)
    nights_of = {}
    for name, night in zip(t2.pointings["plate_name"], t2.pointings["night"], strict=True):
        nights_of.setdefault(str(name), set()).add(str(night))
    plan = []
    k1 = plates.index("K1a1")
    plan += [("HIP95119KP01", "K1a1-KP01", "K1a1", "same", k1, night, t)
             for night, t in k1a1_test(alm, win, rules, k1)]
    for twin in K02_TWINS:
        p = plates.index(twin)
        pid = plan_id_for(plates.ra_deg[p], plates.dec_deg[p], "TD", "K02")
        first = min(nights_of[twin])
        plan += [(pid, f"{twin}-K02", twin, "own", p, night, t)
                 for night, t in k02_pointing(alm, win, rules, p, first, nights_of[twin])]
    plan.sort(key=lambda r: r[6])
    rng = np.random.default_rng(SEED)
    cfg = scenario.seeing
    seeing = cfg.median.to_value("arcsec") * np.exp(cfg.sigma_ln * rng.standard_normal(len(plan)))
    p_idx = np.array([r[4] for r in plan])
    n_idx = np.array([alm.night_index(r[5]) for r in plan])
    exptime = scenario.observing.exposure_time.to_value("s")
    mid = np.array([r[6] for r in plan]) + exptime / 86400.0 / 2
    sep, moon_alt, illum = win.moon_conditions(p_idx, n_idx, mid)
    out = []
    for i, r in enumerate(plan):
        out.append(dict(zip(COLUMNS, (
            r[0], r[1], r[2], r[3], r[5], f"{r[6]:.6f}", f"{exptime:g}", f"{seeing[i]:.2f}",
            f"{float(win.airmass(r[4], n_idx[i], mid[i])):.4f}",
            f"{float(win.hour_angle(r[4], n_idx[i], mid[i])):.4f}", f"{illum[i]:.4f}",
            f"{sep[i]:.3f}", f"{moon_alt[i]:.3f}"), strict=True)))
    return out


def main(argv: list[str] | None = None) -> int:
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.resources import SCENARIOS, TABLES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(TABLES / "engineering_exposures.csv"))
    args = ap.parse_args(argv)
    table = rows(load_scenario(SCENARIOS / "year1-2018.toml"))
    with Path(args.out).open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(table)
    plans = sorted({r["plan_id"] for r in table})
    print(f"wrote {len(table)} engineering exposures on {len(plans)} plates to {args.out}")
    for pid in plans:
        sel = [r for r in table if r["plan_id"] == pid]
        print(f"  {pid} ({sel[0]['plate_name']}): {len(sel)} exposures, nights "
              f"{sel[0]['night']} .. {sel[-1]['night']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
