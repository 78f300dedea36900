"""Figures of observation logs and of the observing season.

* :func:`exposures_per_plate` — Figure 3 of Zong et al. (2020): exposures per plate.
* :func:`visit_calendar` — when each plate was visited.
* :func:`hours_per_month` — hours per project (programme) per month, from time ledgers.
* :func:`season_calendar` — MRS/LRS/shutdown nights, the Moon, and each plate's window
  hours per month.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import Patch

from lkmrs_sched.plots.style import (
    BAND_ALPHA,
    MODE_COLOURS,
    as_dates,
    date_axis,
    field_colour,
    field_handles,
    figure,
    integer_axis,
    no_data,
    plate_order,
    project_colour,
    save,
)
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sky.footprints import PlateSet


def exposures_per_plate(log: ObservationLog, plates: PlateSet, path: str | os.PathLike[str],
                        project: str = "LK-MRS", title: str = "", goal: int | None = None
                        ) -> Path:
    """Bar chart of exposures per plate, coloured by K2 campaign / Kepler field (Fig. 3).

    Parameters
    ----------
    log : ObservationLog
    plates : PlateSet
        The project's plates (every one gets a bar, observed or not).
    path : path-like
        Output PNG.
    project : str
    title : str
        Default: the project and the total.
    goal : int, optional
        Draw the goal (e.g. 60 exposures) as a labelled line.
    """
    counts = log.exposures_per_plate(project)
    names = plate_order(plates.plate_name)
    field = {str(n): str(f) for n, f in zip(plates.plate_name, plates.field, strict=True)}
    values = [counts.get(n, 0) for n in names]
    fig = figure(9, 3.8)
    ax = fig.add_subplot()
    bars = ax.bar(names, values, color=[field_colour(field[n]) for n in names])
    ax.bar_label(bars, labels=[str(v) if v else "" for v in values], fontsize=7, padding=1)
    if goal:
        ax.axhline(goal, color="0.3", ls="--", lw=0.9)
        ax.text(len(names) - 0.5, goal, f"goal {goal}", ha="right", va="bottom", fontsize=8,
                color="0.3")
    ax.set_xlabel("plate")
    ax.set_ylabel("exposures")
    ax.set_ylim(0, max([*values, goal or 0, 1]) * 1.12)
    integer_axis(ax)
    ax.set_title(title or f"{project} exposures per plate ({sum(values)} in all, "
                 f"{sum(v > 0 for v in values)} of {len(names)} plates visited)")
    ax.tick_params(axis="x", rotation=60)
    ax.legend(handles=field_handles(field.values()), title="field", fontsize=8,
              title_fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    return save(fig, path)


def _by_group_ra(plates: PlateSet) -> list[str]:
    """Plate names by their group's mean RA, then by name (the order the sky brings them)."""
    names = [str(n) for n in plates.plate_name]
    ra = dict(zip(names, plates.ra_deg, strict=True))
    group_ra: dict[str, list[float]] = {}
    for n in names:
        group_ra.setdefault(n[:-1], []).append(ra[n])
    return sorted(names, key=lambda n: (float(np.mean(group_ra[n[:-1]])), n))


def visit_calendar(log: ObservationLog, plates: PlateSet, path: str | os.PathLike[str],
                   project: str = "LK-MRS") -> Path:
    """When each plate was visited: one marker per pointing, area ∝ exposures.

    Plates run bottom to top in the order the sky brings them (group RA), coloured by field.
    """
    p = log.pointings[(log.pointings["project"] == project) & (log.pointings["n_exposures"] > 0)]
    order = _by_group_ra(plates)
    y = {name: i for i, name in enumerate(order)}
    field = {str(n): str(f) for n, f in zip(plates.plate_name, plates.field, strict=True)}
    names = [str(n) for n in p["plate_name"]]
    n_exp = np.asarray(p["n_exposures"], dtype=float)
    fig = figure(10, 0.22 * len(order) + 1.8)
    ax = fig.add_subplot()
    if len(p):
        ax.scatter(as_dates(np.asarray(p["night"], dtype=str)), [y.get(n, -1) for n in names],
                   s=n_exp * 14, c=[field_colour(field.get(n, "")) for n in names],
                   alpha=0.75, edgecolor="k", linewidth=0.4)
    else:
        no_data(ax, f"no {project} pointings")
    ax.set_yticks(range(len(order)), order, fontsize=7)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_ylabel("plate (ordered by RA)")
    ax.set_xlabel("night (local evening date)")
    date_axis(ax)
    ax.grid(axis="y", color="0.92", lw=0.6)
    sizes = [ax.scatter([], [], s=k * 14, color="0.6", edgecolor="k", linewidth=0.4,
                        label=f"{k} exposures") for k in (2, 5, 8)]
    ax.legend(handles=sizes + field_handles(field.values()), fontsize=7, ncol=9,
              loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    ax.set_title(f"{project} pointings ({len(p)}; marker area ∝ exposures)")
    return save(fig, path)


def read_ledger(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The time ledger of a log file, as arrays ``night``, ``programme``, ``project``,
    ``hours`` (science + overhead + read-out).

    Reads only that table (read-only SQLite), so tens of realization logs take
    milliseconds.
    """
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT night, programme, project, "
                           "science_h + overhead_h + readout_h FROM ledger").fetchall()
    finally:
        con.close()
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    return {"night": np.array(cols[0], dtype=str), "programme": np.array(cols[1], dtype=str),
            "project": np.array(cols[2], dtype=str), "hours": np.array(cols[3], dtype=float)}


def ledger_of(log: ObservationLog) -> dict[str, np.ndarray]:
    """The arrays of :func:`read_ledger` from a log in memory."""
    t = log.ledger
    hours = (np.asarray(t["science_h"], float) + np.asarray(t["overhead_h"], float)
             + np.asarray(t["readout_h"], float)) if len(t) else np.zeros(0)
    return {"night": np.asarray(t["night"], dtype=str),
            "programme": np.asarray(t["programme"], dtype=str),
            "project": np.asarray(t["project"], dtype=str), "hours": hours}


def monthly_hours(ledgers: Sequence[dict[str, np.ndarray]]
                  ) -> tuple[list[str], list[str], np.ndarray]:
    """Hours per (realization, project, month) of several ledgers.

    Returns
    -------
    months : list of str
        ``YYYY-MM``, every month from the first to the last night.
    projects : list of str
        LK-MRS first, NT last.
    hours : ndarray, shape (n_ledgers, n_projects, n_months)
    """
    nights = np.concatenate([g["night"] for g in ledgers]) if ledgers else np.zeros(0, str)
    if len(nights) == 0:
        return [], [], np.zeros((len(ledgers), 0, 0))
    first, last = (np.datetime64(min(nights)[:7], "M"), np.datetime64(max(nights)[:7], "M"))
    months = [str(m) for m in np.arange(first, last + 1)]
    found = set(np.concatenate([g["project"] for g in ledgers]))
    projects = sorted(found, key=lambda p: (p != "LK-MRS", p == "NT", p))
    out = np.zeros((len(ledgers), len(projects), len(months)))
    for k, g in enumerate(ledgers):
        m = (np.array([s[:7] for s in g["night"]], dtype="datetime64[M]") - first).astype(int)
        index = {name: i for i, name in enumerate(projects)}
        j = np.array([index[name] for name in g["project"]], dtype=int)
        np.add.at(out[k], (j, m), g["hours"])
    return months, projects, out


def hours_per_month(ledgers: Sequence[dict[str, np.ndarray]], path: str | os.PathLike[str],
                    title: str = "") -> Path:
    """Hours per project per month (science + overhead + read-out), stacked.

    With several ledgers (an ensemble) the bars are the median over realizations and the
    black line the 5–95 % range of the monthly total.
    """
    months, projects, hours = monthly_hours(ledgers)
    fig = figure(11, 4.2)
    ax = fig.add_subplot()
    if not months:
        no_data(ax, "no time ledger in the log(s)")
        return save(fig, path)
    x = as_dates([f"{m}-15" for m in months])
    med = np.median(hours, axis=0)
    td = np.array([name != "NT" for name in projects])
    bottom = np.zeros(len(months))
    for j, name in enumerate(projects):
        share = med[j].sum() / max(med.sum(), 1e-9)
        of_td = f"; {med[j].sum() / max(med[td].sum(), 1e-9):.0%} of TD" if td[j] else ""
        ax.bar(x, med[j], bottom=bottom, width=25, color=project_colour(name),
               label=f"{name} ({share:.0%}{of_td})")
        bottom += med[j]
    top = float(bottom.max())
    if len(ledgers) > 1:
        total = hours.sum(axis=1)
        hi = np.percentile(total, 95, axis=0)
        ax.vlines(x, np.percentile(total, 5, axis=0), hi, color="k", lw=0.9, alpha=0.8,
                  label="total, 5–95 %")
        top = max(top, float(hi.max()))
    ax.set_ylabel("hours per month")
    ax.set_xlabel("month")
    date_axis(ax)
    what = f"median of {len(ledgers)} realizations" if len(ledgers) > 1 else "one log"
    ax.set_title(title or f"Telescope hours per project and month ({what}; science + "
                 "overhead + read-out; share of all hours)")
    ax.legend(fontsize=8, ncol=3, loc="upper left")
    ax.set_ylim(0, max(top, 1.0) * 1.45)
    return save(fig, path)


def _window_hours_by_month(windows: Any, rows: np.ndarray, usable: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Window hours per (plate, month) on usable nights, and the month edges (dates)."""
    nights = np.asarray(windows.almanac.night, dtype="datetime64[D]")
    month = nights.astype("datetime64[M]")
    months = np.unique(month)
    col = np.searchsorted(months, month)
    out = np.zeros((len(rows), len(months)))
    hours = np.where(usable[None, :], np.nan_to_num(windows.hours[rows]), 0.0)
    for j in range(len(months)):
        out[:, j] = hours[:, col == j].sum(axis=1)
    edges = np.append(months, months[-1] + 1).astype("datetime64[D]")
    return edges, out


def season_calendar(windows: Any, plate_names: Sequence[str], path: str | os.PathLike[str],
                    title: str = "") -> Path:
    """The observing season: night modes, the Moon, and window hours per plate and month.

    Parameters
    ----------
    windows : Windows
        Visibility windows with their almanac (:class:`lkmrs_sched.sky.visibility.Windows`).
    plate_names : sequence of str
        The plates whose window hours are shown (e.g. the LK-MRS plates).
    path : path-like
    title : str
    """
    from matplotlib.dates import date2num

    alm = windows.almanac
    dates = as_dates(np.asarray(alm.night, dtype="datetime64[D]").astype(str))
    mode = np.where(alm.shutdown, "shutdown", np.where(alm.mrs_night, "MRS", "LRS"))
    names = plate_order(plate_names)
    rows = np.array([windows.plates.index(n) for n in names], dtype=int)
    edges, grid = _window_hours_by_month(windows, rows, alm.mrs_night & ~alm.shutdown)
    fig = figure(12, 3.8 + 0.2 * len(names))
    gs = fig.add_gridspec(2, 2, height_ratios=[2.4, 0.2 * len(names) + 1.0],
                          width_ratios=[40, 1])
    ax = fig.add_subplot(gs[0, 0])
    handles = []
    for m in ("MRS", "LRS", "shutdown"):  # one polygon per run of nights (fast)
        sel = mode == m
        ax.fill_between(dates, 0, alm.dark_hours, where=sel, step="mid", color=MODE_COLOURS[m],
                        lw=0)
        handles.append(Patch(color=MODE_COLOURS[m], label=f"{m} nights ({int(sel.sum())})"))
    ax.set_ylabel("dark hours (dusk–dawn)")
    ax.set_ylim(0, float(np.max(alm.dark_hours)) * 1.35)
    moon = ax.twinx()
    moon.plot(dates, alm.moon_illumination, color="goldenrod", lw=0.8, alpha=BAND_ALPHA + 0.5,
              label="Moon illumination")
    moon.set_ylim(0, 1.35)
    moon.set_ylabel("Moon illuminated fraction")
    handles += moon.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, ncol=4, loc="upper left")
    ax.set_title(title or "Season calendar: MRS, LRS and shutdown nights, and the Moon")
    heat = fig.add_subplot(gs[1, 0], sharex=ax)
    mesh = heat.pcolormesh(date2num(edges.astype(object)), np.arange(len(names) + 1) - 0.5,
                           grid, cmap="viridis", shading="flat")
    heat.set_yticks(range(len(names)), names, fontsize=7)
    heat.set_ylim(len(names) - 0.5, -0.5)
    heat.set_xlabel("night (local evening date)")
    heat.set_ylabel("plate")
    heat.set_title("Window hours per plate and month on MRS nights outside shutdown "
                   "(±2 h, dark, Moon distance)", fontsize=10)
    date_axis(heat)
    ax.tick_params(labelbottom=False)
    fig.colorbar(mesh, cax=fig.add_subplot(gs[1, 1]), label="window hours per month")
    return save(fig, path)
