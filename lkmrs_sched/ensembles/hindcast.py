"""Hindcasts: calibrate on an observed log up to a date, forecast on, score against the log.

:func:`hindcast` splits an observed log at ``train_until`` (D):

1. **Calibrate** the free parameters by ABC on the log's statistics up to D only
   (:func:`~lkmrs_sched.ensembles.calibrate.calibrate`, simulating the scenario's start ..
   D). Release totals cover whole seasons, so they are *not* used: they would carry
   information from after D.
2. **Forecast** D → E (``until``, default the log's last night) from the log's state at D,
   each realization with a posterior draw (as :mod:`~lkmrs_sched.ensembles.forecast` does).
3. **Score** against the log up to E, per LK-MRS plate: the exposures and the nights it
   has by E. For each, the forecast's median, 25–75 % and 5–95 % bands, whether the real
   value lies inside each band (inclusive: a discrete distribution's band covers at least
   its nominal share), and the randomized probability integral transform
   ``PIT = F(y−1) + V · (F(y) − F(y−1))`` with ``V ~ U(0, 1)`` (Czado, Gneiting & Held
   2009), uniform on (0, 1) when the forecast distribution is the truth's.

Coverage is reported over all plates and over the *informative* ones, whose forecast is
not a single value (a plate no realization can observe after D is trivially covered).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.ensembles.calibrate import CALIBRATION_STATISTICS, calibrate
from lkmrs_sched.ensembles.ensemble import Job, run_ensemble
from lkmrs_sched.ensembles.posterior import Posterior
from lkmrs_sched.sim.logstats import statistics
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sim.policy import LKMRS
from lkmrs_sched.sim.schedule import season_of
from lkmrs_sched.sim.selector import td_shares
from lkmrs_sched.sim.simulator import InitialState, build_simulation
from lkmrs_sched.sim.sky import prepared_sky

#: Parameters a hindcast fits (no release totals: they would look past the split).
HINDCAST_PARAMETERS = ("usable_scale", "rebalance_gain", "started_plate_boost",
                       "same_night_weight")
#: The bands scored: name → (lower, upper) quantile.
BANDS = {"50": (0.25, 0.75), "90": (0.05, 0.95)}
QUANTITIES = ("exposures", "nights")


def split_log(log: ObservationLog, until: dt.date) -> ObservationLog:
    """The log's pointings and exposures of the nights up to ``until`` (inclusive)."""
    keep_p = np.asarray(log.pointings["night"], dtype="datetime64[D]") <= np.datetime64(until)
    keep_e = np.asarray(log.exposures["night"], dtype="datetime64[D]") <= np.datetime64(until)
    nights = log.nights
    if len(nights):
        nights = nights[np.asarray(nights["night"], "datetime64[D]") <= np.datetime64(until)]
    ledger = log.ledger
    if len(ledger):
        ledger = ledger[np.asarray(ledger["night"], "datetime64[D]") <= np.datetime64(until)]
    return ObservationLog(log.pointings[keep_p], log.exposures[keep_e], nights, ledger,
                          {**log.info, "split_until": until.isoformat()})


def plate_counts(log: ObservationLog, names: list[str]) -> dict[str, tuple[int, int]]:
    """(exposures, distinct nights) of each LK-MRS plate in a log."""
    e = log.exposures[log.exposures["project"] == LKMRS]
    plate = np.asarray(e["plate_name"], dtype=str)
    night = np.asarray(e["night"], dtype=str)
    return {n: (int(np.sum(plate == n)), len(set(night[plate == n]))) for n in names}


def hindcast_realization(job: Job) -> dict[str, Any]:
    """Ensemble task: one forecast realization from the split, per-plate totals by E."""
    posterior: Posterior = job.options["posterior"]
    scenario, drawn = posterior.realization(job.scenario, job.index, job.master_seed)
    log = build_simulation(scenario, job.seed, initial=job.options["initial"]).run()
    new = plate_counts(log, job.options["plates"])
    nights_new = {n: set() for n in job.options["plates"]}
    e = log.exposures[log.exposures["project"] == LKMRS]
    for name, night in zip(np.asarray(e["plate_name"], str), np.asarray(e["night"], str),
                           strict=True):
        nights_new[name].add(night)
    return {"index": job.index, "drawn": drawn,
            "new": {n: [c[0], sorted(nights_new[n])] for n, c in new.items()}}


def _pit(samples: np.ndarray, y: float, v: float) -> float:
    """Randomized PIT of ``y`` in the empirical distribution of ``samples``."""
    below = np.mean(samples < y)
    at = np.mean(samples == y)
    return float(below + v * at)


def score_plate(samples: np.ndarray, y: float, v: float) -> dict[str, Any]:
    """Median, bands, coverage and PIT of one real value in one forecast distribution."""
    out: dict[str, Any] = {"real": float(y), "median": float(np.median(samples)),
                           "pit": _pit(samples, y, v),
                           "informative": bool(np.ptp(samples) > 0)}
    for band, (lo_q, hi_q) in BANDS.items():
        lo = float(np.quantile(samples, lo_q, method="inverted_cdf"))
        hi = float(np.quantile(samples, hi_q, method="inverted_cdf"))
        out[f"p{round(lo_q * 100):02d}"], out[f"p{round(hi_q * 100):02d}"] = lo, hi
        out[f"in{band}"] = bool(lo <= y <= hi)
    return out


@dataclass(frozen=True)
class HindcastResult:
    """A hindcast's per-plate scores and coverage.

    Attributes
    ----------
    plates : dict
        Plate → quantity (``exposures``, ``nights``) → :func:`score_plate`'s dict.
    coverage : dict
        ``{"all"|"informative": {quantity: {"50": share, "90": share, "plates": n}}}``.
    calibration : dict
        The training calibration's estimates (``Calibration.to_dict()``).
    meta : dict
        Split dates, realizations, seed, scenario.
    """

    plates: dict[str, dict[str, dict[str, Any]]]
    coverage: dict[str, dict[str, dict[str, float]]]
    calibration: dict[str, Any]
    meta: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the content of ``hindcast.json``)."""
        return {**self.meta, "coverage": self.coverage, "plates": self.plates,
                "calibration": self.calibration}

    def to_table(self) -> Table:
        """One row per plate and quantity: real, median, bands, inside, PIT."""
        rows = [(p, q, *(s[k] for k in ("real", "median", "p05", "p25", "p75", "p95", "in50",
                                         "in90", "pit", "informative")))
                for p, qs in sorted(self.plates.items()) for q, s in qs.items()]
        names = ("plate", "quantity", "real", "median", "p05", "p25", "p75", "p95", "in50",
                 "in90", "pit", "informative")
        table = Table(rows=rows, names=names)
        table.meta.update(self.meta)
        return table

    def pits(self, quantity: str, informative: bool = True) -> np.ndarray:
        """The PIT values of a quantity (of the informative plates only by default)."""
        return np.array([s[quantity]["pit"] for s in self.plates.values()
                         if s[quantity]["informative"] or not informative])

    def format(self) -> str:
        """A text summary: coverage, then the plates."""
        m = self.meta
        lines = [f"Hindcast: trained on the log to {m['train_until']}, forecast to "
                 f"{m['until']} ({m['realizations']} realizations)"]
        for group, by_q in self.coverage.items():
            for q, c in by_q.items():
                lines.append(f"  {group:<11} {q:<9} plates {c['plates']:2d}: 50 % band covers "
                             f"{c['50']:.0%}, 90 % band covers {c['90']:.0%}")
        lines.append(f"{'plate':<6} {'real exp':>8} {'median':>7} {'5-95 %':>11} {'PIT':>5}"
                     f" {'real nights':>11} {'median':>7} {'5-95 %':>9}")
        for p in sorted(self.plates):
            e, n = self.plates[p]["exposures"], self.plates[p]["nights"]
            lines.append(f"{p:<6} {e['real']:8.0f} {e['median']:7.0f} {e['p05']:5.0f}-"
                         f"{e['p95']:<5.0f} {e['pit']:5.2f} {n['real']:11.0f} {n['median']:7.0f}"
                         f" {n['p05']:4.0f}-{n['p95']:<4.0f}")
        return "\n".join(lines)


def _coverage(plates: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for group in ("all", "informative"):
        out[group] = {}
        for q in QUANTITIES:
            rows = [s[q] for s in plates.values() if group == "all" or s[q]["informative"]]
            out[group][q] = {"plates": len(rows),
                             **{b: (float(np.mean([r[f"in{b}"] for r in rows])) if rows
                                    else float("nan")) for b in BANDS}}
    return out


def _training_posterior(cal: Any, season: int) -> Posterior:
    cols = cal.draws_table()
    n = len(cal.weights)
    cols["usable_scale_mean"] = np.asarray(cols.get("usable_scale", np.ones(n)), float)
    cols["season_sigma"] = np.zeros(n)
    return Posterior(cols, {"season_first": str(season)})


def _check_dates(log: ObservationLog, scenario: Scenario, train_until: dt.date,
                 until: dt.date | None) -> dt.date:
    nights = np.asarray(log.exposures["night"], dtype="datetime64[D]")
    if not len(nights):
        raise InputError("log", ..., "an observed log with exposures", "empty log")
    last = dt.date.fromisoformat(str(nights.max()))
    until = until or last
    if not scenario.start < train_until < until:
        raise InputError("train_until", train_until.isoformat(),
                         f"a date after the scenario's start ({scenario.start}) and before "
                         f"until ({until})")
    if until > scenario.end:
        raise InputError("until", until.isoformat(),
                         f"a date up to the scenario's end ({scenario.end}); the log is taken "
                         "to be complete to it")
    if season_of(train_until) != season_of(until):
        raise InputError("until", until.isoformat(), "a date in the same season as "
                         f"train_until ({train_until}): the hindcast fits one season's scale")
    return until


def hindcast(log: ObservationLog, scenario: Scenario, train_until: dt.date,
             until: dt.date | None = None, *, draws: int = 600, accept_fraction: float = 0.1,
             realizations: int = 200, seed: int = 1, workers: int | None = None,
             out: Path | None = None, progress: bool = True,
             names: tuple[str, ...] = HINDCAST_PARAMETERS) -> HindcastResult:
    """Calibrate on ``log`` up to ``train_until``, forecast to ``until``, score (module doc).

    Parameters
    ----------
    log : ObservationLog
        The observed log (complete to ``until``).
    scenario : Scenario
        The uncalibrated base (e.g. ``year1-2018-prior.toml``): its start is the season's.
    draws, accept_fraction : int, float
        ABC prior draws and share kept.
    realizations : int
        Forecast realizations.
    out : Path, optional
        Folder for the resumable draws and realizations.
    """
    until = _check_dates(log, scenario, train_until, until)
    train = split_log(log, train_until)
    fit_scenario = scenario.replace(end=train_until)
    cal = calibrate(statistics(train), fit_scenario, names=list(names), draws=draws,
                    accept_fraction=accept_fraction, seed=seed, workers=workers,
                    store=out / "draws" if out else None, progress=progress,
                    statistic_names=list(CALIBRATION_STATISTICS))
    posterior = _training_posterior(cal, season_of(scenario.start))
    ahead = scenario.replace(start=train_until + dt.timedelta(days=1), end=until)
    prepared_sky(ahead)
    names_lk = _lkmrs_names(scenario)
    initial = InitialState.from_log(train, td_shares(ahead.selector), ahead.selector.nt_share)
    options = {"posterior": posterior, "initial": initial, "plates": names_lk}
    jobs = [Job(k, ahead, seed, options) for k in range(realizations)]
    manifest = {"task": "hindcast", "scenario_hash": ahead.hash, "seed": seed,
                "train_until": train_until.isoformat(), "until": until.isoformat(),
                "log_digest": log.content_digest(), "draws": draws}
    results = run_ensemble(hindcast_realization, jobs, store=out / "realizations" if out
                           else None, manifest=manifest, workers=workers, progress=progress,
                           label="hindcast realizations")
    plates = _scores(split_log(log, until), train, results, names_lk, seed)
    meta = {"train_until": train_until.isoformat(), "until": until.isoformat(),
            "realizations": realizations, "draws": draws, "seed": seed,
            "scenario": scenario.name, "log": log.info.get("source", "")}
    return HindcastResult(plates, _coverage(plates), cal.to_dict(), meta)


def _lkmrs_names(scenario: Scenario) -> list[str]:
    from lkmrs_sched.sky.footprints import load_plates

    return sorted(str(n) for n in load_plates(scenario.path(
        scenario.selector.lkmrs_footprints)).plate_name)


def _scores(real_log: ObservationLog, train: ObservationLog, results: list[dict[str, Any]],
            names: list[str], seed: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Per plate and quantity: the real value by E in the forecast distribution."""
    real = plate_counts(real_log, names)
    e = train.exposures[train.exposures["project"] == LKMRS]
    plate, night = np.asarray(e["plate_name"], str), np.asarray(e["night"], str)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x917,)))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        base_nights = set(night[plate == name])
        exp = np.array([int(np.sum(plate == name)) + r["new"][name][0] for r in results])
        nts = np.array([len(base_nights | set(r["new"][name][1])) for r in results])
        v = rng.uniform(size=2)  # one per quantity, for every plate in order
        out[name] = {"exposures": score_plate(exp, real[name][0], v[0]),
                     "nights": score_plate(nts, real[name][1], v[1])}
    return out


def pit_figure(result: HindcastResult, path: str | Path, bins: int = 5) -> Path:
    """Histograms of the informative plates' PIT values (flat when calibrated)."""
    from lkmrs_sched.plots import figures as plots

    fig, axes = plots.plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    for ax, q in zip(axes, QUANTITIES, strict=True):
        pit = result.pits(q)
        ax.hist(pit, bins=np.linspace(0, 1, bins + 1), color="tab:blue", alpha=0.7,
                edgecolor="white")
        ax.axhline(len(pit) / bins, color="k", ls="--", lw=1, label="uniform")
        ax.set_xlabel(f"PIT of the real {q}")
        ax.set_title(f"{len(pit)} informative plates")
    axes[0].set_ylabel("plates")
    axes[0].legend()
    m = result.meta
    fig.suptitle(f"Hindcast {m['train_until']} -> {m['until']}")
    return plots.save(fig, path)
