"""Figures of a forecast (``forecast.json`` and, where a figure needs them, the
realizations' own results).

* :func:`fan_chart` — cumulative exposures per plate: median, 5–95 % band, observed log.
* :func:`exposures_forecast` — Figure 3 of Zong et al. (2020) forecast: observed and
  forecast exposures per plate with 5–95 % error bars.
* :func:`goal_chances` — chance of reaching the goal by each June 30 and by the end.
* :func:`goal_dates` — the distribution of the date each plate reaches the goal.
* :func:`epochs_per_star` — good epochs per star, with the 10/30/60 thresholds.
* :func:`completeness_vs_period` — RV-variable detection completeness against period.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from lkmrs_sched.plots.style import (
    BAND_ALPHA,
    FORECAST,
    OBSERVED,
    as_dates,
    date_axis,
    field_colour,
    field_handles,
    figure,
    integer_axis,
    no_data,
    plate_order,
    save,
)
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sky.footprints import PlateSet


def _fan_panel(ax, plate: dict[str, Any], observed: np.ndarray, start: Any, goal: int) -> None:
    c = plate["cumulative"]
    t = as_dates(c["months"])
    # Values at month ends, joined by straight lines.
    ax.fill_between(t, c["p05"], c["p95"], alpha=BAND_ALPHA, color=FORECAST, lw=0)
    ax.plot(t, c["median"], color=FORECAST, lw=1.2)
    if len(observed):
        ax.step(as_dates(observed), np.arange(1, len(observed) + 1), where="post",
                color=OBSERVED, lw=1.3)
    ax.axhline(goal, color="tab:red", ls=":", lw=0.9)
    ax.axvline(start, color="0.4", ls="--", lw=0.8)


def fan_chart(summary: dict[str, Any], observed: ObservationLog, plates: PlateSet,
              path: str | os.PathLike[str]) -> Path:
    """Cumulative LK-MRS exposures per plate over time, one panel per plate.

    Median and 5–95 % band of the realizations (monthly), the observed log as a black
    step, the goal as a red line and the forecast start as a dashed line.
    """
    names = plate_order(plates.plate_name)
    goal = summary["goal_exposures"]
    start = as_dates([summary["start"]])[0]
    ncol = 5
    nrow = int(np.ceil(len(names) / ncol))
    fig = figure(15, 2.5 * nrow + 1.1, layout=None)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.07, top=1 - 0.75 / (2.5 * nrow + 1.1),
                        wspace=0.08, hspace=0.32)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, sharex=True, sharey=True,
                                      squeeze=False)).ravel()
    e = observed.exposures[observed.exposures["project"] == "LK-MRS"]
    nights = np.asarray(e["night"], dtype=str)
    plate_of = np.asarray(e["plate_name"], dtype=str)
    for ax, name in zip(axes, names, strict=False):
        _fan_panel(ax, summary["plates"][name], np.sort(nights[plate_of == name]), start, goal)
        ax.set_title(f"{name}   P(≥ {goal}) = {summary['plates'][name]['p_reach_goal']:.0%}",
                     fontsize=9)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    date_axis(axes[0])  # shared by every panel
    for k, ax in enumerate(axes[:len(names)]):
        ax.tick_params(labelsize=7)
        if k % ncol == 0:
            ax.set_ylabel("cumulative exposures", fontsize=8)
        if k + ncol >= len(names):
            ax.set_xlabel("date (month ends)", fontsize=8)
    integer_axis(axes[0])
    axes[0].set_ylim(0, goal * 1.12)
    handles = [Line2D([], [], color=OBSERVED, lw=1.3, label="observed"),
               Line2D([], [], color=FORECAST, lw=1.2, label="forecast median"),
               Patch(color=FORECAST, alpha=BAND_ALPHA, label="5–95 % of realizations"),
               Line2D([], [], color="tab:red", ls=":", label=f"goal ({goal})"),
               Line2D([], [], color="0.4", ls="--", label=f"forecast start ({summary['start']})")]
    fig.legend(handles=handles, loc="upper right", ncol=5, fontsize=8, frameon=False)
    fig.suptitle(f"{summary['scenario']}: cumulative LK-MRS exposures per plate "
                 f"({summary['realizations']} realizations)", x=0.05, ha="left", fontsize=11)
    return save(fig, path)


def exposures_forecast(summary: dict[str, Any], plates: PlateSet,
                       path: str | os.PathLike[str]) -> Path:
    """Figure 3 forecast: exposures per plate, observed and by the end (median, 5–95 %).

    Each plate's bar is its forecast median by the end (light), with the observed
    exposures (solid) at its foot and the 5–95 % range of the realizations as an error bar.
    """
    names = plate_order(plates.plate_name)
    field = {str(n): str(f) for n, f in zip(plates.plate_name, plates.field, strict=True)}
    rows = summary["plates"]
    goal = summary["goal_exposures"]
    obs = np.array([rows[n]["observed_exposures"] for n in names], dtype=float)
    med = np.array([rows[n]["exposures"]["median"] for n in names], dtype=float)
    lo = np.array([rows[n]["exposures"]["p05"] for n in names], dtype=float)
    hi = np.array([rows[n]["exposures"]["p95"] for n in names], dtype=float)
    colours = [field_colour(field.get(n, "")) for n in names]
    fig = figure(10, 4.2)
    ax = fig.add_subplot()
    x = np.arange(len(names))
    ax.bar(x, med, color=colours, alpha=0.35, edgecolor=colours, lw=0.8)
    ax.bar(x, obs, color=colours)
    ax.errorbar(x, med, yerr=[med - lo, hi - med], fmt="_", color="k", ms=10, lw=1, capsize=3)
    ax.axhline(goal, color="0.3", ls="--", lw=0.9)
    ax.set_xticks(x, names, rotation=60)
    ax.set_xlabel("plate")
    ax.set_ylabel("LK-MRS exposures")
    ax.set_ylim(0, max(float(hi.max()), goal) * 1.15)
    integer_axis(ax)
    key = [Patch(color="0.3", label=f"observed (start: {Path(summary.get('from_log', '')).name})"),
           Patch(color="0.3", alpha=0.35, label=f"forecast median by {summary['end']}"),
           Line2D([], [], color="k", marker="_", ms=10, label="5–95 % of realizations"),
           Line2D([], [], color="0.3", ls="--", label=f"goal {goal}")]
    ax.legend(handles=key + field_handles(field.values()), fontsize=7, loc="upper left",
              bbox_to_anchor=(1.005, 1.0))
    ax.set_title(f"Exposures per plate (Zong et al. 2020, Fig. 3): observed and forecast "
                 f"({summary['scenario']}, {summary['realizations']} realizations)",
                 fontsize=10)
    return save(fig, path)


def goal_chances(summary: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Per-plate chance of reaching the goal by each June 30 and by the end.

    The chances only grow with time, so the bars are drawn one over another, latest
    (lightest) behind: each colour's visible height is what that season adds.
    """
    from matplotlib import colormaps

    names = plate_order(summary["plates"])
    goal = summary["goal_exposures"]
    by = dict(summary["plates"][names[0]]["p_reach_goal_by"])
    dates = sorted(d for d in by if d < summary["end"])
    cmap = colormaps["YlGnBu"]
    fig = figure(10.5, 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(names))
    final = np.array([summary["plates"][n]["p_reach_goal"] for n in names])
    layers = [(f"by {summary['end']} (end)", final)]
    layers += [(f"by {d}", np.array([summary["plates"][n]["p_reach_goal_by"][d] for n in names]))
               for d in reversed(dates)]
    for k, (label, p) in enumerate(layers):
        ax.bar(x, p, width=0.8, color=cmap(0.25 + 0.7 * k / max(1, len(layers) - 1)),
               edgecolor="0.3", lw=0.4, label=label)
    for xi, p in zip(x, final, strict=True):
        ax.text(xi, p + 0.02, f"{p:.0%}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, names, rotation=60)
    ax.set_xlabel("plate")
    ax.set_ylim(0, 1.18)
    ax.set_ylabel(f"P(≥ {goal} exposures)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), title="reached",
              title_fontsize=8)
    ax.set_title(f"Chance of reaching {goal} exposures ({summary['scenario']}, "
                 f"{summary['realizations']} realizations)", fontsize=10)
    return save(fig, path)


def _goal_date_lists(summary: dict[str, Any], realizations: Sequence[dict[str, Any]] | None,
                     names: list[str]) -> dict[str, list[str]]:
    """Per plate, the dates its goal was reached in the realizations that reach it."""
    if realizations:
        return {n: sorted(r["plates"][n]["goal_date"] for r in realizations
                          if r["plates"].get(n, {}).get("goal_date")) for n in names}
    out = {}
    for n in names:  # only the summary: its 5 %, median and 95 % dates
        q = summary["plates"][n]["goal_date"]
        out[n] = [q[k] for k in ("p05", "median", "p95") if q.get(k)]
    return out


def _plates_at_goal(realizations: Sequence[dict[str, Any]], grid: np.ndarray) -> np.ndarray:
    """Plates at the goal on each grid date, shape (realizations, dates)."""
    counts = np.zeros((len(realizations), len(grid)))
    for k, r in enumerate(realizations):
        for plate in r["plates"].values():
            if plate.get("goal_date"):
                counts[k] += grid >= np.datetime64(plate["goal_date"])
    return counts


def goal_dates(summary: dict[str, Any], path: str | os.PathLike[str],
               realizations: Sequence[dict[str, Any]] | None = None) -> Path:
    """When each plate reaches the goal: one dot per realization that reaches it, the
    median (diamond) and the 5–95 % range; on top, the number of plates at the goal.

    Parameters
    ----------
    summary : dict
        ``forecast.json``.
    path : path-like
    realizations : sequence of dict, optional
        Each realization's results (``ForecastResult.realizations``); without them only
        the summary's quantiles are drawn.
    """
    names = plate_order(summary["plates"])
    goal = summary["goal_exposures"]
    dates = _goal_date_lists(summary, realizations, names)
    fig = figure(11, 2.2 + 0.26 * len(names) + (2.2 if realizations else 0))
    gs = fig.add_gridspec(2 if realizations else 1, 1,
                          height_ratios=[1.6, 0.26 * len(names) + 0.6] if realizations else [1])
    ax = fig.add_subplot(gs[-1])
    for y, n in enumerate(names):
        ds = np.array(dates[n], dtype="datetime64[D]")
        q = summary["plates"][n]["goal_date"]
        if len(ds) and realizations:
            jitter = (np.arange(len(ds)) % 5 - 2) * 0.06
            ax.plot(ds.astype(object), y + jitter, "o", ms=3, color=FORECAST, alpha=0.5)
        if q.get("median"):
            ax.hlines(y, *as_dates([q["p05"], q["p95"]]), color="k", lw=1.2)
            ax.plot(as_dates([q["median"]]), [y], "D", color="k", ms=5)
        else:
            ax.text(0.01, y, f"not reached in any realization by {summary['end']}",
                    va="center", fontsize=7, color="0.45", transform=ax.get_yaxis_transform())
        ax.text(1.005, y, f"{summary['plates'][n]['p_reach_goal']:.0%}", va="center",
                fontsize=7, transform=ax.get_yaxis_transform())
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_ylabel("plate")
    ax.set_xlabel(f"night of the {goal}th exposure (local evening date); dashed: forecast "
                  f"start; right: P(reached by {summary['end']})")
    ax.axvline(as_dates([summary["start"]])[0], color="0.4", ls="--", lw=0.8)
    date_axis(ax)
    ax.grid(axis="x", color="0.9", lw=0.6)
    if realizations:
        _plates_at_goal_panel(fig.add_subplot(gs[0], sharex=ax), summary, realizations)
    else:
        ax.set_title(f"Date each plate reaches {goal} exposures (median, 5–95 %)")
    return save(fig, path)


def _plates_at_goal_panel(ax, summary: dict[str, Any],
                          realizations: Sequence[dict[str, Any]]) -> None:
    grid = np.arange(np.datetime64(summary["start"]), np.datetime64(summary["end"]) + 1, 7)
    n = _plates_at_goal(realizations, grid)
    t = grid.astype(object)
    ax.fill_between(t, np.percentile(n, 5, axis=0), np.percentile(n, 95, axis=0),
                    color=FORECAST, alpha=BAND_ALPHA, lw=0, label="5–95 %")
    ax.plot(t, np.median(n, axis=0), color=FORECAST, label="median")
    ax.set_ylabel(f"plates at {summary['goal_exposures']}")
    ax.axvline(as_dates([summary["start"]])[0], color="0.4", ls="--", lw=0.8)
    integer_axis(ax)
    ax.tick_params(labelbottom=False)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"When plates reach {summary['goal_exposures']} exposures "
                 f"({summary['scenario']}, {len(realizations)} realizations; dots: "
                 "realizations, diamond: median, bar: 5–95 %)", fontsize=10)


def epochs_per_star(stars: Any, path: str | os.PathLike[str],
                    thresholds: Sequence[int] = (10, 30, 60)) -> Path:
    """Histogram of good epochs (blue S/N > 10) per star (median over realizations),
    with the 10/30/60-epoch thresholds labelled by the number of stars reaching them."""
    fig = figure(8, 4.2)
    ax = fig.add_subplot()
    n = np.asarray(stars["n_good_median"], dtype=float)
    if len(n) == 0:
        no_data(ax, "no stars")
        return save(fig, path)
    ax.hist(n, bins=np.arange(0, max(float(n.max()), max(thresholds)) + 6, 5), color=FORECAST,
            alpha=0.8)
    ax.set_yscale("log")
    lines = []
    for x in thresholds:
        ax.axvline(x, color="k", ls=":", lw=0.9)
        lines.append(f"≥ {x} epochs: {int((n >= x).sum()):,} stars")
    ax.text(0.98, 0.96, "\n".join(lines), ha="right", va="top", fontsize=8,
            multialignment="left", transform=ax.transAxes,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.6", "alpha": 0.9})
    ax.set_xlabel("good epochs per star (blue S/N > 10; median over realizations)")
    ax.set_ylabel("stars per 5-epoch bin")
    integer_axis(ax, "x")
    ax.set_title(f"Epochs per star ({len(n):,} targets; dotted: "
                 f"{', '.join(map(str, thresholds))} epochs)")
    return save(fig, path)


def _bin_edges(bins: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([b["log10_period_lo"] if b["log10_period_lo"] is not None else np.nan
                   for b in bins], dtype=float)
    hi = np.array([b["log10_period_hi"] if b["log10_period_hi"] is not None else np.nan
                   for b in bins], dtype=float)
    lo = np.where(np.isnan(lo), hi - 1, lo)  # open-ended bins drawn one decade wide
    hi = np.where(np.isnan(hi), lo + 1, hi)
    return lo, hi


def completeness_vs_period(summary: dict[str, Any], path: str | os.PathLike[str]
                           ) -> Path | None:
    """Share of true binaries detected as RV variables against orbital period.

    One series per detection criterion present in the summary (median and 5–95 % over
    realizations); below, the binaries per period bin. ``None`` without per-star results.
    """
    keys = [k for k in ("completeness_vs_period", "completeness_vs_period_chi2") if k in summary]
    if not keys:
        return None
    fig = figure(8, 5.2)
    gs = fig.add_gridspec(2, 1, height_ratios=[3, 1])
    ax = fig.add_subplot(gs[0])
    for j, (key, colour) in enumerate(zip(keys, (FORECAST, "tab:orange"), strict=False)):
        bins = summary[key]["bins"]
        lo, hi = _bin_edges(bins)
        mid = (lo + hi) / 2 + (j - 0.5 * (len(keys) - 1)) * 0.08
        med = np.array([b["median"] for b in bins], dtype=float)
        p05 = np.array([b["p05"] for b in bins], dtype=float)
        p95 = np.array([b["p95"] for b in bins], dtype=float)
        ax.errorbar(10 ** mid, med, yerr=[med - p05, p95 - med], fmt="o-", color=colour,
                    ms=4, capsize=3, label=summary[key]["criterion"])
    ax.set_xscale("log")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("detection completeness")
    ax.legend(fontsize=8, loc="lower left", title="criterion", title_fontsize=8)
    ax.tick_params(labelbottom=False)
    ax.set_title(f"RV-variable detection completeness against period ({summary['scenario']}, "
                 f"median and 5–95 % of {summary['realizations']} realizations)", fontsize=10)
    hist = fig.add_subplot(gs[1], sharex=ax)
    bins = summary[keys[0]]["bins"]
    lo, hi = _bin_edges(bins)
    hist.bar(10 ** lo, [b["n_binaries"] for b in bins], width=10 ** hi - 10 ** lo, align="edge",
             color="0.7", edgecolor="0.4")
    hist.set_ylabel("binaries")
    hist.set_xlabel("orbital period (days; end bins open)")
    integer_axis(hist)
    return save(fig, path)
