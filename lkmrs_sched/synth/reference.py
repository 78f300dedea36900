"""A Gaia-like table of reference RVs for synthetic stars (for ``reduce --reference-rv``).

:func:`reference_rvs` gives the observed stars that Gaia DR3 would have an RV for
(Katz et al. 2023, assumptions stated here):

* stars with G_RVS ≤ :data:`GRVS_LIMIT` (14) and 3100 K ≤ Teff ≤ 14500 K (DR3's template
  range), with G_RVS = G − (G − G_RVS), the colour 0.65 + 0.0003·(5800 K − Teff) clipped
  to 0.3–1.5 mag (≈ 0.6 for a Sun, ≈ 1 for a red giant);
* the RV is the mean of the true RV (orbit included) at :data:`GAIA_EPOCHS` epochs spread
  evenly over DR3's 34 months (2014-07-25 to 2017-05-28; a binary is seen at Gaia's
  phases, not the LAMOST ones) plus a Gaussian error of σ = 0.12 + 6.0·10^(0.45 (G_RVS −
  14)) km/s (0.9 km/s at G_RVS 12, 6 km/s at 14), which is also the quoted error;
* the reference scale is the true scale: the synthetic LAMOST RVs carry ``[snr]
  rv_absolute_offset`` (+0.5 km/s by default) on top of their per-unit zero points, so a
  reduction with ``--reference-rv`` should return RVs that agree with the truth, and one
  with the relative (common-star) zero points should keep that offset. The table's meta
  ``RVOFFSET`` records it.

The error of each star comes from a hash of its ``gp_id`` and the seed (SplitMix64, as
:func:`lkmrs_sched.synth.population.own_rank`), so a star's reference RV does not depend
on which other stars are in the table. Columns follow the Gaia archive: ``source_id``
(the synthetic ``gaia_source_id`` of the exposures), ``radial_velocity``,
``radial_velocity_error`` (km/s), ``phot_g_mean_mag``, ``grvs_mag`` (mag),
``rv_nb_transits``; the reduction's reader matches them on ``gaia_source_id``.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table

from lkmrs_sched.synth.population import own_rank, radial_velocity

#: Gaia DR3's RV time span (UTC MJD) and the epochs averaged over it.
GAIA_START_MJD, GAIA_END_MJD = 56863.0, 57901.0
GAIA_EPOCHS = 22
#: Faintest G_RVS and the Teff range (K) with DR3 RVs.
GRVS_LIMIT = 14.0
TEFF_RANGE = (3100.0, 14500.0)
#: Spawn-key head of the reference stream ("REF").
REFERENCE = 0x524546
GAIA_ID_OFFSET = 4_000_000_000_000_000_000


def grvs_minus(teff: np.ndarray) -> np.ndarray:
    """G − G_RVS of a star of effective temperature ``teff`` (K), mag (rough, see module)."""
    return np.clip(0.65 + 0.0003 * (5800.0 - np.asarray(teff, float)), 0.3, 1.5)


def gaia_rv_error(grvs: np.ndarray) -> np.ndarray:
    """DR3-like RV uncertainty at magnitude ``grvs``, km/s."""
    return 0.12 + 6.0 * 10.0 ** (0.45 * (np.asarray(grvs, float) - GRVS_LIMIT))


def reference_rvs(stars: Table, cfg, seed: np.random.SeedSequence) -> Table:
    """Gaia-like reference RVs of the observed stars in synth's truth ``stars`` table.

    Parameters
    ----------
    stars : astropy.table.Table
        :attr:`lkmrs_sched.synth.synth.Truth.stars` (``gp_id, gmag, teff, rv_systemic,
        k1_kms, period_d, ecc, omega_deg, t_peri_mjd, n_spectra``).
    cfg : SNRConfig
        ``rv_absolute_offset`` (recorded in the meta).
    seed : SeedSequence
        The synthesis seed.

    Returns
    -------
    astropy.table.Table
        One row per star with spectra, G_RVS ≤ 14 and Teff in DR3's range.
    """
    from scipy.special import ndtri

    teff = np.asarray(stars["teff"], float)
    grvs = np.asarray(stars["gmag"], float) - grvs_minus(teff)
    keep = ((np.asarray(stars["n_spectra"]) > 0) & (grvs <= GRVS_LIMIT)
            & (teff >= TEFF_RANGE[0]) & (teff <= TEFF_RANGE[1]))
    s = stars[keep]
    t = np.linspace(GAIA_START_MJD, GAIA_END_MJD, GAIA_EPOCHS)[:, None]
    rv = radial_velocity(t, np.asarray(s["rv_systemic"], float), np.asarray(s["k1_kms"], float),
                         np.asarray(s["period_d"], float), np.asarray(s["ecc"], float),
                         np.radians(np.asarray(s["omega_deg"], float)),
                         np.asarray(s["t_peri_mjd"], float)).mean(axis=0)
    key = int(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, REFERENCE))
              .generate_state(1, np.uint64)[0])
    u_star = np.clip(own_rank(np.asarray(s["gp_id"], np.int64), key), 1e-12, 1 - 1e-12)
    err = gaia_rv_error(grvs[keep])
    out = Table({
        "source_id": GAIA_ID_OFFSET + np.asarray(s["gp_id"], np.int64),
        "radial_velocity": rv + err * ndtri(u_star),
        "radial_velocity_error": err,
        "phot_g_mean_mag": np.asarray(s["gmag"], float),
        "grvs_mag": grvs[keep],
        "rv_nb_transits": np.full(len(s), GAIA_EPOCHS, np.int16),
    })
    for name, unit in (("radial_velocity", "km/s"), ("radial_velocity_error", "km/s"),
                       ("phot_g_mean_mag", "mag"), ("grvs_mag", "mag")):
        out[name].unit = unit
    out.meta.update({"ORIGIN": "lkmrs_sched.synth.reference",
                     "RVOFFSET": float(cfg.rv_absolute_offset.to_value(u.km / u.s))})
    return out
