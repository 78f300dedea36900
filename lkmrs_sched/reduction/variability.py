"""RV-variable (binary) candidates from repeated RVs.

Each epoch's RV error is the internal precision σ_RV(S/N) of Eq. 4 (evaluated at
min(S/N, ``snr_max``) so the law is not extrapolated), optionally with an extra term in
quadrature (e.g. the zero-point uncertainty). Three criteria are computed for every star
with at least two RVs; ``criterion`` picks the one behind ``rv_variable``:

* **robust** (default, :mod:`.robust_rv`): likelihood ratios of "constant + jitter" and
  of "more tail epochs than the population" against "constant", under a core + tail
  mixture of the errors fitted to all stars; a
  candidate when its p-value under the constant-star null is below ``alpha`` (10⁻³);
  a constant star may show a jitter up to ``tolerance`` (0.4) of its core σ.
  Outlier-robust, and its false-alarm rate stays at ``alpha`` whatever the number of
  epochs;
* **paper** (brief §6, Zong et al. 2020, kept for comparison): the star's highest and
  lowest RVs differ by more than ``nsigma`` (3) times their combined error,
  sqrt(σ_max² + σ_min²). It compares the two most discrepant epochs of Gaussian errors,
  so its false-alarm rate grows with the number of epochs, and one outlying epoch is
  enough;
* **chi2**: χ² = Σ (RV_k − ⟨RV⟩)² / σ_k² about the inverse-variance mean, N − 1 degrees
  of freedom, a candidate when P(χ² ≥ observed) < ``p_threshold`` (10⁻³). Exact for
  Gaussian errors, not robust to outliers.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.precision import PrecisionLaw
from lkmrs_sched.reduction.robust_rv import (
    TOLERANCE,
    ErrorModel,
    RobustTest,
    Segments,
    robust_test,
)

#: Criteria of :func:`rv_variability` and the column each fills.
CRITERIA: dict[str, str] = {"robust": "var_robust", "paper": "var_paper", "chi2": "var_chi2"}
#: One-line descriptions (for tables, summaries and the README).
CRITERION_LABELS: dict[str, str] = {
    "robust": "likelihood ratio, core + tail errors, p < alpha",
    "paper": "paper (brief): max - min RV > 3 sigma_RV(S/N) combined",
    "chi2": "Gaussian chi2 probability < p",
}


def rv_variability(
    codes: np.ndarray,
    rv: np.ndarray,
    snr: np.ndarray,
    law: PrecisionLaw,
    n: int,
    *,
    nsigma: float = 3.0,
    p_threshold: float = 1e-3,
    alpha: float = 1e-3,
    tolerance: float = TOLERANCE,
    criterion: str = "robust",
    snr_max: float = 300.0,
    extra_error: float = 0.0,
    error_model: ErrorModel | None = None,
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
        Threshold of the paper's range criterion.
    p_threshold : float
        χ² criterion threshold on the tail probability.
    alpha : float
        False-alarm probability of the robust criterion.
    tolerance : float
        Jitter a constant star may show in the robust criterion, in units of its RMS
        core σ (:mod:`.robust_rv`).
    criterion : {"robust", "paper", "chi2"}
        The criterion behind ``rv_variable``.
    snr_max : float
        S/N above which σ_RV(S/N) is held constant.
    extra_error : float
        Added in quadrature to every epoch's σ, km/s.
    error_model : ErrorModel, optional
        Core + tail model of the robust test (fitted to these RVs when not given).

    Returns
    -------
    astropy.table.Table
        One row per star with at least two RVs: ``star``, ``n_rv``, ``rv_mean``
        (inverse-variance mean), ``rv_robust`` (μ of the robust model), ``rv_min``,
        ``rv_max``, ``delta_rv``, ``delta_rv_sigma`` (range in units of its error),
        ``chi2``, ``dof``, ``p_chi2``, ``lr`` (Λ), ``jitter`` (km/s), ``p_robust``,
        ``tail_weight`` (the star's own tail share under the excess-tail alternative),
        ``var_robust``, ``var_paper``, ``var_chi2``, ``rv_variable``. ``meta`` holds the
        thresholds, the law, the fitted error model and the counts.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion {criterion!r}; allowed: {', '.join(CRITERIA)}")
    ep = _sorted_epochs(codes, rv, snr, law, snr_max, extra_error, n)
    seg, v, sigma = ep["seg"], ep["v"], ep["sigma"]
    t = Table({"star": ep["star"], "n_rv": seg.counts.astype(np.int32)})
    _chi2_columns(t, seg, v, sigma)
    rob = robust_test(v, sigma, ep["snr"], seg, model=error_model, tolerance=tolerance)
    _range_columns(t, seg, v, sigma, rob)
    t["var_robust"] = rob.p < alpha
    t["var_paper"] = np.asarray(t["delta_rv_sigma"]) > nsigma
    t["var_chi2"] = np.asarray(t["p_chi2"]) < p_threshold
    t["rv_variable"] = t[CRITERIA[criterion]]
    t.meta.update(criterion=criterion, criterion_label=CRITERION_LABELS[criterion],
                  alpha=alpha, tolerance=tolerance, nsigma=nsigma, p_threshold=p_threshold,
                  snr_max=snr_max, extra_error_kms=extra_error,
                  law={"a": law.a, "b": law.b, "c": law.c}, error_model=rob.model.to_dict(),
                  **variability_counts(t))
    return t


def _sorted_epochs(codes: np.ndarray, rv: np.ndarray, snr: np.ndarray, law: PrecisionLaw,
                   snr_max: float, extra_error: float, n: int) -> dict:
    """The usable epochs of stars with ≥ 2 of them, sorted by star (one sort)."""
    rv = np.asarray(rv, dtype=float)
    snr = np.asarray(snr, dtype=float)
    with np.errstate(invalid="ignore"):
        use = np.isfinite(rv) & np.isfinite(snr) & (snr > 0)
    c, v, s = np.asarray(codes)[use], rv[use], snr[use]
    sigma = np.sqrt(law(np.minimum(s, snr_max)) ** 2 + extra_error**2)
    good = np.isfinite(sigma) & (sigma > 0) & (c >= 0) & (c < n)
    c, v, s, sigma = c[good], v[good], s[good], sigma[good]
    order = np.argsort(c, kind="stable")
    c, v, s, sigma = c[order], v[order], s[order], sigma[order]
    seg_all = Segments.of_sorted(c)
    stars = np.flatnonzero(seg_all.counts >= 2)
    seg, ep = seg_all.take(stars)
    return {"seg": seg, "star": c[seg_all.starts[stars]].astype(np.int64), "v": v[ep],
            "sigma": sigma[ep], "snr": s[ep]}


def _chi2_columns(t: Table, seg: Segments, v: np.ndarray, sigma: np.ndarray) -> None:
    """``rv_mean`` (inverse-variance), ``chi2``, ``dof`` and ``p_chi2`` per star."""
    from scipy.special import chdtrc  # χ² survival function (scipy.stats' sf, faster import)

    ivar = 1.0 / sigma**2
    mean = seg.sum(ivar * v) / seg.sum(ivar)
    chi2 = seg.sum(ivar * (v - seg.spread(mean)) ** 2)
    dof = seg.counts - 1
    t["rv_mean"] = mean
    t["chi2"] = chi2
    t["dof"] = dof.astype(np.int32)
    t["p_chi2"] = chdtrc(dof, chi2)


def _range_columns(t: Table, seg: Segments, v: np.ndarray, sigma: np.ndarray,
                   rob: RobustTest) -> None:
    """The robust test's columns; lowest and highest RV, their difference and its
    significance (the paper's test); units.

    The error of the difference is sqrt(σ_max² + σ_min²), with the smallest σ among
    epochs tied at the extreme.
    """
    t["rv_robust"] = rob.mu
    lo = np.minimum.reduceat(v, seg.starts) if seg.starts.size else np.zeros(0)
    hi = np.maximum.reduceat(v, seg.starts) if seg.starts.size else np.zeros(0)
    big = np.inf
    sig_hi = np.minimum.reduceat(np.where(v == seg.spread(hi), sigma, big), seg.starts) \
        if seg.starts.size else np.zeros(0)
    sig_lo = np.minimum.reduceat(np.where(v == seg.spread(lo), sigma, big), seg.starts) \
        if seg.starts.size else np.zeros(0)
    t["rv_min"], t["rv_max"] = lo, hi
    t["delta_rv"] = hi - lo
    t["delta_rv_sigma"] = (hi - lo) / np.sqrt(sig_hi**2 + sig_lo**2)
    t["lr"], t["jitter"], t["tail_weight"], t["p_robust"] = (rob.lr, rob.jitter,
                                                             rob.tail_weight, rob.p)
    for name in ("rv_mean", "rv_robust", "rv_min", "rv_max", "delta_rv", "jitter"):
        t[name].unit = "km / s"


def variability_counts(table: Table) -> dict[str, int]:
    """Tested stars and candidates by each criterion (``n_var_robust`` …) and in all."""
    out = {"n_tested": len(table)}
    for name, col in CRITERIA.items():
        out[f"n_var_{name}"] = int(np.count_nonzero(table[col]))
    out["n_rv_variable"] = int(np.count_nonzero(table["rv_variable"]))
    return out
