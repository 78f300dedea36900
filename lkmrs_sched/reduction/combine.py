"""Per-star combination of epochs (Eq. 1 and Eq. 2) and the Table 3 catalogue.

For each star and parameter P (Teff, log g, [Fe/H], RV) over its N epochs k with
weights w_k = (S/N_k)²:

    P̄ = Σ w_k P_k / Σ w_k                                             (Eq. 1)
    σ_w(P̄) = sqrt( N/(N−1) · Σ w_k (P_k − P̄)² / Σ w_k )              (Eq. 2)

With one epoch the error is LASP's own. Teff, log g and [Fe/H] are weighted by the blue
arm's S/N; RV by the S/N of the arm its column comes from (blue for ``rv_lasp0``).

Eq. 2 is a weighted *scatter*: with equal S/N it estimates the single-epoch σ_P, not the
error of P̄. The catalogue therefore gives both, clearly named: ``<p>_scatter`` (Eq. 2)
and ``<p>_err_mean``, the error of the weighted mean,

    σ(P̄) = sqrt(Σ w_k² σ_P(S/N_k)²) / Σ w_k                          (= σ_P/√N for equal S/N)

from the internal precision σ_P(S/N) of Eq. 4 (the reduction's own fit, evaluated at
min(S/N, 300)). It assumes the star constant; for RV variables the scatter says more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.precision import PrecisionLaw, published_laws
from lkmrs_sched.reduction.groups import group_sum, weighted_mean_scatter
from lkmrs_sched.reduction.readers import PARAMETERS, UNITS, SpectrumSet, mean_coordinates

#: S/N above which σ_P(S/N) is held constant (Table 4 was fitted up to 300).
LAW_SNR_MAX = 300.0


def combine_parameter(
    codes: np.ndarray,
    values: np.ndarray,
    snr: np.ndarray,
    single_errors: np.ndarray | None,
    n: int,
    *,
    min_snr: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 1 and Eq. 2 for one parameter on plain arrays.

    Parameters
    ----------
    codes : ndarray of int
        Star of each epoch, ``0 <= code < n``.
    values : ndarray of float
        P_k (NaN = not measured).
    snr : ndarray of float
        S/N_k; the weight is its square. Epochs with non-finite or non-positive S/N
        (or below ``min_snr``) are not used.
    single_errors : ndarray of float or None
        Pipeline errors of each epoch, used as the error of one-epoch stars.
    n : int
        Number of stars.
    min_snr : float
        Epochs below this S/N are not used.

    Returns
    -------
    mean : ndarray
        P̄ per star (NaN without epochs).
    error : ndarray
        σ_w(P̄) (Eq. 2) for N ≥ 2, the epoch's own error for N = 1, NaN for N = 0.
    count : ndarray of int
        N per star.
    """
    values = np.asarray(values, dtype=float)
    snr = np.asarray(snr, dtype=float)
    with np.errstate(invalid="ignore"):
        use = np.isfinite(values) & np.isfinite(snr) & (snr > 0) & (snr >= min_snr)
    c = np.asarray(codes)[use]
    mean, scatter, count, _ = weighted_mean_scatter(c, values[use], snr[use] ** 2, n)
    # One epoch: keep the pipeline's own value (exactly) and error.
    only = np.full(n, np.nan)
    only[c] = values[use]
    mean = np.where(count == 1, only, mean)
    single = np.full(n, np.nan)
    if single_errors is not None:
        single[c] = np.asarray(single_errors, dtype=float)[use]
    error = np.where(count == 1, single, scatter)
    return mean, error, count


def mean_error(codes: np.ndarray, values: np.ndarray, snr: np.ndarray, law: PrecisionLaw,
               single_errors: np.ndarray | None, n: int, *, min_snr: float = 0.0
               ) -> np.ndarray:
    """Error of the weighted mean P̄ (Eq. 1) per star (module docstring).

    Parameters
    ----------
    codes, values, snr : ndarray
        Star, P_k and S/N_k of each epoch (the epochs :func:`combine_parameter` uses).
    law : PrecisionLaw
        σ_P(S/N), in P's unit.
    single_errors : ndarray or None
        Pipeline errors of each epoch: the error of one-epoch stars.
    n : int
    min_snr : float

    Returns
    -------
    ndarray
        sqrt(Σ w² σ²)/Σ w with w = (S/N)² for N ≥ 2; the epoch's own error for N = 1;
        NaN for N = 0.
    """
    values = np.asarray(values, dtype=float)
    snr = np.asarray(snr, dtype=float)
    with np.errstate(invalid="ignore"):
        use = np.isfinite(values) & np.isfinite(snr) & (snr > 0) & (snr >= min_snr)
    c, s = np.asarray(codes)[use], snr[use]
    w = s * s
    sigma = law(np.minimum(s, LAW_SNR_MAX))
    count = np.bincount(c, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.sqrt(group_sum(c, w * w * sigma**2, n)) / group_sum(c, w, n)
    single = np.full(n, np.nan)
    if single_errors is not None:
        single[c] = np.asarray(single_errors, dtype=float)[use]
    return np.where(count == 1, single, np.where(count >= 2, err, np.nan))


def _kic_epic(kic: np.ndarray, epic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KIC or EPIC number (KIC preferred; 0 = none) and which catalogue it is from."""
    number = np.where(kic > 0, kic, np.where(epic > 0, epic, 0)).astype(np.int64)
    source = np.where(kic > 0, "KIC", np.where(epic > 0, "EPIC", ""))
    return number, source


def combine_epochs(
    spectra: SpectrumSet,
    *,
    parameters: Sequence[str] = PARAMETERS,
    min_snr: float = 0.0,
    keep_empty: bool = False,
    laws: dict[str, PrecisionLaw] | None = None,
) -> Table:
    """Combine each star's epochs into the Table 3 catalogue.

    Parameters
    ----------
    spectra : SpectrumSet
        Spectra, with RVs already zero-point corrected if wanted.
    parameters : sequence of str
        Any of ``teff``, ``logg``, ``feh``, ``rv``.
    min_snr : float
        Epochs below this S/N are left out.
    keep_empty : bool
        Keep stars without any measured parameter.
    laws : dict of str to PrecisionLaw, optional
        σ_P(S/N) per parameter for the errors of the means (default: Table 4's).

    Returns
    -------
    astropy.table.Table
        ``name`` (``Jhhmmss.ss+ddmmss.s``), ``kic_epic`` (KIC or EPIC number, 0 = none),
        ``kic_epic_cat`` ("KIC", "EPIC" or ""), ``uid``, ``ra``, ``dec`` (deg), each
        parameter with ``<parameter>_scatter`` (Eq. 2) and ``<parameter>_err_mean``
        (error of the weighted mean) (K, dex, dex, km/s), ``n_spec`` (spectra combined
        for Teff, the paper's "Freq."), ``n_rv`` (spectra combined for RV), ``star`` (row
        of ``spectra.stars``). Sorted by RA.
    """
    sp = spectra.spectra
    n = len(spectra.stars)
    codes = np.asarray(sp["star"])
    laws = {**published_laws(), **(laws or {})}
    ra, dec = mean_coordinates(codes, np.asarray(sp["ra"]), np.asarray(sp["dec"]), n)
    out = Table()
    out["name"] = np.asarray(spectra.stars["designation"])
    out["kic_epic"], out["kic_epic_cat"] = _kic_epic(
        np.asarray(spectra.stars["kic_id"]), np.asarray(spectra.stars["epic_id"]))
    out["uid"] = np.asarray(spectra.stars["uid"])
    out["ra"], out["dec"] = ra, dec
    out["ra"].unit = out["dec"].unit = "deg"
    counts = {p: _parameter_columns(out, sp, codes, p, laws[p], n, min_snr)
              for p in parameters}
    return _finish_catalogue(out, counts, parameters, keep_empty, spectra.rv_column)


def _parameter_columns(out: Table, sp: Table, codes: np.ndarray, p: str, law: PrecisionLaw,
                       n: int, min_snr: float) -> np.ndarray:
    """Add ``p``, ``p_scatter`` and ``p_err_mean`` to ``out``; return the epoch counts."""
    if p not in PARAMETERS:
        raise ValueError(f"unknown parameter {p!r}; allowed: {PARAMETERS}")
    snr = np.asarray(sp["rv_snr"] if p == "rv" else sp["snr"], dtype=float)
    values, single = np.asarray(sp[p]), np.asarray(sp[f"{p}_err"])
    mean, scatter, count = combine_parameter(codes, values, snr, single, n, min_snr=min_snr)
    out[p], out[f"{p}_scatter"] = mean, scatter
    out[f"{p}_err_mean"] = mean_error(codes, values, snr, law, single, n, min_snr=min_snr)
    for name, doc in ((p, "weighted mean (Eq. 1)"),
                      (f"{p}_scatter", "weighted scatter of the epochs (Eq. 2)"),
                      (f"{p}_err_mean", "error of the weighted mean (internal precision)")):
        out[name].unit = UNITS[p]
        out[name].description = doc
    return count


def _finish_catalogue(out: Table, counts: dict[str, np.ndarray], parameters: Sequence[str],
                      keep_empty: bool, rv_column: str) -> Table:
    """Counts, star index, empty stars dropped, sorted by RA, descriptions."""
    n = len(out)
    first = parameters[0] if "teff" not in parameters else "teff"
    out["n_spec"] = counts[first].astype(np.int32)
    out["n_spec"].description = f"Freq.: spectra combined ({first})"
    if "rv" in counts:
        out["n_rv"] = counts["rv"].astype(np.int32)
    out["star"] = np.arange(n)
    if not keep_empty:
        any_value = np.zeros(n, dtype=bool)
        for c in counts.values():
            any_value |= c > 0
        out = out[any_value]
    out.sort("ra")
    out.meta["description"] = "LK-MRS per-star parameters (Eq. 1, Eq. 2; Table 3 layout)"
    out.meta["weights"] = "(S/N)^2 per epoch; one-epoch stars keep the pipeline error"
    out.meta["errors"] = ("<p>_scatter: Eq. 2 weighted scatter (per-epoch); <p>_err_mean: "
                          "error of the weighted mean from the internal precision")
    out.meta["rv_column"] = rv_column
    return out
