"""What every figure shares: colours, the Agg figure factory, atomic saving, axis helpers.

Figures are made with matplotlib's object API on the Agg canvas (:func:`figure`): no
pyplot state, so figures are never kept alive by a global registry and several can be
drawn at once. Colours are fixed per K2 campaign / Kepler field, per project and per
night mode, so the same thing has the same colour in every figure.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from lkmrs_sched.core.atomic import atomic_path

#: K2 campaign / Kepler field of each LK-MRS plate → colour (Table 1's ``field``).
FIELD_COLOURS = {"Kepler": "tab:purple", "C4": "tab:blue", "C5C16": "tab:orange",
                 "C8": "tab:green", "C13": "tab:red", "C14": "tab:brown"}
#: Project → colour (LK-MRS, the other TD projects, NT).
PROJECT_COLOURS = {"LK-MRS": "tab:blue", "TD-B": "tab:orange", "TD-C": "tab:green",
                   "TD-D": "tab:red", "NT": "0.55"}
#: Night mode → colour.
MODE_COLOURS = {"MRS": "tab:blue", "LRS": "0.8", "shutdown": "tab:red"}
#: Observed data are black, forecasts blue with a translucent 5–95 % band.
OBSERVED = "black"
FORECAST = "tab:blue"
BAND_ALPHA = 0.28
#: Resolution of every PNG (keeps the README copies small).
DPI = 110


def figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A new figure on the Agg canvas (no pyplot)."""
    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> Path:
    """Save a figure atomically (format from the suffix) and release it.

    Figures made by pyplot are closed too, so callers of the old API leak nothing.
    """
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".") or "png")
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return Path(path)


def integer_axis(ax, which: str = "y") -> None:
    """Only whole-number ticks on a count axis (``"x"``, ``"y"`` or ``"both"``)."""
    for name in ("x", "y") if which == "both" else (which,):
        getattr(ax, f"{name}axis").set_major_locator(
            MaxNLocator(nbins="auto", integer=True, steps=[1, 2, 2.5, 5, 10]))


def date_axis(ax, which: str = "x") -> None:
    """Concise automatic date ticks."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    axis = getattr(ax, f"{which}axis")
    locator = AutoDateLocator(minticks=4, maxticks=10)
    axis.set_major_locator(locator)
    axis.set_major_formatter(ConciseDateFormatter(locator))


def field_colour(field: str) -> str:
    """Colour of a field (grey for an unknown one)."""
    return FIELD_COLOURS.get(str(field), "0.5")


def project_colour(project: str) -> str:
    """Colour of a project (a fixed cycle for unknown ones)."""
    if project in PROJECT_COLOURS:
        return PROJECT_COLOURS[project]
    cycle = ("tab:pink", "tab:olive", "tab:cyan", "tab:brown")
    return cycle[sum(map(ord, project)) % len(cycle)]


def field_handles(fields: Iterable[str]) -> list[Patch]:
    """Legend patches for the fields present, in :data:`FIELD_COLOURS` order."""
    present = {str(f) for f in fields}
    order = [f for f in FIELD_COLOURS if f in present] + sorted(present - set(FIELD_COLOURS))
    return [Patch(facecolor=field_colour(f), label=f) for f in order]


def plate_order(plate_names: Iterable[str]) -> list[str]:
    """Plate names in the paper's order (K1a1 … K2e4: by name)."""
    return sorted(str(n) for n in plate_names)


def plate_groups(plate_names: Iterable[str]) -> dict[str, list[str]]:
    """Plates by group (the name without its last character: ``K2b1`` → ``K2b``)."""
    groups: dict[str, list[str]] = {}
    for name in plate_order(plate_names):
        groups.setdefault(name[:-1] if len(name) > 1 else name, []).append(name)
    return groups


def no_data(ax, text: str = "no data") -> None:
    """Write a centred note on an empty axis."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def as_dates(values: Iterable[str]) -> np.ndarray:
    """ISO dates as an array of ``datetime.date`` objects (what matplotlib plots)."""
    return np.array(list(values), dtype="datetime64[D]").astype(object)
