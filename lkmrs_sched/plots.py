"""Figures (matplotlib, Agg backend; every file written atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from lkmrs_sched.atomic import atomic_path
from lkmrs_sched.footprints import PlateSet
from lkmrs_sched.obslog import ObservationLog

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
