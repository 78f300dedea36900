"""Per-star combination of epochs (Eq. 1 and Eq. 2) and the Table 3 catalogue.

For each star and parameter P (Teff, log g, [Fe/H], RV) over its N epochs k with
weights w_k = (S/N_k)²:

    P̄ = Σ w_k P_k / Σ w_k                                             (Eq. 1)
    σ_w(P̄) = sqrt( N/(N−1) · Σ w_k (P_k − P̄)² / Σ w_k )              (Eq. 2)

With one epoch the error is LASP's own. Teff, log g and [Fe/H] are weighted by the blue
arm's S/N; RV by the S/N of the arm its column comes from (blue for ``rv_lasp0``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table

from lkmrs_sched.reduction.groups import weighted_mean_scatter
from lkmrs_sched.reduction.readers import PARAMETERS, UNITS, SpectrumSet, mean_coordinates


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


def _kic_epic(kic: np.ndarray, epic: np.ndarray) -> np.ndarray:
    """``"KIC n"``, ``"EPIC n"`` or ``""`` (KIC preferred)."""
    out = np.full(kic.size, "", dtype=object)
    has_epic = epic > 0
    has_kic = kic > 0
    out[has_epic] = np.char.add("EPIC ", epic[has_epic].astype(str))
    out[has_kic] = np.char.add("KIC ", kic[has_kic].astype(str))
    return out.astype(str)


def combine_epochs(
    spectra: SpectrumSet,
    *,
    parameters: Sequence[str] = PARAMETERS,
    min_snr: float = 0.0,
    keep_empty: bool = False,
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

    Returns
    -------
    astropy.table.Table
        ``name`` (``Jhhmmss.ss+ddmmss.s``), ``kic_epic``, ``uid``, ``ra``, ``dec`` (deg),
        each parameter and ``<parameter>_err`` (K, dex, dex, km/s), ``n_spec`` (spectra
        combined for Teff, the paper's "Freq."), ``n_rv`` (spectra combined for RV),
        ``star`` (row of ``spectra.stars``). Sorted by RA.
    """
    sp = spectra.spectra
    n = len(spectra.stars)
    codes = np.asarray(sp["star"])
    snr_b = np.asarray(sp["snr"], dtype=float)
    rv_snr = np.asarray(sp["rv_snr"], dtype=float)
    ra, dec = mean_coordinates(codes, np.asarray(sp["ra"]), np.asarray(sp["dec"]), n)
    out = Table()
    out["name"] = np.asarray(spectra.stars["designation"])
    out["kic_epic"] = _kic_epic(
        np.asarray(spectra.stars["kic_id"]), np.asarray(spectra.stars["epic_id"])
    )
    out["uid"] = np.asarray(spectra.stars["uid"])
    out["ra"], out["dec"] = ra, dec
    out["ra"].unit = out["dec"].unit = "deg"
    counts: dict[str, np.ndarray] = {}
    for p in parameters:
        if p not in PARAMETERS:
            raise ValueError(f"unknown parameter {p!r}; allowed: {PARAMETERS}")
        mean, err, count = combine_parameter(
            codes,
            np.asarray(sp[p]),
            rv_snr if p == "rv" else snr_b,
            np.asarray(sp[f"{p}_err"]),
            n,
            min_snr=min_snr,
        )
        out[p], out[f"{p}_err"] = mean, err
        out[p].unit = out[f"{p}_err"].unit = UNITS[p]
        counts[p] = count
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
    out.meta["rv_column"] = spectra.rv_column
    return out
