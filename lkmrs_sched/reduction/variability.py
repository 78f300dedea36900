"""RV-variable (binary) candidates from repeated RVs.

Each epoch's RV error is the internal precision σ_RV(S/N) of Eq. 4 (evaluated at
min(S/N, ``snr_max``) so the law is not extrapolated), optionally with an extra term in
quadrature (e.g. the zero-point uncertainty). Two criteria, both reported:

* **range** (brief §6): the star's highest and lowest RVs differ by more than
  ``nsigma`` (3) times their combined error, sqrt(σ_max² + σ_min²);
* **χ²**: χ² = Σ (RV_k − ⟨RV⟩)² / σ_k² about the inverse-variance mean, with N − 1
  degrees of freedom; a candidate when P(χ² ≥ observed) < ``p_threshold`` (0.001).

The range test compares the two most discrepant epochs, so its false-alarm rate grows
with the number of epochs; the χ² test keeps a fixed false-alarm rate per star.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.precision import PrecisionLaw
from lkmrs_sched.reduction.groups import group_min_max, group_sum


def rv_variability(
    codes: np.ndarray,
    rv: np.ndarray,
    snr: np.ndarray,
    law: PrecisionLaw,
    n: int,
    *,
    nsigma: float = 3.0,
    p_threshold: float = 1e-3,
    snr_max: float = 300.0,
    extra_error: float = 0.0,
) -> Table:
    """Variability statistics per star.

    Parameters
    ----------
    codes : ndarray of int
        Star of each epoch.
    rv : ndarray of float
        Zero-point corrected RVs, km/s (NaN = none).
    snr : ndarray of float
        S/N of each epoch's RV.
    law : PrecisionLaw
        σ_RV(S/N), km/s.
    n : int
        Number of stars.
    nsigma : float
        Range criterion threshold.
    p_threshold : float
        χ² criterion threshold on the tail probability.
    snr_max : float
        S/N above which σ_RV(S/N) is held constant.
    extra_error : float
        Added in quadrature to every epoch's σ, km/s.

    Returns
    -------
    astropy.table.Table
        One row per star with at least two RVs: ``star``, ``n_rv``, ``rv_mean``,
        ``rv_min``, ``rv_max``, ``delta_rv``, ``delta_rv_sigma`` (range in units of its
        error), ``chi2``, ``dof``, ``p_chi2``, ``var_range``, ``var_chi2``.
    """
    rv = np.asarray(rv, dtype=float)
    snr = np.asarray(snr, dtype=float)
    with np.errstate(invalid="ignore"):
        use = np.isfinite(rv) & np.isfinite(snr) & (snr > 0)
    c, v = np.asarray(codes)[use], rv[use]
    sigma = np.sqrt(law(np.minimum(snr[use], snr_max)) ** 2 + extra_error**2)
    good = np.isfinite(sigma) & (sigma > 0)
    c, v, sigma = c[good], v[good], sigma[good]
    count = np.bincount(c, minlength=n)
    lo, hi, delta_sig = _range_statistic(c, v, sigma, n)
    mean, chi2, p = _chi2_statistic(c, v, sigma, count)
    t = _variability_table(count, mean, lo, hi, delta_sig, chi2, p)
    t["var_range"] = np.asarray(t["delta_rv_sigma"]) > nsigma
    t["var_chi2"] = np.asarray(t["p_chi2"]) < p_threshold
    t.meta.update(nsigma=nsigma, p_threshold=p_threshold, snr_max=snr_max,
                  extra_error_kms=extra_error, law={"a": law.a, "b": law.b, "c": law.c})
    t.meta.update(
        n_tested=len(t),
        n_var_range=int(np.count_nonzero(t["var_range"])),
        n_var_chi2=int(np.count_nonzero(t["var_chi2"])),
        n_var_both=int(np.count_nonzero(t["var_range"] & t["var_chi2"])),
    )
    return t


def _chi2_statistic(
    c: np.ndarray, v: np.ndarray, sigma: np.ndarray, count: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per star: inverse-variance mean RV, χ² about it and P(χ² ≥ observed) (NaN if N < 2)."""
    from scipy.stats import chi2 as chi2_dist

    n = count.size
    with np.errstate(invalid="ignore", divide="ignore"):
        ivar = 1.0 / sigma**2
        mean = group_sum(c, ivar * v, n) / group_sum(c, ivar, n)
        chi2 = group_sum(c, ivar * (v - mean[c]) ** 2, n)
    tested = count >= 2
    p = np.full(n, np.nan)
    p[tested] = chi2_dist.sf(chi2[tested], (count - 1)[tested])
    return mean, chi2, p


def _variability_table(count: np.ndarray, mean: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                       delta_sig: np.ndarray, chi2: np.ndarray, p: np.ndarray) -> Table:
    """The statistics of the stars with at least two RVs (no criteria yet)."""
    idx = np.flatnonzero(count >= 2)
    t = Table()
    t["star"] = idx
    t["n_rv"] = count[idx].astype(np.int32)
    t["rv_mean"] = mean[idx]
    t["rv_min"] = lo[idx]
    t["rv_max"] = hi[idx]
    with np.errstate(invalid="ignore"):
        t["delta_rv"] = (hi - lo)[idx]
    t["delta_rv_sigma"] = delta_sig[idx]
    t["chi2"] = chi2[idx]
    t["dof"] = (count - 1)[idx].astype(np.int32)
    t["p_chi2"] = p[idx]
    for name in ("rv_mean", "rv_min", "rv_max", "delta_rv"):
        t[name].unit = "km / s"
    return t


def _range_statistic(
    c: np.ndarray, v: np.ndarray, sigma: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per star: lowest and highest RV and their difference in units of its error.

    The error of the difference is sqrt(σ_max² + σ_min²), with the smallest σ among
    epochs tied at the extreme.
    """
    lo, hi = group_min_max(c, v, n)
    sig_hi = np.full(n, np.inf)
    sig_lo = np.full(n, np.inf)
    at_hi, at_lo = v == hi[c], v == lo[c]
    np.minimum.at(sig_hi, c[at_hi], sigma[at_hi])
    np.minimum.at(sig_lo, c[at_lo], sigma[at_lo])
    with np.errstate(invalid="ignore", divide="ignore"):
        delta_sig = (hi - lo) / np.sqrt(sig_hi**2 + sig_lo**2)
    return lo, hi, delta_sig


def variability_counts(table: Table) -> dict[str, int]:
    """Counts of tested stars and candidates by each criterion."""
    return {k: int(table.meta[k]) for k in ("n_tested", "n_var_range", "n_var_chi2", "n_var_both")}
