"""Figures (matplotlib, Agg backend; every file written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from lkmrs_sched.core.atomic import atomic_path
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sky.footprints import PlateSet

FIELD_COLOURS = {"Kepler": "tab:purple", "C4": "tab:blue", "C5C16": "tab:orange",
                 "C8": "tab:green", "C13": "tab:red", "C14": "tab:brown"}


def save(fig: plt.Figure, path: str | Path) -> Path:
    """Save a figure atomically and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def exposures_per_plate(log: ObservationLog, plates: PlateSet, path: str | Path,
                        project: str = "LK-MRS", title: str = "") -> Path:
    """Bar chart of exposures per plate, coloured by K2 campaign / Kepler field (Fig. 3)."""
    counts = log.exposures_per_plate(project)
    order = np.argsort(plates.plate_name)
    names = [str(plates.plate_name[i]) for i in order]
    values = [counts.get(n, 0) for n in names]
    colours = [FIELD_COLOURS.get(str(plates.field[i]), "grey") for i in order]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.bar(names, values, color=colours)
    ax.set_ylabel("exposures")
    ax.set_title(title or f"{project} exposures per plate ({sum(values)} in all)")
    ax.tick_params(axis="x", rotation=60)
    for field, colour in FIELD_COLOURS.items():
        ax.bar([], [], color=colour, label=field)
    ax.legend(ncol=6, fontsize=8, loc="upper left")
    return save(fig, path)


def visit_calendar(log: ObservationLog, plates: PlateSet, path: str | Path,
                   project: str = "LK-MRS") -> Path:
    """When each plate was visited: one marker per pointing, area ∝ exposures."""
    p = log.pointings[log.pointings["project"] == project]
    order = list(np.array(plates.plate_name)[np.argsort(plates.ra_deg)])
    y = {name: i for i, name in enumerate(order)}
    dates = np.array(p["night"], dtype="datetime64[D]")
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.scatter(dates.astype("datetime64[D]").astype(object),
               [y[str(n)] for n in p["plate_name"]], s=np.asarray(p["n_exposures"]) * 12,
               alpha=0.6, color="tab:blue", edgecolor="k", linewidth=0.3)
    ax.set_yticks(range(len(order)), order, fontsize=7)
    ax.set_ylabel("plate (by RA)")
    ax.set_title(f"{project} pointings (marker area ∝ exposures)")
    fig.autofmt_xdate()
    return save(fig, path)


def forecast_fan_chart(summary: dict, observed: ObservationLog, plates: PlateSet,
                       path: str | Path) -> Path:
    """Cumulative exposures per plate over time: median, 5–95 % band, observed log on top."""
    names = [str(n) for n in plates.plate_name[np.argsort(plates.plate_name)]]
    goal = summary["goal_exposures"]
    ncol = 5
    nrow = int(np.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(15, 2.6 * nrow), sharex=True, sharey=True)
    e = observed.exposures[observed.exposures["project"] == "LK-MRS"]
    for ax, name in zip(np.ravel(axes), names, strict=False):
        c = summary["plates"][name]["cumulative"]
        t = np.array(c["months"], dtype="datetime64[D]").astype(object)
        ax.fill_between(t, c["p05"], c["p95"], alpha=0.3, color="tab:blue", lw=0)
        ax.plot(t, c["median"], color="tab:blue", lw=1.2)
        mine = np.sort(np.array(e["night"][e["plate_name"] == name], dtype="datetime64[D]"))
        if len(mine):
            ax.step(mine.astype(object), np.arange(1, len(mine) + 1), where="post", color="k",
                    lw=1.2)
        ax.axhline(goal, color="tab:red", ls=":", lw=0.8)
        p = summary["plates"][name]["p_reach_goal"]
        ax.set_title(f"{name}  P(≥{goal}) = {p:.0%}", fontsize=9)
    for ax in np.ravel(axes)[len(names):]:
        ax.set_visible(False)
    for ax in np.ravel(axes):
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.suptitle(f"{summary['scenario']}: cumulative LK-MRS exposures per plate "
                 f"(median, 5–95 % of {summary['realizations']} realizations; black: observed)")
    fig.tight_layout()
    return save(fig, path)


def goal_chances(summary: dict, path: str | Path) -> Path:
    """Per-plate chance of reaching the goal by the end (bars) and by each June 30 (dots)."""
    names = sorted(summary["plates"])
    fig, ax = plt.subplots(figsize=(10, 3.8))
    p = [summary["plates"][n]["p_reach_goal"] for n in names]
    ax.bar(names, p, color="tab:green", alpha=0.7, label=f"by {summary['end']}")
    seasons = sorted(next(iter(summary["plates"].values()))["p_reach_goal_by"])
    for i, s in enumerate(seasons[:-1]):
        ax.plot(names, [summary["plates"][n]["p_reach_goal_by"][s] for n in names], "o",
                ms=4, color=plt.cm.viridis(i / max(1, len(seasons) - 1)), label=f"by {s}")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(f"P(≥ {summary['goal_exposures']} exposures)")
    ax.tick_params(axis="x", rotation=60)
    ax.legend(fontsize=7, ncol=3)
    return save(fig, path)


def epochs_per_star(stars: Any, path: str | Path) -> Path:
    """Histogram of good epochs (blue S/N > 10) per star (median over realizations)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    n = np.asarray(stars["n_good_median"], dtype=float)
    ax.hist(n, bins=np.arange(0, max(n.max(), 60) + 6, 5), color="tab:blue", alpha=0.8)
    for x in (10, 30, 60):
        ax.axvline(x, color="k", ls=":", lw=0.8)
    ax.set_xlabel("epochs with blue S/N > 10 (median over realizations)")
    ax.set_ylabel("stars")
    ax.set_yscale("log")
    return save(fig, path)


def footprint_sky_map(summary: dict, plates: PlateSet, path: str | Path) -> Path:
    """The 20 footprints on the sky, coloured by forecast completion (median / goal)."""
    goal = summary["goal_exposures"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [4, 1]})
    cmap = plt.cm.plasma
    for ax, sel in zip(axes, (plates.ra_deg < 200, plates.ra_deg >= 200), strict=True):
        for i in np.flatnonzero(sel):
            name = str(plates.plate_name[i])
            frac = min(1.0, summary["plates"][name]["exposures"]["median"] / goal)
            circle = plt.Circle((plates.ra_deg[i], plates.dec_deg[i]), 2.5, color=cmap(frac),
                                alpha=0.75)
            ax.add_patch(circle)
            ax.text(plates.ra_deg[i], plates.dec_deg[i], name, ha="center", va="center",
                    fontsize=6)
        ax.set_aspect("equal")
        ra, dec = plates.ra_deg[sel], plates.dec_deg[sel]
        ax.set_xlim(ra.max() + 5, ra.min() - 5)  # RA grows to the left, as on the sky
        ax.set_ylim(dec.min() - 5, dec.max() + 5)
        ax.set_xlabel("RA (deg)")
    axes[0].set_ylabel("Dec (deg)")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=axes, label=f"median exposures / {goal}")
    fig.suptitle(f"LK-MRS footprints (K2 left, Kepler right): forecast completion by "
                 f"{summary['end']}")
    return save(fig, path)
