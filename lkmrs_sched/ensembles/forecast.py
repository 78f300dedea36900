"""Forecast the remaining seasons from an observed state.

Each realization starts from an observed log (Table 2 by default: the state after
2019-06-14), simulates the scenario's nights to its end with the observed exposures per
plate and hours per project as the starting state, keeps its log
(``DIR/logs/realization-NNNN.sqlite``), and reduces the observed and simulated LK-MRS
exposures together to per-plate and per-star outcomes. The per-star numbers come from
:func:`lkmrs_sched.synth.outcomes.star_outcomes`, a fast path that computes each star's blue S/N
per exposure with the same S/N model, population and fibres as ``synth`` (proven equal in
``tests/test_outcomes.py``) and the precision from the Table 4 law via Eq. 2.

Realization ``k`` uses the seed ``SeedSequence(S, spawn_key=(k,))``, so a forecast is
identical whatever the number of workers or the backend (local processes or Dask), and two
scenarios compared with the same ``S`` share their weather (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table, vstack

from lkmrs_sched.core.atomic import write_npz
from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.ensembles.ensemble import Job, percentile_summary, run_ensemble
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
#: Survey totals summarised over realizations.
TOTALS = ("lkmrs_exposures_new", "lkmrs_exposures_total", "plates_at_goal",
          "spectra_snr_gt_10", "stars_ge_10_good_epochs", "stars_ge_30_good_epochs",
          "stars_ge_60_good_epochs", "rv_tested", "rv_variable_detections",
          "binaries_detected", "false_detections", "chi2_rv_variable_detections",
          "chi2_binaries_detected", "chi2_false_detections")
#: Detection criteria whose completeness against period is reported.
CRITERIA = {"completeness_vs_period": "range > 3 sigma_RV(S/N) (brief)",
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
    store : str or None
        Folder for the realization logs and per-star arrays.
    """

    initial: InitialState
    observed: Table
    months: list[str]
    stars: bool
    store: str | None


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


def forecast_realization(job: Job) -> dict[str, Any]:
    """Ensemble task: one realization of a forecast (see the module docstring)."""
    fin: ForecastInput = job.options["input"]
    scenario = job.scenario
    log = build_simulation(scenario, job.seed, initial=fin.initial).run()
    if fin.store:
        log.write(Path(fin.store) / "logs" / f"realization-{job.index:04d}.sqlite")
    new = log.exposures[log.exposures["project"] == LKMRS]
    combined = vstack([fin.observed[new.colnames], new], metadata_conflicts="silent")
    lk = _lkmrs_plates(scenario)
    names = [str(n) for n in lk.plate_name]
    per_plate = _plate_outcomes(combined, names, scenario.selector.goal_exposures, fin.months)
    result: dict[str, Any] = {
        "index": job.index,
        "plates": per_plate,
        "totals": {"lkmrs_exposures_new": len(new), "lkmrs_exposures_total": len(combined),
                   "plates_at_goal": sum(p["goal_date"] is not None
                                         for p in per_plate.values())},
    }
    if fin.stars:
        from lkmrs_sched.synth import outcomes

        catalogue = _catalogue(lk, scenario)
        o = outcomes.star_outcomes(combined, lk, scenario, job.seed, catalogue=catalogue)
        totals = outcomes.survey_totals(o)
        chi2 = totals.pop("chi2")
        result["completeness_vs_period"] = totals.pop("completeness_vs_period")
        result["completeness_vs_period_chi2"] = chi2.pop("completeness_vs_period")
        result["totals"].update(totals)
        result["totals"].update({f"chi2_{k}": v for k, v in chi2.items()})
        if fin.store:
            path = Path(fin.store) / "stars" / f"realization-{job.index:04d}.npz"
            write_npz(path, {f: np.asarray(getattr(o, f)) for f in (*STAR_IDENTITY, *STAR_FIELDS)},
                      compressed=True)
    return result


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
                 out: Path | None = None, workers: int | None = None,
                 dask_address: Any = None, stars: bool = True, progress: bool = True,
                 keep_logs: bool = True) -> dict[str, Any]:
    """Run a forecast ensemble and summarise it (the content of ``forecast.json``).

    Parameters
    ----------
    scenario : Scenario
        The remaining seasons (its start moves past the observed log's last night).
    log : ObservationLog
        The observed starting state.
    realizations, seed : int
    out : Path, optional
        Output folder: per-realization results (resume), logs, per-star arrays.
    workers, dask_address
        Local processes, or a Dask scheduler address / ``distributed.Client``.
    stars : bool
        Per-star outcomes (slower).
    """
    if realizations < 1:
        raise InputError("--realizations", realizations, "a positive integer")
    scenario = start_after(scenario, log)
    observed = log.exposures[log.exposures["project"] == LKMRS]
    prepared_sky(scenario)  # compute/cache the sky once, before workers start
    initial = InitialState.from_log(log, td_shares(scenario.selector))
    first = dt.date.fromisoformat(min(np.asarray(observed["night"], dtype=str))) \
        if len(observed) else scenario.start
    months = month_grid(first, scenario.end)
    store = out / "realizations" if out is not None else None
    fin = ForecastInput(initial, observed, months, stars,
                        str(out) if (out is not None and keep_logs) else None)
    jobs = [Job(k, scenario, seed, {"input": fin}) for k in range(realizations)]
    manifest = {"task": "forecast", "scenario_hash": scenario.hash, "seed": seed,
                "start": scenario.start.isoformat(), "end": scenario.end.isoformat(),
                "log_digest": log.content_digest(), "stars": stars}
    results = run_ensemble(forecast_realization, jobs, store=store, manifest=manifest,
                           workers=workers, dask_address=dask_address, progress=progress,
                           label=f"{scenario.name} forecast")
    return summarise(scenario, log, results, seed, months)


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
             f"{'P(>=' + str(goal) + ')':>8} {'median date of ' + str(goal):>17}"]
    for name in sorted(summary["plates"]):
        p = summary["plates"][name]
        e, n = p["exposures"], p["nights"]
        lines.append(f"{name:<6} {p['observed_exposures']:8d} "
                     f"{e['median']:8.0f} [{e['p05']:4.0f}-{e['p95']:4.0f}]    "
                     f"{n['median']:4.0f} [{n['p05']:3.0f}-{n['p95']:3.0f}] "
                     f"{p['p_reach_goal']:8.0%} {p['goal_date']['median'] or '-':>17}")
    lines.append("Survey totals (median [5-95 %]):")
    for k, v in summary["totals"].items():
        lines.append(f"  {k:<28} {v['median']:10.0f} [{v['p05']:.0f}-{v['p95']:.0f}]")
    return "\n".join(lines)


#: Paired metrics reported by :func:`compare`.
COMPARE_METRICS = ("lkmrs_exposures_new", "plates_at_goal", "stars_ge_10_good_epochs",
                   "stars_ge_30_good_epochs", "stars_ge_60_good_epochs", "binaries_detected")


def paired_differences(base: list[dict[str, Any]], other: list[dict[str, Any]]
                       ) -> dict[str, dict[str, float]]:
    """Paired differences (other − base) of realization totals with intervals.

    For each metric: the mean difference with a 95 % confidence interval (Student t over
    realizations), the median and the 5–95 % range of the per-realization differences,
    and the share of realizations where ``other`` is larger.
    """
    from scipy import stats

    out = {}
    for k in COMPARE_METRICS:
        if k not in base[0]["totals"] or k not in other[0]["totals"]:
            continue
        d = np.array([o["totals"][k] - b["totals"][k] for b, o in zip(base, other, strict=True)],
                     dtype=float)
        n = len(d)
        sem = d.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        half = stats.t.ppf(0.975, n - 1) * sem if n > 1 else np.nan
        out[k] = {"mean": float(d.mean()), "ci95_lo": float(d.mean() - half),
                  "ci95_hi": float(d.mean() + half), "median": float(np.median(d)),
                  "p05": float(np.percentile(d, 5)), "p95": float(np.percentile(d, 95)),
                  "share_positive": float(np.mean(d > 0))}
    return out
