"""Internal precision as a function of S/N from repeat measurements (Eq. 3 and Eq. 4).

For a star with N epochs of parameter P, each epoch's deviation from the star's
weighted mean (Eq. 1) is scaled to a single-epoch error,

    ΔP_k = (P_k − P̄) · sqrt(N/(N−1))                                  (Eq. 3)

and the scatter of ΔP in S/N bins is fitted with

    σ_P(S/N) = a · (S/N)^b + c                                        (Eq. 4)

Procedure (brief §6), for each parameter:

1. 3σ-clip ΔP in S/N bins of width 6, iterating until the kept set stops changing
   (at most 0.01 % of the epochs change state; 20 iterations at most).
   By default each iteration recomputes the star means from the kept epochs (so an
   outlier does not bias its star's other deviations); ``recompute_means=False`` keeps
   the means of all epochs, the literal reading.
2. Fit Eq. 4 to the scatter of the kept ΔP in those bins, over S/N ≤ 300 (spectra of
   higher S/N still count in the star means but not in the fit).
3. Discard points with |ΔP| > 6 σ_P(S/N) as final outliers; their share is reported.
4. Recompute the means without the outliers and refit Eq. 4 to the scatter in 80 S/N
   bins of width 2 starting at S/N 8.

The √(N/(N−1)) factor is exact only for equal weights; with S/N² weights a low-S/N
epoch of a star with better epochs is slightly over-corrected and a dominant epoch
under-corrected. With the tens of epochs per star of a time-domain plate the effect is
a few per cent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.precision import PrecisionLaw
from lkmrs_sched.reduction.groups import group_sum

#: S/N values at which Table 4 quotes σ.
QUOTED_SNR: tuple[int, ...] = (10, 20, 50)


# --------------------------------------------------------------------------- Eq. 3


def star_means(
    codes: np.ndarray, values: np.ndarray, weights: np.ndarray, member: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (Eq. 1) and epoch count per star over the ``member`` epochs."""
    w = np.where(member, weights, 0.0)
    wsum = group_sum(codes, w, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = group_sum(codes, w * np.where(member, values, 0.0), n) / wsum
    count = np.bincount(codes[member], minlength=n)
    return mean, count


def internal_deltas(
    codes: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray,
    n: int,
    member: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """ΔP of Eq. 3 for every epoch.

    Parameters
    ----------
    codes : ndarray of int
        Star of each epoch.
    values, weights : ndarray of float
        P_k and w_k = (S/N_k)² (finite, w > 0 for the epochs used).
    n : int
        Number of stars.
    member : ndarray of bool, optional
        Epochs that define the star means (default: all). Epochs outside it get the
        plain deviation ``P_k − P̄`` (they are independent of P̄).

    Returns
    -------
    delta : ndarray
        ΔP (NaN where the star has fewer than 2 member epochs).
    count : ndarray of int
        N per star (member epochs).
    """
    member = np.ones(values.shape, dtype=bool) if member is None else member
    mean, count = star_means(codes, values, weights, member, n)
    nk = count[codes].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(member, np.sqrt(nk / (nk - 1.0)), 1.0)
        delta = (values - mean[codes]) * scale
    delta[nk < 2] = np.nan
    return delta, count


# --------------------------------------------------------------------------- Eq. 4 fit


def fit_law(x: np.ndarray, y: np.ndarray, yerr: np.ndarray) -> tuple[PrecisionLaw, np.ndarray]:
    """Weighted least-squares fit of σ = a·x^b + c.

    The model is linear in (a, c) for fixed b, so b is first profiled on a grid from −3
    to +1.5 (both signs occur: RV has b > 0 with a < 0), then all three are polished with
    :func:`scipy.optimize.least_squares`.

    Parameters
    ----------
    x, y, yerr : ndarray
        S/N, measured σ and its error.

    Returns
    -------
    law : PrecisionLaw
    errors : ndarray, shape (3,)
        1σ errors of (a, b, c) from the Jacobian (scaled by the reduced χ²).
    """
    from scipy.optimize import least_squares

    x, y, yerr = (np.asarray(v, dtype=float) for v in (x, y, yerr))
    if x.size < 4:
        return PrecisionLaw(np.nan, np.nan, np.nan), np.full(3, np.nan)
    w = 1.0 / yerr**2
    best = (np.inf, 0.0, 0.0, 0.0)
    for b in np.linspace(-3.0, 1.5, 226):
        if abs(b) < 1e-3:
            continue
        xb = x**b
        s0, s1, s2 = w.sum(), (w * xb).sum(), (w * xb * xb).sum()
        t0, t1 = (w * y).sum(), (w * xb * y).sum()
        det = s0 * s2 - s1 * s1
        if det <= 0:
            continue
        a = (s0 * t1 - s1 * t0) / det
        c = (s2 * t0 - s1 * t1) / det
        chi2 = (w * (y - a * xb - c) ** 2).sum()
        if chi2 < best[0]:
            best = (chi2, a, b, c)

    def resid(p: np.ndarray) -> np.ndarray:
        return (p[0] * x ** p[1] + p[2] - y) / yerr

    fit = least_squares(resid, x0=np.array(best[1:]), method="lm")
    p = fit.x if fit.success and np.all(np.isfinite(fit.x)) else np.array(best[1:])
    dof = max(x.size - 3, 1)
    try:
        jac = fit.jac
        cov = np.linalg.inv(jac.T @ jac) * max((fit.fun**2).sum() / dof, 1.0)
        errors = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        errors = np.full(3, np.nan)
    return PrecisionLaw(float(p[0]), float(p[1]), float(p[2])), errors


def bin_index(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``np.searchsorted(edges, x, side="right") - 1`` for evenly spaced ``edges``, by
    arithmetic (the S/N bins are; several times faster on millions of epochs).

    The index from ``(x − edges[0]) / width`` is corrected by comparing ``x`` with the
    edges themselves, so rounding cannot put an epoch in the neighbouring bin; uneven
    edges fall back to ``np.searchsorted``. Values below the first edge give −1, above the
    last ``edges.size − 1``; NaN gives ``edges.size − 1`` (as ``searchsorted``).
    """
    edges = np.asarray(edges, dtype=float)
    x = np.asarray(x, dtype=float)
    step = np.diff(edges)
    if edges.size < 2 or not np.allclose(step, step[0], rtol=1e-12, atol=0.0):
        return np.searchsorted(edges, x, side="right") - 1
    last = edges.size - 1
    with np.errstate(invalid="ignore"):
        k = np.floor((x - edges[0]) / step[0])
        k = np.where(np.isnan(x), last, np.clip(k, -1, last)).astype(np.int64)
        inner = (k >= 0) & (k < last)
        kk = np.clip(k, 0, last - 1)
        k -= inner & (x < edges[kk])  # rounded up past its edge
        k += (k >= 0) & (k < last) & (x >= edges[np.clip(k + 1, 0, last)])  # rounded down
    return k


def _bin_stats(snr: np.ndarray, delta: np.ndarray, edges: np.ndarray, min_count: int) -> Table:
    """Scatter of ``delta`` in S/N bins with the given edges (left-closed)."""
    nb = edges.size - 1
    idx = bin_index(edges, snr)
    inside = (idx >= 0) & (idx < nb) & np.isfinite(delta)
    idx, d, s = idx[inside], delta[inside], snr[inside]
    n = np.bincount(idx, minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(idx, d, nb) / n
        var = (np.bincount(idx, d * d, nb) - n * mean**2) / (n - 1)
        snr_mean = np.bincount(idx, s, nb) / n
    sigma = np.sqrt(np.clip(var, 0, None))
    bins = Table()
    bins["snr_lo"], bins["snr_hi"] = edges[:-1], edges[1:]
    bins["snr"] = np.where(n > 0, snr_mean, 0.5 * (edges[:-1] + edges[1:]))
    bins["n"] = n
    bins["mean"] = mean
    bins["sigma"] = sigma
    with np.errstate(invalid="ignore", divide="ignore"):
        bins["sigma_err"] = sigma / np.sqrt(2.0 * (n - 1))
    bins["used"] = (n >= min_count) & (sigma > 0)
    return bins


def _fit_bins(bins: Table) -> tuple[PrecisionLaw, np.ndarray]:
    use = np.asarray(bins["used"])
    return fit_law(
        np.asarray(bins["snr"])[use],
        np.asarray(bins["sigma"])[use],
        np.asarray(bins["sigma_err"])[use],
    )


@dataclass
class PrecisionFit:
    """Result of :func:`fit_internal_precision` for one parameter.

    Attributes
    ----------
    parameter, unit : str
    law : PrecisionLaw
        Final Eq. 4 fit (80 bins from S/N 8).
    law_errors : ndarray
        1σ errors of (a, b, c).
    first_law : PrecisionLaw
        Fit after the 3σ clipping (width-6 bins), used to find the 6σ outliers.
    n_points : int
        Epochs with ΔP defined and S/N within the fit range.
    n_outliers : int
        Of those, |ΔP| > 6σ.
    clip_iterations : int
        Iterations of step 1 until the kept set was stable.
    bins : astropy.table.Table
        Final binned scatter (``snr``, ``n``, ``sigma``, ``sigma_err``, ``used``).
    snr, delta, outlier : ndarray
        Per-epoch S/N, final ΔP and outlier flag (for figures).
    status : str
        "ok", or why no fit was possible.
    """

    parameter: str
    unit: str
    law: PrecisionLaw
    law_errors: np.ndarray
    first_law: PrecisionLaw
    n_points: int
    n_outliers: int
    clip_iterations: int
    bins: Table
    snr: np.ndarray = field(repr=False)
    delta: np.ndarray = field(repr=False)
    outlier: np.ndarray = field(repr=False)
    status: str = "ok"

    @property
    def outlier_fraction(self) -> float:
        """Share of points beyond 6σ."""
        return self.n_outliers / self.n_points if self.n_points else float("nan")

    def sigma_at(self, snr: np.ndarray | float) -> np.ndarray:
        """σ_P at the given S/N from the final law."""
        return self.law(snr)

    def to_dict(self) -> dict[str, Any]:
        """The ``uncertainty.json`` entry: a, b, c, σ at S/N 10/20/50, outlier share."""

        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {
            "a": num(self.law.a),
            "b": num(self.law.b),
            "c": num(self.law.c),
            "a_err": num(self.law_errors[0]),
            "b_err": num(self.law_errors[1]),
            "c_err": num(self.law_errors[2]),
            "unit": self.unit,
            "sigma_at_snr": {str(s): num(float(self.law(s))) for s in QUOTED_SNR},
            "outlier_fraction": num(self.outlier_fraction),
            "n_points": self.n_points,
            "n_outliers": self.n_outliers,
            "clip_iterations": self.clip_iterations,
            "status": self.status,
        }


def fit_internal_precision(
    codes: np.ndarray,
    values: np.ndarray,
    snr: np.ndarray,
    *,
    n_groups: int | None = None,
    parameter: str = "",
    unit: str = "",
    weights: np.ndarray | None = None,
    clip_sigma: float = 3.0,
    clip_bin_width: float = 6.0,
    snr_max: float = 300.0,
    outlier_sigma: float = 6.0,
    bin_start: float = 8.0,
    bin_step: float = 2.0,
    n_bins: int = 80,
    min_bin_count: int = 5,
    max_iterations: int = 20,
    stable_fraction: float = 1e-4,
    recompute_means: bool = True,
) -> PrecisionFit:
    """Internal precision σ_P(S/N) of one parameter from repeat measurements.

    Parameters
    ----------
    codes : ndarray of int
        Star of each epoch.
    values : ndarray of float
        Measured parameter P_k (NaN = not measured).
    snr : ndarray of float
        S/N of each epoch (per pixel).
    n_groups : int, optional
        Number of stars (default ``codes.max() + 1``).
    parameter, unit : str
        Labels for the result.
    weights : ndarray, optional
        Epoch weights (default (S/N)²).
    clip_sigma, clip_bin_width : float
        Step 1: clip at this many σ in S/N bins this wide.
    snr_max : float
        Upper S/N of the fitted range.
    outlier_sigma : float
        Step 3 threshold in units of σ_P(S/N).
    bin_start, bin_step, n_bins : float, float, int
        Step 4 bins.
    min_bin_count : int
        Bins with fewer epochs are not fitted.
    max_iterations : int
        Cap on step 1's iterations.
    stable_fraction : float
        Step 1 stops when at most this share of the epochs changes state (0 = exactly
        stable; with recomputed means a few borderline epochs can flip for a long time).
    recompute_means : bool
        Recompute star means from the kept epochs in step 1 and without outliers in step 4.

    Returns
    -------
    PrecisionFit
    """
    ep = _valid_epochs(codes, values, snr, n_groups, weights)
    in_range = ep.snr <= snr_max
    clip_edges = np.arange(0.0, snr_max + clip_bin_width, clip_bin_width)
    kept, delta, iterations = _clip(ep, in_range, clip_edges, clip_sigma, max_iterations,
                                    stable_fraction, recompute_means)
    first_bins = _bin_stats(ep.snr[kept & in_range], delta[kept & in_range], clip_edges,
                            min_bin_count)
    first_law, _ = _fit_bins(first_bins)
    if not first_law.ok:
        empty = np.array([])
        return PrecisionFit(parameter, unit, first_law, np.full(3, np.nan), first_law, 0, 0,
                            iterations, first_bins, empty, empty, empty.astype(bool),
                            "too few repeat measurements for a fit")
    edges = bin_start + bin_step * np.arange(n_bins + 1)
    final = _final_fit(ep, delta, in_range, first_law, outlier_sigma, snr_max, edges,
                       min_bin_count, recompute_means)
    return PrecisionFit(parameter, unit, first_law=first_law, clip_iterations=iterations,
                        **final)


def _valid_epochs(codes: np.ndarray, values: np.ndarray, snr: np.ndarray,
                  n_groups: int | None, weights: np.ndarray | None) -> _Epochs:
    """The epochs with a finite value, positive S/N and positive weight (default (S/N)²),
    sorted by star (so that per-star values reach the epochs by ``np.repeat``)."""
    codes = np.asarray(codes, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    snr = np.asarray(snr, dtype=float)
    n = int(n_groups if n_groups is not None else (codes.max() + 1 if codes.size else 0))
    w = snr**2 if weights is None else np.asarray(weights, dtype=float)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(values) & np.isfinite(snr) & (snr > 0) & np.isfinite(w) & (w > 0)
    idx = np.flatnonzero(valid)
    idx = idx[np.argsort(codes[idx], kind="stable")]
    c = codes[idx]
    return _Epochs(c, values[idx], snr[idx], w[idx], n, np.bincount(c, minlength=n))


def _final_fit(
    ep: _Epochs,
    delta: np.ndarray,
    in_range: np.ndarray,
    first_law: PrecisionLaw,
    outlier_sigma: float,
    snr_max: float,
    edges: np.ndarray,
    min_bin_count: int,
    recompute_means: bool,
) -> dict[str, Any]:
    """Steps 3–4: 6σ outliers against ``first_law``, then the final fit in ``edges`` bins.

    Returns the :class:`PrecisionFit` fields ``law, law_errors, n_points, n_outliers,
    bins, snr, delta, outlier, status``.
    """
    # Epochs whose star kept fewer than 2 epochs in step 1 cannot be judged (their star
    # mean is undefined) and are left out from here on; epochs above snr_max are judged
    # against σ(snr_max) so that they do not spoil their star's mean.
    assessable = np.isfinite(delta)
    with np.errstate(invalid="ignore"):
        outlier = assessable & (
            np.abs(delta) > outlier_sigma * first_law(np.minimum(ep.snr, snr_max)))
    final_member = assessable & ~outlier
    if recompute_means:
        final_delta, _ = internal_deltas(ep.codes, ep.values, ep.w, ep.n, member=final_member)
    else:
        final_delta = np.where(final_member, delta, np.nan)
    use = final_member & in_range
    final_delta = np.where(final_member, final_delta, np.nan)
    bins = _bin_stats(ep.snr[use], final_delta[use], edges, min_bin_count)
    law, errors = _fit_bins(bins)
    plot_delta = np.where(outlier, delta, final_delta)
    keep_plot = in_range & np.isfinite(plot_delta)
    return {
        "law": law,
        "law_errors": errors,
        "n_points": int(np.count_nonzero(assessable & in_range)),
        "n_outliers": int(np.count_nonzero(outlier & in_range)),
        "bins": bins,
        "snr": ep.snr[keep_plot],
        "delta": plot_delta[keep_plot],
        "outlier": outlier[keep_plot],
        "status": "ok" if law.ok else "too few binned points for the final fit",
    }


@dataclass(frozen=True)
class _Epochs:
    """The valid epochs of one parameter, sorted by star: star code, value, S/N, weight;
    the number of stars and each star's number of epochs."""

    codes: np.ndarray
    values: np.ndarray
    snr: np.ndarray
    w: np.ndarray
    n: int
    per_star: np.ndarray

    def spread(self, x: np.ndarray) -> np.ndarray:
        """A per-star array on each epoch (``x[codes]``, as the epochs are sorted)."""
        return np.repeat(x, self.per_star)


def _clip(
    ep: _Epochs,
    in_range: np.ndarray,
    clip_edges: np.ndarray,
    clip_sigma: float,
    max_iterations: int,
    stable_fraction: float,
    recompute_means: bool,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Step 1: iterative ``clip_sigma`` clipping of ΔP in the S/N bins ``clip_edges``.

    The star means of the kept epochs are updated from the epochs that changed state
    only (:class:`_MemberSums`), not summed afresh every iteration.

    Returns
    -------
    kept : ndarray of bool
        Epochs kept.
    delta : ndarray
        ΔP (Eq. 3) with means of the kept epochs (``recompute_means``) or of all.
    iterations : int
        Iterations made.
    """
    nb = clip_edges.size - 1
    clip_bin = np.clip(bin_index(clip_edges, ep.snr), 0, nb - 1)
    kept = np.ones(ep.values.size, dtype=bool)
    iterations = 0
    sums = _MemberSums.of(ep)
    delta = sums.deltas(ep, kept)
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - count reported
        judged = in_range & np.isfinite(delta)
        sel = judged & kept
        d0 = np.where(sel, delta, 0.0)
        cnt = np.bincount(clip_bin, sel, nb)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(clip_bin, d0, nb) / cnt
            var = (np.bincount(clip_bin, d0 * d0, nb) - cnt * mean**2) / (cnt - 1)
            limit = clip_sigma * np.sqrt(np.clip(var, 0, None))
            ok = np.abs(delta - mean[clip_bin]) <= limit[clip_bin]
        new_kept = np.where(judged & (cnt[clip_bin] >= 2), ok, kept)
        flip = np.flatnonzero(new_kept != kept)
        kept = new_kept
        if recompute_means and flip.size:
            sums.update(ep, flip, kept[flip])
            delta = sums.deltas(ep, kept)
        if flip.size <= stable_fraction * ep.values.size:
            break
    return kept, delta, iterations


@dataclass
class _MemberSums:
    """Per star: Σ w, Σ w·P and the count of the member epochs (updated in place)."""

    w: np.ndarray
    wv: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, ep: _Epochs) -> _MemberSums:
        """Sums over all epochs."""
        return cls(group_sum(ep.codes, ep.w, ep.n), group_sum(ep.codes, ep.w * ep.values, ep.n),
                   np.bincount(ep.codes, minlength=ep.n).astype(np.int64))

    def update(self, ep: _Epochs, epochs: np.ndarray, member: np.ndarray) -> None:
        """Epochs ``epochs`` became members (``member`` True) or stopped being ones."""
        c, sign = ep.codes[epochs], np.where(member, 1.0, -1.0)
        w = sign * ep.w[epochs]
        self.w += np.bincount(c, w, ep.n)
        self.wv += np.bincount(c, w * ep.values[epochs], ep.n)
        self.count += np.bincount(c, sign, ep.n).astype(np.int64)

    def deltas(self, ep: _Epochs, member: np.ndarray) -> np.ndarray:
        """ΔP of Eq. 3 about the members' means (as :func:`internal_deltas`)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.wv / self.w
            nk = self.count.astype(float)
            factor = np.sqrt(nk / (nk - 1.0))
        factor[nk < 2] = np.nan
        other = np.where(nk < 2, np.nan, 1.0)  # factor of the non-members
        return (ep.values - ep.spread(mean)) * np.where(member, ep.spread(factor),
                                                         ep.spread(other))


def precision_table(fits: dict[str, PrecisionFit]) -> Table:
    """Table 4: a, b, c, σ at S/N 10/20/50 and the outlier share, one row per parameter."""
    t = Table()
    t["parameter"] = list(fits)
    t["unit"] = [f.unit for f in fits.values()]
    for name in ("a", "b", "c"):
        t[name] = [getattr(f.law, name) for f in fits.values()]
    for s in QUOTED_SNR:
        t[f"sigma_at_snr{s}"] = [float(f.law(s)) for f in fits.values()]
    t["outlier_fraction"] = [f.outlier_fraction for f in fits.values()]
    t["n_points"] = [f.n_points for f in fits.values()]
    return t
