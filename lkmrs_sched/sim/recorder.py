"""What a simulation records, and the :class:`ObservationLog` it becomes.

The simulator reports each exposure, pointing, closed or idle stretch and ledger entry
to a :class:`Recorder`; :meth:`Recorder.log` turns them into the log's four tables
(conditions at mid-exposure computed once, vectorised) with the run's provenance.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.timeconv import iso_times, mjd_to_lmjm
from lkmrs_sched.sim.obslog import (
    EXPOSURE_COLUMNS,
    LEDGER_COLUMNS,
    NIGHT_COLUMNS,
    POINTING_COLUMNS,
    ObservationLog,
    night_indices,
    package_versions,
)
from lkmrs_sched.sim.policy import NT
from lkmrs_sched.sim.sky import Sky

HOURS = 24.0
_EXPOSURE_FIELDS = ("pointing_id", "plate", "night", "start_mjd", "exptime_s", "interrupted",
                    "seeing_arcsec")


class Recorder:
    """Accumulates a run's events; :meth:`log` builds the observation log.

    Parameters
    ----------
    sky : Sky
        The run's almanac, plates and windows (for names and mid-exposure conditions).
    """

    def __init__(self, sky: Sky):
        self.sky = sky
        n = len(sky.almanac)
        self._p: dict[str, list] = {c: [] for c in POINTING_COLUMNS}
        self._e: dict[str, list] = {c: [] for c in _EXPOSURE_FIELDS}
        self._ledger: dict[tuple[int, str, str], list[float]] = defaultdict(lambda: [0.0] * 3)
        self.closed = np.zeros(n)
        self.idle = np.zeros(n)

    def ledger(self, night: int, programme: str, project: str) -> list[float]:
        """The mutable ``[science, overhead, read-out]`` days of one night and project."""
        return self._ledger[(night, programme, project)]

    def exposure(self, plate: int, night: int, start: float, duration: float,
                 interrupted: bool, seeing: float) -> None:
        """Record one exposure (UTC MJD start, duration in days, seeing in arcsec)."""
        e = self._e
        e["plate"].append(plate)
        e["night"].append(night)
        e["start_mjd"].append(start)
        e["exptime_s"].append(round(duration * 86400.0, 3))
        e["interrupted"].append(int(interrupted))
        e["seeing_arcsec"].append(seeing)

    def pointing(self, *, night: int, programme: str, project: str, plate: int, start: float,
                 end: float, n_exposures: int, end_reason: str) -> None:
        """Record a pointing; the exposures recorded since the last one belong to it."""
        plates = self.sky.plates
        pid = len(self._p["pointing_id"]) + 1
        for c, v in (("pointing_id", pid), ("night", str(self.sky.almanac.night[night])),
                     ("programme", programme), ("project", project),
                     ("plan_id", str(plates.plan_id[plate])),
                     ("plate_name", str(plates.plate_name[plate])), ("start_mjd", start),
                     ("end_mjd", end), ("n_exposures", n_exposures), ("end_reason", end_reason)):
            self._p[c].append(v)
        self._e["pointing_id"].extend([pid] * (len(self._e["plate"]) - len(self._e["pointing_id"])))

    # ------------------------------------------------------------------ output
    def log(self, begin: np.ndarray, weather_open_h: np.ndarray, scenario: Scenario,
            seed: int | np.random.SeedSequence) -> ObservationLog:
        """The observation log of everything recorded.

        Parameters
        ----------
        begin : ndarray of float
            Start of each night's operations (UTC MJD).
        weather_open_h : ndarray of float
            The weather model's open hours per night (for nights not operated).
        scenario, seed
            For the provenance table.
        """
        pointings = Table({c: np.array(self._p[c], dtype=_dtype(POINTING_COLUMNS[c]))
                           for c in POINTING_COLUMNS if c not in ("start_utc", "end_utc")})
        pointings["start_utc"] = np.array(iso_times(pointings["start_mjd"]), dtype=str)
        pointings["end_utc"] = np.array(iso_times(pointings["end_mjd"]), dtype=str)
        return ObservationLog(pointings=pointings[list(POINTING_COLUMNS)],
                              exposures=self._exposures(),
                              nights=self._nights(begin, weather_open_h),
                              ledger=self._ledger_table(), info=_info(scenario, seed))

    def _exposures(self) -> Table:
        alm, win, plates = self.sky.almanac, self.sky.windows, self.sky.plates
        e = self._e
        p_idx = np.asarray(e["plate"], dtype=np.int64)
        n_idx = np.asarray(e["night"], dtype=np.int64)
        start = np.asarray(e["start_mjd"], dtype=float)
        exptime = np.asarray(e["exptime_s"], dtype=float)
        mid = start + exptime / 86400.0 / 2
        moon_sep, moon_alt, illum = win.moon_conditions(p_idx, n_idx, mid)
        project = plates.project[p_idx]
        n_e = len(p_idx)
        exposures = Table({
            "exposure_id": np.arange(1, n_e + 1, dtype=np.int64),
            "pointing_id": np.asarray(e["pointing_id"], dtype=np.int64),
            "programme": np.where(project == NT, "NT", "TD").astype(str),
            "project": project.astype(str), "plan_id": plates.plan_id[p_idx].astype(str),
            "plate_name": plates.plate_name[p_idx].astype(str),
            "ra_deg": np.asarray(plates.ra_deg, dtype=float)[p_idx],
            "dec_deg": np.asarray(plates.dec_deg, dtype=float)[p_idx],
            "night": alm.night[n_idx].astype(str),
            "night_index": night_indices(alm.night[n_idx]), "start_mjd": start,
            "start_utc": np.array(iso_times(start), dtype=str), "lmjm": mjd_to_lmjm(start),
            "exptime_s": exptime,
            "hour_angle_h": win.hour_angle(p_idx, n_idx, mid),
            "airmass": win.airmass(p_idx, n_idx, mid), "moon_illumination": illum,
            "moon_separation_deg": moon_sep, "moon_altitude_deg": moon_alt,
            "seeing_arcsec": np.asarray(e["seeing_arcsec"], dtype=float),
            "interrupted": np.asarray(e["interrupted"], dtype=np.int64),
            "time_estimated": np.zeros(n_e, dtype=np.int64),
        })
        return exposures[list(EXPOSURE_COLUMNS)]

    def _nights(self, begin: np.ndarray, weather_open_h: np.ndarray) -> Table:
        alm = self.sky.almanac
        mode = np.where(alm.shutdown, "shutdown", np.where(alm.mrs_night, "MRS", "LRS"))
        operating = (alm.dawn - begin) * HOURS
        observable = alm.observable
        closed = self.closed * HOURS
        return Table({
            "night": alm.night.astype(str), "lunar_day": alm.lunar_day.astype(np.int64),
            "mode": mode.astype(str), "dusk_mjd": alm.dusk, "dawn_mjd": alm.dawn,
            "dark_h": alm.dark_hours, "setup_h": operating - alm.dark_hours,
            "open_h": np.where(observable, operating - closed, weather_open_h),
            "closed_h": closed, "idle_h": self.idle * HOURS,
            "other_h": np.where(observable, 0.0, operating),
        })[list(NIGHT_COLUMNS)]

    def _ledger_table(self) -> Table:
        keys = sorted(self._ledger)
        night = self.sky.almanac.night
        return Table({
            "night": np.array([str(night[k[0]]) for k in keys], dtype=str),
            "programme": np.array([k[1] for k in keys], dtype=str),
            "project": np.array([k[2] for k in keys], dtype=str),
            "science_h": np.array([self._ledger[k][0] * HOURS for k in keys], dtype=float),
            "overhead_h": np.array([self._ledger[k][1] * HOURS for k in keys], dtype=float),
            "readout_h": np.array([self._ledger[k][2] * HOURS for k in keys], dtype=float),
        })[list(LEDGER_COLUMNS)]


def _info(scenario: Scenario, seed: int | np.random.SeedSequence) -> dict[str, str]:
    seed_text = (str(seed) if not isinstance(seed, np.random.SeedSequence)
                 else f"SeedSequence(entropy={seed.entropy}, spawn_key={seed.spawn_key})")
    return {"kind": "simulated", "seed": seed_text, "scenario_name": scenario.name,
            "scenario_hash": scenario.hash, "scenario_text": scenario.text,
            "source": scenario.source,
            "start": scenario.start.isoformat(), "end": scenario.end.isoformat(),
            "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **{f"version_{k}": v for k, v in package_versions().items()}}


def _dtype(decl: str) -> type:
    return {"INTEGER": np.int64, "REAL": float, "TEXT": str}[decl.split()[0]]
