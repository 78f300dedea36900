"""Calibrate the model's free parameters against an observed log, likelihood-free.

Method: approximate Bayesian computation (ABC) by rejection with local-linear regression
adjustment (Beaumont, Zhang & Balding 2002, Genetics 162, 2025):

1. draw ``M`` parameter vectors from the prior (uniform, or log-uniform for multiplicative
   parameters, within the bounds of :data:`FREE_PARAMETERS`);
2. simulate one realization for each (common seeds: draw ``i`` uses realization seed ``i``)
   and compute the log statistics :data:`CALIBRATION_STATISTICS`;
3. distance = RMS over statistics of (simulated − observed) / MAD-scale of that statistic
   across the prior draws;
4. keep the closest fraction ``q``; regress the kept parameters (in logit space of their
   prior range, so they stay inside it) on their statistics with Epanechnikov weights, and
   shift each kept draw to the observed statistics — only when at least
   :data:`MIN_KEPT_PER_TERM` kept draws per regression term are available (else plain
   rejection: a regression on too few draws overfits and shrinks the posterior);
5. report the weighted posterior median, mean, standard deviation and 16–84 % range.

Free parameters (:data:`FREE_PARAMETERS`, each physical): the scale of the usable-night
fractions (how much of the site's usable time gave MRS time), the selector's rebalancing
gain, started-plate boost and same-night weight, the overhead per pointing, what happens
to a TD draw of a project with nothing observable (``unavailable_project``, a choice: the
ABC posterior gives each option's probability, Grelaud et al. 2009), and the spectra a
release counts per exposure of another TD project and per NT plate-night. The paper fixes
the rest (LK-MRS 30 % of TD, 3/8 NT, ±2 h, 20-min exposures, ≤ 8 per pointing, lunar days
7–22) and those stay fixed.

**Joint calibration** (:func:`calibrate_joint`): the statistics of an observed log
(Table 2) and the release totals of the same season (DR7 − DR6) are fitted together:
the totals pin down the MRS time used as a whole, Table 2 LK-MRS's part of it. A second
stage (:func:`calibrate_seasons`) fits the usable-time scale of the seasons after the log
to the next release (DR9 − DR7), starting from the log's end state with the first stage's
posterior draws; the contrast between the two seasons' scales gives the size of the
season-to-season variation (:func:`season_sigma_draws`). The posterior draws are kept
with the calibrated scenario (:func:`write_posterior`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.ensembles.ensemble import Job, run_ensemble
from lkmrs_sched.sim.logstats import LOG_STATISTICS, ReleaseLog, release_statistics, statistics
from lkmrs_sched.sim.releases import read_releases, release_windows
from lkmrs_sched.sim.simulator import InitialState, build_simulation
from lkmrs_sched.sim.sky import prepared_sky

#: Statistics compared with the observed log (declared in :data:`LOG_STATISTICS`).
CALIBRATION_STATISTICS = LOG_STATISTICS.names("calibration")


#: Kept draws needed per regression term (intercept + one per statistic) to adjust.
MIN_KEPT_PER_TERM = 15


def _section(section: str, field: str, cast: Callable[[float], Any] = float
             ) -> Callable[[Scenario, float], Scenario]:
    def apply(s: Scenario, x: float) -> Scenario:
        return s.replace(**{section: dataclasses.replace(getattr(s, section),
                                                         **{field: cast(x)})})
    return apply


def _overhead(s: Scenario, x: float) -> Scenario:
    return s.replace(observing=dataclasses.replace(s.observing, overhead=x * u.min))


@dataclass(frozen=True)
class FreeParameter:
    """A calibrated parameter: prior bounds and how it enters a scenario.

    A *choice* (``choices`` not empty) takes the values ``0, 1, …`` (index into
    ``choices``, uniform prior); it is kept by rejection and never regression-adjusted.
    """

    name: str
    lo: float
    hi: float
    log: bool
    apply: Callable[[Scenario, float], Scenario]
    key: str  # "section.key" of the scenario setting it fills
    doc: str
    unit: str = ""
    choices: tuple[str, ...] = ()

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Map values into (0, 1) across the prior range."""
        if self.log:
            return (np.log(x) - np.log(self.lo)) / (np.log(self.hi) - np.log(self.lo))
        return (x - self.lo) / (self.hi - self.lo)

    def from_unit(self, f: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_unit` (for a choice: the index of the unit interval's bin)."""
        if self.choices:
            return np.minimum(np.floor(np.asarray(f) * len(self.choices)),
                              len(self.choices) - 1)
        if self.log:
            return np.exp(np.log(self.lo) + f * (np.log(self.hi) - np.log(self.lo)))
        return self.lo + f * (self.hi - self.lo)


def _choice(field: str, choices: tuple[str, ...]) -> Callable[[Scenario, float], Scenario]:
    def apply(s: Scenario, x: float) -> Scenario:
        return s.replace(selector=dataclasses.replace(s.selector,
                                                      **{field: choices[round(float(x))]}))
    return apply


_UNAVAILABLE = ("redraw", "nt")

FREE_PARAMETERS: dict[str, FreeParameter] = {p.name: p for p in (
    FreeParameter("usable_scale", 0.4, 1.3, False, _section("weather", "usable_scale"),
                  "weather.usable_scale",
                  "multiplier of the monthly chances of a usable night"),
    FreeParameter("rebalance_gain", 0.0, 12.0, False, _section("selector", "rebalance_gain"),
                  "selector.rebalance_gain", "how strongly draws follow used time"),
    FreeParameter("started_plate_boost", 1.0, 60.0, True,
                  _section("selector", "started_plate_boost"),
                  "selector.started_plate_boost", "weight of started plates below goal"),
    FreeParameter("same_night_weight", 0.05, 1.0, False,
                  _section("selector", "same_night_weight"), "selector.same_night_weight",
                  "weight kept by a TD project already observed that night"),
    FreeParameter("overhead_min", 20.0, 50.0, False, _overhead, "observing.overhead",
                  "overhead per pointing", "min"),
    FreeParameter("unavailable_project", 0.0, 1.0, False,
                  _choice("unavailable_project", _UNAVAILABLE), "selector.unavailable_project",
                  "a TD draw of a project with nothing observable: redraw (0) or NT (1)",
                  choices=_UNAVAILABLE),
    # Released spectra per exposure: at most the fibres of a plate (4000) less >= 20 sky
    # fibres per spectrograph (320) and a few per cent broken: 3600.
    FreeParameter("other_td_per_exposure", 1000.0, 3600.0, False,
                  _section("releases", "other_td_per_exposure"),
                  "releases.other_td_per_exposure",
                  "released spectra per exposure of another TD project"),
    FreeParameter("nt_per_plate", 1500.0, 3600.0, False,
                  _section("releases", "nt_per_plate"), "releases.nt_per_plate",
                  "released coadded spectra per NT plate-night"),
)}

#: Parameters of the joint calibration against Table 2 and the release totals.
JOINT_PARAMETERS = ("usable_scale", "rebalance_gain", "started_plate_boost",
                    "same_night_weight", "unavailable_project", "other_td_per_exposure",
                    "nt_per_plate")


def apply_parameters(scenario: Scenario, params: dict[str, float]) -> Scenario:
    """The scenario with free parameters set (names from :data:`FREE_PARAMETERS`)."""
    for name, value in params.items():
        scenario = FREE_PARAMETERS[name].apply(scenario, value)
    return scenario


def lkmrs_targets(scenario: Scenario) -> dict[str, int]:
    """Table-1 targets + standards (``n_total``) per LK-MRS plate of a scenario."""
    from lkmrs_sched.sky.footprints import load_plates

    lk = load_plates(scenario.path(scenario.selector.lkmrs_footprints))
    counts = lk.counts.get("n_total")
    if counts is None:
        return {}
    return {str(n): int(c) for n, c in zip(lk.plate_name, counts, strict=True)}


def release_context(scenario: Scenario, log: Any) -> tuple[ReleaseLog, Any]:
    """A log counted as the scenario's releases table counts spectra, and its statistics."""
    windows = release_windows(read_releases(scenario.path(scenario.releases.table)))
    return ReleaseLog(log, scenario.releases, lkmrs_targets(scenario)), \
        release_statistics(windows)


def draw_statistics(job: Job) -> dict[str, Any]:
    """Ensemble task: simulate one prior draw and return its parameters and statistics.

    ``job.options``: ``params`` (the draw), ``statistics`` (names to return) and, for a
    draw that starts from an observed state, ``initial``.
    """
    scenario = apply_parameters(job.scenario, job.options["params"])
    log = build_simulation(scenario, job.seed, initial=job.options.get("initial")).run()
    names = job.options.get("statistics", CALIBRATION_STATISTICS)
    stats = statistics(log) if any(n in LOG_STATISTICS for n in names) else {}
    if any(n not in LOG_STATISTICS for n in names):
        context, release_stats = release_context(scenario, log)
        stats.update({n: release_stats[n].function(context) for n in names
                      if n in release_stats})
    return {"params": job.options["params"], "stats": {k: stats[k] for k in names}}


@dataclass
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    names : list of str
        Calibrated parameters (columns of :attr:`accepted`).
    estimates : dict
        Per parameter: weighted median, mean, std, 16 and 84 % points, prior bounds (and
        for a choice, each option's posterior probability).
    accepted : ndarray, shape (n_kept, n_params)
        Kept (regression-adjusted) draws; a choice column holds the option index.
    weights : ndarray
        Their Epanechnikov weights.
    statistics : list of str
        The statistics fitted.
    """

    names: list[str]
    estimates: dict[str, dict[str, Any]]
    accepted: np.ndarray  # (n_accepted, n_params) adjusted draws
    weights: np.ndarray
    draws: int
    accept_fraction: float
    statistics: list[str] = dataclasses.field(default_factory=lambda: list(
        CALIBRATION_STATISTICS))

    @property
    def adjusted(self) -> bool:
        """Whether the regression adjustment was applied (enough kept draws per term)."""
        return len(self.weights) >= MIN_KEPT_PER_TERM * (len(self.statistics) + 1)

    def method(self) -> str:
        """What was done, in words: the draws really kept and the adjustment (or not)."""
        kept = len(self.weights)
        return (f"{self.draws} prior draws, closest {kept} kept ({kept / self.draws:.0%}; "
                f"--accept {self.accept_fraction:g}), "
                + ("local-linear regression adjustment" if self.adjusted else
                   f"plain rejection (regression needs >= "
                   f"{MIN_KEPT_PER_TERM * (len(self.statistics) + 1)} kept draws)"))

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the draws, the share kept, the statistics and the estimates."""
        return {"draws": self.draws, "accept_fraction": self.accept_fraction,
                "kept": len(self.weights), "adjusted": self.adjusted,
                "statistics": list(self.statistics),
                "parameters": self.estimates}

    def to_table(self) -> Table:
        """One row per parameter: posterior median, mean, std, 16-84 % range, prior."""
        table = Table({"parameter": self.names,
                       **{k: [self.estimates[n][k] for n in self.names]
                          for k in ("median", "mean", "std", "p16", "p84")},
                       "prior_lo": [self.estimates[n]["prior"][0] for n in self.names],
                       "prior_hi": [self.estimates[n]["prior"][1] for n in self.names],
                       "unit": [FREE_PARAMETERS[n].unit for n in self.names]})
        table.meta.update(draws=self.draws, kept=len(self.weights))
        return table

    def draws_table(self) -> dict[str, np.ndarray]:
        """The kept draws by parameter name (choices as option names), with ``weight``."""
        out: dict[str, np.ndarray] = {"weight": self.weights / self.weights.sum()}
        for i, n in enumerate(self.names):
            p = FREE_PARAMETERS[n]
            col = self.accepted[:, i]
            out[n] = (np.array([p.choices[round(float(x))] for x in col]) if p.choices
                      else col)
        return out

    def format(self) -> str:
        """A text table of the fitted values."""
        lines = [f"ABC: {self.method()}",
                 f"{'parameter':<22} {'median':>9} {'mean':>9} {'std':>8} {'16-84 %':>19}"]
        for n in self.names:
            e = self.estimates[n]
            if "probabilities" in e:
                lines.append(f"{n:<22} " + ", ".join(
                    f"{k} {v:.0%}" for k, v in e["probabilities"].items()))
                continue
            lines.append(f"{n:<22} {e['median']:9.3f} {e['mean']:9.3f} {e['std']:8.3f} "
                         f"{e['p16']:9.3f}-{e['p84']:<9.3f}")
        return "\n".join(lines)


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return float(np.interp(q * cw[-1], cw, x[order]))


def closest(stats: np.ndarray, observed: np.ndarray, accept_fraction: float, minimum: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardised differences, indices of the closest draws and their weights.

    Distance: RMS over statistics of (simulated − observed) / MAD-scale across draws;
    the closest ``accept_fraction`` (at least ``minimum``) are kept with Epanechnikov
    weights.
    """
    scale = 1.4826 * np.median(np.abs(stats - np.median(stats, axis=0)), axis=0)
    scale = np.where(scale > 0, scale, np.std(stats, axis=0) + 1e-12)
    z = (stats - observed) / scale
    dist = np.sqrt(np.mean(z**2, axis=1))
    n_keep = min(len(dist), max(minimum, round(accept_fraction * len(dist))))
    keep = np.argsort(dist, kind="stable")[:n_keep]
    delta = dist[keep].max() * 1.0001
    w = 1.0 - (dist[keep] / delta) ** 2
    return z, keep, w


def abc_posterior(params: np.ndarray, stats: np.ndarray, observed: np.ndarray,
                  free: list[FreeParameter], accept_fraction: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Rejection + local-linear regression adjustment; returns (adjusted draws, weights).

    Choice parameters are kept as drawn (rejection only).
    """
    z, keep, w = closest(stats, observed, accept_fraction, len(free) + 2)
    n_keep = len(keep)
    eps = 1e-6
    cont = [i for i, p in enumerate(free) if not p.choices]
    out = params[keep].astype(float).copy()
    if cont:
        unit = np.column_stack([np.clip(free[i].to_unit(params[keep, i]), eps, 1 - eps)
                                for i in cont])
        logit = np.log(unit / (1 - unit))
        if n_keep >= MIN_KEPT_PER_TERM * (z.shape[1] + 1):
            x = np.column_stack([np.ones(n_keep), z[keep]])
            sw = np.sqrt(w)[:, None]
            beta, *_ = np.linalg.lstsq(x * sw, logit * sw, rcond=None)
            logit = logit - z[keep] @ beta[1:]
        # else: too few kept draws to fit the regression without overfitting it (which
        # would shrink the posterior): plain rejection.
        back = 1 / (1 + np.exp(-logit))
        for j, i in enumerate(cont):
            out[:, i] = free[i].from_unit(back[:, j])
    return out, w


def _estimates(names: list[str], adjusted: np.ndarray, w: np.ndarray
               ) -> dict[str, dict[str, Any]]:
    estimates: dict[str, dict[str, Any]] = {}
    for i, n in enumerate(names):
        x, p = adjusted[:, i], FREE_PARAMETERS[n]
        mean = float(np.average(x, weights=w))
        e: dict[str, Any] = {"median": _weighted_quantile(x, w, 0.5), "mean": mean,
                             "std": float(np.sqrt(np.average((x - mean) ** 2, weights=w))),
                             "p16": _weighted_quantile(x, w, 0.16),
                             "p84": _weighted_quantile(x, w, 0.84), "prior": [p.lo, p.hi]}
        if p.choices:
            prob = {c: float(w[np.round(x) == k].sum() / w.sum())
                    for k, c in enumerate(p.choices)}
            e.update(probabilities=prob, median=float(np.argmax(list(prob.values()))))
        estimates[n] = e
    return estimates


def _check_names(names: list[str]) -> list[FreeParameter]:
    for n in names:
        if n not in FREE_PARAMETERS:
            raise InputError("names", n, "one of " + ", ".join(FREE_PARAMETERS),
                             "unknown parameter")
    return [FREE_PARAMETERS[n] for n in names]


def calibrate(observed: dict[str, Any], scenario: Scenario, *, names: list[str] | None = None,
              draws: int = 600, accept_fraction: float = 0.1, seed: int = 1,
              workers: int | None = None, store: Path | None = None,
              progress: bool = True, statistic_names: list[str] | None = None,
              initial: InitialState | None = None,
              dask_address: Any = None) -> Calibration:
    """Fit the free parameters to observed statistics by ABC (see the module docstring).

    Parameters
    ----------
    observed : dict
        Observed statistics by name (log statistics, release statistics).
    statistic_names : list of str, optional
        Which to fit (default: :data:`CALIBRATION_STATISTICS`).
    initial : InitialState, optional
        Starting state of every draw (for seasons after an observed log).
    """
    names = list(names or [n for n in FREE_PARAMETERS if n not in
                           ("unavailable_project", "other_td_per_exposure", "nt_per_plate")])
    free = _check_names(names)
    if not 0 < accept_fraction <= 1:
        raise InputError("accept_fraction", accept_fraction, "a fraction in (0, 1]")
    stat_names = list(statistic_names or CALIBRATION_STATISTICS)
    missing = [k for k in stat_names if k not in observed]
    if missing:
        raise InputError("observed", missing[0], "observed values of every statistic fitted")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xCA1,)))
    prior = np.column_stack([p.from_unit(rng.uniform(size=draws)) for p in free])
    prepared_sky(scenario)
    jobs = [Job(i, scenario, seed, {"params": dict(zip(names, map(float, prior[i]),
                                                       strict=True)),
                                    "statistics": stat_names, "initial": initial})
            for i in range(draws)]
    manifest = {"task": "calibrate", "scenario_hash": scenario.hash, "seed": seed,
                "parameters": names, "draws": draws}
    if stat_names != list(CALIBRATION_STATISTICS) or initial is not None:
        manifest.update(statistics=stat_names, initial=initial is not None)
    results = run_ensemble(draw_statistics, jobs, store=store, manifest=manifest,
                           workers=workers, progress=progress, label="ABC draws",
                           dask_address=dask_address)
    stats = np.array([[r["stats"][k] for k in stat_names] for r in results], float)
    obs = np.array([observed[k] for k in stat_names], dtype=float)
    adjusted, w = abc_posterior(prior, stats, obs, free, accept_fraction)
    return Calibration(names, _estimates(names, adjusted, w), adjusted, w, draws,
                       accept_fraction, stat_names)


def calibrated_scenario(scenario: Scenario, cal: Calibration, source: str,
                        folder: Path | None = None, posterior: str = "",
                        notes: dict[str, str] | None = None) -> tuple[Scenario, str]:
    """The scenario with the posterior medians applied, and its TOML text with comments.

    ``folder``: where the text will be written (its relative paths are made to work
    there); ``posterior``: the posterior-draws file to name in ``[scenario]``; ``notes``:
    extra ``{"section.key": comment}``.
    """
    from lkmrs_sched.core.config import scenario_to_toml

    params = {n: (cal.estimates[n]["median"] if FREE_PARAMETERS[n].choices else
                  float(f"{cal.estimates[n]['median']:.3g}")) for n in cal.names}
    fitted = apply_parameters(scenario, params)
    if posterior:
        fitted = dataclasses.replace(fitted, posterior=posterior)
    comments = dict(notes or {})
    fitted_to = ", ".join(cal.statistics)
    for n in cal.names:
        e, p = cal.estimates[n], FREE_PARAMETERS[n]
        if p.choices:
            comments[p.key] = ("calibrated (choice): " + ", ".join(
                f"{k} {v:.0%}" for k, v in e["probabilities"].items()) + f" by ABC on {source}")
            continue
        comments[p.key] = (f"calibrated: {n} = {e['median']:.3g} (16-84 %: {e['p16']:.3g}-"
                           f"{e['p84']:.3g}) by ABC on {source}")
    header = (f"{fitted.name}: calibrated with `lkmrs-sched calibrate` against {source}.\n"
              f"ABC: {cal.method()}; statistics fitted: {fitted_to}.\n"
              "Keys marked 'calibrated' were fitted; every other value is fixed by the paper "
              "(Zong et al. 2020) or the brief,\nor is a documented default (weather months, "
              "seeing fit to Table 2, assumed plate sets).")
    return fitted, scenario_to_toml(fitted, comments, header, folder=folder)


# ---- joint calibration: Table 2 and the release totals, then the later seasons --------

def observed_releases(scenario: Scenario) -> tuple[dict[str, float], list[Any]]:
    """Real values of the scenario's release statistics, and the release windows."""
    from lkmrs_sched.sim.logstats import observed_release_statistics

    windows = release_windows(read_releases(scenario.path(scenario.releases.table)))
    return observed_release_statistics(windows), windows


def season_window(windows: list[Any], first: Any, last: Any) -> Any | None:
    """The release window ending within ``first`` .. ``last`` (the season simulated)."""
    inside = [w for w in windows if first <= w.last <= last]
    return inside[-1] if inside else None


def calibrate_joint(log: Any, scenario: Scenario, *, draws: int = 2000,
                    accept_fraction: float = 0.1, seed: int = 1, workers: int | None = None,
                    store: Path | None = None, progress: bool = True,
                    names: list[str] | None = None, dask_address: Any = None) -> Calibration:
    """Stage 1: fit Table 2's statistics and the same season's release totals together.

    The season is the scenario's span; its release window is the one ending inside it
    (DR7 − DR6 for 2018-09-01 .. 2019-06-30).
    """
    real, windows = observed_releases(scenario)
    w = season_window(windows, scenario.start, scenario.end)
    observed = dict(statistics(log))
    stat_names = list(CALIBRATION_STATISTICS)
    if w is not None:
        observed.update(real)
        stat_names += [f"td_spectra_{w.tag}", f"nt_spectra_{w.tag}"]
    return calibrate(observed, scenario, names=list(names or JOINT_PARAMETERS), draws=draws,
                     accept_fraction=accept_fraction, seed=seed, workers=workers, store=store,
                     progress=progress, statistic_names=stat_names, dask_address=dask_address)


def _posterior_picks(cal: Calibration, n: int, rng: np.random.Generator) -> np.ndarray:
    p = cal.weights / cal.weights.sum()
    return rng.choice(len(p), size=n, p=p)


def calibrate_seasons(cal: Calibration, scenario: Scenario, log: Any, window: Any, *,
                      draws: int = 1000, accept_fraction: float = 0.2, seed: int = 1,
                      workers: int | None = None, store: Path | None = None,
                      progress: bool = True) -> dict[str, np.ndarray]:
    """Stage 2: the usable-time scale of the seasons in a later release window.

    Each draw takes a stage-1 posterior draw (by its weight) and a scale from the
    ``usable_scale`` prior, simulates ``window`` from the observed log's end state and
    is compared with the window's release totals; the closest ``accept_fraction`` are
    kept and their scale regression-adjusted.

    Returns
    -------
    dict
        The kept draws: every stage-1 parameter (choices by name), ``usable_scale_later``
        and ``weight`` (normalised).
    """
    from lkmrs_sched.sim.selector import td_shares

    real, _ = observed_releases(scenario)
    stat_names = [f"td_spectra_{window.tag}", f"nt_spectra_{window.tag}"]
    later = scenario.replace(start=window.first, end=window.last)
    initial = InitialState.from_log(log, td_shares(later.selector), later.selector.nt_share)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5EA,)))
    pick = _posterior_picks(cal, draws, rng)
    scale_p = FREE_PARAMETERS["usable_scale"]
    scales = scale_p.from_unit(rng.uniform(size=draws))
    prepared_sky(later)
    jobs = []
    for i in range(draws):
        params = {n: float(cal.accepted[pick[i], k]) for k, n in enumerate(cal.names)}
        params["usable_scale"] = float(scales[i])
        jobs.append(Job(i, later, seed, {"params": params, "statistics": stat_names,
                                         "initial": initial}))
    manifest = {"task": "calibrate-seasons", "scenario_hash": later.hash, "seed": seed,
                "draws": draws, "window": window.tag, "log_digest": log.content_digest()}
    results = run_ensemble(draw_statistics, jobs, store=store, manifest=manifest,
                           workers=workers, progress=progress, label=f"ABC {window.tag} draws")
    stats = np.array([[r["stats"][k] for k in stat_names] for r in results], float)
    obs = np.array([real[k] for k in stat_names], float)
    adjusted, w = abc_posterior(scales[:, None], stats, obs, [scale_p], accept_fraction)
    _, keep, _ = closest(stats, obs, accept_fraction, 3)
    out = {k: v[pick[keep]] for k, v in cal.draws_table().items() if k != "weight"}
    out["usable_scale_later"] = adjusted[:, 0]
    out["weight"] = w / w.sum()
    return out


def season_sigma_draws(d: np.ndarray, w: np.ndarray, rng: np.random.Generator, *,
                       n_seasons_later: int, lo: float = 0.01, hi: float = 0.5
                       ) -> np.ndarray:
    """Draws of the season-to-season σ of ln(usable scale), one per posterior draw.

    Model: each season's ln scale is the mean plus an independent N(0, σ²) effect. The
    contrast ``d = ln(scale_later / scale_first)`` between one season and the mean of
    ``n_seasons_later`` seasons is then N(0, σ² (1 + 1/n)); its likelihood is averaged
    over the posterior draws of ``d`` (weights ``w``) and combined with the scale-free
    (Jeffreys) prior 1/σ on [lo, hi]. With one contrast the data bound σ from below and
    only weakly from above: the upper bound matters and is reported with the result.
    """
    grid = np.geomspace(lo, hi, 400)
    var = grid[:, None] ** 2 * (1.0 + 1.0 / n_seasons_later)
    like = (np.exp(-0.5 * d[None, :] ** 2 / var) / np.sqrt(var)) @ (w / w.sum())
    dens = like / grid * np.gradient(grid)
    cdf = np.cumsum(dens) / dens.sum()
    return np.interp(rng.uniform(size=len(d)), cdf, grid)


def build_posterior(cal: Calibration, season_first: int, later: dict[str, np.ndarray] | None,
                    window: Any = None, seed: int = 1) -> Any:
    """The :class:`~lkmrs_sched.ensembles.posterior.Posterior` of a calibration.

    With a later-seasons fit (:func:`calibrate_seasons`), its kept draws are the posterior
    and carry the season structure: ``usable_scale_mean`` (geometric mean of the
    calibrated season's scale and the later window's, weighted by seasons) and
    ``season_sigma`` (:func:`season_sigma_draws`). Without one, the stage-1 draws with
    no season-to-season variation (σ unknown: 0, stated in the file).
    """
    from lkmrs_sched.ensembles.posterior import Posterior

    meta = {"season_first": str(season_first)}
    if later is None:
        cols = cal.draws_table()
        cols["usable_scale_mean"] = np.asarray(cols.get("usable_scale",
                                                        np.ones(len(cal.weights))))
        cols["season_sigma"] = np.zeros(len(cal.weights))
        meta["season_sigma"] = "not estimated (no later release window): 0"
        return Posterior(cols, meta)
    n = window.seasons
    u1, u2 = np.asarray(later["usable_scale"], float), np.asarray(later["usable_scale_later"])
    d = np.log(u2 / u1)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x516,)))
    cols = dict(later)
    cols["usable_scale_mean"] = np.exp((np.log(u1) + n * np.log(u2)) / (1 + n))
    cols["season_sigma"] = season_sigma_draws(d, np.asarray(later["weight"]), rng,
                                              n_seasons_later=n)
    meta.update(later_first=window.first.isoformat(), later_last=window.last.isoformat(),
                later_release=window.name)
    return Posterior(cols, meta)
