"""Figures of a comparison of scenarios run with common random numbers.

Realization ``k`` of every scenario shares its weather and seeing, so the per-realization
(paired) differences against the baseline are what the figures show:

* :func:`compare_plates` — per plate, the paired difference in exposures by the end and
  in the chance of reaching the goal.
* :func:`compare_totals` — the survey totals' paired differences (mean with its 95 %
  confidence interval, and the 5–95 % range of the differences).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lkmrs_sched.plots.style import (
    FORECAST,
    figure,
    integer_axis,
    no_data,
    plate_order,
    save,
)


def load_realizations(store: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The stored per-realization results of an ensemble (``realization-NNNN.json``), in
    realization order; an empty list if the folder has none."""
    paths = sorted(Path(store).glob("realization-*.json"))
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def plate_differences(base: Sequence[dict[str, Any]], other: Sequence[dict[str, Any]]
                      ) -> dict[str, dict[str, np.ndarray]]:
    """Per plate, paired differences (other − base) over the common realizations.

    Returns
    -------
    dict
        Plate → ``exposures`` (difference in exposures by the end, per realization) and
        ``reached`` (difference of the 0/1 goal indicators, per realization).
    """
    n = min(len(base), len(other))
    names = plate_order(base[0]["plates"]) if n else []
    out = {}
    for name in names:
        b = [base[k]["plates"][name] for k in range(n)]
        o = [other[k]["plates"][name] for k in range(n)]
        out[name] = {
            "exposures": np.array([y["exposures"] - x["exposures"] for x, y in
                                   zip(b, o, strict=True)], dtype=float),
            "reached": np.array([(y["goal_date"] is not None) - (x["goal_date"] is not None)
                                 for x, y in zip(b, o, strict=True)], dtype=float)}
    return out


def _plate_rows(axes: Sequence[Any], name: str, baseline: str,
                diffs: dict[str, dict[str, np.ndarray]], goal: int) -> None:
    """Two rows for one what-if: Δ exposures (dots, median, 5–95 %) and Δ P(goal)."""
    names = list(diffs)
    x = np.arange(len(names))
    top, bottom = axes
    for i, plate in enumerate(names):
        d = diffs[plate]["exposures"]
        jitter = (np.arange(len(d)) % 7 - 3) * 0.05
        top.plot(i + jitter, d, "o", ms=2.5, color=FORECAST, alpha=0.45)
        top.vlines(i, np.percentile(d, 5), np.percentile(d, 95), color="k", lw=1.2)
        top.plot(i, np.median(d), "D", color="k", ms=4)
    top.axhline(0, color="0.5", lw=0.8)
    top.set_ylabel("Δ exposures by end")
    integer_axis(top)
    top.set_title(f"{name} − {baseline}, paired by realization (dots: realizations, "
                  "diamond: median, bar: 5–95 %)", fontsize=9)
    dp = np.array([diffs[p]["reached"].mean() for p in names])
    bottom.bar(x, dp, color=np.where(dp >= 0, "tab:green", "tab:red"), alpha=0.8)
    bottom.axhline(0, color="0.5", lw=0.8)
    lim = max(0.1, float(np.max(np.abs(dp))) * 1.2)
    bottom.set_ylim(-lim, lim)
    bottom.set_ylabel(f"Δ P(≥ {goal})")
    bottom.set_xticks(x, names, rotation=60, fontsize=7)
    top.set_xticks(x, [])


def compare_plates(runs: Mapping[str, Sequence[dict[str, Any]]], path: str | os.PathLike[str],
                   goal: int = 60) -> Path:
    """Per-plate paired differences of every scenario against the first (the baseline).

    Parameters
    ----------
    runs : mapping of str to sequence of dict
        Scenario name → its realizations' results (``load_realizations``), baseline first.
    path : path-like
    goal : int
        The goal in exposures (for the label).
    """
    names = list(runs)
    others = names[1:]
    fig = figure(11, 1.0 + 4.2 * max(1, len(others)))
    if not others or not runs[names[0]]:
        no_data(fig.add_subplot(), "nothing to compare (no stored realizations)")
        return save(fig, path)
    gs = fig.add_gridspec(2 * len(others), 1, height_ratios=[2.2, 1.0] * len(others))
    for j, name in enumerate(others):
        diffs = plate_differences(runs[names[0]], runs[name])
        _plate_rows([fig.add_subplot(gs[2 * j]), fig.add_subplot(gs[2 * j + 1])], name,
                    names[0], diffs, goal)
    fig.suptitle(f"Per-plate paired differences against {names[0]} "
                 f"({len(runs[names[0]])} realizations, common random numbers)", fontsize=10)
    return save(fig, path)


def compare_totals(comparison: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Paired differences of the survey totals: one panel per metric, one row per what-if.

    Thick bar: the mean difference's 95 % confidence interval; thin bar: the 5–95 % range
    of the per-realization differences; dot: the mean.
    """
    diffs = comparison["differences"]
    scenarios = list(diffs)
    metrics = list(dict.fromkeys(m for d in diffs.values() for m in d))
    fig = figure(9, 0.8 + (0.45 * len(scenarios) + 0.8) * max(1, len(metrics)))
    if not metrics:
        no_data(fig.add_subplot(), "no paired metrics")
        return save(fig, path)
    axes = fig.subplots(len(metrics), 1, squeeze=False)[:, 0]
    for ax, metric in zip(axes, metrics, strict=True):
        for y, name in enumerate(scenarios):
            d = diffs[name].get(metric)
            if d is None:
                continue
            ax.hlines(y, d["p05"], d["p95"], color=FORECAST, lw=1.2, alpha=0.6)
            ax.hlines(y, d["ci95_lo"], d["ci95_hi"], color=FORECAST, lw=5)
            ax.plot(d["mean"], y, "o", color="k", ms=4)
            ax.text(1.01, y, f"{d['mean']:+.1f}  ({d['share_positive']:.0%} > 0)",
                    va="center", fontsize=7, transform=ax.get_yaxis_transform())
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_yticks(range(len(scenarios)), scenarios, fontsize=8)
        ax.set_ylim(len(scenarios) - 0.5, -0.5)
        ax.set_xlabel(f"Δ {metric} (what-if − {comparison['baseline']})", fontsize=8)
    fig.suptitle(f"Survey totals: paired differences against {comparison['baseline']} "
                 f"({comparison['realizations']} realizations; thick: 95 % CI of the mean, "
                 "thin: 5–95 %)", fontsize=10)
    return save(fig, path)
