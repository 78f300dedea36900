"""Forecast the remaining seasons from an observed state.

Each realization starts from an observed log (Table 2 by default: the state after
2019-06-14), simulates the scenario's nights to its end with the observed exposures per
plate and hours per project as the starting state, keeps its log
(``DIR/logs/realization-NNNN.sqlite``), and reduces the observed and simulated LK-MRS
exposures together to per-plate and per-star outcomes. The per-star numbers come from
:func:`lkmrs_sched.synth.outcomes.star_outcomes`, a fast path that computes each star's blue S/N
per exposure with the same S/N model, population and fibres as ``synth`` (proven equal in
``tests/test_outcomes.py``) and the precision from the Table 4 law via Eq. 2.

**Uncertainty.** By default each realization draws its parameters from the posterior
kept with the calibrated scenario (``[scenario] posterior``;
:class:`~lkmrs_sched.ensembles.posterior.Posterior`), and its seasons' usable-time scales
vary from season to season with the size estimated from the release totals; with
``point_estimate=True`` every realization uses the scenario's own (posterior-median)
values and no season variation, as before. Each realization also reports the realised
shares of the hours (:data:`~lkmrs_sched.sim.logstats.SHARE_STATISTICS`).

Realization ``k`` uses the seed ``SeedSequence(S, spawn_key=(k,))`` (and its posterior
draw ``SeedSequence(S, spawn_key=(k, 0x9057))``), so a forecast is identical whatever the
number of workers or the backend (local processes or Dask), and two scenarios compared
with the same ``S`` share their weather and their posterior draws (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table, vstack

from lkmrs_sched.core.atomic import npz_bytes
from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.statistics import Statistic, StatisticSet
from lkmrs_sched.ensembles.ensemble import (
    Job,
    Outcome,
    allocated_shares,
    format_shares,
    percentile_summary,
    run_ensemble,
    share_summary,
)
from lkmrs_sched.ensembles.posterior import Posterior, load_posterior
from lkmrs_sched.sim.logstats import reported_shares
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sim.policy import LKMRS
from lkmrs_sched.sim.selector import td_shares
from lkmrs_sched.sim.simulator import InitialState, build_simulation
from lkmrs_sched.sim.sky import prepared_sky

#: Per-star arrays kept for every realization (``DIR/stars/realization-NNNN.npz``).
STAR_FIELDS = ("n_good", "baseline_days", "sigma_teff", "sigma_logg", "sigma_feh", "sigma_rv",
               "rv_variable_detected")
#: Per-star identity columns, the same in every realization.
STAR_IDENTITY = ("uid", "plate", "gaia_g", "is_binary", "period_d")
_FC = frozenset({"forecast"})
_BOTH = frozenset({"forecast", "compare"})


def _star(name: str, doc: str, reports: frozenset[str] = _FC, unit: str = "") -> Statistic:
    """A per-star survey total, read from :func:`~lkmrs_sched.synth.outcomes.survey_totals`
    (``chi2_…`` and ``paper_…`` from the sub-dicts of those criteria)."""
    for crit in ("chi2", "paper"):
        if name.startswith(crit + "_"):
            key = name[len(crit) + 1:]
            return Statistic(name, lambda c, crit=crit, key=key: c[crit][key], unit, doc,
                             reports)
    return Statistic(name, lambda c: c[name], unit, doc, reports)


#: Survey totals of one realization from its LK-MRS exposures (context: PlateTotals).
PLATE_TOTALS = StatisticSet(
    Statistic("lkmrs_exposures_new", lambda c: c.new, "", "LK-MRS exposures forecast", _BOTH),
    Statistic("lkmrs_exposures_total", lambda c: c.total, "",
              "LK-MRS exposures, observed and forecast", _FC),
    Statistic("plates_at_goal", lambda c: c.at_goal, "",
              "LK-MRS plates with at least goal_exposures", _BOTH),
)
#: Per-star survey totals of one realization (context: the outcomes' survey totals).
STAR_TOTALS = StatisticSet(
    _star("spectra_snr_gt_10", "good (blue S/N > 10) target spectra"),
    _star("stars_ge_10_good_epochs", "targets with >= 10 good epochs", _BOTH),
    _star("stars_ge_30_good_epochs", "targets with >= 30 good epochs", _BOTH),
    _star("stars_ge_60_good_epochs", "targets with >= 60 good epochs", _BOTH),
    _star("rv_tested", "targets with >= 2 good epochs in LASP's range"),
    _star("median_sigma_rv", "median Eq. 2 RV scatter, targets with >= 10 good epochs",
          unit="km/s"),
    _star("median_sigma_rv_mean", "median error of the mean RV, same targets", unit="km/s"),
    _star("rv_variable_detections", "RV-variable candidates (robust test)"),
    _star("binaries_detected", "true binaries among them", _BOTH),
    _star("variables_detected", "single intrinsic RV variables among them"),
    _star("false_detections", "constant stars (neither) among them"),
    _star("paper_rv_variable_detections", "RV-variable candidates (paper's 3-sigma range)"),
    _star("paper_binaries_detected", "true binaries among them (paper's test)"),
    _star("paper_variables_detected", "single intrinsic RV variables among them (paper's test)"),
    _star("paper_false_detections", "constant stars (neither) among them (paper's test)"),
    _star("chi2_rv_variable_detections", "RV-variable candidates (chi2 test)"),
    _star("chi2_binaries_detected", "true binaries among them (chi2)"),
    _star("chi2_variables_detected", "single intrinsic RV variables among them (chi2)"),
    _star("chi2_false_detections", "constant stars (neither) among them (chi2)"),
)
#: Survey totals summarised over realizations.
TOTALS = (*PLATE_TOTALS.names(), *STAR_TOTALS.names())
#: Detection criteria whose completeness against period is reported.
CRITERIA = {"completeness_vs_period": "robust: likelihood ratio, core + tail errors, p < 1e-3",
            "completeness_vs_period_paper": "paper: range > 3 sigma_RV(S/N) (brief)",
            "completeness_vs_period_chi2": "chi2 probability < 1e-3"}


def month_grid(first: dt.date, last: dt.date) -> list[str]:
    """Month ends (ISO dates) from ``first``'s month to ``last``'s month."""
    out = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append((dt.date(ny, nm, 1) - dt.timedelta(days=1)).isoformat())
        y, m = ny, nm
    return out


def start_after(scenario: Scenario, log: ObservationLog) -> Scenario:
    """The scenario starting the night after the observed log's last night (if later)."""
    nights = np.asarray(log.exposures["night"], dtype=str)
    if len(nights) == 0:
        return scenario
    last = dt.date.fromisoformat(max(nights))
    if scenario.start <= last:
        scenario = scenario.replace(start=last + dt.timedelta(days=1))
    if scenario.end < scenario.start:
        raise InputError(f"{scenario.source}: [scenario] end", scenario.end.isoformat(),
                         f"a date after the observed log's last night ({last})",
                         "nothing left to forecast")
    return scenario


@dataclass(frozen=True)
class ForecastInput:
    """What every realization needs besides the scenario (picklable).

    Attributes
    ----------
    initial : InitialState
        Exposures per plate and hours per project of the observed log.
    observed : Table
        The observed LK-MRS exposures (with times and conditions).
    months : list of str
        Month ends of the fan chart's grid.
    stars : bool
        Compute per-star outcomes.
    keep_files : bool
        Return the realization's log and per-star arrays (the client writes them).
    posterior : Posterior or None
        Posterior draws (None: the scenario's point estimate for every realization).
    per_star : str
        "fast" (:func:`~lkmrs_sched.synth.outcomes.star_outcomes`) or "full"
        (:func:`~lkmrs_sched.ensembles.per_star.full_chain_outcomes`: synth and reduce).
    """

    initial: InitialState
    observed: Table
    months: list[str]
    stars: bool
    keep_files: bool
    posterior: Posterior | None = None
    per_star: str = "fast"


@dataclass(frozen=True)
class PlateTotals:
    """LK-MRS exposure counts of one realization (the context of :data:`PLATE_TOTALS`)."""

    new: int
    total: int
    at_goal: int


def _plate_outcomes(combined: Table, names: list[str], goal: int, months: list[str]
                    ) -> dict[str, Any]:
    nights = np.asarray(combined["night"], dtype=str)
    plate = np.asarray(combined["plate_name"], dtype=str)
    out: dict[str, Any] = {}
    month_ends = np.array(months, dtype="datetime64[D]")
    for name in names:
        mine = np.sort(nights[plate == name]).astype("datetime64[D]")
        reach = str(mine[goal - 1]) if len(mine) >= goal else None
        out[name] = {"exposures": len(mine), "nights": len(np.unique(mine)), "goal_date": reach,
                     "cumulative": np.searchsorted(mine, month_ends, side="right").tolist()}
    return out


def forecast_realization(job: Job) -> Outcome:
    """Ensemble task: one realization of a forecast (see the module docstring).

    Returns the result with, when kept, the log (``logs/realization-NNNN.sqlite``) and
    per-star arrays (``stars/realization-NNNN.npz``) as bytes: the client writes them.
    """
    fin: ForecastInput = job.options["input"]
    scenario, drawn = job.scenario, None
    if fin.posterior is not None:
        scenario, drawn = fin.posterior.realization(job.scenario, job.index, job.master_seed)
    log = build_simulation(scenario, job.seed, initial=fin.initial).run()
    files: dict[str, bytes] = {}
    if fin.keep_files:
        files[f"logs/realization-{job.index:04d}.sqlite"] = log.to_bytes()
    new = log.exposures[log.exposures["project"] == LKMRS]
    combined = vstack([fin.observed[new.colnames], new], metadata_conflicts="silent")
    lk = _lkmrs_plates(scenario)
    names = [str(n) for n in lk.plate_name]
    per_plate = _plate_outcomes(combined, names, scenario.selector.goal_exposures, fin.months)
    counts = PlateTotals(len(new), len(combined),
                         sum(p["goal_date"] is not None for p in per_plate.values()))
    result: dict[str, Any] = {"index": job.index, "plates": per_plate,
                              "totals": PLATE_TOTALS.compute(counts),
                              "shares": reported_shares(log, "forecast"),
                              "releases": _release_output(scenario, log)}
    if drawn is not None:
        result["drawn"] = drawn
    if fin.stars:
        from lkmrs_sched.synth import outcomes

        catalogue = _catalogue(lk, scenario)
        if fin.per_star == "full":
            from lkmrs_sched.ensembles.per_star import full_chain_outcomes

            o = full_chain_outcomes(combined, lk, scenario, job.seed, catalogue=catalogue)
        else:
            o = outcomes.star_outcomes(combined, lk, scenario, job.seed, catalogue=catalogue)
        totals = outcomes.survey_totals(o)
        result["completeness_vs_period"] = totals["completeness_vs_period"]
        for crit in ("paper", "chi2"):
            result[f"completeness_vs_period_{crit}"] = totals[crit]["completeness_vs_period"]
        result["totals"].update(STAR_TOTALS.compute(totals))
        if fin.keep_files:
            files[f"stars/realization-{job.index:04d}.npz"] = npz_bytes(
                {f: np.asarray(getattr(o, f)) for f in (*STAR_IDENTITY, *STAR_FIELDS)},
                compressed=True)
    return Outcome(result, files)


def _release_output(scenario: Scenario, log: ObservationLog) -> dict[str, float]:
    """TD and NT spectra, as LAMOST's releases count them, of the release windows that
    lie wholly inside the simulated period."""
    from lkmrs_sched.ensembles.calibrate import observed_releases, release_context

    _, windows = observed_releases(scenario)
    inside = [w for w in windows if scenario.start <= w.first + dt.timedelta(days=62)
              and w.last <= scenario.end]
    if not inside:
        return {}
    context, stats = release_context(scenario, log)
    names = [n for w in inside for n in (f"td_spectra_{w.tag}", f"nt_spectra_{w.tag}")]
    return {n: float(stats[n].function(context)) for n in names}


_CATALOGUES: dict[str, Any] = {}


def _lkmrs_plates(scenario: Scenario) -> Any:
    """The LK-MRS plates with their Table 1 counts (the merged set keeps no counts)."""
    from lkmrs_sched.sky.footprints import load_plates

    path = str(scenario.path(scenario.selector.lkmrs_footprints))
    if path not in _CATALOGUES:
        _CATALOGUES[path] = load_plates(path)
    return _CATALOGUES[path]


def _catalogue(lk: Any, scenario: Scenario) -> Any:
    """The star catalogue of the LK-MRS plates, built once per process."""
    from lkmrs_sched.synth import outcomes

    key = repr((scenario.canonical()["population"], list(lk.plan_id)))
    if key not in _CATALOGUES:
        _CATALOGUES[key] = outcomes.build_star_catalogue(lk, scenario)
    return _CATALOGUES[key]


def run_forecast(scenario: Scenario, log: ObservationLog, realizations: int, seed: int, *,
                 out: str | Path | None = None, workers: int | None = None,
                 dask_address: Any = None, stars: bool = True, progress: bool = True,
                 keep_logs: bool = True, point_estimate: bool = False,
                 per_star: str = "fast") -> ForecastResult:
    """Run a forecast ensemble and summarise it (``to_dict()`` is ``forecast.json``).

    Parameters
    ----------
    scenario : Scenario
        The remaining seasons (its start moves past the observed log's last night).
    log : ObservationLog
        The observed starting state.
    realizations, seed : int
    out : str or Path, optional
        Output folder: per-realization results (resume), logs, per-star arrays (all
        written by this process, whatever the backend).
    workers, dask_address
        Local processes, or a Dask scheduler address / ``distributed.Client``.
    stars : bool
        Per-star outcomes (slower).
    point_estimate : bool
        Use the scenario's own values in every realization, with no season variation,
        instead of its posterior draws (a scenario without a posterior always does).
    per_star : {"fast", "full"}
        Per-star outcomes from the fast path or the full chain (synth + reduce).
    """
    if realizations < 1:
        raise InputError("realizations", realizations, "a positive integer")
    out = Path(out) if out is not None else None
    if per_star not in ("fast", "full"):
        raise InputError("per_star", per_star, "fast or full")
    scenario = start_after(scenario, log)
    observed = log.exposures[log.exposures["project"] == LKMRS]
    prepared_sky(scenario)  # compute/cache the sky once, before workers start
    posterior = None if point_estimate else load_posterior(scenario)
    initial = InitialState.from_log(log, td_shares(scenario.selector),
                                    scenario.selector.nt_share)
    first = dt.date.fromisoformat(min(np.asarray(observed["night"], dtype=str))) \
        if len(observed) else scenario.start
    months = month_grid(first, scenario.end)
    store = out / "realizations" if out is not None else None
    fin = ForecastInput(initial, observed, months, stars, out is not None and keep_logs,
                        posterior, per_star)
    jobs = [Job(k, scenario, seed, {"input": fin}) for k in range(realizations)]
    manifest = {"task": "forecast", "scenario_hash": scenario.hash, "seed": seed,
                "start": scenario.start.isoformat(), "end": scenario.end.isoformat(),
                "log_digest": log.content_digest(), "stars": stars,
                "uncertainty": "point estimate" if posterior is None else
                f"posterior ({len(posterior)} draws)",
                **({"per_star": per_star} if per_star != "fast" else {})}
    results = run_ensemble(forecast_realization, jobs, store=store, manifest=manifest,
                           workers=workers, dask_address=dask_address, progress=progress,
                           label=f"{scenario.name} forecast", files=out)
    return ForecastResult(summarise(scenario, log, results, seed, months), results)


@dataclass(frozen=True)
class ForecastResult:
    """A forecast: the summary over realizations and each realization's own results.

    Attributes
    ----------
    summary : dict
        Per plate (exposures, nights, chance and date of the goal, cumulative bands),
        survey totals (:data:`TOTALS`) and completeness against period.
    realizations : list of dict
        Each realization's per-plate outcomes and totals, in realization order.
    """

    summary: dict[str, Any]
    realizations: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data (the content of ``forecast.json``)."""
        return self.summary

    def to_table(self) -> Table:
        """One row per plate: observed and forecast exposures and nights, the goal."""
        rows = self.summary["plates"]
        names = sorted(rows)

        def col(f: Any) -> list:
            return [f(rows[n]) for n in names]

        goal = self.summary["goal_exposures"]
        table = Table({"plate": names,
                       "observed_exposures": col(lambda r: r["observed_exposures"])})
        for key in ("exposures", "nights"):
            for q in ("median", "p05", "p95"):
                table[f"{key}_{q}"] = col(lambda r, key=key, q=q: r[key][q])
        table["p_reach_goal"] = col(lambda r: r["p_reach_goal"])
        table["goal_date_median"] = col(lambda r: r["goal_date"]["median"] or "")
        table["p_reach_goal"].description = f"share of realizations reaching {goal} exposures"
        table["goal_date_median"].description = (
            f"median date of the {goal}th exposure over the realizations that reach it")
        table.meta.update({k: self.summary[k] for k in ("scenario", "start", "end",
                                                        "realizations", "seed")})
        return table

    def format(self) -> str:
        """A readable text summary."""
        return format_forecast(self.summary)


def _date_quantiles(dates: list[str]) -> dict[str, str | None]:
    if not dates:
        return {"median": None, "p05": None, "p95": None}
    d = np.sort(np.array(dates, dtype="datetime64[D]").astype(np.int64))
    q = {k: int(np.percentile(d, v, method="nearest")) for k, v in
         (("median", 50), ("p05", 5), ("p95", 95))}
    return {k: str(np.datetime64(v, "D")) for k, v in q.items()}


def summarise(scenario: Scenario, log: ObservationLog, results: list[dict[str, Any]],
              seed: int, months: list[str]) -> dict[str, Any]:
    """Aggregate realization results into the forecast summary."""
    names = list(results[0]["plates"])
    observed_counts = log.exposures_per_plate(LKMRS)
    goal = scenario.selector.goal_exposures
    plates: dict[str, Any] = {}
    seasons = sorted({f"{y}-06-30" for y in range(scenario.start.year, scenario.end.year + 1)
                      if dt.date(y, 6, 30) >= scenario.start})
    for name in names:
        rs = [r["plates"][name] for r in results]
        reached = [r["goal_date"] for r in rs if r["goal_date"] is not None]
        cum = np.array([r["cumulative"] for r in rs])
        plates[name] = {
            "observed_exposures": int(observed_counts.get(name, 0)),
            "exposures": percentile_summary([r["exposures"] for r in rs]),
            "nights": percentile_summary([r["nights"] for r in rs]),
            "p_reach_goal": len(reached) / len(rs),
            "goal_date": _date_quantiles(reached),
            "p_reach_goal_by": {s: float(np.mean([d is not None and d <= s for d in
                                                  (r["goal_date"] for r in rs)]))
                                for s in seasons},
            "cumulative": {"months": months,
                           "median": np.median(cum, axis=0).tolist(),
                           "p05": np.percentile(cum, 5, axis=0).tolist(),
                           "p95": np.percentile(cum, 95, axis=0).tolist()},
        }
    totals = {k: percentile_summary([r["totals"][k] for r in results])
              for k in TOTALS if k in results[0]["totals"]}
    out: dict[str, Any] = {
        "scenario": scenario.name, "scenario_hash": scenario.hash,
        "start": scenario.start.isoformat(), "end": scenario.end.isoformat(),
        "from_log": log.info.get("source", ""), "realizations": len(results), "seed": seed,
        "goal_exposures": goal, "plates": plates, "totals": totals,
        "uncertainty": ("posterior draws and season-to-season variation"
                        if "drawn" in results[0] else "point estimate"),
        "shares": share_summary([r["shares"] for r in results if "shares" in r],
                                allocated_shares(scenario)),
        "releases": _release_summary(scenario, results),
    }
    for key, criterion in CRITERIA.items():
        if key not in results[0]:
            continue
        out[key] = {"criterion": criterion, "bins": [
            {"log10_period_lo": b["log10_period_lo"], "log10_period_hi": b["log10_period_hi"],
             "n_binaries": percentile_summary([r[key][i]["n_binaries"] for r in results])[
                 "median"],
             **percentile_summary([r[key][i]["completeness"] for r in results])}
            for i, b in enumerate(results[0][key])]}
    return out


def _release_summary(scenario: Scenario, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The release windows' model output against the real totals (median, 5-95 %, inside)."""
    from lkmrs_sched.ensembles.calibrate import observed_releases

    names = list(results[0].get("releases", {}))
    if not names:
        return {}
    real, _ = observed_releases(scenario)
    return {n: percentile_summary([r["releases"][n] for r in results], real[n]) for n in names}


def star_table(out: Path, n: int) -> Table | None:
    """Per-star medians (and 5–95 % of good epochs) over the stored realizations.

    Returns ``None`` when a realization's per-star file is missing (``--no-stars``).
    """
    paths = [out / "stars" / f"realization-{k:04d}.npz" for k in range(n)]
    if not paths or not all(p.exists() for p in paths):
        return None
    data: dict[str, list[np.ndarray]] = {f: [] for f in STAR_FIELDS}
    with np.load(paths[0]) as z:
        table = Table({f: z[f] for f in STAR_IDENTITY})
    for p in paths:
        with np.load(p) as z:
            for f in STAR_FIELDS:
                data[f].append(z[f])
    good = np.array(data["n_good"], dtype=float)
    table["n_good_median"] = np.median(good, axis=0)
    table["n_good_p05"] = np.percentile(good, 5, axis=0)
    table["n_good_p95"] = np.percentile(good, 95, axis=0)
    table["baseline_days_median"] = np.median(np.array(data["baseline_days"], float), axis=0)
    with warnings.catch_warnings():  # stars never observed twice: all-NaN medians are NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        for f in ("sigma_teff", "sigma_logg", "sigma_feh", "sigma_rv"):
            table[f"{f}_median"] = np.nanmedian(np.array(data[f], dtype=float), axis=0)
    table["p_rv_variable_detected"] = np.mean(
        np.array(data["rv_variable_detected"], dtype=float), axis=0)
    return table


def format_forecast(summary: dict[str, Any]) -> str:
    """A readable text summary of a forecast."""
    goal = summary["goal_exposures"]
    lines = [f"Forecast {summary['scenario']}: {summary['start']} .. {summary['end']}, "
             f"{summary['realizations']} realizations (seed {summary['seed']}), "
             f"from {Path(summary['from_log']).name or 'the observed log'}",
             f"{'plate':<6} {'observed':>8} {'exposures by end':>22} {'nights':>13} "
             f"{'P(>=' + str(goal) + ')':>8} {'median date of ' + str(goal):>17}",
             f"(median date of {goal}: over the realizations that reach {goal} exposures "
             f"only; P(>={goal}) is their share)"]
    for name in sorted(summary["plates"]):
        p = summary["plates"][name]
        e, n = p["exposures"], p["nights"]
        lines.append(f"{name:<6} {p['observed_exposures']:8d} "
                     f"{e['median']:8.0f} [{e['p05']:4.0f}-{e['p95']:4.0f}]    "
                     f"{n['median']:4.0f} [{n['p05']:3.0f}-{n['p95']:3.0f}] "
                     f"{p['p_reach_goal']:8.0%} {p['goal_date']['median'] or '-':>17}")
    lines.append("Survey totals (median [5-95 %]):")
    for k, v in summary["totals"].items():
        f = ".3g" if abs(v["median"]) < 100 else ".0f"  # the km/s precisions
        lines.append(f"  {k:<28} {v['median']:10{f}} [{v['p05']:{f}}-{v['p95']:{f}}]")
    if summary.get("releases"):
        lines.append("Release totals of the seasons forecast (spectra as LAMOST counts them; "
                     "median [5-95 %], real):")
        for k, v in summary["releases"].items():
            lines.append(f"  {k:<28} {v['median']:10.0f} [{v['p05']:.0f}-{v['p95']:.0f}] "
                         f"real {v['observed']:.0f} ({'inside' if v['within'] else 'OUTSIDE'})")
    if summary.get("shares"):
        lines.append(f"Realised shares of the forecast's hours ({summary.get('uncertainty')}; "
                     "median [5-95 %], pooled: of all realizations' hours together):")
        lines += format_shares(summary["shares"])
    return "\n".join(lines)
