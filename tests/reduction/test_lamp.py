"""Alternate-lamp exposures found from the RVs: majority-lamp plates and all-lamp plates.

Hand-made arrays (no synth): stars with Gaussian RV errors of 1 km/s, a few hundred m/s
of zero-point drift per exposure, a +6.5 km/s shift on the alternate-lamp exposures.
"""

from __future__ import annotations

import numpy as np

from lkmrs_sched.reduction.lamp import detect_lamp, exposure_offsets


def _plates(rng, layout, presence=0.7):
    """Spectra of plates given as (stars: ndarray of star ids, lamp flags per exposure).

    Returns pair, exposure, rv, weight, exposure_plate, pair_star, truth lamp flags."""
    star_rv = rng.normal(0.0, 30.0, 10_000)
    rows, exp_plate, truth = [], [], []
    for p, (stars, lamp) in enumerate(layout):
        for flag in lamp:
            e = len(exp_plate)
            exp_plate.append(p)
            truth.append(flag)
            seen = stars[rng.random(stars.size) < presence]
            rv = (star_rv[seen] + rng.normal(0.0, 1.0, seen.size) + rng.normal(0.0, 0.2)
                  + (6.5 if flag else 0.0))
            rows.append((seen, np.full(seen.size, p), np.full(seen.size, e), rv))
    star, plate, exposure, rv = (np.concatenate([r[i] for r in rows]) for i in range(4))
    keys, pair = np.unique(star * len(layout) + plate, return_inverse=True)
    return (pair, exposure, rv, np.ones(rv.size), np.array(exp_plate), keys // len(layout),
            np.array(truth))


def test_majority_of_lamp_exposures_found():
    """8 of 14 exposures with the alternate lamp, stars in half the exposures: one pass
    of medians puts many stars' medians between the two levels and finds the shift at
    4–5 km/s (not detected); the median polish finds all eight."""
    rng = np.random.default_rng(5)
    pair, e, rv, w, ep, _, truth = _plates(rng, [(np.arange(400), [True] * 8 + [False] * 6)],
                                           presence=0.5)
    one = exposure_offsets(pair, e, rv, w, int(pair.max()) + 1, ep.size, iterations=1)[0]
    assert np.all(one[truth] - np.median(one[~truth]) < 5.3)
    d, _, n, _ = exposure_offsets(pair, e, rv, w, int(pair.max()) + 1, ep.size)
    assert np.all(n > 150)
    np.testing.assert_allclose(d[truth] - np.median(d[~truth]), 6.5, atol=0.5)
    det = detect_lamp(pair, e, rv, w, ep, int(pair.max()) + 1)
    np.testing.assert_array_equal(det.lamp, truth)


def test_all_lamp_plate_found_through_shared_stars():
    """A test plate at a survey plate's centre: 5 exposures, all with the alternate lamp,
    half its stars on the survey plate (12 exposures, normal lamp). Alone it cannot be
    told from a normal plate; compared through the shared stars it is found."""
    rng = np.random.default_rng(6)
    survey, test = np.arange(400), np.arange(200, 600)
    layout = [(survey, [False] * 12), (test, [True] * 5), (np.arange(700, 900), [False] * 6)]
    pair, e, rv, w, ep, pair_star, truth = _plates(rng, layout)
    n_pairs = int(pair.max()) + 1
    alone = detect_lamp(pair, e, rv, w, ep, n_pairs)
    assert not alone.lamp.any()
    det = detect_lamp(pair, e, rv, w, ep, n_pairs, pair_star=pair_star)
    np.testing.assert_array_equal(det.lamp, truth)
    np.testing.assert_allclose(det.offset[truth], 6.5, atol=0.5)
    # The same plates with the normal lamp everywhere: nothing found.
    layout[1] = (test, [False] * 5)
    pair, e, rv, w, ep, pair_star, truth = _plates(rng, layout)
    assert not detect_lamp(pair, e, rv, w, ep, int(pair.max()) + 1, pair_star=pair_star).lamp.any()
