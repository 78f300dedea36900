"""Alternate-lamp exposures found in the data: a robust per-(plate, exposure) RV offset.

Exposures calibrated with the alternate arc lamp read +6.5 km/s too high (brief §6).
Real DR8 files do not say which they are, so they are found from the RVs themselves:

1. per (star, plate), the weighted median RV m_i over the plate's exposures;
2. per exposure e, the offset d_e = weighted median over its stars of (RV − m_i), its
   error from the weighted MAD (× 1.2533 for a median, Gaussian-equivalent) and the
   number of stars (stars with at least 2 RVs on the plate);
3. per plate, the baseline b: the level with the most exposures within ``tolerance`` of
   b or of b + shift (ties: the most exposures at b itself, then the lowest b), found
   among the plate's own d_e; a plate where every exposure used the alternate lamp
   cannot be told from one where none did (the method is relative);
4. an exposure is an alternate-lamp exposure when its offset above the baseline is
   significant, d_e − b > ``significance`` · err_e (5σ), *and* consistent with the shift,
   |d_e − b − shift| ≤ max(``significance`` · err_e, ``tolerance``) (1 km/s allows for
   the zero-point drift of a few hundred m/s), from at least ``min_stars`` stars.

Offsets that are significant but not consistent with the shift are left to the zero
points (they absorb any per-(spectrograph, exposure) offset) and counted in the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lkmrs_sched.reduction.groups import weighted_median

#: km/s that alternate-lamp exposures read too high.
LAMP_SHIFT = 6.5
#: Detection significance, in units of the offset's error.
SIGNIFICANCE = 5.0
#: km/s: how far from the shift a detected offset may be (zero-point drift).
TOLERANCE = 1.0
#: Stars an exposure needs for its offset to be judged.
MIN_STARS = 10


@dataclass(frozen=True)
class LampDetection:
    """Per exposure: offset above its plate's baseline, its error, stars, flag.

    Attributes
    ----------
    offset : ndarray
        d_e − b, km/s (NaN where not judged).
    error : ndarray
        Error of d_e, km/s.
    n_stars : ndarray of int
        Stars behind d_e.
    lamp : ndarray of bool
        Detected alternate-lamp exposures.
    unexplained : ndarray of bool
        Significant offsets not consistent with the shift.
    """

    offset: np.ndarray
    error: np.ndarray
    n_stars: np.ndarray
    lamp: np.ndarray
    unexplained: np.ndarray


def exposure_offsets(pair: np.ndarray, exposure: np.ndarray, rv: np.ndarray,
                     weight: np.ndarray, n_pairs: int, n_exposures: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust offset of every exposure relative to its stars' median RVs.

    Parameters
    ----------
    pair : ndarray of int
        (star, plate) code of each spectrum.
    exposure : ndarray of int
        Exposure code of each spectrum.
    rv, weight : ndarray
        RV (km/s) and weight (1/σ², > 0) of each spectrum (finite).
    n_pairs, n_exposures : int

    Returns
    -------
    offset, error : ndarray, per exposure
        Weighted median of RV − m_pair and its error, km/s (NaN without stars).
    n_stars : ndarray of int, per exposure
    """
    m = weighted_median(pair, rv, weight, n_pairs)
    several = np.bincount(pair, minlength=n_pairs)[pair] >= 2
    e, w = exposure[several], weight[several]
    dev = (rv - m[pair])[several]
    d = weighted_median(e, dev, w, n_exposures)
    mad = weighted_median(e, np.abs(dev - d[e]), w, n_exposures)
    n = np.bincount(e, minlength=n_exposures)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = 1.2533 * 1.4826 * mad / np.sqrt(n)
    return d, err, n


def plate_baselines(offset: np.ndarray, exposure_plate: np.ndarray, n_plates: int,
                    shift: float = LAMP_SHIFT, tolerance: float = TOLERANCE) -> np.ndarray:
    """The normal-lamp level of each plate (module docstring, step 3), km/s.

    Vectorised over the pairs of exposures of each plate (no loop over plates).
    """
    ok = np.isfinite(offset)
    e = np.flatnonzero(ok)
    base = np.full(n_plates, np.nan)
    if e.size == 0:
        return base
    p = exposure_plate[e]
    order = np.argsort(p, kind="stable")
    e, p = e[order], p[order]
    # All (candidate, other) pairs of exposures on the same plate.
    counts = np.bincount(p, minlength=n_plates)
    first = np.cumsum(counts) - counts
    reps = counts[p]
    cand = np.repeat(np.arange(e.size), reps)
    other = first[p[cand]] + (np.arange(cand.size) - np.repeat(np.cumsum(reps) - reps, reps))
    diff = offset[e[other]] - offset[e[cand]]
    at_base = np.abs(diff) <= tolerance
    at_lamp = np.abs(diff - shift) <= tolerance
    score = np.bincount(cand, at_base | at_lamp, e.size)
    n_base = np.bincount(cand, at_base, e.size)
    # Best candidate per plate: most explained, then most at the baseline, then lowest.
    key = np.lexsort((offset[e], -n_base, -score, p))
    best = key[np.r_[True, p[key][1:] != p[key][:-1]]]
    base[p[best]] = offset[e[best]]
    return base


def detect_lamp(pair: np.ndarray, exposure: np.ndarray, rv: np.ndarray, weight: np.ndarray,
                exposure_plate: np.ndarray, n_pairs: int, *, shift: float = LAMP_SHIFT,
                significance: float = SIGNIFICANCE, tolerance: float = TOLERANCE,
                min_stars: int = MIN_STARS) -> LampDetection:
    """Alternate-lamp exposures from the RVs (module docstring).

    Parameters
    ----------
    pair, exposure : ndarray of int
        (star, plate) and exposure code of each usable spectrum.
    rv, weight : ndarray
        RV (km/s) and weight (1/σ²) of each usable spectrum.
    exposure_plate : ndarray of int
        Plate code of every exposure.
    n_pairs : int
    shift, significance, tolerance : float
        km/s, σ, km/s (module docstring).
    min_stars : int

    Returns
    -------
    LampDetection
    """
    n_exp = exposure_plate.size
    n_plates = int(exposure_plate.max()) + 1 if n_exp else 0
    d, err, n = exposure_offsets(pair, exposure, rv, weight, n_pairs, n_exp)
    judged = n >= min_stars
    d = np.where(judged, d, np.nan)
    base = plate_baselines(d, exposure_plate, n_plates, shift, tolerance)
    rel = d - base[exposure_plate] if n_exp else d
    with np.errstate(invalid="ignore"):
        significant = rel > significance * err
        near = np.abs(rel - shift) <= np.maximum(significance * err, tolerance)
        lamp = judged & significant & near
        unexplained = judged & (np.abs(rel) > significance * err) & ~lamp
    return LampDetection(rel, err, n, lamp, unexplained)
