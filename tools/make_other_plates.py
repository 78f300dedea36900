"""Generate the ASSUMED plate sets of the other MRS programmes (deterministic).

The LK-MRS paper does not give the footprints of the three other time-domain projects
or of the non-time-domain (NT) plates. This script writes stand-ins whose *structure*
follows what is published about those programmes (README, "Other programmes"):

* ``td_other.csv`` — the three other TD projects, with optional ``active_from`` /
  ``active_until`` dates (plate sets rotate between seasons):

  - **TD-B**, modelled on LAMOST-MRS-B (binaries and exotic stars; Li J. et al. 2023,
    Chin. Phys. B 32, 019501): "25 plates around the galactic plane in 2018", "reduced to
    12 in 2019", "two new plates located at the high galactic latitude were added". Their
    positions are not published, so they are *pools*: each realization draws 25 plates
    of a pool of 40 along the northern plane (l uniform in 40°…215°, |b| ≤ 5°) for the
    2018-19 season, 12 of another 40 from 2019-09-01, and 2 of 12 plates at |b| > 30°
    from 2019-09-01 (``pool``/``pool_draw`` columns).
  - **TD-C**, young stars in the nearby star-forming regions and young open clusters of
    the winter sky (LAMOST-MRS's time-domain science includes "young pre-main-sequence
    stars" and "open clusters", Liu C. et al. 2020, RAA 20, 51): plates on Taurus, the
    Pleiades, the Hyades, Perseus (IC 348, NGC 1333), Orion and NGC 2264 (RA 3.5…6.7 h).
    This is the competition that Table 2 asks for: in November–December 2018 LK-MRS took
    none of its 14 pointings on the C4/C13 plates (K2c, RA 3.6–4.9 h) although they were
    best placed, while the model without a competitor at those hours gave K2c a third.
  - **TD-D**, a project spread over the sky (the brief's default, for the unnamed fourth
    project): each realization draws its 6 plates from a pool of 36 spread evenly in
    area (golden-angle spiral, Dec 0°…60°). It keeps TD competition in spring, when the
    plane and the winter regions are down (without it LK-MRS would take all spring TD
    time and about 43 % of TD hours, against its 30 % allocation).

  No other-TD plate has a goal that ends its project's time use (``[selector]
  other_td_goal_exposures = 0``): finished plates are replaced. Plan-ID suffixes B01,
  C01, D01.
* ``nt.csv`` — 120 NT plates covering Dec −5°…+65° evenly in area (a golden-angle
  spiral: sin(Dec) uniform, RA stepped by the golden angle); NT is a pool of one-night
  plates (each NT pointing is a new plate). Plan-ID suffix M01.

Run from the project root: ``.venv/bin/python tools/make_other_plates.py``. The output
depends only on the fixed seed and the lists below.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from lkmrs_sched.sky.footprints import plan_id_for

SEED = 20180901
HERE = Path(__file__).resolve().parents[1] / "lkmrs_sched" / "data" / "footprints"
HEADER = ("plan_id", "ra_j2000", "dec_j2000", "plate_name", "project", "field",
          "active_from", "active_until", "pool", "pool_draw")
N_NT = 120
PLANE_L = (40.0, 215.0)  # degrees of Galactic longitude
PLANE_B = 5.0  # |b| limit, degrees
MRS_B_2018, MRS_B_KEPT, MRS_B_HIGH = 25, 12, 2  # Li J. et al. (2023)
POOL_PLANE, POOL_HIGH, POOL_SPREAD = 40, 12, 36  # possible positions per pool
ROTATION = "2019-09-01"  # MRS-B's plate set from the 2019-20 season on
#: TD-C: nearby star-forming regions and young clusters (name, RA deg, Dec deg).
YOUNG_REGIONS = (
    ("Pleiades", 56.75, 24.12), ("Hyades", 66.75, 15.87), ("Taurus-L1495", 64.5, 28.0),
    ("Taurus-centre", 68.75, 24.5), ("Perseus-IC348", 56.13, 32.16),
    ("Perseus-NGC1333", 52.3, 31.32), ("Orion-ONC", 83.82, -5.39),
    ("Orion-lambda", 83.78, 9.93), ("NGC2264", 100.24, 9.89),
)
N_SPREAD = 6
NT_DEC = (-5.0, 65.0)
SPREAD_DEC = (0.0, 60.0)


def _row(ra: float, dec: float, prefix: str, suffix: str, name: str, project: str,
         field: str = "", active: tuple[str, str] = ("", ""),
         pool: tuple[str, str] = ("", "")) -> tuple:
    ra_txt, dec_txt = f"{ra:.4f}", f"{dec:+.4f}"
    # The plan ID is computed from the values exactly as written (the loader checks it).
    plan_id = plan_id_for(float(ra_txt), float(dec_txt), prefix=prefix, suffix=suffix)
    return plan_id, ra_txt, dec_txt, name, project, field, *active, *pool


def _galactic_to_icrs(gal_l: np.ndarray, gal_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from astropy.coordinates import SkyCoord

    icrs = SkyCoord(l=gal_l, b=gal_b, unit="deg", frame="galactic").icrs
    return icrs.ra.deg % 360.0, icrs.dec.deg


def _spiral(n: int, dec_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Points evenly in area over a declination band (golden-angle spiral)."""
    golden = 180.0 * (3.0 - np.sqrt(5.0))  # degrees
    k = np.arange(n)
    lo, hi = np.sin(np.deg2rad(dec_range))
    dec = np.rad2deg(np.arcsin(lo + (hi - lo) * (k + 0.5) / n))
    return (k * golden) % 360.0, dec


def mrs_b_rows(rng: np.random.Generator) -> list[tuple]:
    """TD-B pools: 25 of 40 plane plates in 2018-19; 12 of 40 and 2 of 12 from 2019-09-01."""
    rows: list[tuple] = []
    seasons = (("B-plane-2018", MRS_B_2018, ("", "2019-08-31")),
               ("B-plane-2019", MRS_B_KEPT, (ROTATION, "")))
    for pool, draw, active in seasons:
        ra, dec = _galactic_to_icrs(rng.uniform(*PLANE_L, POOL_PLANE),
                                    rng.uniform(-PLANE_B, PLANE_B, POOL_PLANE))
        first = len(rows) + 1
        rows += [_row(ra[i], dec[i], "TD", "B01", f"TDB{first + i}", "TD-B", "plane",
                      active, (pool, str(draw))) for i in range(POOL_PLANE)]
    sign = rng.choice([-1.0, 1.0], POOL_HIGH)
    hra, hdec = _galactic_to_icrs(rng.uniform(0.0, 360.0, POOL_HIGH),
                                  sign * rng.uniform(35.0, 60.0, POOL_HIGH))
    keep = np.flatnonzero(hdec > -5.0)  # LAMOST's declination limit
    first = len(rows) + 1
    rows += [_row(hra[j], hdec[j], "TD", "B01", f"TDB{first + i}", "TD-B",
                  "high-latitude", (ROTATION, ""), ("B-high-2019", str(MRS_B_HIGH)))
             for i, j in enumerate(keep)]
    return rows


def young_rows() -> list[tuple]:
    """TD-C: one plate on each named star-forming region or young cluster."""
    return [_row(ra, dec, "TD", "C01", f"TDC{i + 1}", "TD-C", name)
            for i, (name, ra, dec) in enumerate(YOUNG_REGIONS)]


def spread_rows() -> list[tuple]:
    """TD-D: a pool of plates spread evenly in area, 6 used per realization."""
    ra, dec = _spiral(POOL_SPREAD, SPREAD_DEC)
    return [_row(ra[i], dec[i], "TD", "D01", f"TDD{i + 1}", "TD-D", "spread", ("", ""),
                 ("D-spread", str(N_SPREAD))) for i in range(POOL_SPREAD)]


def nt_rows() -> list[tuple]:
    ra, dec = _spiral(N_NT, NT_DEC)
    return [_row(ra[i], dec[i], "NT", "M01", f"NT{i + 1:03d}", "NT") for i in range(N_NT)]


def write(path: Path, rows: list[tuple], header: tuple[str, ...] = HEADER) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(row[:len(header)] for row in rows)


def main(folder: Path | None = None) -> None:
    folder = HERE if folder is None else folder
    rng = np.random.default_rng(SEED)
    write(folder / "td_other.csv", mrs_b_rows(rng) + young_rows() + spread_rows())
    write(folder / "nt.csv", nt_rows(), HEADER[:6])


if __name__ == "__main__":
    main()
