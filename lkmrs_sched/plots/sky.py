"""Sky maps: plate footprints as true 2.5° circles on a Mollweide projection.

Conventions, as astronomers expect them: RA increases to the left (east is left on the
sky seen from inside), the Galactic plane and the ecliptic are drawn (astropy frames,
computed offline), and each plate is the small circle of radius
:data:`FOV_RADIUS_DEG` computed on the sphere, so it is round on the sky however the
projection shears it. Zoomed panels use the gnomonic (tangent-plane) projection around a
field's centre, again with east to the left.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import Patch, Polygon

from lkmrs_sched.plots.style import (
    field_colour,
    field_handles,
    figure,
    plate_groups,
    project_colour,
    save,
)
from lkmrs_sched.sky.footprints import PlateSet

#: Radius of a LAMOST plate's field of view (5° diameter).
FOV_RADIUS_DEG = 2.5
#: RA at the centre of the all-sky maps.
CENTRE_RA_DEG = 180.0


def sphere_circle(ra_deg: float, dec_deg: float, radius_deg: float = FOV_RADIUS_DEG,
                  n: int = 73) -> tuple[np.ndarray, np.ndarray]:
    """Points of the small circle of angular radius ``radius_deg`` around a position.

    Returns RA (continuous around ``ra_deg``, not wrapped) and Dec, in degrees.
    """
    d0, r = np.radians(dec_deg), np.radians(radius_deg)
    theta = np.linspace(0, 2 * np.pi, n)
    dec = np.arcsin(np.sin(d0) * np.cos(r) + np.cos(d0) * np.sin(r) * np.cos(theta))
    dra = np.arctan2(np.sin(theta) * np.sin(r) * np.cos(d0),
                     np.cos(r) - np.sin(d0) * np.sin(dec))
    return ra_deg + np.degrees(dra), np.degrees(dec)


def _wrap180(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x, dtype=float) + 180.0) % 360.0 - 180.0


def sky_x(ra_deg: Any, centre: float = CENTRE_RA_DEG) -> np.ndarray:
    """Mollweide abscissa in degrees for RA (increasing to the left)."""
    return -_wrap180(np.asarray(ra_deg, dtype=float) - centre)


def _line(ax, ra: np.ndarray, dec: np.ndarray, **kw: Any) -> None:
    """A curve on the all-sky axes, broken where it crosses the map's edge."""
    x = sky_x(ra)
    breaks = np.flatnonzero(np.abs(np.diff(x)) > 180) + 1
    x, y = np.insert(x, breaks, np.nan), np.insert(np.asarray(dec, float), breaks, np.nan)
    ax.plot(np.radians(x), np.radians(y), **kw)


def footprint_polygons(ra_deg: Any, dec_deg: Any, radius_deg: float = FOV_RADIUS_DEG
                       ) -> tuple[list[np.ndarray], np.ndarray]:
    """Each plate's circle as all-sky map vertices (radians), twice if it straddles the edge.

    Returns the polygons and, for each, the index of its plate.
    """
    polys, owner = [], []
    for i, (ra0, dec0) in enumerate(zip(np.atleast_1d(ra_deg), np.atleast_1d(dec_deg),
                                        strict=True)):
        ra, dec = sphere_circle(float(ra0), float(dec0), radius_deg)
        x = sky_x(ra0) - (ra - ra0)  # continuous around the plate's centre
        for shift in (0.0, -360.0, 360.0):
            xs = x + shift
            if shift and not (np.any(xs > -180) and np.any(xs < 180)):
                continue
            polys.append(np.radians(np.column_stack([xs, dec])))
            owner.append(i)
    return polys, np.array(owner, dtype=int)


def add_footprints(ax, ra_deg: Any, dec_deg: Any, colours: Any, **kw: Any) -> None:
    """Draw plates' circles on the all-sky axes as one collection (fast)."""
    from matplotlib.collections import PolyCollection

    polys, owner = footprint_polygons(ra_deg, dec_deg)
    if isinstance(colours, str):
        colours = [colours] * len(np.atleast_1d(ra_deg))
    ax.add_collection(PolyCollection(polys, facecolors=[colours[i] for i in owner], **kw),
                      autolim=False)


@functools.lru_cache(maxsize=1)
def reference_curves() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """ICRS RA/Dec (degrees) of the Galactic plane (b = 0, ±10°) and the ecliptic."""
    import astropy.units as u
    from astropy.coordinates import BarycentricMeanEcliptic, SkyCoord

    lon = np.linspace(0, 360, 721) * u.deg
    out = {}
    for name, b in (("galactic", 0), ("galactic+10", 10), ("galactic-10", -10)):
        c = SkyCoord(l=lon, b=np.full(len(lon), b) * u.deg, frame="galactic").icrs
        out[name] = (c.ra.deg, c.dec.deg)
    e = SkyCoord(lon=lon, lat=np.zeros(len(lon)) * u.deg, frame=BarycentricMeanEcliptic()).icrs
    out["ecliptic"] = (e.ra.deg, e.dec.deg)
    gc = SkyCoord(l=[0] * u.deg, b=[0] * u.deg, frame="galactic").icrs
    out["galactic_centre"] = (gc.ra.deg, gc.dec.deg)
    return out


def sky_axes(fig, spec: Any):
    """Mollweide axes with RA hour labels increasing to the left and the reference curves."""
    ax = fig.add_subplot(spec, projection="mollweide")
    ticks = np.arange(-150, 151, 30)
    ax.set_xticks(np.radians(ticks),
                  [f"{int(((CENTRE_RA_DEG - t) % 360) / 15)}h" for t in ticks], fontsize=7,
                  color="0.35")
    ax.set_yticks(np.radians(np.arange(-60, 61, 30)),
                  [f"{d:+d}°" for d in range(-60, 61, 30)], fontsize=7)
    ax.grid(True, color="0.85", lw=0.5)
    curves = reference_curves()
    _line(ax, *curves["galactic"], color="tab:gray", lw=1.4, label="Galactic plane")
    for side in ("galactic+10", "galactic-10"):
        _line(ax, *curves[side], color="tab:gray", lw=0.6, ls=":")
    _line(ax, *curves["ecliptic"], color="goldenrod", lw=1.2, ls="--", label="ecliptic")
    gra, gdec = curves["galactic_centre"]
    ax.plot(np.radians(sky_x(gra)), np.radians(gdec), "+", color="tab:gray", ms=8)
    ax.text(np.radians(sky_x(gra[0]) + 3), np.radians(gdec[0] - 6), "GC", fontsize=7,
            color="tab:gray")
    ax.set_xlabel("RA (hours, increasing to the left); Dec (degrees)", fontsize=8)
    return ax


def _group_labels(ax, plates: PlateSet, fields: dict[str, str]) -> None:
    """One label per plate group above it (not one per plate: they would overlap)."""
    names = [str(n) for n in plates.plate_name]
    for group, members in plate_groups(names).items():
        idx = [names.index(m) for m in members]
        ra = float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(plates.ra_deg[idx]))))))
        dec = float(np.max(plates.dec_deg[idx])) + FOV_RADIUS_DEG + 3
        which = "/".join(dict.fromkeys(fields[m] for m in members))
        ax.text(np.radians(sky_x(ra)), np.radians(dec), f"{group} ({which})", ha="center",
                va="bottom", fontsize=7, fontweight="bold",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})


def footprint_map(plates: PlateSet, path: str | os.PathLike[str], title: str = "") -> Path:
    """All-sky map of every plate: LK-MRS by field, other TD projects, NT plates.

    Parameters
    ----------
    plates : PlateSet
        Every plate (``project`` tells them apart; LK-MRS plates carry their ``field``).
    path : path-like
    title : str
    """
    fig = figure(11, 6.2)
    ax = sky_axes(fig, 111)
    lk = plates.project == "LK-MRS"
    handles = []
    for project in sorted(set(plates.project[~lk]), key=lambda p: (p == "NT", p)):
        sel = plates.project == project
        add_footprints(ax, plates.ra_deg[sel], plates.dec_deg[sel], project_colour(project),
                       edgecolors="none", alpha=0.35 if project == "NT" else 0.55)
        handles.append(Patch(fc=project_colour(project), alpha=0.5,
                             label=f"{project} ({int((plates.project == project).sum())})"))
    fields = {str(plates.plate_name[i]): str(plates.field[i]) for i in np.flatnonzero(lk)}
    add_footprints(ax, plates.ra_deg[lk], plates.dec_deg[lk],
                   [field_colour(f) for f in plates.field[lk]], edgecolors="k", linewidths=0.4,
                   alpha=0.95)
    _group_labels(ax, plates.subset(lk), fields)
    lines = ax.get_legend_handles_labels()[0]
    ax.legend(handles=field_handles(fields.values()) + handles + lines, fontsize=7, ncol=6,
              loc="upper center", bbox_to_anchor=(0.5, -0.06), frameon=False)
    ax.set_title(title or f"Plate footprints ({FOV_RADIUS_DEG}° radius): LK-MRS by K2 "
                 "campaign / Kepler field, other programmes' plates shaded", fontsize=10)
    return save(fig, path)


def gnomonic(ra_deg: Any, dec_deg: Any, ra0: float, dec0: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Tangent-plane coordinates (ξ, η) in degrees around (ra0, dec0)."""
    a, d = np.radians(np.asarray(ra_deg, float)), np.radians(np.asarray(dec_deg, float))
    a0, d0 = np.radians(ra0), np.radians(dec0)
    cos_c = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    xi = np.cos(d) * np.sin(a - a0) / cos_c
    eta = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cos_c
    return np.degrees(xi), np.degrees(eta)


def _group_frame(plates: PlateSet, members: Sequence[str]) -> tuple[float, float, tuple]:
    """Tangent point of a plate group and the (ξ, η) box holding its circles, degrees."""
    names = [str(n) for n in plates.plate_name]
    idx = [names.index(m) for m in members]
    ra0 = float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(plates.ra_deg[idx])))))) % 360
    dec0 = float(np.mean(plates.dec_deg[idx]))
    pts = [gnomonic(*sphere_circle(plates.ra_deg[i], plates.dec_deg[i]), ra0, dec0) for i in idx]
    xi = np.concatenate([p[0] for p in pts])
    eta = np.concatenate([p[1] for p in pts])
    pad = 1.0
    return ra0, dec0, (xi.min() - pad, xi.max() + pad, eta.min() - pad, eta.max() + pad)


def _zoom_panel(ax, plates: PlateSet, members: Sequence[str], value: dict[str, float],
                text: dict[str, str], cmap: Any, half_height: float) -> None:
    """One field group in the tangent plane: circles coloured by ``value``, labelled."""
    from matplotlib import patheffects

    names = [str(n) for n in plates.plate_name]
    ra0, dec0, (x0, x1, _, _) = _group_frame(plates, members)
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    for name in members:
        i = names.index(name)
        xi, eta = gnomonic(*sphere_circle(plates.ra_deg[i], plates.dec_deg[i]), ra0, dec0)
        ax.add_patch(Polygon(np.column_stack([xi, eta]), closed=True, fc=cmap(value[name]),
                             ec="k", lw=0.6, alpha=0.75))
        cx, cy = gnomonic(plates.ra_deg[i], plates.dec_deg[i], ra0, dec0)
        ax.text(cx, cy, f"{name}\n{text[name]}", ha="center", va="center", fontsize=6.5,
                path_effects=halo)
    ax.set_xlim(x1, x0)  # east (larger RA) to the left
    ax.set_ylim(-half_height, half_height)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    ax.set_xlabel("ΔRA·cos δ (deg, east ←)", fontsize=7)
    ax.set_title(f"{members[0][:-1]}: RA {ra0:.1f}°, Dec {dec0:+.1f}°", fontsize=8)


def completion_map(summary: dict[str, Any], plates: PlateSet, path: str | os.PathLike[str]
                   ) -> Path:
    """The LK-MRS footprints on the sky coloured by forecast completion (median / goal).

    An all-sky Mollweide map on top; below, one tangent-plane panel per plate group with
    each plate's median exposures by the end and its chance of reaching the goal.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    goal = summary["goal_exposures"]
    names = [str(n) for n in plates.plate_name]
    rows = summary["plates"]
    value = {n: min(1.0, rows[n]["exposures"]["median"] / goal) if n in rows else 0.0
             for n in names}
    text = {n: (f"{rows[n]['exposures']['median']:.0f} · {rows[n]['p_reach_goal']:.0%}"
                if n in rows else "–") for n in names}
    cmap = colormaps["viridis"]
    groups = plate_groups(names)
    frames = [_group_frame(plates, m)[2] for m in groups.values()]
    half = max(max(abs(f[2]), abs(f[3])) for f in frames)
    fig = figure(13, 9.2)
    gs = fig.add_gridspec(2, len(groups), height_ratios=[2.2, 1.2],
                          width_ratios=[f[1] - f[0] for f in frames])
    ax = sky_axes(fig, gs[0, :])
    add_footprints(ax, plates.ra_deg, plates.dec_deg, [cmap(value[n]) for n in names],
                   edgecolors="k", linewidths=0.4)
    _group_labels(ax, plates, {n: str(f) for n, f in zip(names, plates.field, strict=True)})
    ax.legend(fontsize=7, loc="lower right")
    for k, members in enumerate(groups.values()):
        _zoom_panel(fig.add_subplot(gs[1, k]), plates, members, value, text, cmap, half)
    fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=fig.axes, shrink=0.6,
                 label=f"median exposures by {summary['end']} / {goal}")
    fig.suptitle(f"{summary['scenario']}: LK-MRS footprints coloured by forecast completion "
                 f"({summary['realizations']} realizations); panels: median exposures · "
                 f"P(≥ {goal})", fontsize=10)
    return save(fig, path)
