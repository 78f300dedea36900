"""Plates: the LK-MRS footprints (Table 1) and the other programmes' plate sets.

A plate file is a CSV with at least ``plan_id, ra_j2000, dec_j2000, plate_name``
(sexagesimal ``hh:mm:ss.ss`` / ``±dd:mm:ss.ss`` or decimal degrees). The LK-MRS file
carries every column of the paper's Table 1. Optional columns: ``project`` (default: the
file's project), ``field``, and non-negative integer counts ``n_target, n_flux_std, …``.

Plan IDs follow LAMOST's ``TD|NT`` + RA ``hhmmss`` + ``N|S`` + Dec ``ddmmss`` (truncated
coordinates of the central star) + a three-character suffix (``K01`` for LK-MRS); the
loader checks that the ID matches the coordinates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.coordinates import Angle

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.textio import read_csv_dicts

PLAN_ID = re.compile(r"^(TD|NT)(\d{2})(\d{2})(\d{2})([NS])(\d{2})(\d{2})(\d{2})([A-Z0-9]{3})$")
LKMRS_NAME = re.compile(r"^K[12][a-e][1-4]$")
COUNT_COLUMNS = (
    "n_target",
    "n_flux_std",
    "n_total",
    "n_kepler_observed",
    "n_kepler_not_observed",
    "n_not_in_kic_epic",
)
REQUIRED = ("plan_id", "ra_j2000", "dec_j2000", "plate_name")
MIN_DEC_DEG = -10.0


@dataclass(frozen=True)
class PlateSet:
    """Plates as parallel arrays (one entry per plate).

    Attributes
    ----------
    plan_id, plate_name, project, field : ndarray of str
    ra_deg, dec_deg : ndarray of float
        ICRS (J2000) centre, degrees.
    counts : dict of str to ndarray of int
        Table 1 counts where the file gives them.
    """

    plan_id: np.ndarray
    plate_name: np.ndarray
    project: np.ndarray
    field: np.ndarray
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.plan_id)

    def index(self, plate_name: str) -> int:
        """Position of a plate by name (``ValueError`` if absent)."""
        hits = np.flatnonzero(self.plate_name == plate_name)
        if len(hits) == 0:
            raise ValueError(f"no plate named {plate_name!r}")
        return int(hits[0])

    def subset(self, mask: np.ndarray | list[int]) -> PlateSet:
        """Plates selected by a boolean mask or index list."""
        idx = np.asarray(mask)
        return PlateSet(
            self.plan_id[idx],
            self.plate_name[idx],
            self.project[idx],
            self.field[idx],
            self.ra_deg[idx],
            self.dec_deg[idx],
            {k: v[idx] for k, v in self.counts.items()},
        )

    def select(self, names: list[str] | None) -> PlateSet:
        """Plates by name or plan ID, in the given order (all when ``names`` is None)."""
        if not names:
            return self
        idx = []
        for n in names:
            hits = np.flatnonzero((self.plate_name == n) | (self.plan_id == n))
            if len(hits) == 0:
                raise InputError(
                    "--plates",
                    n,
                    "plate names or plan IDs: " + ", ".join(self.plate_name),
                    "unknown plate",
                )
            idx.append(int(hits[0]))
        return self.subset(idx)

    @staticmethod
    def concat(sets: list[PlateSet]) -> PlateSet:
        """Join plate sets (their count columns are kept where all have them)."""
        keys = set.intersection(*(set(s.counts) for s in sets)) if sets else set()
        return PlateSet(
            *(
                np.concatenate([getattr(s, a) for s in sets])
                for a in ("plan_id", "plate_name", "project", "field", "ra_deg", "dec_deg")
            ),
            counts={k: np.concatenate([s.counts[k] for s in sets]) for k in keys},
        )


def _angle(raw: str, unit: str, where: str) -> float:
    try:
        a = Angle(raw, unit=unit) if ":" in raw else Angle(float(raw), unit="deg")
    except (ValueError, TypeError):
        raise InputError(
            where, raw, "sexagesimal (hh:mm:ss / ±dd:mm:ss) or decimal degrees"
        ) from None
    return float(a.deg)


def plan_id_for(ra_deg: float, dec_deg: float, prefix: str = "TD", suffix: str = "K01") -> str:
    """The plan ID LAMOST gives a plate centred at (RA, Dec): truncated hhmmss/ddmmss."""
    h, m, s = Angle(ra_deg, unit="deg").hms
    sign = "N" if dec_deg >= 0 else "S"
    d, dm, ds = Angle(abs(dec_deg), unit="deg").dms
    # Truncate; add a tiny epsilon against float fuzz like 59.9999999.
    ra_txt = f"{int(h):02d}{int(m):02d}{int(s + 1e-7):02d}"
    dec_txt = f"{int(d):02d}{int(dm):02d}{int(ds + 1e-7):02d}"
    return f"{prefix}{ra_txt}{sign}{dec_txt}{suffix}"


def _check_plan_id(plan_id: str, ra_deg: float, dec_deg: float, where: str) -> None:
    m = PLAN_ID.match(plan_id)
    if not m:
        raise InputError(
            where,
            plan_id,
            "TD|NT + hhmmss + N|S + ddmmss + 3 characters, e.g. TD005004N074006K01",
            "malformed plan ID",
        )
    expected = plan_id_for(ra_deg, dec_deg, m.group(1), m.group(9))
    if expected != plan_id:
        raise InputError(
            where,
            plan_id,
            f"{expected} (from the row's RA/Dec, truncated)",
            "plan ID disagrees with the coordinates",
        )


def load_plates(path: str | Path, project: str = "LK-MRS", lkmrs: bool | None = None) -> PlateSet:
    """Read and check a plate CSV.

    Parameters
    ----------
    path : path-like
        The CSV file.
    project : str
        Project name for rows without a ``project`` column.
    lkmrs : bool, optional
        Apply the LK-MRS checks (plate names ``K1a1``…, plan ID suffix ``K01``). Defaults to
        ``project == "LK-MRS"``.

    Raises
    ------
    InputError
        Naming the file, row and column of the first problem: missing columns, malformed
        coordinates, Dec < −10°, a plan ID that disagrees with its coordinates,
        duplicate IDs or names, negative or non-integer counts.
    """
    p = Path(path)
    lkmrs = project == "LK-MRS" if lkmrs is None else lkmrs
    rows, header = _read_csv(p)
    counts_present = [c for c in COUNT_COLUMNS if c in header]
    out: dict[str, list] = {
        k: [] for k in ("plan_id", "plate_name", "project", "field", "ra_deg", "dec_deg")
    }
    counts: dict[str, list[int]] = {c: [] for c in counts_present}
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        plate, row_counts = _plate_row(row, f"{p}: line {i}", header, counts_present, project,
                                       lkmrs)
        for k, v in plate.items():
            out[k].append(v)
        for c, v in row_counts.items():
            counts[c].append(v)
    for key in ("plan_id", "plate_name"):
        _check_unique(out[key], f"{p}", key)
    return PlateSet(
        plan_id=np.array(out["plan_id"]),
        plate_name=np.array(out["plate_name"]),
        project=np.array(out["project"]),
        field=np.array(out["field"]),
        ra_deg=np.array(out["ra_deg"], dtype=float),
        dec_deg=np.array(out["dec_deg"], dtype=float),
        counts={c: np.array(v, dtype=np.int64) for c, v in counts.items()},
    )


def _read_csv(p: Path) -> tuple[list[dict[str, str]], list[str]]:
    """Rows and header of a plate CSV that has rows and the :data:`REQUIRED` columns."""
    header, rows = read_csv_dicts(p, "a readable plate CSV")
    if not rows:
        raise InputError(str(p), ..., "at least one plate row", "empty plate file")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"{p}: header",
            header,
            "columns " + ", ".join(REQUIRED),
            "missing column(s) " + ", ".join(missing),
        )
    return rows, header


def _plate_row(
    row: dict[str, str],
    where: str,
    header: list[str],
    counts_present: list[str],
    project: str,
    lkmrs: bool,
) -> tuple[dict[str, str | float], dict[str, int]]:
    """One checked row: the plate's fields and its counts (module docstring's rules)."""
    if None in row or any(row[c] is None for c in header):
        raise InputError(
            where, ..., f"{len(header)} comma-separated values", "wrong number of values"
        )
    ra = _angle(row["ra_j2000"].strip(), "hourangle", f"{where} ra_j2000")
    dec = _angle(row["dec_j2000"].strip(), "deg", f"{where} dec_j2000")
    if not 0 <= ra < 360:
        raise InputError(f"{where} ra_j2000", row["ra_j2000"], "0h <= RA < 24h", "out of range")
    if not MIN_DEC_DEG < dec <= 90:
        raise InputError(
            f"{where} dec_j2000",
            row["dec_j2000"],
            f"Dec above {MIN_DEC_DEG:g} deg (LAMOST's limit)",
            "out of range",
        )
    plan_id = row["plan_id"].strip()
    _check_plan_id(plan_id, ra, dec, f"{where} plan_id")
    name = row["plate_name"].strip()
    if lkmrs and not LKMRS_NAME.match(name):
        raise InputError(
            f"{where} plate_name",
            name,
            "K1|K2 + group a-e + number 1-4",
            "malformed LK-MRS plate name",
        )
    if lkmrs and not plan_id.endswith("K01"):
        raise InputError(f"{where} plan_id", plan_id, "an LK-MRS plan ID ending in K01")
    counts = {}
    for c in counts_present:
        raw = row[c].strip()
        if not re.fullmatch(r"[0-9]+", raw):
            raise InputError(f"{where} {c}", raw, "a non-negative integer")
        counts[c] = int(raw)
    plate = {
        "plan_id": plan_id,
        "plate_name": name,
        "project": (row.get("project") or project).strip(),
        "field": (row.get("field") or "").strip(),
        "ra_deg": ra,
        "dec_deg": dec,
    }
    return plate, counts


def _check_unique(values: list[str], where: str, key: str) -> None:
    """InputError naming the line of the first value seen before (data start at line 2)."""
    seen: dict[str, int] = {}
    for i, v in enumerate(values, start=2):
        if v in seen:
            raise InputError(
                f"{where}: line {i} {key}",
                v,
                f"unique values (line {seen[v]} has it too)",
                "duplicate",
            )
        seen[v] = i


def load_lkmrs(path: str | Path | None = None) -> PlateSet:
    """The 20 LK-MRS footprints (``footprints/lkmrs.csv`` by default)."""
    from lkmrs_sched.core.resources import FOOTPRINTS

    return load_plates(path or FOOTPRINTS / "lkmrs.csv", project="LK-MRS")
