"""The SimPy simulation of LAMOST's MRS nights: telescope, weather, plate selector.

Two processes share one :class:`simpy.Environment` whose clock is the UTC MJD (days):

* the **weather** process walks through the dome's open intervals and, when the dome
  closes while the telescope is busy (set-up or exposing), interrupts it;
* the **telescope** process works through the MRS nights outside shutdown. At each
  decision it builds a frozen :class:`~lkmrs_sched.sim.selector.Conditions` snapshot (plates
  whose exposure window is open or opens within the set-up time, exposures that fit,
  exposures per plate, hours used per project), asks the
  :class:`~lkmrs_sched.sim.selector.PlateSelector`, spends the overhead, then takes exposures
  (exposure, read-out) until the plate leaves its window, dawn, the weather closes, or the
  planned number (≤ 8) is done; the last read-out ends by dawn. An exposure cut by the
  weather is kept with its real duration and ``interrupted = 1``.

A night's operations start at dusk, or ``overhead`` before dusk when the set-up may
precede the window (``setup_before_window``; twilight set-up); the ledger of every night
adds up to that operating time.

Random streams: the master seed is split with ``SeedSequence.spawn`` into weather,
seeing and selection streams, so changing a selector parameter leaves the weather and the
seeing of every (night, exposure) identical.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import simpy
from astropy.table import Table

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.sim.obslog import (
    EXPOSURE_COLUMNS,
    LEDGER_COLUMNS,
    NIGHT_COLUMNS,
    POINTING_COLUMNS,
    ObservationLog,
    iso_times,
    mjd_to_lmjm,
    package_versions,
)
from lkmrs_sched.sim.seeing import SeeingModel
from lkmrs_sched.sim.selector import LKMRS, NT, Candidates, Conditions, PlateSelector
from lkmrs_sched.sim.weather import make_weather
from lkmrs_sched.sky.almanac import Almanac, get_almanac
from lkmrs_sched.sky.footprints import PlateSet, load_plates
from lkmrs_sched.sky.visibility import PointingRules, Windows, get_windows, window_settings

HOURS = 24.0
STREAMS = ("weather", "seeing", "selection")


def streams(seed: int | np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Independent generators for each subsystem from one master seed."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return {name: np.random.default_rng(child)
            for name, child in zip(STREAMS, ss.spawn(len(STREAMS)), strict=True)}


def load_all_plates(scenario: Scenario) -> PlateSet:
    """LK-MRS, other TD projects' and NT plates of a scenario, as one set.

    Raises
    ------
    InputError
        If a plate file is bad, or a TD project named in ``[selector] other_td_projects``
        has no plate (warned about by the caller otherwise).
    """
    sel = scenario.selector
    lk = load_plates(scenario.path(sel.lkmrs_footprints), project=LKMRS)
    others = load_plates(scenario.path(sel.other_td_footprints), project="TD", lkmrs=False)
    nt = load_plates(scenario.path(sel.nt_footprints), project=NT, lkmrs=False)
    unknown = sorted(set(others.project) - set(sel.other_td_projects))
    if unknown:
        raise InputError(f"{scenario.path(sel.other_td_footprints)}: project", unknown[0],
                         "one of [selector] other_td_projects: "
                         + ", ".join(sel.other_td_projects), "unknown TD project")
    if len(lk) == 0:
        raise InputError(str(scenario.path(sel.lkmrs_footprints)), ..., "at least one plate",
                         "empty plate set")
    return PlateSet.concat([lk, others, nt])


@dataclass
class InitialState:
    """Where a simulation starts: exposures per plate and hours used per project.

    Built from an observed log with :meth:`from_log`.
    """

    exposures: dict[str, int] = field(default_factory=dict)
    time_used_h: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_log(cls, log: ObservationLog, selector_shares: dict[str, float]) -> InitialState:
        """Exposures per plate of every project, and hours used per project.

        The other TD projects' usage is not in an LK-MRS log: when a log has LK-MRS hours
        only, the others are assumed to have used time at their allocated shares (so the
        selector starts without a deficit).
        """
        exposures: dict[str, int] = defaultdict(int)
        for name in np.asarray(log.exposures["plate_name"], dtype=str):
            exposures[str(name)] += 1
        used: dict[str, float] = defaultdict(float)
        p = log.pointings
        for proj, a, b in zip(np.asarray(p["project"], dtype=str), p["start_mjd"], p["end_mjd"],
                              strict=True):
            used[str(proj)] += float(b - a) * HOURS
        lk = used.get(LKMRS, 0.0)
        if lk > 0 and all(used.get(k, 0.0) == 0 for k in selector_shares if k != LKMRS):
            for k, share in selector_shares.items():
                if k != LKMRS:
                    used[k] = lk * share / selector_shares[LKMRS]
        return cls(dict(exposures), dict(used))


@dataclass
class _Night:
    index: int
    begin: float
    dusk: float
    dawn: float
    exposure_k: int = 0
    projects: set[str] = field(default_factory=set)


class Simulation:
    """One realization: build with a scenario and a seed, then :meth:`run`.

    Parameters
    ----------
    scenario : Scenario
    seed : int or SeedSequence, optional
        Master seed (default: the scenario's).
    almanac : Almanac, optional
        Precomputed almanac covering the scenario's range (default: from the cache).
    plates : PlateSet, optional
        All plates (default: :func:`load_all_plates`).
    windows : Windows, optional
        Precomputed windows of ``plates`` on ``almanac``.
    initial : InitialState, optional
        Exposures and hours already used (for forecasts from an observed log).
    """

    def __init__(self, scenario: Scenario, seed: int | np.random.SeedSequence | None = None,
                 almanac: Almanac | None = None, plates: PlateSet | None = None,
                 windows: Windows | None = None, initial: InitialState | None = None):
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.almanac = almanac if almanac is not None else get_almanac(scenario)
        self.plates = plates if plates is not None else load_all_plates(scenario)
        self.windows = windows if windows is not None else get_windows(
            self.plates, self.almanac, scenario.observing)
        self.rules = PointingRules.from_config(scenario.observing)
        obs = scenario.observing
        self.selector = PlateSelector(scenario.selector,
                                      max_exposures_per_pointing=obs.max_exposures_per_pointing,
                                      min_exposures_to_start=obs.min_exposures_to_start)
        rngs = streams(self.seed)
        alm = self.almanac
        self.begin = alm.dusk - (self.rules.overhead if self.rules.setup_before_window else 0.0)
        months = alm.night.astype("datetime64[M]").astype(int) % 12 + 1
        self.weather = make_weather(scenario.weather, self.begin, alm.dawn, months,
                                    rngs["weather"], source_dir=scenario.path(".").parent
                                    if scenario.source != "<defaults>" else None)
        self.seeing = SeeingModel(scenario.seeing, len(alm), rngs["seeing"])
        self.rng = rngs["selection"]
        if not alm.observable.any():
            raise InputError(f"{scenario.source}: [scenario] start/end",
                             f"{scenario.start}..{scenario.end}",
                             "a range containing at least one MRS night outside shutdown",
                             "no MRS night to simulate")
        initial = initial or InitialState()
        self.n_exp = np.array([initial.exposures.get(str(n), 0) for n in self.plates.plate_name],
                              dtype=np.int64)
        self.start_exposures = self.n_exp.copy()
        self.is_nt = self.plates.project == NT
        self.time_used: dict[str, float] = defaultdict(float, initial.time_used_h)
        self._busy = False
        self._proc: simpy.Process | None = None
        self._p: dict[str, list] = {c: [] for c in POINTING_COLUMNS}
        self._e: dict[str, list] = {c: [] for c in ("pointing_id", "plate", "night", "start_mjd",
                                                     "exptime_s", "interrupted", "seeing_arcsec")}
        self._ledger: dict[tuple[int, str, str], list[float]] = defaultdict(lambda: [0.0] * 3)
        self._closed = np.zeros(len(alm))
        self._idle = np.zeros(len(alm))
        self.events = 0

    # ------------------------------------------------------------------ processes
    def run(self) -> ObservationLog:
        """Simulate every night of the scenario and return the log."""
        env = simpy.Environment(initial_time=float(self.begin[0]))
        self._proc = env.process(self._telescope(env))
        env.process(self._weather_watch(env))
        env.run(until=self._proc)
        return self._log()

    def _weather_watch(self, env: simpy.Environment):
        """Interrupt the telescope whenever the dome closes while it is busy."""
        for end in self.weather.intervals[:, 1]:
            if end > env.now:
                yield env.timeout(end - env.now)
                self.events += 1
                if self._busy and self._proc is not None and self._proc.is_alive:
                    self._proc.interrupt("dome closed")

    def _telescope(self, env: simpy.Environment):
        alm = self.almanac
        for n in np.flatnonzero(alm.observable):
            night = _Night(int(n), float(self.begin[n]), float(alm.dusk[n]), float(alm.dawn[n]))
            if env.now < night.begin:
                yield env.timeout(night.begin - env.now)
            while env.now < night.dawn - 1e-9:
                self.events += 1
                now = env.now
                is_open, change = self.weather.clear(now)
                if not is_open:
                    until = min(change, night.dawn)
                    self._closed[n] += until - now
                    yield env.timeout(until - now)
                    continue
                decision = self.selector.choose(self._conditions(night, now), self.rng)
                if decision is None:
                    until = min(self._next_start(night, now), change, night.dawn)
                    self._idle[n] += until - now
                    yield env.timeout(until - now)
                    continue
                yield from self._pointing(env, night, decision)

    def _pointing(self, env: simpy.Environment, night: _Night, decision):
        p, n = decision.plate_index, night.index
        project = decision.project
        if decision.programme == "TD":
            night.projects.add(project)
        led = self._ledger[(n, decision.programme, project)]
        w0, w1 = self.windows.exp_start[p, n], self.windows.exp_end[p, n]
        start = env.now
        first = float(self.rules.first_exposure_start(start, w0))
        taken, reason = 0, "planned"
        self._busy = True
        try:
            yield env.timeout(first - start)
        except simpy.Interrupt:
            reason = "weather"
        finally:
            self._busy = False
        led[1] += env.now - start
        while reason == "planned" and taken < decision.planned_exposures:
            s = env.now
            last_end = min(w1, night.dawn - self.rules.readout)  # read-out done by dawn
            if s + self.rules.exposure > last_end + 1e-9:
                reason = "dawn" if night.dawn - self.rules.readout <= w1 else "window"
                break
            is_open, _ = self.weather.clear(s)
            if not is_open:
                reason = "weather"
                break
            self._busy = True
            interrupted = False
            try:
                yield env.timeout(self.rules.exposure)
            except simpy.Interrupt:
                interrupted = True
            finally:
                self._busy = False
            duration = env.now - s
            self._record_exposure(p, night, s, duration, interrupted)
            taken += 1
            led[0] += duration
            yield env.timeout(self.rules.readout)
            led[2] += self.rules.readout
            if interrupted:
                reason = "weather"
        self.n_exp[p] += taken
        if reason == "planned":
            reason = self._planned_end(decision, p, n)
        self.time_used[project] += (env.now - start) * HOURS
        self.time_used["TD" if decision.programme == "TD" else NT] += (env.now - start) * HOURS
        pid = len(self._p["pointing_id"]) + 1
        for c, v in (("pointing_id", pid), ("night", str(self.almanac.night[n])),
                     ("programme", decision.programme), ("project", project),
                     ("plan_id", str(self.plates.plan_id[p])),
                     ("plate_name", str(self.plates.plate_name[p])), ("start_mjd", start),
                     ("end_mjd", env.now), ("n_exposures", taken), ("end_reason", reason)):
            self._p[c].append(v)
        # The exposures just recorded (those without a pointing id yet) belong to this one.
        self._e["pointing_id"].extend([pid] * (len(self._e["plate"]) - len(self._e["pointing_id"])))

    def _planned_end(self, decision, p: int, n: int) -> str:
        """Why a pointing that took all its planned exposures ended."""
        if decision.planned_exposures >= self.rules.max_exposures:
            return "max_exposures"
        if decision.programme == NT:
            return "planned"
        if self.n_exp[p] >= self.scenario.selector.goal_exposures:
            return "goal"
        dawn = self.almanac.dawn[n] - self.rules.readout
        return "dawn" if dawn <= self.windows.exp_end[p, n] else "window"

    def _record_exposure(self, p: int, night: _Night, start: float, duration: float,
                         interrupted: bool) -> None:
        e = self._e
        e["plate"].append(p)
        e["night"].append(night.index)
        e["start_mjd"].append(start)
        e["exptime_s"].append(round(duration * 86400.0, 3))
        e["interrupted"].append(int(interrupted))
        e["seeing_arcsec"].append(self.seeing.sample(night.index, night.exposure_k))
        night.exposure_k += 1

    # ------------------------------------------------------------------ snapshot
    def _conditions(self, night: _Night, now: float) -> Conditions:
        n = night.index
        w0 = self.windows.exp_start[:, n]
        w1 = self.windows.exp_end[:, n]
        lead = self.rules.overhead if self.rules.setup_before_window else 0.0
        with np.errstate(invalid="ignore"):
            ok = (w0 - lead <= now + 1e-9) & (w1 > now)
        idx = np.flatnonzero(ok)
        first = self.rules.first_exposure_start(now, w0[idx])
        n_fit = self.rules.n_fit(first, np.minimum(w1[idx], night.dawn - self.rules.readout))
        keep = n_fit > 0
        idx, n_fit = idx[keep], n_fit[keep]
        so_far = np.where(self.is_nt[idx], 0, self.n_exp[idx])  # each NT pointing: a new plate
        cands = Candidates(plate_index=idx, project=self.plates.project[idx],
                           remaining_window_h=(w1[idx] - np.maximum(now, w0[idx])) * HOURS,
                           n_exposures_possible=n_fit, exposures_so_far=so_far)
        return Conditions(mjd=now, night=n, candidates=cands, time_used_h=self.time_used,
                          projects_tonight=frozenset(night.projects))

    def _next_start(self, night: _Night, now: float) -> float:
        """Earliest later time at which some plate's window admits a new pointing."""
        n = night.index
        lead = self.rules.overhead if self.rules.setup_before_window else 0.0
        t = self.windows.exp_start[:, n] - lead
        with np.errstate(invalid="ignore"):
            later = t[t > now + 1e-9]
        return float(later.min()) if later.size else night.dawn

    # ------------------------------------------------------------------ output
    def _log(self) -> ObservationLog:
        alm, win, plates = self.almanac, self.windows, self.plates
        e = {k: np.asarray(v) for k, v in self._e.items()}
        n_e = len(e["plate"])
        p_idx = e["plate"].astype(np.int64) if n_e else np.zeros(0, np.int64)
        n_idx = e["night"].astype(np.int64) if n_e else np.zeros(0, np.int64)
        start = e["start_mjd"].astype(float) if n_e else np.zeros(0)
        mid = start + (e["exptime_s"].astype(float) if n_e else np.zeros(0)) / 86400.0 / 2
        moon_sep, moon_alt, illum = _moon_conditions(win, p_idx, n_idx, mid)
        project = plates.project[p_idx]
        exposures = Table({
            "exposure_id": np.arange(1, n_e + 1, dtype=np.int64),
            "pointing_id": e["pointing_id"].astype(np.int64) if n_e else np.zeros(0, np.int64),
            "programme": np.where(project == NT, "NT", "TD").astype(str),
            "project": project.astype(str), "plan_id": plates.plan_id[p_idx].astype(str),
            "plate_name": plates.plate_name[p_idx].astype(str),
            "night": alm.night[n_idx].astype(str), "start_mjd": start,
            "start_utc": np.array(iso_times(start), dtype=str), "lmjm": mjd_to_lmjm(start),
            "exptime_s": e["exptime_s"].astype(float) if n_e else np.zeros(0),
            "hour_angle_h": win.hour_angle(p_idx, n_idx, mid),
            "airmass": win.airmass(p_idx, n_idx, mid), "moon_illumination": illum,
            "moon_separation_deg": moon_sep, "moon_altitude_deg": moon_alt,
            "seeing_arcsec": e["seeing_arcsec"].astype(float) if n_e else np.zeros(0),
            "interrupted": e["interrupted"].astype(np.int64) if n_e else np.zeros(0, np.int64),
            "time_estimated": np.zeros(n_e, dtype=np.int64),
        })
        pt = self._p
        pointings = Table({c: np.array(pt[c], dtype=_dtype(POINTING_COLUMNS[c]))
                           for c in POINTING_COLUMNS if c not in ("start_utc", "end_utc")})
        pointings["start_utc"] = np.array(iso_times(pointings["start_mjd"]), dtype=str)
        pointings["end_utc"] = np.array(iso_times(pointings["end_mjd"]), dtype=str)
        pointings = pointings[list(POINTING_COLUMNS)]
        return ObservationLog(pointings=pointings, exposures=exposures[list(EXPOSURE_COLUMNS)],
                              nights=self._nights_table(), ledger=self._ledger_table(),
                              info=self._info())

    def _nights_table(self) -> Table:
        alm = self.almanac
        mode = np.where(alm.shutdown, "shutdown", np.where(alm.mrs_night, "MRS", "LRS"))
        operating = (alm.dawn - self.begin) * HOURS
        used = np.zeros(len(alm))
        for (n, _, _), (sci, ovh, ro) in self._ledger.items():
            used[n] += (sci + ovh + ro) * HOURS
        observable = alm.observable
        other = np.where(observable, 0.0, operating)
        closed = self._closed * HOURS
        idle = self._idle * HOURS
        open_h = np.where(observable, operating - closed, self.weather.open_hours())
        return Table({
            "night": alm.night.astype(str), "lunar_day": alm.lunar_day.astype(np.int64),
            "mode": mode.astype(str), "dusk_mjd": alm.dusk, "dawn_mjd": alm.dawn,
            "dark_h": alm.dark_hours, "setup_h": operating - alm.dark_hours, "open_h": open_h,
            "closed_h": closed, "idle_h": idle, "other_h": other,
        })[list(NIGHT_COLUMNS)]

    def _ledger_table(self) -> Table:
        keys = sorted(self._ledger)
        alm = self.almanac
        return Table({
            "night": np.array([str(alm.night[k[0]]) for k in keys], dtype=str),
            "programme": np.array([k[1] for k in keys], dtype=str),
            "project": np.array([k[2] for k in keys], dtype=str),
            "science_h": np.array([self._ledger[k][0] * HOURS for k in keys], dtype=float),
            "overhead_h": np.array([self._ledger[k][1] * HOURS for k in keys], dtype=float),
            "readout_h": np.array([self._ledger[k][2] * HOURS for k in keys], dtype=float),
        })[list(LEDGER_COLUMNS)]

    def _info(self) -> dict[str, str]:
        seed = self.seed
        seed_text = (str(seed) if not isinstance(seed, np.random.SeedSequence)
                     else f"SeedSequence(entropy={seed.entropy}, spawn_key={seed.spawn_key})")
        return {"kind": "simulated", "seed": seed_text, "scenario_name": self.scenario.name,
                "scenario_hash": self.scenario.hash, "scenario_text": self.scenario.text,
                "source": self.scenario.source,
                "start": self.scenario.start.isoformat(), "end": self.scenario.end.isoformat(),
                "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                **{f"version_{k}": v for k, v in package_versions().items()}}


def _dtype(decl: str) -> type:
    return {"INTEGER": np.int64, "REAL": float, "TEXT": str}[decl.split()[0]]


def _moon_conditions(win: Windows, p_idx: np.ndarray, n_idx: np.ndarray, mid: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moon separation (deg), altitude (deg) and illumination at mid-exposure, vectorised."""
    alm = win.almanac
    if len(mid) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    g = alm.grid[n_idx]  # (E, G)
    frac = np.clip((mid - g[:, 0]) / (g[:, -1] - g[:, 0]), 0, 1) * (g.shape[1] - 1)
    i0 = np.minimum(frac.astype(int), g.shape[1] - 2)
    w = (frac - i0)[:, None]
    rows = np.arange(len(mid))

    def lerp(a: np.ndarray) -> np.ndarray:
        return a[rows, i0] * (1 - w[:, 0]) + a[rows, i0 + 1] * w[:, 0]

    ra, dec = alm.moon_ra[n_idx], alm.moon_dec[n_idx]
    vec = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], -1)
    v = lerp(vec[..., 0]), lerp(vec[..., 1]), lerp(vec[..., 2])
    norm = np.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)
    pra, pdec = win.ra[p_idx, n_idx], win.dec[p_idx, n_idx]
    pv = (np.cos(pdec) * np.cos(pra), np.cos(pdec) * np.sin(pra), np.sin(pdec))
    cos_sep = (v[0] * pv[0] + v[1] * pv[1] + v[2] * pv[2]) / norm
    sep = np.degrees(np.arccos(np.clip(cos_sep, -1, 1)))
    return sep, np.degrees(lerp(alm.moon_alt[n_idx])), lerp(alm.moon_grid_illumination[n_idx])


_PREPARED: dict[str, tuple[Almanac, PlateSet, Windows]] = {}


def prepared(scenario: Scenario) -> tuple[Almanac, PlateSet, Windows]:
    """Almanac, plates and windows of a scenario, memoised per process (disk-cached too).

    Ensembles call this in every worker: the sky is computed once per scenario.
    """
    canon = scenario.canonical()
    sel = scenario.selector
    key = repr((canon["start"], canon["end"], canon["site"], canon["night"],
                window_settings(scenario.observing),
                *(str(scenario.path(f)) for f in (sel.lkmrs_footprints, sel.other_td_footprints,
                                                  sel.nt_footprints))))
    if key not in _PREPARED:
        alm = get_almanac(scenario)
        plates = load_all_plates(scenario)
        _PREPARED[key] = (alm, plates, get_windows(plates, alm, scenario.observing))
    return _PREPARED[key]


def simulate(scenario: Scenario, seed: int | None = None, **kwargs) -> ObservationLog:
    """Run one realization of ``scenario`` (see :class:`Simulation`) and return its log."""
    return Simulation(scenario, seed, **kwargs).run()
