"""Importers of observed logs into :class:`~lkmrs_sched.sim.obslog.ObservationLog`.

* :func:`import_table2` — the paper's Table 2 (one row per pointing, no times: exposures
  are placed at the earliest times the pointing rules allow, ``time_estimated = 1``);
* :func:`import_mrs_plan` — a LAMOST ``MRS_plan`` extract (one row per plate night,
  exposure times from ``lmjm_list``);
* :func:`read_any_log` — either of those CSVs, or a log written by
  :meth:`ObservationLog.write <lkmrs_sched.sim.obslog.ObservationLog.write>`.

Hour angle, airmass and the Moon at mid-exposure come from the same sky code as the
simulator's. Bad rows raise :class:`~lkmrs_sched.core.errors.InputError` naming file, row,
column, value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import TABLE2
from lkmrs_sched.core.textio import csv_header, read_csv_dicts
from lkmrs_sched.core.timeconv import iso_times, lmjm_to_mjd, mjd_to_lmjm
from lkmrs_sched.sim.obslog import (
    EXPOSURE_COLUMNS,
    POINTING_COLUMNS,
    ObservationLog,
    derived_columns,
    package_versions,
)


def _placed_times(plates: Any, scenario: Any, rows: list[dict]) -> list[np.ndarray]:
    """Exposure start times for imported pointings without times: earliest the rules allow."""
    from lkmrs_sched.sky.almanac import get_almanac
    from lkmrs_sched.sky.visibility import PointingRules, compute_windows

    nights = [r["night"] for r in rows]
    start, end = min(nights), max(nights)
    alm = get_almanac(scenario, dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    win = compute_windows(plates, alm, scenario.observing)
    rules = PointingRules.from_config(scenario.observing)
    out = []
    for r in rows:
        n = alm.night_index(r["night"])
        p = plates.index(r["plate_name"])
        w0 = win.exp_start[p, n]
        if not np.isfinite(w0):  # the plate has no window that night: centre on transit
            w0 = win.transit[p, n] - len(r["exptime_s"]) * rules.cadence / 2
        t0 = rules.first_exposure_start(w0 - rules.overhead, w0)
        durations = np.asarray(r["exptime_s"]) / 86400.0
        starts = t0 + np.concatenate([[0.0], np.cumsum(durations[:-1] + rules.readout)])
        out.append(starts)
    return out


def _conditions(plates: Any, scenario: Any, nights: list[str], plate_names: list[str],
                starts: np.ndarray, exptime_s: np.ndarray) -> dict[str, np.ndarray]:
    """Hour angle, airmass and Moon at mid-exposure for given exposures."""
    from lkmrs_sched.sky.almanac import get_almanac
    from lkmrs_sched.sky.visibility import compute_windows

    alm = get_almanac(scenario, dt.date.fromisoformat(min(nights)),
                      dt.date.fromisoformat(max(nights)))
    win = compute_windows(plates, alm, scenario.observing)
    n_idx = np.array([alm.night_index(n) for n in nights])
    p_idx = np.array([plates.index(p) for p in plate_names])
    mid = starts + exptime_s / 86400.0 / 2
    sep, moon_alt, illum = win.moon_conditions(p_idx, n_idx, mid)
    return {"hour_angle_h": win.hour_angle(p_idx, n_idx, mid),
            "airmass": win.airmass(p_idx, n_idx, mid), "moon_illumination": illum,
            "moon_separation_deg": sep, "moon_altitude_deg": moon_alt}


def _build_observed(rows: list[dict], plates: Any, scenario: Any, source: str,
                    times: list[np.ndarray] | None) -> ObservationLog:
    """Assemble an observed log from pointing rows (night, plate_name, exptime_s list, ...)."""
    estimated = times is None
    if times is None:
        times = _placed_times(plates, scenario, rows)
    p_cols: dict[str, list] = {c: [] for c in POINTING_COLUMNS}
    e_cols: dict[str, list] = {c: [] for c in EXPOSURE_COLUMNS}
    readout = scenario.observing.readout_time.to_value("d")
    overhead = scenario.observing.overhead.to_value("d")
    for pid, (r, starts) in enumerate(zip(rows, times, strict=True), start=1):
        exps = np.asarray(r["exptime_s"], dtype=float)
        p = plates.index(r["plate_name"])
        for c, v in (("pointing_id", pid), ("night", r["night"]), ("programme", "TD"),
                     ("project", str(plates.project[p])), ("plan_id", str(plates.plan_id[p])),
                     ("plate_name", r["plate_name"]), ("start_mjd", starts[0] - overhead),
                     ("end_mjd", starts[-1] + exps[-1] / 86400 + readout),
                     ("n_exposures", len(exps)), ("end_reason", "observed")):
            p_cols[c].append(v)
        for k in range(len(exps)):
            for c, v in (("pointing_id", pid), ("programme", "TD"),
                         ("project", str(plates.project[p])), ("plan_id", str(plates.plan_id[p])),
                         ("plate_name", r["plate_name"]), ("night", r["night"]),
                         ("start_mjd", starts[k]), ("exptime_s", exps[k]),
                         ("seeing_arcsec", r["seeing"][k]), ("interrupted", 0),
                         ("time_estimated", int(estimated))):
                e_cols[c].append(v)
    e_cols["exposure_id"] = list(range(1, len(e_cols["night"]) + 1))
    e_cols.update(derived_columns(e_cols["plate_name"], e_cols["night"], plates,
                                  e_cols["plan_id"]))
    starts = np.array(e_cols["start_mjd"], dtype=float)
    e_cols["lmjm"] = list(mjd_to_lmjm(starts))
    e_cols["start_utc"] = iso_times(starts)
    e_cols.update({k: list(v) for k, v in _conditions(
        plates, scenario, e_cols["night"], e_cols["plate_name"], starts,
        np.array(e_cols["exptime_s"], dtype=float)).items()})
    p_cols["start_utc"] = iso_times(np.array(p_cols["start_mjd"], dtype=float))
    p_cols["end_utc"] = iso_times(np.array(p_cols["end_mjd"], dtype=float))
    types = {"INTEGER": np.int64, "REAL": float, "TEXT": str}
    pointings = Table({c: np.array(p_cols[c], dtype=types[POINTING_COLUMNS[c].split()[0]])
                       for c in POINTING_COLUMNS})
    exposures = Table({c: np.array(e_cols[c], dtype=types[EXPOSURE_COLUMNS[c].split()[0]])
                       for c in EXPOSURE_COLUMNS})
    info = {"kind": "observed", "source": source, "scenario_name": scenario.name,
            "scenario_hash": scenario.hash, "created_utc": dt.datetime.now(dt.UTC).isoformat(),
            **{f"version_{k}": v for k, v in package_versions().items()}}
    return ObservationLog(pointings=pointings, exposures=exposures, info=info)


def _observed_scenario(scenario: Any, nights: list[str]) -> Any:
    from lkmrs_sched.core.config import default_scenario

    if scenario is None:
        scenario = default_scenario(min(nights), max(nights))
    return scenario


def import_table2(path: str | Path | None = None, plates: Any = None,
                  scenario: Any = None) -> ObservationLog:
    """Import the paper's Table 2 (one row per pointing) as an observed log.

    Exposure start times are not in Table 2: they are placed as early as the pointing
    rules allow in the plate's window that night (``time_estimated = 1``); each exposure
    gets the row's seeing.

    Parameters
    ----------
    path : path-like, optional
        CSV with ``plate_name, exptime_s, n_exposures, night_date, seeing_arcsec,
        seeing_is_lower_bound``; default: the copy shipped with the package.
    plates : PlateSet, optional
        Plates to resolve names (default: the LK-MRS footprints).
    scenario : Scenario, optional
        Site and rules for placing the exposures (default: built-in defaults).
    """
    from lkmrs_sched.sky.footprints import load_lkmrs

    p = Path(path) if path else TABLE2
    plates = plates if plates is not None else load_lkmrs()
    need = ("plate_name", "exptime_s", "n_exposures", "night_date", "seeing_arcsec")
    rows = []
    seen: dict[tuple[str, str], int] = {}
    for i, r in enumerate(_read_csv(p, need), start=2):
        where = f"{p}: line {i}"
        name = r["plate_name"].strip()
        if name not in set(plates.plate_name):
            raise InputError(f"{where} plate_name", name,
                             "a plate name of the footprints: " + ", ".join(plates.plate_name),
                             "unknown plate")
        n = _int(r["n_exposures"], f"{where} n_exposures", 1, 50)
        exptime = _float(r["exptime_s"], f"{where} exptime_s", 1, 7200)
        seeing = _float(r["seeing_arcsec"], f"{where} seeing_arcsec", 0.1, 20)
        night = _date(r["night_date"], f"{where} night_date")
        if (name, night) in seen:
            raise InputError(f"{where}", f"{name} {night}", "one row per plate and night "
                             f"(line {seen[name, night]} has it too)", "duplicate row")
        seen[name, night] = i
        rows.append({"night": night, "plate_name": name, "exptime_s": [exptime] * n,
                     "seeing": [seeing] * n})
    scenario = _observed_scenario(scenario, [r["night"] for r in rows])
    return _build_observed(rows, plates, scenario, str(p), None)


def _parse_lmjm_list(raw: str, where: str) -> list[int]:
    items = [x for x in re.split(r"[\s,;\[\]|]+", raw.strip()) if x]
    allowed = ("a list of local modified Julian minutes (whole, positive), e.g. "
               "'[27175560, 27175583]'")
    values = []
    for x in items:
        try:
            v = float(x)
        except ValueError:
            raise InputError(where, raw, allowed) from None
        if not (np.isfinite(v) and v == int(v) and 0 < v < 2**32):
            raise InputError(where, x, allowed, "not a whole positive minute")
        values.append(int(v))
    if not values:
        raise InputError(where, raw, "at least one lmjm value", "empty list")
    if len(set(values)) != len(values):
        dup = next(v for v in values if values.count(v) > 1)
        raise InputError(where, dup, "distinct exposure start times", "duplicate lmjm")
    return values


def _check_lmjm_in_night(lmjm: list[int], night: str, where: str) -> None:
    """Every exposure starts within the obsdate's night (local noon to the next noon)."""
    from lkmrs_sched.core.timeconv import iso_date_to_mjd

    lo = (iso_date_to_mjd(night) + 0.5) * 1440
    for v in lmjm:
        if not lo <= v < lo + 1440:
            raise InputError(where, v, f"a local minute in the night of {night} "
                             f"({int(lo)} <= lmjm < {int(lo) + 1440}: local noon to noon)",
                             "exposure outside the obsdate's night")


def _is_other_plate(planid: str) -> bool:
    """A plan ID that is not an LK-MRS survey plate's (another project's or a test plate):
    anything but the ``TD…K01`` form of the LK-MRS footprints."""
    from lkmrs_sched.sky.footprints import PLAN_ID

    m = PLAN_ID.match(planid)
    return m is None or m.group(1) != "TD" or m.group(9) != "K01"


def import_mrs_plan(path: str | Path, plates: Any = None, scenario: Any = None) -> ObservationLog:
    """Import a LAMOST ``MRS_plan``-style CSV (one row per plate night) as an observed log.

    Columns used: ``planid``, ``obsdate`` (local date of the evening, ISO), ``exptime``
    (seconds per exposure), ``seeing`` (arcsec), ``lmjm_list`` (exposure start times as
    local modified Julian minutes; brackets, commas or spaces as separators). Rows whose
    ``planid`` is not among the plates (for example the ``…K02`` test plates) are left out
    and counted in ``info['skipped_rows']``.
    """
    from lkmrs_sched.sky.footprints import load_lkmrs

    p = Path(path)
    plates = plates if plates is not None else load_lkmrs()
    by_id = {str(pid): str(name) for pid, name in zip(plates.plan_id, plates.plate_name,
                                                       strict=True)}
    rows, times, skipped = [], [], 0
    seen: dict[tuple[str, str], int] = {}
    starts: list[tuple[int, float, int]] = []  # (lmjm, exptime, line) of every exposure
    for i, r in enumerate(_read_csv(p, ("planid", "obsdate", "exptime", "seeing", "lmjm_list")),
                          start=2):
        where = f"{p}: line {i}"
        planid = r["planid"].strip()
        if planid not in by_id:
            if _is_other_plate(planid):
                skipped += 1
                continue
            raise InputError(f"{where} planid", planid, "the plan ID of a plate in the "
                             "footprints (other projects' and test plates are skipped)",
                             "unknown LK-MRS plate")
        lmjm = _parse_lmjm_list(r["lmjm_list"], f"{where} lmjm_list")
        exptime = _float(r["exptime"], f"{where} exptime", 1, 7200)
        seeing = _float(r["seeing"], f"{where} seeing", 0.1, 20) if r["seeing"].strip() else np.nan
        night = _date(r["obsdate"][:10], f"{where} obsdate")
        _check_lmjm_in_night(lmjm, night, f"{where} lmjm_list")
        if (planid, night) in seen:
            raise InputError(where, f"{planid} {night}", "one row per plate and night "
                             f"(line {seen[planid, night]} has it too)", "duplicate row")
        seen[planid, night] = i
        starts += [(v, exptime, i) for v in lmjm]
        rows.append({"night": night, "plate_name": by_id[planid],
                     "exptime_s": [exptime] * len(lmjm), "seeing": [seeing] * len(lmjm)})
        times.append(lmjm_to_mjd(np.array(sorted(lmjm))))
    _check_no_overlap(starts, p)
    if not rows:
        raise InputError(str(p), ..., "rows whose planid is one of the plates",
                         "no row matches a known plate")
    scenario = _observed_scenario(scenario, [r["night"] for r in rows])
    log = _build_observed(rows, plates, scenario, str(p), times)
    log.info["skipped_rows"] = str(skipped)
    return log


def _check_no_overlap(starts: list[tuple[int, float, int]], p: Path) -> None:
    """One telescope: an exposure cannot start before the previous one has ended."""
    starts = sorted(starts)
    for (a, exp_a, line_a), (b, _, line_b) in itertools.pairwise(starts):
        if b == a or b - a < exp_a / 60.0 - 1:  # lmjm is rounded to whole minutes
            raise InputError(f"{p}: line {line_b} lmjm_list", b,
                             f"a start after the exposure at lmjm {a} (line {line_a}) ended",
                             "overlapping or duplicate exposures")


def read_any_log(path: str | Path, plates: Any = None, scenario: Any = None) -> ObservationLog:
    """A log from SQLite (``.sqlite``/``.db``), Table 2 CSV or ``MRS_plan`` CSV, by content."""
    p = Path(path)
    if p.suffix.lower() in (".sqlite", ".db", ".sqlite3"):
        return ObservationLog.read(p)
    header = _read_header(p)
    if "lmjm_list" in header:
        return import_mrs_plan(p, plates, scenario)
    if "n_exposures" in header:
        return import_table2(p, plates, scenario)
    raise InputError(f"{p}: header", header, "an observation log (.sqlite), a Table 2 CSV "
                     "(plate_name, n_exposures, …) or an MRS_plan CSV (planid, lmjm_list, …)",
                     "unrecognised log format")


def _read_header(p: Path) -> list[str]:
    return csv_header(p, "a readable CSV file")


def _read_csv(p: Path, need: tuple[str, ...]) -> list[dict[str, str]]:
    header, rows = read_csv_dicts(p, "a readable CSV file")
    missing = [c for c in need if c not in header]
    if missing:
        raise InputError(f"{p}: header", header, "columns " + ", ".join(need),
                         "missing column(s) " + ", ".join(missing))
    for i, r in enumerate(rows, start=2):
        if None in r or any(r[c] is None for c in header):
            raise InputError(f"{p}: line {i}", ..., f"{len(header)} comma-separated values",
                             "wrong number of values")
    if not rows:
        raise InputError(str(p), ..., "at least one row", "empty file")
    return rows


def _float(raw: str, where: str, lo: float, hi: float) -> float:
    try:
        x = float(raw)
    except ValueError:
        raise InputError(where, raw, f"a number between {lo:g} and {hi:g}") from None
    if not lo <= x <= hi:
        raise InputError(where, raw, f"a number between {lo:g} and {hi:g}", "out of range")
    return x


def _int(raw: str, where: str, lo: int, hi: int) -> int:
    if not re.fullmatch(r"[0-9]+", raw.strip()) or not lo <= int(raw) <= hi:
        raise InputError(where, raw, f"an integer between {lo} and {hi}")
    return int(raw)


def _date(raw: str, where: str) -> str:
    from lkmrs_sched.core.validate import check_night

    try:
        date = dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise InputError(where, raw, "an ISO date YYYY-MM-DD") from None
    return check_night(date, where).isoformat()
