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

Free parameters (at most six, each physical): the scale of the usable-night fractions
(how good the season's weather was), the selector's rebalancing gain and started-plate
boost, and the overhead per pointing. The paper fixes the rest (LK-MRS 30 % of TD, 3/8 NT,
±2 h, 20-min exposures, ≤ 8 per pointing, lunar days 7–22) and those stay fixed.
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
from lkmrs_sched.sim.logstats import LOG_STATISTICS, statistics
from lkmrs_sched.sim.simulator import build_simulation
from lkmrs_sched.sim.sky import prepared_sky

#: Statistics compared with the observed log (declared in :data:`LOG_STATISTICS`).
CALIBRATION_STATISTICS = LOG_STATISTICS.names("calibration")


#: Kept draws needed per regression term (intercept + one per statistic) to adjust.
MIN_KEPT_PER_TERM = 15


def _scale_usable(s: Scenario, x: float) -> Scenario:
    base = s.weather.usable_night_fraction
    return s.replace(weather=dataclasses.replace(
        s.weather, usable_night_fraction=tuple(round(min(1.0, f * x), 4) for f in base)))


def _selector(field: str) -> Callable[[Scenario, float], Scenario]:
    def apply(s: Scenario, x: float) -> Scenario:
        return s.replace(selector=dataclasses.replace(s.selector, **{field: float(x)}))
    return apply


def _overhead(s: Scenario, x: float) -> Scenario:
    return s.replace(observing=dataclasses.replace(s.observing, overhead=x * u.min))


@dataclass(frozen=True)
class FreeParameter:
    """A calibrated parameter: prior bounds and how it enters a scenario."""

    name: str
    lo: float
    hi: float
    log: bool
    apply: Callable[[Scenario, float], Scenario]
    key: str  # "section.key" of the scenario setting it fills
    doc: str
    unit: str = ""

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Map values into (0, 1) across the prior range."""
        if self.log:
            return (np.log(x) - np.log(self.lo)) / (np.log(self.hi) - np.log(self.lo))
        return (x - self.lo) / (self.hi - self.lo)

    def from_unit(self, f: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_unit`."""
        if self.log:
            return np.exp(np.log(self.lo) + f * (np.log(self.hi) - np.log(self.lo)))
        return self.lo + f * (self.hi - self.lo)


FREE_PARAMETERS: dict[str, FreeParameter] = {p.name: p for p in (
    FreeParameter("usable_scale", 0.4, 1.3, False, _scale_usable,
                  "weather.usable_night_fraction",
                  "multiplier of the monthly chances of a usable night"),
    FreeParameter("rebalance_gain", 0.0, 12.0, False, _selector("rebalance_gain"),
                  "selector.rebalance_gain", "how strongly TD draws follow used time"),
    FreeParameter("started_plate_boost", 1.0, 60.0, True, _selector("started_plate_boost"),
                  "selector.started_plate_boost", "weight of started plates below goal"),
    FreeParameter("same_night_weight", 0.05, 1.0, False, _selector("same_night_weight"),
                  "selector.same_night_weight",
                  "weight kept by a TD project already observed that night"),
    FreeParameter("overhead_min", 20.0, 50.0, False, _overhead, "observing.overhead",
                  "overhead per pointing", "min"),
)}


def apply_parameters(scenario: Scenario, params: dict[str, float]) -> Scenario:
    """The scenario with free parameters set (names from :data:`FREE_PARAMETERS`)."""
    for name, value in params.items():
        scenario = FREE_PARAMETERS[name].apply(scenario, value)
    return scenario


def draw_statistics(job: Job) -> dict[str, Any]:
    """Ensemble task: simulate one prior draw and return its parameters and statistics."""
    scenario = apply_parameters(job.scenario, job.options["params"])
    log = build_simulation(scenario, job.seed).run()
    stats = statistics(log)
    return {"params": job.options["params"], "stats": {k: stats[k] for k in
                                                       CALIBRATION_STATISTICS}}


@dataclass
class Calibration:
    """Result of :func:`calibrate`."""

    names: list[str]
    estimates: dict[str, dict[str, float]]
    accepted: np.ndarray  # (n_accepted, n_params) adjusted draws
    weights: np.ndarray
    draws: int
    accept_fraction: float

    @property
    def adjusted(self) -> bool:
        """Whether the regression adjustment was applied (enough kept draws per term)."""
        return len(self.weights) >= MIN_KEPT_PER_TERM * (len(CALIBRATION_STATISTICS) + 1)

    def method(self) -> str:
        """What was done, in words: the draws really kept and the adjustment (or not)."""
        kept = len(self.weights)
        return (f"{self.draws} prior draws, closest {kept} kept ({kept / self.draws:.0%}; "
                f"--accept {self.accept_fraction:g}), "
                + ("local-linear regression adjustment" if self.adjusted else
                   f"plain rejection (regression needs >= "
                   f"{MIN_KEPT_PER_TERM * (len(CALIBRATION_STATISTICS) + 1)} kept draws)"))

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the draws, the share kept and each parameter's estimates."""
        return {"draws": self.draws, "accept_fraction": self.accept_fraction,
                "kept": len(self.weights), "adjusted": self.adjusted,
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

    def format(self) -> str:
        """A text table of the fitted values."""
        lines = [f"ABC: {self.method()}",
                 f"{'parameter':<22} {'median':>9} {'mean':>9} {'std':>8} {'16-84 %':>19}"]
        for n in self.names:
            e = self.estimates[n]
            lines.append(f"{n:<22} {e['median']:9.3f} {e['mean']:9.3f} {e['std']:8.3f} "
                         f"{e['p16']:9.3f}-{e['p84']:<9.3f}")
        return "\n".join(lines)


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return float(np.interp(q * cw[-1], cw, x[order]))


def abc_posterior(params: np.ndarray, stats: np.ndarray, observed: np.ndarray,
                  free: list[FreeParameter], accept_fraction: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Rejection + local-linear regression adjustment; returns (adjusted draws, weights)."""
    scale = 1.4826 * np.median(np.abs(stats - np.median(stats, axis=0)), axis=0)
    scale = np.where(scale > 0, scale, np.std(stats, axis=0) + 1e-12)
    z = (stats - observed) / scale
    dist = np.sqrt(np.mean(z**2, axis=1))
    n_keep = max(len(free) + 2, round(accept_fraction * len(dist)))
    keep = np.argsort(dist, kind="stable")[:n_keep]
    delta = dist[keep].max() * 1.0001
    w = 1.0 - (dist[keep] / delta) ** 2
    eps = 1e-6
    unit = np.column_stack([np.clip(p.to_unit(params[keep, i]), eps, 1 - eps)
                            for i, p in enumerate(free)])
    logit = np.log(unit / (1 - unit))
    if n_keep >= MIN_KEPT_PER_TERM * (z.shape[1] + 1):
        x = np.column_stack([np.ones(n_keep), z[keep]])
        sw = np.sqrt(w)[:, None]
        beta, *_ = np.linalg.lstsq(x * sw, logit * sw, rcond=None)
        logit = logit - z[keep] @ beta[1:]
    # else: too few kept draws to fit the regression without overfitting it (which would
    # shrink the posterior): plain rejection.
    back = 1 / (1 + np.exp(-logit))
    return np.column_stack([p.from_unit(back[:, i]) for i, p in enumerate(free)]), w


def calibrate(observed: dict[str, Any], scenario: Scenario, *, names: list[str] | None = None,
              draws: int = 600, accept_fraction: float = 0.1, seed: int = 1,
              workers: int | None = None, store: Path | None = None,
              progress: bool = True, dask_address: Any = None) -> Calibration:
    """Fit the free parameters to observed statistics by ABC (see the module docstring)."""
    names = list(names or FREE_PARAMETERS)
    for n in names:
        if n not in FREE_PARAMETERS:
            raise InputError("names", n, "one of " + ", ".join(FREE_PARAMETERS),
                             "unknown parameter")
    if not 0 < accept_fraction <= 1:
        raise InputError("accept_fraction", accept_fraction, "a fraction in (0, 1]")
    free = [FREE_PARAMETERS[n] for n in names]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xCA1,)))
    prior = np.column_stack([p.from_unit(rng.uniform(size=draws)) for p in free])
    prepared_sky(scenario)
    jobs = [Job(i, scenario, seed, {"params": dict(zip(names, map(float, prior[i]),
                                                       strict=True))})
            for i in range(draws)]
    manifest = {"task": "calibrate", "scenario_hash": scenario.hash, "seed": seed,
                "parameters": names, "draws": draws}
    results = run_ensemble(draw_statistics, jobs, store=store, manifest=manifest,
                           workers=workers, progress=progress, label="ABC draws",
                           dask_address=dask_address)
    stats = np.array([[r["stats"][k] for k in CALIBRATION_STATISTICS] for r in results], float)
    obs = np.array([observed[k] for k in CALIBRATION_STATISTICS], dtype=float)
    adjusted, w = abc_posterior(prior, stats, obs, free, accept_fraction)
    estimates = {}
    for i, n in enumerate(names):
        x = adjusted[:, i]
        mean = float(np.average(x, weights=w))
        estimates[n] = {"median": _weighted_quantile(x, w, 0.5), "mean": mean,
                        "std": float(np.sqrt(np.average((x - mean) ** 2, weights=w))),
                        "p16": _weighted_quantile(x, w, 0.16),
                        "p84": _weighted_quantile(x, w, 0.84),
                        "prior": [FREE_PARAMETERS[n].lo, FREE_PARAMETERS[n].hi]}
    return Calibration(names, estimates, adjusted, w, draws, accept_fraction)


def calibrated_scenario(scenario: Scenario, cal: Calibration, source: str,
                        folder: Path | None = None) -> tuple[Scenario, str]:
    """The scenario with the posterior medians applied, and its TOML text with comments.

    ``folder``: where the text will be written (its relative paths are made to work there).
    """
    from lkmrs_sched.core.config import scenario_to_toml

    params = {n: float(f"{cal.estimates[n]['median']:.3g}") for n in cal.names}
    fitted = apply_parameters(scenario, params)
    comments = {}
    for n in cal.names:
        e, p = cal.estimates[n], FREE_PARAMETERS[n]
        comments[p.key] = (f"calibrated: {n} = {e['median']:.3g} (16-84 %: {e['p16']:.3g}-"
                           f"{e['p84']:.3g}) by ABC on {source}")
    header = (f"{fitted.name}: calibrated with `lkmrs-sched calibrate` against {source}.\n"
              f"ABC: {cal.method()}.\nKeys marked 'calibrated' were fitted; every other "
              "value is fixed by the paper (Zong et al. 2020) or the brief,\nor is a documented "
              "default (weather months, seeing fit to Table 2, assumed plate sets).")
    return fitted, scenario_to_toml(fitted, comments, header, folder=folder)
