"""Generate the ASSUMED plate sets of the other MRS programmes (deterministic).

The LK-MRS paper does not give the footprints of the three other time-domain projects
or of the non-time-domain (NT) plates. This script writes plausible stand-ins:

* ``td_other.csv`` — projects TD-B (8 plates), TD-C (7) and TD-D (6) along the northern
  Galactic plane: Galactic longitude uniform in 40°…215°, latitude in −5°…+5°. The other
  MRS time-domain programmes work there (e.g. LAMOST-MRS-B, the binary survey, put its
  TD plates around the Galactic plane; Li J. et al. 2023, Chin. Phys. B 32, 019501), and
  this placement is what lets the model reproduce Table 2's field mix: competitors at
  RA ≈ 19 h … 7 h, none at 8–17 h (README, "Calibration against Table 2").
  Plan-ID suffixes B01, C01, D01.
* ``nt.csv`` — 120 NT plates covering Dec −5°…+65° evenly in area (a golden-angle
  spiral: sin(Dec) uniform, RA stepped by the golden angle). Plan-ID suffix M01.

Run from anywhere: ``python footprints/make_other_plates.py``. The output depends only
on the fixed seed below.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from lkmrs_sched.sky.footprints import plan_id_for

SEED = 20180901
HERE = Path(__file__).resolve().parents[1] / "lkmrs_sched" / "data" / "footprints"
HEADER = ("plan_id", "ra_j2000", "dec_j2000", "plate_name", "project", "field")
TD_PROJECTS = (("TD-B", "B", 8), ("TD-C", "C", 7), ("TD-D", "D", 6))
N_NT = 120
PLANE_L = (40.0, 215.0)  # degrees of Galactic longitude
PLANE_B = 5.0  # |b| limit, degrees
NT_DEC = (-5.0, 65.0)


def _row(ra: float, dec: float, prefix: str, suffix: str, name: str, project: str) -> tuple:
    ra_txt, dec_txt = f"{ra:.4f}", f"{dec:+.4f}"
    # The plan ID is computed from the values exactly as written (the loader checks it).
    plan_id = plan_id_for(float(ra_txt), float(dec_txt), prefix=prefix, suffix=suffix)
    return plan_id, ra_txt, dec_txt, name, project, ""


def td_rows(rng: np.random.Generator) -> list[tuple]:
    from astropy.coordinates import SkyCoord

    rows = []
    for project, letter, n in TD_PROJECTS:
        gal_l = rng.uniform(*PLANE_L, n)
        gal_b = rng.uniform(-PLANE_B, PLANE_B, n)
        icrs = SkyCoord(l=gal_l, b=gal_b, unit="deg", frame="galactic").icrs
        for i in range(n):
            name = f"TD{letter}{i + 1}"
            rows.append(_row(float(icrs.ra.deg[i]) % 360.0, float(icrs.dec.deg[i]), "TD",
                             f"{letter}01", name, project))
    return rows


def nt_rows() -> list[tuple]:
    golden = 180.0 * (3.0 - np.sqrt(5.0))  # degrees
    k = np.arange(N_NT)
    lo, hi = np.sin(np.deg2rad(NT_DEC))
    dec = np.rad2deg(np.arcsin(lo + (hi - lo) * (k + 0.5) / N_NT))
    ra = (k * golden) % 360.0
    return [_row(ra[i], dec[i], "NT", "M01", f"NT{i + 1:03d}", "NT") for i in range(N_NT)]


def write(path: Path, rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(rows)


def main() -> None:
    rng = np.random.default_rng(SEED)
    write(HERE / "td_other.csv", td_rows(rng))
    write(HERE / "nt.csv", nt_rows())


if __name__ == "__main__":
    main()
