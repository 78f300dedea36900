"""Figures of the reduction: RV zero points (like the paper's Figure A1) and internal
precision versus S/N (like Figure 8).

Matplotlib's object API with the Agg canvas is used directly (no pyplot, no global
state); files are written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from lkmrs_sched.core.atomic import atomic_path
from lkmrs_sched.core.precision import PrecisionLaw
from lkmrs_sched.reduction.rv_zero_point import ZeroPoints
from lkmrs_sched.reduction.uncertainty import PrecisionFit

_LABELS = {
    "teff": r"$\Delta T_{\rm eff}$ (K)",
    "logg": r"$\Delta \log g$ (dex)",
    "feh": r"$\Delta$[Fe/H] (dex)",
    "rv": r"$\Delta$RV (km s$^{-1}$)",
}


def _figure(width: float, height: float, layout: str | None = "constrained"):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike[str], dpi: int = 120) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=os.path.splitext(str(path))[1].lstrip(".") or "png")


def _zero_point_grid(t, planid: str) -> np.ndarray:
    """Offsets of one plate as a (spectrograph 1–16, exposure) grid; NaN where none."""
    sel = (np.asarray(t["planid"]) == planid) & np.isfinite(np.asarray(t["offset"], float))
    idx = np.asarray(t["exposure_index"])[sel].astype(int)
    spid = np.asarray(t["spid"])[sel].astype(int)
    grid = np.full((16, int(idx.max()) if len(idx) else 1), np.nan)
    grid[spid - 1, idx - 1] = np.asarray(t["offset"], dtype=float)[sel]
    return grid


def _zero_point_panel(ax, grid: np.ndarray, planid: str, cmap, limit: float):
    """One plate: spectrograph × exposure heat map of the offsets."""
    from matplotlib.ticker import MaxNLocator

    n_exp = grid.shape[1]
    im = ax.imshow(grid, cmap=cmap, vmin=-limit, vmax=limit, aspect="auto",
                   interpolation="nearest", extent=(0.5, n_exp + 0.5, 16.5, 0.5))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10], nbins=6))
    ax.set_yticks([1, 4, 8, 12, 16])
    ax.tick_params(labelsize=7)
    rms = float(np.sqrt(np.nanmean(grid**2))) if np.isfinite(grid).any() else float("nan")
    ax.set_title(f"{planid}\n{n_exp} exposures, rms {rms:.2f} km/s", fontsize=7)
    return im


def plot_zero_points(
    zero_points: ZeroPoints, path: str | os.PathLike[str], max_plates: int = 24
) -> None:
    """RV zero points (like Figure A1), one heat map per plate and a per-spectrograph summary.

    Each plate's panel shows its offset for every (spectrograph, exposure) on a diverging
    scale shared by all panels (grey: not determined); the bottom panel shows the
    distribution of each spectrograph's offsets over every plate and exposure.

    Parameters
    ----------
    zero_points : ZeroPoints
    path : path-like
        Output image (PNG or PDF by suffix).
    max_plates : int
        Plates with the most determined offsets shown first, at most this many.
    """
    from matplotlib import colormaps

    t = zero_points.offsets
    off = np.asarray(t["offset"], dtype=float)
    ok = np.isfinite(off)
    planids, counts = np.unique(np.asarray(t["planid"])[ok], return_counts=True)
    planids = planids[np.argsort(-counts, kind="stable")][:max_plates]
    ncol = 4
    nrow = max(1, int(np.ceil(len(planids) / ncol)))
    height = 1.9 * nrow + 2.6
    # Fixed margins: constrained layout costs seconds with tens of panels.
    fig = _figure(13, height, layout=None)
    gs = fig.add_gridspec(nrow + 1, ncol + 1, width_ratios=[1] * ncol + [0.05],
                          height_ratios=[1.0] * nrow + [1.1], left=0.06, right=0.95,
                          bottom=0.5 / height, top=1 - 0.75 / height, wspace=0.18,
                          hspace=0.75)
    cmap = colormaps["RdBu_r"].with_extremes(bad="0.85")
    limit = float(np.nanpercentile(np.abs(off[ok]), 99)) if ok.any() else 1.0
    limit = max(0.1, float(np.ceil(limit * 10) / 10))
    im = None
    for k, planid in enumerate(planids):
        ax = fig.add_subplot(gs[k // ncol, k % ncol])
        im = _zero_point_panel(ax, _zero_point_grid(t, planid), str(planid), cmap, limit)
        if k % ncol == 0:
            ax.set_ylabel("spectrograph", fontsize=7)
        ax.set_xlabel("exposure on plate", fontsize=7)
    summary = fig.add_subplot(gs[nrow, :ncol])
    if im is not None:
        fig.colorbar(im, cax=fig.add_subplot(gs[: max(1, nrow), ncol]),
                     label=r"RV zero point (km s$^{-1}$)")
        spid = np.asarray(t["spid"]).astype(int)[ok]
        summary.boxplot([off[ok][spid == s] for s in range(1, 17)], positions=range(1, 17),
                        whis=(5, 95), showfliers=False, widths=0.6)
        summary.axhline(0.0, color="0.5", lw=0.6)
    else:
        summary.text(0.5, 0.5, "no zero points determined", ha="center", va="center",
                     transform=summary.transAxes)
    summary.set_xlabel("spectrograph")
    summary.set_ylabel(r"zero point (km s$^{-1}$)")
    summary.set_title("All plates and exposures per spectrograph (box: 25–75 %, "
                      "whiskers: 5–95 %)", fontsize=8)
    fig.suptitle(f"RV zero points per spectrograph and exposure ({zero_points.method}; "
                 f"{len(planids)} plates)")
    _save(fig, path)


def _precision_panel(ax, f: PrecisionFit, grid: np.ndarray, snr_max: float,
                     published: PrecisionLaw | None) -> None:
    """One parameter: ΔP density, outliers, the fitted law (±1σ, ±6σ first fit), bins."""
    from matplotlib.colors import LogNorm

    lim = 6.0 * float(np.nanmax(f.law(grid[grid >= 8])))
    keep = np.abs(f.delta) <= 1.5 * lim
    ax.hist2d(f.snr[keep], f.delta[keep],
              bins=[np.geomspace(5, snr_max, 90), np.linspace(-lim, lim, 90)],
              norm=LogNorm(), cmap="Greys")
    out = f.outlier & np.isfinite(f.delta)
    idx = np.flatnonzero(out)[:: max(1, np.count_nonzero(out) // 3000)]
    ax.plot(f.snr[idx], np.clip(f.delta[idx], -lim, lim), ".", ms=1.5, color="tab:red",
            label=f"6σ outliers ({100 * f.outlier_fraction:.1f}%)")
    for sign in (1, -1):
        first = sign > 0
        ax.plot(grid, sign * f.law(grid), color="tab:blue", lw=1.4,
                label="σ(S/N) fit" if first else None)
        ax.plot(grid, sign * 6 * f.first_law(grid), color="tab:blue", lw=0.8, ls="--",
                label="6σ (first fit)" if first else None)
        if published is not None:
            ax.plot(grid, sign * published(grid), color="tab:orange", lw=1.0, ls=":",
                    label="Table 4" if first else None)
    used = np.asarray(f.bins["used"])
    ax.plot(np.asarray(f.bins["snr"])[used], np.asarray(f.bins["sigma"])[used], "o", ms=2.5,
            color="tab:green", label="binned σ")
    ax.set_ylim(-lim, lim)
    ax.text(0.98, 0.04, f"σ = {f.law.a:.3g}·(S/N)^{f.law.b:.3g} + {f.law.c:.3g}", ha="right",
            va="bottom", fontsize=7, transform=ax.transAxes,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7", "alpha": 0.9})


def plot_precision(
    fits: Mapping[str, PrecisionFit],
    path: str | os.PathLike[str],
    published: Mapping[str, PrecisionLaw] | None = None,
    snr_max: float = 300.0,
) -> None:
    """ΔP (Eq. 3) versus S/N with the fitted σ(S/N) of Eq. 4, one panel per parameter.

    Parameters
    ----------
    fits : mapping of str to PrecisionFit
    path : path-like
        Output image.
    published : mapping, optional
        Laws to overplot for comparison (e.g. Table 4).
    snr_max : float
        Right edge of the S/N axis.
    """
    names = list(fits)
    ncol = 2 if len(names) > 1 else 1
    nrow = int(np.ceil(max(len(names), 1) / ncol))
    fig = _figure(5.2 * ncol, 3.6 * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    grid = np.geomspace(5.0, snr_max, 200)
    for ax, name in zip(axes, names, strict=False):
        f = fits[name]
        if f.delta.size and f.law.ok:
            _precision_panel(ax, f, grid, snr_max, (published or {}).get(name))
        else:
            ax.text(0.5, 0.5, f.status, ha="center", va="center", transform=ax.transAxes)
        ax.set_xscale("log")
        ax.set_xlim(5, snr_max)
        ax.set_xlabel("S/N")
        ax.set_ylabel(_LABELS.get(name, name))
        ax.legend(fontsize=6, loc="upper right", framealpha=0.9)
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    fig.suptitle("Internal precision from repeat measurements (Eq. 3, Eq. 4)")
    _save(fig, path)

