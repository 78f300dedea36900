"""Alternate-lamp exposures found in the data: a robust per-(plate, exposure) RV offset.

Exposures calibrated with the alternate arc lamp read +6.5 km/s too high (brief §6).
Real DR8 files do not say which they are, so they are found from the RVs themselves:

1.–2. per (star, plate) a level m_i and per exposure e an offset d_e, by a weighted
   median polish of RV = m_i + d_e (:func:`exposure_offsets`: m_i the weighted median of
   RV − d_e over the star's exposures, d_e that of RV − m_i over the exposure's stars,
   alternately), with the error of d_e from the weighted MAD (× 1.2533 for a median,
   Gaussian-equivalent) and the number of stars (stars with at least 2 RVs on the plate);
3. per plate, the baseline b: the level with the most exposures within ``tolerance`` of
   b or of b + shift (ties: the most exposures at b itself, then the lowest b), found
   among the plate's own d_e; a plate where every exposure used the alternate lamp
   cannot be told from one where none did (the method is relative);
4. an exposure is an alternate-lamp exposure when its offset above the baseline is
   significant, d_e − b > ``significance`` · err_e (5σ), *and* consistent with the shift,
   |d_e − b − shift| ≤ max(``significance`` · err_e, ``tolerance``) (1 km/s allows for
   the zero-point drift of a few hundred m/s), from at least ``min_stars`` stars.

5. a plate whose exposures all used the alternate lamp has no normal exposure to be
   compared with; when it shares stars with other plates (test plates at a survey
   plate's centre, overlapping footprints), its level is compared with theirs: a
   weighted median polish of the stars' normal-lamp levels, m_i + b, over the plates
   (:func:`plate_offsets`, stars on two plates or more), then steps 3–4 with plates in
   place of exposures, within each group of plates linked by ``min_stars`` shared stars;
   every judged exposure of a plate found shifted is an alternate-lamp exposure.

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
#: Median-polish passes of :func:`exposure_offsets` at most ...
POLISH_ITERATIONS = 10
#: ... stopping once no exposure offset moves by more than this, km/s: well below the
#: offsets' own errors (20–30 m/s with a few hundred stars) and the 1 km/s tolerance.
POLISH_CONVERGED = 5e-3


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
                     weight: np.ndarray, n_pairs: int, n_exposures: int,
                     iterations: int = POLISH_ITERATIONS
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust offset of every exposure relative to its stars' median RVs.

    A weighted median polish of the two-way model RV = m_pair + d_exposure + ε: the
    star levels and the exposure offsets are weighted medians of each other's residuals,
    alternately, until no offset moves by :data:`POLISH_CONVERGED`. One pass alone (star
    medians, then exposure medians) is biased when shifted exposures are not a small
    minority: a star observed as often on a shifted night as on a normal one has its
    median between the two levels, so the shift comes out at about half its size.

    Parameters
    ----------
    pair : ndarray of int
        (star, plate) code of each spectrum.
    exposure : ndarray of int
        Exposure code of each spectrum.
    rv, weight : ndarray
        RV (km/s) and weight (1/σ², > 0) of each spectrum (finite).
    n_pairs, n_exposures : int
    iterations : int
        Median-polish passes at most (≥ 1).

    Returns
    -------
    offset, error : ndarray, per exposure
        Weighted median of RV − m_pair and its error, km/s (NaN without stars).
    n_stars : ndarray of int, per exposure
    level : ndarray, per pair
        m_pair, km/s (NaN for pairs with fewer than 2 spectra).
    """
    several = np.flatnonzero(np.bincount(pair, minlength=n_pairs)[pair] >= 2)
    # Sorted by pair, with the permutation to exposure order: both medians then see
    # their groups in order (groups.group_order's fast path).
    several = several[np.argsort(pair[several], kind="stable")]
    pr, e, w, v = pair[several], exposure[several], weight[several], rv[several]
    by_e = np.argsort(e, kind="stable")
    e_s, w_s = e[by_e], w[by_e]
    d = np.zeros(n_exposures)
    for _ in range(max(iterations, 1)):
        m = weighted_median(pr, v - d[e], w, n_pairs)
        dev = v - m[pr]
        d_new = weighted_median(e_s, dev[by_e], w_s, n_exposures)
        moved = np.nanmax(np.abs(d_new - d), initial=0.0)
        d = np.nan_to_num(d_new)
        if moved < POLISH_CONVERGED:
            break
    d = d_new
    mad = weighted_median(e_s, np.abs(dev - np.nan_to_num(d)[e])[by_e], w_s, n_exposures)
    n = np.bincount(e, minlength=n_exposures)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = 1.2533 * 1.4826 * mad / np.sqrt(n)
    return d, err, n, m


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
                min_stars: int = MIN_STARS, pair_star: np.ndarray | None = None
                ) -> LampDetection:
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
    pair_star : ndarray of int, per pair, optional
        The star of each pair: with it, plates that share stars are compared as well
        (step 5, :func:`plate_offsets`).

    Returns
    -------
    LampDetection
    """
    n_exp = exposure_plate.size
    n_plates = int(exposure_plate.max()) + 1 if n_exp else 0
    d, err, n, level = exposure_offsets(pair, exposure, rv, weight, n_pairs, n_exp)
    judged = n >= min_stars
    d = np.where(judged, d, np.nan)
    base = plate_baselines(d, exposure_plate, n_plates, shift, tolerance)
    rel = d - base[exposure_plate] if n_exp else d
    with np.errstate(invalid="ignore"):
        significant = rel > significance * err
        near = np.abs(rel - shift) <= np.maximum(significance * err, tolerance)
        lamp = judged & significant & near
    if pair_star is not None and n_exp:
        # The normal-lamp level of each (star, plate): m_pair + the plate's baseline.
        pair_plate = np.full(n_pairs, -1, np.int64)
        pair_plate[pair] = exposure_plate[exposure]
        w_pair = np.bincount(pair, weight, n_pairs)
        ok = np.isfinite(level) & (pair_plate >= 0)
        shifted = _shifted_plates(level[ok] + base[pair_plate[ok]], pair_star[ok],
                                  pair_plate[ok], w_pair[ok], n_plates, shift, significance,
                                  tolerance, min_stars)
        whole = shifted[0][exposure_plate] & judged & ~lamp
        rel = np.where(whole, rel + shifted[1][exposure_plate], rel)
        lamp |= whole
    with np.errstate(invalid="ignore"):
        unexplained = judged & (np.abs(rel) > significance * err) & ~lamp
    return LampDetection(rel, err, n, lamp, unexplained)


def plate_offsets(level: np.ndarray, star: np.ndarray, plate: np.ndarray,
                  weight: np.ndarray, n_plates: int, iterations: int = POLISH_ITERATIONS
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offset of each plate relative to the other plates its stars are on.

    A weighted median polish of level = μ_star + D_plate over the stars on two plates or
    more (module docstring, step 5); every plate's offsets are centred on its weighted
    median star (a plate without shared stars gets NaN).

    Parameters
    ----------
    level : ndarray, per (star, plate) pair
        The star's normal-lamp RV level on the plate, km/s.
    star, plate : ndarray of int, per pair
    weight : ndarray, per pair
        Σ 1/σ² of the pair's spectra.
    n_plates : int
    iterations : int
        Polish passes at most.

    Returns
    -------
    offset, error : ndarray, per plate
        D_plate and its error (weighted MAD, × 1.2533 for a median), km/s.
    n_shared : ndarray of int, per plate
        Shared stars behind D_plate.
    """
    codes, star = np.unique(star, return_inverse=True)
    shared = np.bincount(star, minlength=codes.size)[star] >= 2
    s, p, v, w = star[shared], plate[shared], level[shared], weight[shared]
    dp = np.zeros(n_plates)
    for _ in range(max(iterations, 1)):
        mu = weighted_median(s, v - dp[p], w, codes.size)
        new = weighted_median(p, v - mu[s], w, n_plates)
        moved = np.nanmax(np.abs(new - dp), initial=0.0)
        dp = np.nan_to_num(new)
        if moved < POLISH_CONVERGED:
            break
    n = np.bincount(p, minlength=n_plates)
    with np.errstate(invalid="ignore", divide="ignore"):
        mad = weighted_median(p, np.abs(v - mu[s] - dp[p]), w, n_plates)
        err = 1.2533 * 1.4826 * mad / np.sqrt(n)
    return np.where(n > 0, dp, np.nan), err, n


def _shifted_plates(level: np.ndarray, star: np.ndarray, plate: np.ndarray,
                    weight: np.ndarray, n_plates: int, shift: float, significance: float,
                    tolerance: float, min_stars: int) -> tuple[np.ndarray, np.ndarray]:
    """Plates all of whose exposures read ``shift`` above the plates they share stars
    with (step 5), and each plate's offset above its group's baseline (km/s)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    d, err, n = plate_offsets(level, star, plate, weight, n_plates)
    codes, st = np.unique(star, return_inverse=True)
    inc = coo_matrix((np.ones(st.size), (st, plate)), shape=(codes.size, n_plates)).tocsr()
    links = (inc.T @ inc).toarray() >= min_stars  # plates sharing min_stars stars
    _, group = connected_components(links, directed=False)
    judged = (n >= min_stars) & np.isfinite(d)
    d = np.where(judged, d, np.nan)
    base = plate_baselines(d, group, int(group.max()) + 1 if group.size else 0, shift,
                           tolerance)
    rel = d - base[group]
    with np.errstate(invalid="ignore"):
        whole = judged & (rel > significance * err) & (
            np.abs(rel - shift) <= np.maximum(significance * err, tolerance))
    return whole, np.where(whole, rel, 0.0)
