"""The SimPy simulation of LAMOST's MRS nights: the mechanism, with its collaborators.

Two processes share one :class:`simpy.Environment` whose clock is the UTC MJD (days):

* the **weather** process walks through the dome's open intervals and, when the dome
  closes while the telescope is busy (set-up or exposing), interrupts it;
* the **telescope** process works through the MRS nights outside shutdown. At each
  decision it builds a frozen :class:`~lkmrs_sched.sim.policy.Conditions` snapshot (plates
  whose exposure window is open or opens within the set-up time, exposures that fit,
  exposures per plate, hours used per project), asks the policy, spends the overhead,
  then takes exposures (exposure, read-out) until the plate leaves its window, dawn, the
  weather closes, or the planned number is done; the last read-out ends by dawn. An
  exposure cut by the weather is kept with its real duration and ``interrupted = 1``.

Everything the mechanism does not own is passed in (Rubin's ``ModelObservatory`` style):
the policy (:class:`~lkmrs_sched.sim.policy.Policy`), the weather
(:class:`~lkmrs_sched.sim.weather.Weather`), the seeing
(:class:`~lkmrs_sched.sim.seeing.Seeing`), the sky (:class:`~lkmrs_sched.sim.sky.Sky`) and
the starting state (:class:`InitialState`). Those not given are built from the scenario
by :func:`default_collaborators`.

A night's operations start at dusk, or ``overhead`` before dusk when the set-up may
precede the window (``setup_before_window``; twilight set-up); the ledger of every night
adds up to that operating time.

Rules may change by date (``[[changes]]``): :func:`~lkmrs_sched.sim.schedule.night_schedule`
gives each night its rules (the policy and pointing rules in force), its MRS status (with
the lunar-day tolerance's edge nights) and its weather chances. An exposure cut by the
weather before ``min_exposure_time`` is *aborted*: it is not an epoch, so it is not in
the exposures table; its pointing ends with ``end_reason = "aborted"`` and its time is in
the ledger as overhead.

Random streams: the master seed is split with ``SeedSequence.spawn`` into weather,
seeing, selection, schedule (edge nights) and plates (which plates of each pool a
realization uses) streams, so changing a selector parameter leaves the weather and the
seeing of every (night, exposure) identical (and adding the last two left the first three
unchanged: ``spawn`` children are keyed by their index).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import simpy

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sim.policy import LKMRS, NT, Candidates, Conditions, Decision, Policy
from lkmrs_sched.sim.recorder import Recorder
from lkmrs_sched.sim.schedule import NightSchedule, night_schedule, scheduled_sky
from lkmrs_sched.sim.seeing import Seeing, SeeingModel
from lkmrs_sched.sim.selector import PlateSelector
from lkmrs_sched.sim.sky import Sky, prepared_sky
from lkmrs_sched.sim.weather import Weather, make_weather
from lkmrs_sched.sky.visibility import PointingRules

HOURS = 24.0
STREAMS = ("weather", "seeing", "selection", "schedule", "plates")


def streams(seed: int | np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Independent generators for each subsystem from one master seed."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return {name: np.random.default_rng(child)
            for name, child in zip(STREAMS, ss.spawn(len(STREAMS)), strict=True)}


@dataclass
class InitialState:
    """Where a simulation starts: exposures per plate and hours used per TD project.

    Built from an observed log with :meth:`from_log`.
    """

    exposures: dict[str, int] = field(default_factory=dict)
    time_used_h: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_log(cls, log: ObservationLog, td_shares: dict[str, float],
                 nt_share: float | None = None) -> InitialState:
        """Exposures per plate of every project, and hours used per project.

        ``td_shares`` are the TD projects' allocated shares
        (:func:`~lkmrs_sched.sim.selector.td_shares`), ``nt_share`` NT's share of MRS
        time. The other programmes' usage is not in an LK-MRS log: when a log has LK-MRS
        hours only, the other TD projects are assumed to have used time at their
        allocated shares and NT (with ``nt_share`` given) at its share of MRS time, so the
        selector starts without a deficit.
        """
        exposures: dict[str, int] = defaultdict(int)
        for name in np.asarray(log.exposures["plate_name"], dtype=str):
            exposures[str(name)] += 1
        used: dict[str, float] = defaultdict(float)
        p = log.pointings
        for proj, a, b in zip(np.asarray(p["project"], dtype=str), p["start_mjd"], p["end_mjd"],
                              strict=True):
            if proj in td_shares or proj == NT:
                used[str(proj)] += float(b - a) * HOURS
        lk = used.get(LKMRS, 0.0)
        if lk > 0 and all(used.get(k, 0.0) == 0 for k in (*td_shares, NT) if k != LKMRS):
            for k, share in td_shares.items():
                if k != LKMRS:
                    used[k] = lk * share / td_shares[LKMRS]
            if nt_share is not None and nt_share < 1:
                used[NT] = lk / td_shares[LKMRS] * nt_share / (1.0 - nt_share)
        return cls(dict(exposures), dict(used))


@dataclass(frozen=True)
class Collaborators:
    """What a :class:`Simulation` is given: policy, weather, seeing and sky."""

    policy: Policy
    weather: Weather
    seeing: Seeing
    sky: Sky


def night_begin(scenario: Scenario, sky: Sky, schedule: NightSchedule | None = None
                ) -> np.ndarray:
    """UTC MJD at which each night's operations start (dusk, less a twilight set-up).

    With a ``schedule``, each night's overhead is the one of the rules in force then.
    """
    if schedule is None:
        rules = PointingRules.from_config(scenario.observing)
        return sky.almanac.dusk - (rules.overhead if rules.setup_before_window else 0.0)
    lead = np.array([r.observing.overhead.to_value("d") if r.observing.setup_before_window
                     else 0.0 for r in schedule.rules])
    return sky.almanac.dusk - lead[schedule.regime]


def default_collaborators(scenario: Scenario, rngs: dict[str, np.random.Generator], *,
                          policy: Policy | None = None, weather: Weather | None = None,
                          seeing: Seeing | None = None, sky: Sky | None = None,
                          schedule: NightSchedule | None = None) -> Collaborators:
    """The scenario's own collaborators for those not given.

    The weather draws from ``rngs["weather"]`` and the seeing from ``rngs["seeing"]``
    (only when built here); a relative ``replay_file`` resolves against the scenario's
    folder. With a ``schedule`` the stochastic weather takes each night's chances from
    the rules in force that night.
    """
    sky = sky if sky is not None else prepared_sky(scenario)
    if policy is None:
        policy = PlateSelector.from_config(scenario.selector, scenario.observing)
    if weather is None:
        alm = sky.almanac
        months = alm.night.astype("datetime64[M]").astype(int) % 12 + 1
        folder = scenario.path(".") if scenario.source != "<defaults>" else None
        per_night = ({"night_usable": schedule.usable, "night_open": schedule.open_fraction}
                     if schedule is not None else {})
        weather = make_weather(scenario.weather, night_begin(scenario, sky, schedule),
                               alm.dawn, months, rngs["weather"], source_dir=folder,
                               **per_night)
    if seeing is None:
        seeing = SeeingModel(scenario.seeing, len(sky.almanac), rngs["seeing"])
    return Collaborators(policy, weather, seeing, sky)


@dataclass
class _Night:
    index: int
    begin: float
    dusk: float
    dawn: float
    policy: Policy
    rules: PointingRules
    min_exposure: float  # days: a weather-cut exposure shorter than this is aborted
    exposure_k: int = 0
    projects: set[str] = field(default_factory=set)


class Simulation:
    """One realization: build with a scenario and a seed, then :meth:`run`.

    Parameters
    ----------
    scenario : Scenario
    seed : int or SeedSequence, optional
        Master seed (default: the scenario's); split by :func:`streams`.
    policy : Policy, optional
        Plate selection (default: the scenario's :class:`PlateSelector`). It draws from
        the seed's selection stream.
    weather : Weather, optional
        Dome open/closed model (default: the scenario's ``[weather]`` model).
    seeing : Seeing, optional
        Seeing per exposure (default: the scenario's ``[seeing]`` model).
    sky : Sky, optional
        Almanac, plates and windows (default: :func:`~lkmrs_sched.sim.sky.prepared_sky`).
    initial : InitialState, optional
        Exposures and hours already used (for forecasts from an observed log).

    Attributes
    ----------
    project_hours : dict
        Hours used per project (TD projects and ``"NT"``), what the policy sees.
    programme_hours : dict
        Hours used per programme (``"TD"``, ``"NT"``) in this run.
    """

    def __init__(self, scenario: Scenario, seed: int | np.random.SeedSequence | None = None, *,
                 policy: Policy | None = None, weather: Weather | None = None,
                 seeing: Seeing | None = None, sky: Sky | None = None,
                 initial: InitialState | None = None):
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        rngs = streams(self.seed)
        base = sky if sky is not None else prepared_sky(scenario)
        self.schedule = night_schedule(scenario, base.almanac, rngs["schedule"])
        c = default_collaborators(scenario, rngs, policy=policy, weather=weather,
                                  seeing=seeing, sky=scheduled_sky(base, self.schedule),
                                  schedule=self.schedule)
        self.policy, self.weather, self.seeing, self.sky = c.policy, c.weather, c.seeing, c.sky
        self.rng = rngs["selection"]
        regimes = self.schedule.rules
        # The scenario's own selector follows dated changes; an injected policy is kept.
        self._policies = [policy if policy is not None else
                          PlateSelector.from_config(r.selector, r.observing) for r in regimes]
        self.policy = self._policies[0]
        self._rules = [PointingRules.from_config(r.observing) for r in regimes]
        self._min_exp = [r.observing.min_exposure_time.to_value("d") for r in regimes]
        self.rules = self._rules[0]
        self.almanac, self.plates = self.sky.almanac, self.sky.plates
        self.windows = self.sky.windows
        self.active = _realized_activity(self.sky, rngs["plates"])
        self.begin = night_begin(scenario, self.sky, self.schedule)
        if not self.almanac.observable.any():
            raise InputError(f"{scenario.source}: [scenario] start/end",
                             f"{scenario.start}..{scenario.end}",
                             "a range containing at least one MRS night outside shutdown",
                             "no MRS night to simulate")
        initial = initial or InitialState()
        self.n_exp = np.array([initial.exposures.get(str(n), 0) for n in self.plates.plate_name],
                              dtype=np.int64)
        self.start_exposures = self.n_exp.copy()
        self.project_hours: dict[str, float] = defaultdict(float, initial.time_used_h)
        self.programme_hours: dict[str, float] = defaultdict(float)
        self.recorder = Recorder(self.sky)
        self._busy = False
        self._proc: simpy.Process | None = None
        self.events = 0

    # ------------------------------------------------------------------ processes
    def run(self) -> ObservationLog:
        """Simulate every night of the scenario and return the log."""
        env = simpy.Environment(initial_time=float(self.begin[0]))
        self._proc = env.process(self._telescope(env))
        env.process(self._weather_watch(env))
        env.run(until=self._proc)
        return self.recorder.log(self.begin, self.weather.open_hours(), self.scenario, self.seed)

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
            k = int(self.schedule.regime[n])
            night = _Night(int(n), float(self.begin[n]), float(alm.dusk[n]), float(alm.dawn[n]),
                           self._policies[k], self._rules[k], self._min_exp[k])
            if env.now < night.begin:
                yield env.timeout(night.begin - env.now)
            while env.now < night.dawn - 1e-9:
                self.events += 1
                now = env.now
                is_open, change = self.weather.clear(now)
                if not is_open:
                    until = min(change, night.dawn)
                    self.recorder.closed[n] += until - now
                    yield env.timeout(until - now)
                    continue
                decision = night.policy.choose(self._conditions(night, now), self.rng)
                if decision is None:
                    until = min(self._next_start(night, now), change, night.dawn)
                    self.recorder.idle[n] += until - now
                    yield env.timeout(until - now)
                    continue
                yield from self._pointing(env, night, decision)

    def _setup(self, env: simpy.Environment, start: float, first: float):
        """Spend the set-up until the first exposure may start; False if the weather cut it."""
        self._busy = True
        try:
            yield env.timeout(first - start)
        except simpy.Interrupt:
            return False
        finally:
            self._busy = False
        return True

    def _expose(self, env: simpy.Environment, exposure: float):
        """One exposure of ``exposure`` days; True if the weather cut it."""
        self._busy = True
        try:
            yield env.timeout(exposure)
        except simpy.Interrupt:
            return True
        finally:
            self._busy = False
        return False

    def _pointing(self, env: simpy.Environment, night: _Night, decision: Decision):
        p, n, rules = decision.plate_index, night.index, night.rules
        if decision.programme == "TD":
            night.projects.add(decision.project)
        led = self.recorder.ledger(n, decision.programme, decision.project)
        w1 = self.windows.exp_end[p, n]
        start = env.now
        first = float(rules.first_exposure_start(start, self.windows.exp_start[p, n]))
        ok = yield from self._setup(env, start, first)
        reason = "planned" if ok else "weather"
        led[1] += env.now - start
        taken = 0
        while reason == "planned" and taken < decision.planned_exposures:
            s = env.now
            last_end = min(w1, night.dawn - rules.readout)  # read-out done by dawn
            if s + rules.exposure > last_end + 1e-9:
                reason = "dawn" if night.dawn - rules.readout <= w1 else "window"
                break
            if not self.weather.clear(s)[0]:
                reason = "weather"
                break
            interrupted = yield from self._expose(env, rules.exposure)
            duration = env.now - s
            seeing = self.seeing.sample(n, night.exposure_k)
            night.exposure_k += 1
            aborted = interrupted and duration < night.min_exposure - 1e-12
            if aborted:  # too short to be an epoch: logged as the pointing's end, not kept
                led[1] += duration
            else:
                self.recorder.exposure(p, n, s, duration, interrupted, seeing)
                taken += 1
                led[0] += duration
            yield env.timeout(rules.readout)
            led[2] += rules.readout
            if interrupted:
                reason = "aborted" if aborted else "weather"
        self.n_exp[p] += taken
        if reason == "planned":
            reason = night.policy.planned_end(decision, int(self.n_exp[p])) or self._sky_end(
                p, n, rules)
        hours = (env.now - start) * HOURS
        self.project_hours[decision.project] += hours
        self.programme_hours[decision.programme] += hours
        self.recorder.pointing(night=n, programme=decision.programme, project=decision.project,
                               plate=p, start=start, end=env.now, n_exposures=taken,
                               end_reason=reason)

    def _sky_end(self, p: int, n: int, rules: PointingRules) -> str:
        """Whether dawn or the plate's window set a pointing's plan."""
        dawn = self.almanac.dawn[n] - rules.readout
        return "dawn" if dawn <= self.windows.exp_end[p, n] else "window"

    # ------------------------------------------------------------------ snapshot
    def _conditions(self, night: _Night, now: float) -> Conditions:
        n, rules = night.index, night.rules
        w0 = self.windows.exp_start[:, n]
        w1 = self.windows.exp_end[:, n]
        lead = rules.overhead if rules.setup_before_window else 0.0
        with np.errstate(invalid="ignore"):
            ok = (w0 - lead <= now + 1e-9) & (w1 > now)
        if self.active is not None:
            ok &= self.active[:, n]
        idx = np.flatnonzero(ok)
        first = rules.first_exposure_start(now, w0[idx])
        n_fit = rules.n_fit(first, np.minimum(w1[idx], night.dawn - rules.readout))
        keep = n_fit > 0
        idx, n_fit = idx[keep], n_fit[keep]
        cands = Candidates(plate_index=idx, project=self.plates.project[idx],
                           remaining_window_h=(w1[idx] - np.maximum(now, w0[idx])) * HOURS,
                           n_exposures_possible=n_fit, exposures_so_far=self.n_exp[idx])
        return Conditions(mjd=now, night=n, candidates=cands, time_used_h=self.project_hours,
                          projects_tonight=frozenset(night.projects))

    def _next_start(self, night: _Night, now: float) -> float:
        """Earliest later time at which some plate's window admits a new pointing."""
        n = night.index
        lead = night.rules.overhead if night.rules.setup_before_window else 0.0
        t = self.windows.exp_start[:, n] - lead
        if self.active is not None:
            t = t[self.active[:, n]]
        with np.errstate(invalid="ignore"):
            later = t[t > now + 1e-9]
        return float(later.min()) if later.size else night.dawn


def _realized_activity(sky: Sky, rng: np.random.Generator) -> np.ndarray | None:
    """The sky's active mask with each pool reduced to the plates this realization uses.

    Each pool's members are ranked by one uniform each (drawn for every pool, in order),
    and the ``pool_draw`` lowest are used.
    """
    if not sky.pools:
        return sky.active
    active = (np.ones((len(sky.plates), len(sky.almanac)), dtype=bool) if sky.active is None
              else sky.active.copy())
    for idx, k in sky.pools:
        rank = np.argsort(rng.random(len(idx)), kind="stable")
        active[idx[rank[k:]]] = False
    return active


def build_simulation(scenario: Scenario, seed: int | np.random.SeedSequence, *,
                     initial: InitialState | None = None) -> Simulation:
    """The scenario's simulation with its default collaborators on the memoised sky.

    The one way ensembles (reproduce, calibrate, forecast) build a realization.
    """
    return Simulation(scenario, seed, sky=prepared_sky(scenario), initial=initial)


def simulate(scenario: Scenario, seed: int | None = None, **kwargs) -> ObservationLog:
    """Run one realization of ``scenario`` (see :class:`Simulation`) and return its log."""
    return Simulation(scenario, seed, **kwargs).run()
