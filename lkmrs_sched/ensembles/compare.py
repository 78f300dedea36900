"""Compare scenarios with common random numbers, pair by pair.

Realization ``k`` of every scenario uses the same seed, hence the same weather and seeing
(:mod:`lkmrs_sched.ensembles.forecast`), so the per-realization differences of a what-if
against the baseline carry far less noise than the two ensembles' spreads. The metrics
compared are the forecast totals declared for the ``compare`` report
(:data:`~lkmrs_sched.ensembles.forecast.PLATE_TOTALS`,
:data:`~lkmrs_sched.ensembles.forecast.STAR_TOTALS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.outputs import safe_component
from lkmrs_sched.ensembles.forecast import PLATE_TOTALS, STAR_TOTALS, run_forecast
from lkmrs_sched.sim.obslog import ObservationLog

#: Paired metrics reported by :func:`compare`.
COMPARE_METRICS = (*PLATE_TOTALS.names("compare"), *STAR_TOTALS.names("compare"))


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


@dataclass(frozen=True)
class Comparison:
    """Scenarios against a baseline: each one's totals and paired differences."""

    baseline: str
    realizations: int
    seed: int
    totals: dict[str, dict[str, Any]]
    differences: dict[str, dict[str, dict[str, float]]]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the content of ``comparison.json``)."""
        return {"baseline": self.baseline, "realizations": self.realizations,
                "seed": self.seed, "totals": self.totals, "differences": self.differences}

    def to_table(self) -> Table:
        """One row per (scenario, metric): the paired difference against the baseline."""
        rows = [(name, k, d["mean"], d["ci95_lo"], d["ci95_hi"], d["median"], d["p05"],
                 d["p95"], d["share_positive"])
                for name, diffs in self.differences.items() for k, d in diffs.items()]
        names = ("scenario", "metric", "mean", "ci95_lo", "ci95_hi", "median", "p05", "p95",
                 "share_positive")
        table = Table(rows=rows, names=names) if rows else Table(names=names,
                                                                 dtype=[str, str] + [float] * 7)
        table.meta["baseline"] = self.baseline
        return table

    def format(self) -> str:
        """A readable text table of the paired differences."""
        lines = [f"Paired differences against {self.baseline} ({self.realizations} "
                 "realizations, common random numbers): mean [95 % CI]; 5-95 % of the "
                 "differences; share > 0"]
        for name, diffs in self.differences.items():
            lines.append(f"{name}:")
            for k, d in diffs.items():
                lines.append(f"  {k:<26} {d['mean']:+9.1f} [{d['ci95_lo']:+.1f}, "
                             f"{d['ci95_hi']:+.1f}]  {d['p05']:+.0f}..{d['p95']:+.0f}  "
                             f"{d['share_positive']:.0%}")
        return "\n".join(lines)


def unique_names(paths: list[str]) -> list[str]:
    """Short, distinct, safe names for scenario files: the stem (one path component),
    ``-2``, ``-3`` on a clash; also the sub-folder of each ensemble."""
    names: list[str] = []
    for p in paths:
        stem = safe_component(Path(p).stem)
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}-{k}", k + 1
        names.append(name)
    return names


def compare(scenarios: dict[str, Scenario], log: ObservationLog, realizations: int,
            seed: int, *, out: Path | None = None, workers: int | None = None,
            dask_address: Any = None, stars: bool = True, progress: bool = True,
            point_estimate: bool = False) -> Comparison:
    """Forecast each scenario with the same seeds and compare them with the first.

    Parameters
    ----------
    scenarios : dict of str to Scenario
        Name → scenario, the baseline first (at least two).
    log : ObservationLog
        The observed starting state, common to all.
    out : Path, optional
        Each scenario's ensemble is stored (and resumed) in ``out / name``.
    point_estimate : bool
        Every realization at the scenarios' own values (no posterior draws).
    """
    if len(scenarios) < 2:
        raise InputError("scenarios", list(scenarios), "at least two scenarios",
                         "nothing to compare")
    runs = {name: run_forecast(sc, log, realizations, seed,
                               out=out / name if out is not None else None, workers=workers,
                               dask_address=dask_address, stars=stars, progress=progress,
                               keep_logs=False, point_estimate=point_estimate)
            for name, sc in scenarios.items()}
    base_name = next(iter(runs))
    base = runs[base_name].realizations
    return Comparison(base_name, realizations, seed,
                      {name: r.summary["totals"] for name, r in runs.items()},
                      {name: paired_differences(base, r.realizations)
                       for name, r in list(runs.items())[1:]})
