"""The observation log: one type for simulated and observed logs, stored in SQLite.

Tables (all times UTC; MJD as REAL, ISO text alongside for people writing SQL):

``pointings``
    ``pointing_id`` INTEGER PRIMARY KEY, ``night`` TEXT (local evening date),
    ``programme`` TEXT ('TD' | 'NT'), ``project`` TEXT ('LK-MRS', 'TD-B', …, 'NT'),
    ``plan_id``, ``plate_name`` TEXT, ``start_mjd``, ``end_mjd`` REAL (overhead start,
    end of the last read-out), ``start_utc``, ``end_utc`` TEXT, ``n_exposures`` INTEGER,
    ``end_reason`` TEXT ('window': the plate left its window; 'dawn'; 'weather';
    'max_exposures'; 'goal': the plate reached its goal; 'planned': an NT pointing's
    planned exposures done; 'observed' for imported logs).
``exposures``
    ``exposure_id`` INTEGER PRIMARY KEY, ``pointing_id`` INTEGER, ``programme``,
    ``project``, ``plan_id``, ``plate_name`` TEXT, ``ra_deg``, ``dec_deg`` REAL (J2000
    plate centre, deg), ``night`` TEXT, ``night_index`` INTEGER (MJD of the night's local
    evening date: consecutive nights are consecutive integers, the same in every log;
    subtract the first night's for OpSim's ``night`` counter), ``start_mjd`` REAL,
    ``start_utc`` TEXT, ``lmjm`` INTEGER (local modified Julian minute,
    round((MJD + 8/24)·1440)), ``exptime_s``, ``hour_angle_h`` (mid-exposure),
    ``airmass`` (mid), ``moon_illumination``, ``moon_separation_deg``,
    ``moon_altitude_deg``, ``seeing_arcsec`` REAL, ``interrupted`` INTEGER (0/1: cut short
    by weather, ``exptime_s`` is then the real duration), ``time_estimated`` INTEGER (0/1:
    imported without exposure times; placed by the pointing rules).
``nights``
    ``night`` TEXT PRIMARY KEY, ``lunar_day`` INTEGER, ``mode`` TEXT ('MRS', 'LRS',
    'shutdown'), ``dusk_mjd``, ``dawn_mjd`` REAL, ``dark_h`` (dusk–dawn), ``setup_h``
    (twilight set-up allowance before dusk used by the night's operations), ``open_h``,
    ``closed_h``, ``idle_h``, ``other_h`` (LRS or shutdown time) REAL.
``ledger``
    ``night`` TEXT, ``programme``, ``project`` TEXT, ``science_h``, ``overhead_h``,
    ``readout_h`` REAL. For every night, dark_h + setup_h = closed_h + idle_h + other_h
    + Σ (science_h + overhead_h + readout_h).
``info``
    ``key`` TEXT PRIMARY KEY, ``value`` TEXT: ``kind`` ('simulated' | 'observed'), ``seed``,
    ``scenario_name``, ``scenario_hash``, ``scenario_text``, ``source``, package versions
    and ``created_utc``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.atomic import write_bytes
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.timeconv import MJD_UNIX_EPOCH

#: Version 2 added ``ra_deg``, ``dec_deg`` and ``night_index`` to ``exposures`` (logs of
#: version 1 are read with them filled in, see :func:`derived_columns`).
SCHEMA_VERSION = "2"

POINTING_COLUMNS: dict[str, str] = {
    "pointing_id": "INTEGER PRIMARY KEY", "night": "TEXT", "programme": "TEXT",
    "project": "TEXT", "plan_id": "TEXT", "plate_name": "TEXT", "start_mjd": "REAL",
    "end_mjd": "REAL", "start_utc": "TEXT", "end_utc": "TEXT", "n_exposures": "INTEGER",
    "end_reason": "TEXT",
}
EXPOSURE_COLUMNS: dict[str, str] = {
    "exposure_id": "INTEGER PRIMARY KEY", "pointing_id": "INTEGER", "programme": "TEXT",
    "project": "TEXT", "plan_id": "TEXT", "plate_name": "TEXT", "ra_deg": "REAL",
    "dec_deg": "REAL", "night": "TEXT", "night_index": "INTEGER",
    "start_mjd": "REAL", "start_utc": "TEXT", "lmjm": "INTEGER", "exptime_s": "REAL",
    "hour_angle_h": "REAL", "airmass": "REAL", "moon_illumination": "REAL",
    "moon_separation_deg": "REAL", "moon_altitude_deg": "REAL", "seeing_arcsec": "REAL",
    "interrupted": "INTEGER", "time_estimated": "INTEGER",
}
NIGHT_COLUMNS: dict[str, str] = {
    "night": "TEXT PRIMARY KEY", "lunar_day": "INTEGER", "mode": "TEXT", "dusk_mjd": "REAL",
    "dawn_mjd": "REAL", "dark_h": "REAL", "setup_h": "REAL", "open_h": "REAL",
    "closed_h": "REAL", "idle_h": "REAL", "other_h": "REAL",
}
LEDGER_COLUMNS: dict[str, str] = {
    "night": "TEXT", "programme": "TEXT", "project": "TEXT", "science_h": "REAL",
    "overhead_h": "REAL", "readout_h": "REAL",
}
TABLES = {"pointings": POINTING_COLUMNS, "exposures": EXPOSURE_COLUMNS,
          "nights": NIGHT_COLUMNS, "ledger": LEDGER_COLUMNS}
#: Exposure columns derived from others (added in schema version 2; filled when absent).
DERIVED_COLUMNS = ("ra_deg", "dec_deg", "night_index")


def night_indices(nights: Any) -> np.ndarray:
    """``night_index`` of ISO night dates: the integer MJD of each local evening date."""
    days = np.asarray(nights, dtype="U10").astype("datetime64[D]")
    return days.astype(np.int64) + MJD_UNIX_EPOCH


def derived_columns(plate_names: Any, nights: Any, plates: Any = None,
                    plan_ids: Any = None) -> dict[str, np.ndarray]:
    """``ra_deg``, ``dec_deg`` (plate centres, J2000 deg) and ``night_index`` of exposures.

    Parameters
    ----------
    plate_names, nights : array-like of str
        Each exposure's plate name and night (ISO local evening date).
    plates : PlateSet, optional
        Where to look the plates up (default: every plate the package ships). Plates
        found in neither get NaN coordinates.
    plan_ids : array-like of str, optional
        Plan IDs, tried before the plate names (the shipped TD/NT plates have no unique
        short name).
    """
    if plates is None:
        plates = _shipped_plates()
    names = np.asarray(plate_names, dtype=str)
    keys = np.asarray(plan_ids, dtype=str) if plan_ids is not None else names
    by_plan = {str(k): i for i, k in enumerate(plates.plan_id)}
    by_name = {str(k): i for i, k in enumerate(plates.plate_name)}
    idx = np.array([by_plan.get(k, by_name.get(n, -1)) for k, n in zip(keys, names,
                                                                         strict=True)],
                   dtype=np.int64)
    found = idx >= 0
    ra, dec = np.full(len(idx), np.nan), np.full(len(idx), np.nan)
    ra[found] = np.asarray(plates.ra_deg, dtype=float)[idx[found]]
    dec[found] = np.asarray(plates.dec_deg, dtype=float)[idx[found]]
    return {"ra_deg": ra, "dec_deg": dec,
            "night_index": night_indices(nights) if len(names) else np.zeros(0, np.int64)}


def _shipped_plates() -> Any:
    from lkmrs_sched.core.config import default_scenario
    from lkmrs_sched.sim.sky import load_all_plates

    return load_all_plates(default_scenario())


def _with_derived(exposures: Table) -> Table:
    """The exposures with :data:`DERIVED_COLUMNS` (filled in if absent), in schema order."""
    missing = [c for c in DERIVED_COLUMNS if c not in exposures.colnames]
    if not missing:
        return exposures
    out = exposures.copy(copy_data=False)
    plan = out["plan_id"] if "plan_id" in out.colnames else None
    derived = derived_columns(out["plate_name"], out["night"], plan_ids=plan)
    for c in missing:
        out[c] = derived[c]
    order = [c for c in EXPOSURE_COLUMNS if c in out.colnames]
    return out[order + [c for c in out.colnames if c not in order]]


def empty_table(columns: dict[str, str]) -> Table:
    """An empty table with the schema's columns and types."""
    types = {"INTEGER": np.int64, "REAL": float, "TEXT": str}
    return Table({name: np.array([], dtype=types[decl.split()[0]])
                  for name, decl in columns.items()})


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a run's results."""
    import astropy
    import numpy
    import scipy
    import simpy

    from lkmrs_sched import __version__

    return {"lkmrs_sched": __version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "astropy": astropy.__version__, "simpy": simpy.__version__}


@dataclass
class ObservationLog:
    """Pointings, exposures, nights, time ledger and provenance of one log.

    Attributes
    ----------
    pointings, exposures, nights, ledger : astropy.table.Table
        With the columns of the module docstring.
    info : dict of str to str
        Provenance.
    """

    pointings: Table = field(default_factory=lambda: empty_table(POINTING_COLUMNS))
    exposures: Table = field(default_factory=lambda: empty_table(EXPOSURE_COLUMNS))
    nights: Table = field(default_factory=lambda: empty_table(NIGHT_COLUMNS))
    ledger: Table = field(default_factory=lambda: empty_table(LEDGER_COLUMNS))
    info: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Logs built by hand or read from schema version 1 get the derived columns.
        self.exposures = _with_derived(self.exposures)

    # ------------------------------------------------------------------ queries
    def project(self, name: str = "LK-MRS") -> ObservationLog:
        """The log restricted to one project's pointings and exposures."""
        return ObservationLog(self.pointings[self.pointings["project"] == name],
                              self.exposures[self.exposures["project"] == name],
                              self.nights, self.ledger, dict(self.info))

    def exposures_per_plate(self, project: str = "LK-MRS") -> dict[str, int]:
        """Number of exposures per plate name of a project (plates with none omitted)."""
        e = self.exposures[self.exposures["project"] == project]
        names, counts = np.unique(np.asarray(e["plate_name"], dtype=str), return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts, strict=True)}

    # ------------------------------------------------------------------ SQLite
    def write(self, path: str | Path) -> None:
        """Write the log to a new SQLite file atomically (replacing any old one)."""
        write_bytes(path, self.to_bytes())

    def to_bytes(self) -> bytes:
        """The log as the bytes of an SQLite file (built in memory; what :meth:`write`
        writes), so a worker can send it to the process that writes files."""
        con = sqlite3.connect(":memory:")
        try:
            self._fill(con)
            return con.serialize()
        finally:
            con.close()

    def _fill(self, con: sqlite3.Connection) -> None:
        """Create and fill the log's tables in an empty database."""
        for name, cols in TABLES.items():
            decl = ", ".join(f"{c} {t}" for c, t in cols.items())
            con.execute(f"CREATE TABLE {name} ({decl})")
            tab = getattr(self, name)
            rows = zip(*(_py(tab[c]) for c in cols), strict=True) if len(tab) else []
            con.executemany(
                f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})", rows)
        con.execute("CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT)")
        info = {"schema_version": SCHEMA_VERSION, **self.info}
        con.executemany("INSERT INTO info VALUES (?, ?)",
                        sorted((k, str(v)) for k, v in info.items()))
        con.execute("CREATE INDEX exposures_plate ON exposures (plate_name)")
        con.commit()

    @classmethod
    def read(cls, path: str | Path) -> ObservationLog:
        """Read a log written by :meth:`write`.

        Raises
        ------
        InputError
            If the file is missing, is not SQLite, or lacks the log's tables/columns.
        """
        p = Path(path)
        allowed = "an observation log written by lkmrs-sched (SQLite with tables " \
                  + ", ".join([*TABLES, "info"]) + ")"
        if not p.is_file():
            raise InputError(str(p), ..., allowed, "no such file")
        try:
            # A file URI built by pathlib: '#', '?' and '%' in a folder name are escaped.
            con = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                have = {r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                missing = [t for t in [*TABLES, "info"] if t not in have]
                if missing:
                    raise InputError(str(p), ..., allowed,
                                     "not an observation log: missing table(s) "
                                     + ", ".join(missing))
                out = {}
                for name, cols in TABLES.items():
                    got = [r[1] for r in con.execute(f"PRAGMA table_info({name})")]
                    if name == "exposures":  # schema version 1: derived columns filled in
                        cols = {c: t for c, t in cols.items()
                                if c in got or c not in DERIVED_COLUMNS}
                    lack = [c for c in cols if c not in got]
                    if lack:
                        raise InputError(f"{p}: table {name}", ..., allowed,
                                         "missing column(s) " + ", ".join(lack))
                    rows = con.execute(f"SELECT {', '.join(cols)} FROM {name}").fetchall()
                    out[name] = _table(rows, cols, f"{p}: table {name}")
                info = {str(k): str(v) for k, v in
                        con.execute("SELECT key, value FROM info").fetchall()}
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            raise InputError(str(p), ..., allowed, f"unreadable SQLite ({exc})") from None
        log = cls(info=info, **out)
        _check_values(log, str(p))
        return log

    def content_digest(self) -> str:
        """SHA-256 of the tables' content (provenance ``created_utc`` excluded)."""
        import hashlib

        h = hashlib.sha256()
        for name in TABLES:
            tab = getattr(self, name)
            for c in tab.colnames:
                h.update(c.encode())
                col = np.asarray(tab[c])
                if col.dtype.kind in "US":
                    h.update("\x00".join(map(str, col)).encode())
                else:
                    h.update(np.ascontiguousarray(col.astype(np.float64)).tobytes())
        info = {k: v for k, v in self.info.items() if k not in ("created_utc", "schema_version")}
        h.update(json.dumps(info, sort_keys=True).encode())
        return h.hexdigest()

    def to_tables(self) -> dict[str, Table]:
        """Every table as an astropy Table with units, descriptions, UCDs and provenance."""
        from lkmrs_sched.core.tablemeta import annotate

        out = {}
        for name in TABLES:
            tab = annotate(getattr(self, name).copy())
            tab.meta.update({"lkmrs_sched_log": name, **self.info})
            out[name] = tab
        return out

    def to_ecsv(self, folder: str | Path, ext: str = "ecsv") -> list[Path]:
        """Export every table to ``folder/<table>.<ext>`` (atomically); return the paths.

        ``ext``: ``ecsv`` (default), ``fits`` or ``vot`` (VOTable).
        """
        from lkmrs_sched.core.atomic import write_table

        out = []
        for name, tab in self.to_tables().items():
            path = Path(folder) / f"{name}.{ext}"
            if ext != "ecsv":  # the scenario text and the like stay in the ECSV header
                tab.meta = {"LOGTABLE": name}
            out.append(write_table(tab, path))
        return out


def _py(col: Any) -> list:
    arr = np.asarray(col)
    if arr.dtype.kind in "US":
        return [str(x) for x in arr]
    if arr.dtype.kind in "iub":
        return [int(x) for x in arr]
    return [float(x) for x in arr]


_INT64 = (-(2**63), 2**63 - 1)


def _cell_ok(v: Any, decl: str) -> bool:
    """Whether a stored value fits its column: INTEGER an int64, REAL a number (NULL is
    NaN: SQLite stores NaN as NULL), TEXT a string."""
    if decl == "INTEGER":
        return isinstance(v, int) and _INT64[0] <= v <= _INT64[1]
    if decl == "REAL":
        return v is None or isinstance(v, int | float)
    return isinstance(v, str)


def _table(rows: list[tuple], cols: dict[str, str], where: str = "table") -> Table:
    if not rows:
        return empty_table(cols)
    data = list(zip(*rows, strict=True))
    types = {"INTEGER": np.int64, "REAL": float, "TEXT": str}
    names = {"INTEGER": "an integer", "REAL": "a number", "TEXT": "text"}
    for i, c in enumerate(cols):
        decl = cols[c].split()[0]
        for r, v in enumerate(data[i], start=1):
            if not _cell_ok(v, decl):
                raise InputError(f"{where} row {r} column {c}", v,
                                 f"{names[decl]} ({decl} column)",
                                 "missing value" if v is None else "wrong type")
    return Table({c: np.array([np.nan if v is None and cols[c] == "REAL" else v for v in data[i]],
                              dtype=types[cols[c].split()[0]])
                  for i, c in enumerate(cols)})


def _check_values(log: ObservationLog, where: str) -> None:
    """Values an observation log must hold to be counted right (a log read from a file).

    Exposures: a valid night in the supported range, a finite start inside that night
    (local noon to noon), ``lmjm`` equal to the start's local minute, an exposure time
    of 0-7200 s, a positive seeing (or none); no exposure counted twice (the same plate
    and start), and measured exposures (``time_estimated = 0``) that do not overlap.
    Pointings: their exposures are in the exposures table, as many as ``n_exposures``.
    """
    import datetime as dt

    from lkmrs_sched.core.timeconv import MINUTES_PER_DAY, UTC_OFFSET_H, iso_date_to_mjd
    from lkmrs_sched.core.validate import check_night

    e = log.exposures
    w = f"{where}: table exposures"
    nights: dict[str, float] = {}
    for r, night in enumerate(np.asarray(e["night"], dtype=str), start=1):
        if night not in nights:
            try:
                check_night(dt.date.fromisoformat(night), f"{w} row {r} column night")
            except ValueError:
                raise InputError(f"{w} row {r} column night", night,
                                 "an ISO date YYYY-MM-DD") from None
            nights[night] = float(iso_date_to_mjd(night))
    if len(e) == 0:
        return
    start = np.asarray(e["start_mjd"], dtype=float)
    local = start + UTC_OFFSET_H / 24.0
    day = np.array([nights[n] for n in np.asarray(e["night"], dtype=str)])
    lmjm = np.asarray(e["lmjm"], dtype=np.int64)
    exptime = np.asarray(e["exptime_s"], dtype=float)
    seeing = np.asarray(e["seeing_arcsec"], dtype=float)
    with np.errstate(invalid="ignore"):
        checks = (
            ("start_mjd", ~np.isfinite(start), "a finite UTC MJD"),
            ("start_mjd", ~((local >= day + 0.5) & (local < day + 1.5)),
             "a time within the row's night (local noon to noon)"),
            ("lmjm", np.abs(lmjm - np.round(local * MINUTES_PER_DAY)) > 1,
             "the local minute of start_mjd, round((start_mjd + 8/24) * 1440)"),
            ("exptime_s", ~((exptime >= 0) & (exptime <= 7200)), "0 to 7200 s"),
            ("seeing_arcsec", ~(np.isnan(seeing) | ((seeing > 0) & (seeing <= 20))),
             "a seeing from 0 to 20 arcsec, or none"),
        )
    cols = {c: np.asarray(e[c]) for c in ("start_mjd", "lmjm", "exptime_s", "seeing_arcsec")}
    for col, bad, allowed in checks:
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InputError(f"{w} row {r + 1} column {col}", cols[col][r].item(), allowed,
                             "out of range")
    plate = np.asarray(e["plate_name"], dtype=str)
    key = np.char.add(np.char.add(plate, "@"), np.char.mod("%.9f", start))
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    if (counts > 1).any():
        r = int(first[np.argmax(counts > 1)])
        raise InputError(f"{w} row {r + 1}", f"{plate[r]} at {e['start_utc'][r]}",
                         "each exposure once", "duplicate exposure")
    measured = np.flatnonzero(np.asarray(e["time_estimated"]) == 0)
    order = measured[np.argsort(start[measured], kind="stable")]
    gap = (start[order][1:] - start[order][:-1]) * 86400.0 - exptime[order][:-1]
    if (gap < -60.0).any():
        r = int(order[1:][np.argmax(gap < -60.0)])
        raise InputError(f"{w} row {r + 1} column start_mjd", start[r].item(),
                         "a start after the previous exposure ended (one telescope)",
                         "overlapping exposures")
    p = log.pointings
    if len(p):
        ids, n = np.unique(np.asarray(e["pointing_id"]), return_counts=True)
        have = dict(zip(ids.tolist(), n.tolist(), strict=True))
        for r, (pid, k) in enumerate(zip(np.asarray(p["pointing_id"]).tolist(),
                                         np.asarray(p["n_exposures"]).tolist(), strict=True),
                                     start=1):
            if have.get(pid, 0) != k:
                raise InputError(f"{where}: table pointings row {r} column n_exposures", k,
                                 f"the number of exposures of pointing {pid} in the exposures "
                                 f"table ({have.get(pid, 0)})", "inconsistent counts")
