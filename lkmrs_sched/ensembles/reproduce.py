"""Hold the year-1 model up against what really happened (the paper's Table 2).

An ensemble of year-1 realizations is reduced to the statistics of
:func:`lkmrs_sched.sim.logstats.statistics`, and each headline statistic of the observed log
is placed in its ensemble distribution: median, 5–95 % range, percentile, inside or not.
The same realizations are held against the season's LAMOST release totals (TD and NT
spectra, :func:`~lkmrs_sched.sim.logstats.release_statistics`) and report their realised
shares of the hours (:data:`~lkmrs_sched.sim.logstats.SHARE_STATISTICS`, model only).

By default each realization draws its parameters from the scenario's posterior (a
posterior-predictive check); ``point_estimate=True`` runs every one at the scenario's own
values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.ensembles.ensemble import (
    Job,
    format_shares,
    percentile_summary,
    run_ensemble,
    share_summary,
)
from lkmrs_sched.ensembles.posterior import load_posterior
from lkmrs_sched.sim.logstats import (
    HEADLINE,
    LOG_STATISTICS,
    SEASON_MONTHS,
    SHARE_STATISTICS,
    reported_shares,
    statistics,
)
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sim.simulator import build_simulation
from lkmrs_sched.sim.sky import prepared_sky

#: Realised shares reported (model only) with the scorecard.
SHARES = SHARE_STATISTICS.names("summary")


def year_statistics(job: Job) -> dict[str, Any]:
    """Simulate one realization; its log statistics, shares and release statistics.

    An ensemble task; ``job.options["posterior"]`` (if given) draws the parameters.
    """
    from lkmrs_sched.ensembles.calibrate import observed_releases, release_context, season_window

    scenario = job.scenario
    posterior = job.options.get("posterior")
    if posterior is not None:
        scenario, _ = posterior.realization(scenario, job.index, job.master_seed)
    log = build_simulation(scenario, job.seed).run()
    out = dict(statistics(log))
    out.update(reported_shares(log, "summary"))  # the scalars and td_hour_shares
    _, windows = observed_releases(scenario)
    w = season_window(windows, scenario.start, scenario.end)
    if w is not None:
        context, release_stats = release_context(scenario, log)
        out.update({n: release_stats[n].function(context) for n in release_stats
                    if n.endswith(f"_{w.tag}")})
    return out


def run_statistics_ensemble(scenario: Scenario, realizations: int, seed: int, *,
                            workers: int | None = None, store: Path | None = None,
                            dask_address: str | None = None, progress: bool = True,
                            point_estimate: bool = False) -> list[dict[str, Any]]:
    """Statistics of ``realizations`` runs of ``scenario`` (resumable through ``store``).

    With the scenario's posterior (unless ``point_estimate``), realization ``k`` uses its
    posterior draw (:meth:`~lkmrs_sched.ensembles.posterior.Posterior.realization`).
    """
    prepared_sky(scenario)  # compute/cache the sky once, before workers start
    posterior = None if point_estimate else load_posterior(scenario)
    jobs = [Job(k, scenario, seed, {"posterior": posterior}) for k in range(realizations)]
    manifest = {"task": "statistics", "scenario_hash": scenario.hash, "seed": seed,
                "start": scenario.start.isoformat(), "end": scenario.end.isoformat(),
                "uncertainty": "point estimate" if posterior is None else
                f"posterior ({len(posterior)} draws)"}
    return run_ensemble(year_statistics, jobs, store=store, manifest=manifest, workers=workers,
                        dask_address=dask_address, progress=progress,
                        label=f"{scenario.name} realizations")


@dataclass(frozen=True)
class Scorecard:
    """The scorecard statistics (:data:`~lkmrs_sched.sim.logstats.HEADLINE`) of an observed
    log against an ensemble: observed value, ensemble median and 5–95 % range, percentile.
    """

    rows: dict[str, dict[str, Any]]
    realizations: int
    releases: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    shares: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def inside(self) -> int:
        """How many statistics lie inside the ensemble's 5–95 % range."""
        return sum(bool(r["within"]) for r in self.rows.values())

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Statistic name → observed, median, p05, p95, percentile, within."""
        return self.rows

    def extras(self) -> dict[str, Any]:
        """The release-total rows and the realised shares (model only)."""
        return {"releases": self.releases, "shares": self.shares}

    def to_table(self) -> Table:
        """One row per statistic, with its unit and description."""
        names = list(self.rows)
        table = Table({"statistic": names,
                       **{k: [self.rows[n][k] for n in names]
                          for k in ("observed", "median", "p05", "p95", "percentile", "within")},
                       "description": [LOG_STATISTICS[n].doc for n in names]})
        for k in ("observed", "median", "p05", "p95"):
            table[k].description = "value (unit per statistic: see 'unit')"
        table["unit"] = [LOG_STATISTICS[n].unit for n in names]
        table["percentile"].unit = "%"
        table.meta["realizations"] = self.realizations
        return table

    def format(self) -> str:
        """The scorecard as a text table."""
        lines = [f"{'statistic':<28} {'Table 2':>8} {'median':>8} {'5-95 % range':>17} "
                 f"{'pctile':>6}  inside ({self.realizations} realizations)"]
        for name, r in self.rows.items():
            lines.append(f"{name:<28} {r['observed']:8.3g} {r['median']:8.3g} "
                         f"{r['p05']:8.3g}-{r['p95']:<8.3g} {r['percentile']:6.1f}  "
                         f"{'yes' if r['within'] else 'NO'}")
        lines.append(f"{self.inside} of {len(self.rows)} statistics inside the 5-95 % range.")
        if self.releases:
            lines.append("Release totals (one spectrum per target and exposure / plate-night):")
            for name, r in self.releases.items():
                lines.append(f"{name:<28} {r['observed']:8.3g} {r['median']:8.3g} "
                             f"{r['p05']:8.3g}-{r['p95']:<8.3g} {r['percentile']:6.1f}  "
                             f"{'yes' if r['within'] else 'NO'}")
        if self.shares:
            lines.append("Realised shares of the hours (model only; median [5-95 %] over "
                         "the realizations, pooled: of all their hours together):")
            lines += format_shares(self.shares)
        return "\n".join(lines)


def scorecard(observed: dict[str, Any], simulated: list[dict[str, Any]],
              releases: dict[str, float] | None = None,
              allocated: dict[str, float] | None = None) -> Scorecard:
    """Each scorecard statistic: observed, median, p05, p95, percentile, within.

    ``releases``: real release statistics; those the realizations computed are scored
    too. The realised shares, per project too, are summarised (there is no observed
    value; :func:`~lkmrs_sched.ensembles.ensemble.share_summary`, with ``allocated``,
    from :func:`~lkmrs_sched.ensembles.ensemble.allocated_shares`).
    """
    rel = {name: percentile_summary([s[name] for s in simulated], value)
           for name, value in (releases or {}).items()
           if simulated and name in simulated[0] and np.isfinite(value)}
    keys = [k for k in (*SHARES, "td_hour_shares") if simulated and all(k in s for s in simulated)]
    share_rows = share_summary([{k: s[k] for k in keys} for s in simulated], allocated)
    return Scorecard({name: percentile_summary([s[name] for s in simulated], observed[name])
                      for name in HEADLINE}, len(simulated), rel, share_rows)


def _band(rows: list[list[int]], width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        r = r[:width]
        m[i, :len(r)] = r
    return np.percentile(m, 5, axis=0), np.median(m, axis=0), np.percentile(m, 95, axis=0)


#: Month labels of the season (September .. August), as SEASON_MONTHS orders them.
MONTH_LABELS = ("Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                "Aug")


def _band_figure(x: np.ndarray, band: tuple[np.ndarray, ...], observed: Any, n: int,
                 xlabel: str, title: str, path: Path, ticklabels: Any = None) -> Path:
    """The ensemble's median and 5–95 % band with the observed values on top."""
    from lkmrs_sched.plots.style import BAND_ALPHA, FORECAST, OBSERVED, figure, integer_axis, save

    fig = figure(7, 4)
    ax = fig.add_subplot()
    ax.fill_between(x, band[0], band[2], step="mid", alpha=BAND_ALPHA, color=FORECAST,
                    label=f"ensemble 5-95 % ({n} realizations)")
    ax.step(x, band[1], where="mid", color=FORECAST, label="ensemble median")
    ax.plot(x, observed, "o", color=OBSERVED, label="Table 2 (observed)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("LK-MRS exposures")
    integer_axis(ax, "both")
    if ticklabels is not None:
        ax.set_xticks(x, ticklabels)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_against_ensemble(observed: dict[str, Any], simulated: list[dict[str, Any]],
                          out: Path) -> list[Path]:
    """Table 2 against the ensemble: exposures per plate (sorted) and per month, with bands."""
    width = max(20, len(observed["exposures_per_plate_sorted"]))
    obs = np.zeros(width)
    obs[:len(observed["exposures_per_plate_sorted"])] = observed["exposures_per_plate_sorted"]
    assert len(MONTH_LABELS) == len(SEASON_MONTHS)
    return [
        _band_figure(np.arange(1, width + 1),
                     _band([s["exposures_per_plate_sorted"] for s in simulated], width), obs,
                     len(simulated), "plate rank (most observed first)",
                     "Exposures per plate, sorted", out / "table2_exposures_per_plate.png"),
        _band_figure(np.arange(12), _band([s["exposures_per_month"] for s in simulated], 12),
                     observed["exposures_per_month"], len(simulated),
                     "month of the season (September to August)",
                     "LK-MRS exposures per month", out / "table2_exposures_per_month.png",
                     MONTH_LABELS),
    ]


def observed_statistics(log: ObservationLog) -> dict[str, Any]:
    """Statistics of an observed log (the same function as for simulations)."""
    return statistics(log)
