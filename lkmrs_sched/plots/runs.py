"""The figures each command writes into its run folder, one call per command.

The commands call these so their own code stays short; the report
(:mod:`lkmrs_sched.plots.report`) embeds whatever PNGs a folder holds, with the captions
of :data:`lkmrs_sched.plots.report.CAPTIONS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lkmrs_sched.plots import compare, forecast, logs, sky
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sim.policy import LKMRS


def _lkmrs(plates: Any) -> Any:
    return plates.subset(plates.project == LKMRS)


def simulate_figures(log: ObservationLog, run_sky: Any, goal: int, out: Path) -> list[Path]:
    """Figures of one simulated log.

    Parameters
    ----------
    log : ObservationLog
    run_sky : Sky
        The simulation's almanac, plates and windows (:class:`lkmrs_sched.sim.sky.Sky`).
    goal : int
        Exposures per plate aimed at.
    out : Path
        The run folder.
    """
    lk = _lkmrs(run_sky.plates)
    return [logs.exposures_per_plate(log, lk, out / "exposures_per_plate.png", goal=goal),
            logs.visit_calendar(log, lk, out / "visit_calendar.png"),
            logs.hours_per_month([logs.ledger_of(log)], out / "hours_per_month.png"),
            logs.season_calendar(run_sky.windows, [str(n) for n in lk.plate_name],
                                 out / "season_calendar.png"),
            sky.footprint_map(run_sky.plates, out / "footprints.png")]


def forecast_figures(summary: dict[str, Any], realizations: list[dict[str, Any]],
                     observed: ObservationLog, run_sky: Any, out: Path,
                     stars: Any = None) -> list[Path]:
    """Figures of a forecast folder.

    Parameters
    ----------
    summary : dict
        ``forecast.json``.
    realizations : list of dict
        Each realization's results (for the goal-date distribution).
    observed : ObservationLog
        The observed starting state.
    run_sky : Sky
        The forecast's sky (its almanac covers the forecast period).
    out : Path
        The forecast folder; realization logs in ``out/logs`` feed the hours per month.
    stars : Table, optional
        Per-star medians (``stars.ecsv``).
    """
    lk = _lkmrs(run_sky.plates)
    paths = [forecast.fan_chart(summary, observed, lk, out / "fan_chart.png"),
             forecast.exposures_forecast(summary, lk, out / "exposures_forecast.png"),
             forecast.goal_chances(summary, out / "goal_chances.png"),
             forecast.goal_dates(summary, out / "goal_dates.png", realizations),
             sky.completion_map(summary, lk, out / "sky_map.png"),
             sky.footprint_map(run_sky.plates, out / "footprints.png"),
             logs.season_calendar(run_sky.windows, [str(n) for n in lk.plate_name],
                                  out / "season_calendar.png")]
    log_files = [out / "logs" / f"realization-{k:04d}.sqlite"
                 for k in range(summary["realizations"])]
    if log_files and all(p.exists() for p in log_files):
        paths.append(logs.hours_per_month([logs.read_ledger(p) for p in log_files],
                                          out / "hours_per_month.png"))
    if stars is not None:
        paths.append(forecast.epochs_per_star(stars, out / "epochs_per_star.png"))
    done = forecast.completeness_vs_period(summary, out / "completeness_vs_period.png")
    return paths + ([done] if done is not None else [])


def compare_figures(comparison: dict[str, Any], out: Path, goal: int = 60) -> list[Path]:
    """Figures of a compare folder (per-plate differences from the stored realizations)."""
    names = [comparison["baseline"], *comparison["differences"]]
    runs = {n: compare.load_realizations(out / n / "realizations") for n in names}
    paths = [compare.compare_totals(comparison, out / "compare_totals.png")]
    if all(runs.values()):
        paths.insert(0, compare.compare_plates(runs, out / "compare_plates.png", goal))
    return paths
