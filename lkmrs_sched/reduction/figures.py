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


def plot_zero_points(
    zero_points: ZeroPoints, path: str | os.PathLike[str], max_plates: int = 24
) -> None:
    """RV offset versus exposure for each spectrograph, one panel per plate (Figure A1).

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
    ok = np.isfinite(np.asarray(t["offset"], dtype=float))
    planids, counts = np.unique(np.asarray(t["planid"])[ok], return_counts=True)
    planids = planids[np.argsort(-counts, kind="stable")][:max_plates]
    n = max(len(planids), 1)
    ncol = min(4, n)
    nrow = int(np.ceil(n / ncol))
    # Fixed margins: constrained layout costs seconds with tens of panels.
    fig = _figure(3.4 * ncol + 1.2, 2.6 * nrow + 0.6, layout=None)
    fig.subplots_adjust(
        left=0.08,
        right=0.98,
        bottom=0.06,
        top=1 - 0.8 / (2.6 * nrow + 0.6),
        wspace=0.12,
        hspace=0.45,
    )
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False, sharey=True)).ravel()
    cmap = colormaps["tab20"]
    colors = [cmap(k % 20) for k in range(16)]
    plan = np.asarray(t["planid"])
    idx_all = np.asarray(t["exposure_index"])
    spid_all = np.asarray(t["spid"]).astype(int)
    off_all = np.asarray(t["offset"], dtype=float)
    err_all = np.asarray(t["error"], dtype=float)
    for ax, planid in zip(axes, planids, strict=False):
        sel = ok & (plan == planid)
        # One (exposure × spectrograph) grid per plate: two drawing calls per panel.
        n_exp = int(idx_all[sel].max())
        grid = np.full((n_exp, 16), np.nan)
        grid[idx_all[sel] - 1, spid_all[sel] - 1] = off_all[sel]
        x = np.arange(1, n_exp + 1)
        ax.set_prop_cycle(color=colors)
        lines = ax.plot(x, grid, marker="o", ms=2.5, lw=0.8)
        for k, line in enumerate(lines):
            line.set_label(str(k + 1))
        ax.vlines(
            idx_all[sel],
            off_all[sel] - err_all[sel],
            off_all[sel] + err_all[sel],
            colors=[colors[k - 1] for k in spid_all[sel]],
            lw=0.6,
        )
        ax.axhline(0.0, color="0.5", lw=0.6)
        ax.set_title(str(planid), fontsize=8)
        ax.set_xlabel("exposure on plate")
    for ax in axes[len(planids) :]:
        ax.set_axis_off()
    axes[0].set_ylabel(r"RV zero point (km s$^{-1}$)")
    if len(planids):
        axes[0].legend(title="spectrograph", fontsize=5, title_fontsize=6, ncol=4, loc="best")
    else:
        axes[0].text(
            0.5,
            0.5,
            "no zero points determined",
            ha="center",
            va="center",
            transform=axes[0].transAxes,
        )
    fig.suptitle(f"RV zero points per spectrograph and exposure ({zero_points.method})")
    _save(fig, path)


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
            _precision_panel(ax, f, (published or {}).get(name), grid, snr_max)
        else:
            ax.text(0.5, 0.5, f.status, ha="center", va="center", transform=ax.transAxes)
        ax.set_xscale("log")
        ax.set_xlim(5, snr_max)
        ax.set_xlabel("S/N")
        ax.set_ylabel(_LABELS.get(name, name))
        ax.legend(fontsize=6, loc="upper right")
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    fig.suptitle("Internal precision from repeat measurements (Eq. 3, Eq. 4)")
    _save(fig, path)


def _precision_panel(ax, f: PrecisionFit, published: PrecisionLaw | None, grid: np.ndarray,
                     snr_max: float) -> None:
    """One parameter: ΔP density, 6σ outliers, fitted and published laws, binned σ."""
    from matplotlib.colors import LogNorm

    lim = 6.0 * float(np.nanmax(f.law(grid[grid >= 8])))
    keep = np.abs(f.delta) <= 1.5 * lim
    ax.hist2d(
        f.snr[keep],
        f.delta[keep],
        bins=[np.geomspace(5, snr_max, 90), np.linspace(-lim, lim, 90)],
        norm=LogNorm(),
        cmap="Greys",
    )
    out = f.outlier & np.isfinite(f.delta)
    idx = np.flatnonzero(out)[:: max(1, np.count_nonzero(out) // 3000)]
    ax.plot(
        f.snr[idx],
        np.clip(f.delta[idx], -lim, lim),
        ".",
        ms=1.5,
        color="tab:red",
        label=f"6σ outliers ({100 * f.outlier_fraction:.1f}%)",
    )
    for sign in (1, -1):
        ax.plot(grid, sign * f.law(grid), color="tab:blue", lw=1.4,
                label="σ(S/N) fit" if sign > 0 else None)
        ax.plot(grid, sign * 6 * f.first_law(grid), color="tab:blue", lw=0.8, ls="--",
                label="6σ (first fit)" if sign > 0 else None)
        if published is not None:
            ax.plot(grid, sign * published(grid), color="tab:orange", lw=1.0, ls=":",
                    label="Table 4" if sign > 0 else None)
    used = np.asarray(f.bins["used"])
    ax.plot(
        np.asarray(f.bins["snr"])[used],
        np.asarray(f.bins["sigma"])[used],
        "o",
        ms=2.5,
        color="tab:green",
        label="binned σ",
    )
    ax.set_ylim(-lim, lim)
    ax.text(
        0.98,
        0.04,
        f"σ = {f.law.a:.3g}·(S/N)^{f.law.b:.3g} + {f.law.c:.3g}",
        ha="right",
        va="bottom",
        fontsize=7,
        transform=ax.transAxes,
    )
