"""Synthetic LK-MRS targets: positions, magnitudes, stellar parameters and binary orbits.

Stars are generated per sky cell, never per plate, so that a star in the overlap of two
footprints (the Kepler plates, C5/C16, C8, C14 all overlap) is one star with one ``uid``
and one set of properties on every plate that holds it:

1. The sky is cut into cells 1° high in Dec and about 1° wide in RA. Each cell has its own
   random stream, ``SeedSequence(seed, spawn_key=(POPULATION, kind, band, ra_index))``,
   and holds a Poisson number of candidate stars at ``pool_density`` (targets) or
   ``std_pool_density`` (flux standards), uniform on the sphere, each with a uniform
   selection rank and all its properties.
2. A plate takes, among the candidates within ``field_radius`` of its centre, the
   ``n_target`` (``n_flux_std``) of lowest rank (Table 1). Thresholds nest, so two
   overlapping plates share the stars of the overlap that both select.

Input catalogue (Table 1 and assumptions). Every candidate belongs to one pool, and so
to one priority class of the LK-MRS input catalogue: Kepler/K2-observed targets (KO,
``CLASS_KO``), stars in KIC/EPIC not observed by Kepler/K2 (KNO), Gaia stars in neither
(the fill), and flux standards (counted among the KNO: Table 1's KO + KNO + not-in-catalogue
add up to n_target + n_flux_std). A plate takes, per pool, Table 1's number of that class
(``n_kepler_observed``; ``n_kepler_not_observed`` − ``n_flux_std``; ``n_not_in_kic_epic``;
``n_flux_std``), so the magnitude mixture differs by plate as the class counts do.

Magnitudes (assumption, documented here and in the README). Each class has its own
truncated exponential dN/dG ∝ 10^(α G) from ``mag_bright`` (8, the bright end of the
targets) to ``mag_limit`` (15) plus a share ``faint_tail_fraction`` (3 %) in a tail to
``mag_faint`` (15.5) whose density falls linearly to zero (KIC/EPIC targets whose Kepler
magnitude was brighter than their G): KO in the Kepler field (Dec > 30°) follow the
Kepler target list, steep (α = ``ko_kepler_slope``, 0.35: a magnitude-limited planet
search); KO in the K2 fields follow the K2 guest-observer targets, with many bright stars
(α = ``ko_k2_slope``, 0.20); KNO and the Gaia fill follow field star counts at moderate
Galactic latitude (α = 0.30). Flux standards are F dwarfs of G 10.5–14.

Variables and LASP. A share ``variable_fraction`` of the stars vary between epochs beyond
the measurement noise (pulsators, spotted stars, composite spectra): their parameters and
RV get an extra epoch scatter of ``variable_scale`` times Table 4's σ at S/N 20,
log-uniform between ``variable_scale_min`` and ``variable_scale_max``. Every star also
carries a uniform ``lasp_u``, its own LASP difficulty (see
:func:`lkmrs_sched.synth.synth.lasp_success`).

Stellar parameters (brief §5): a mixture of dwarfs (Teff ~ N(5800, 650) K, log g ≈ 4.2
falling with Teff) and giants (``giant_fraction``, Teff ~ N(4800, 300) K, log g ≈ 2.5
rising with Teff); [Fe/H] and systemic RV from thin disc (N(0, 0.2) dex, σ 25 km/s),
thick disc (N(−0.5, 0.3), σ 50) and halo (N(−1.5, 0.5), σ 150, hence a few |RV| > 300);
a share of hot (8500–15000 K) and cool (2800–3200 K) stars outside LASP's range. Flux
standards are F dwarfs of G 10.5–14.

Binaries (Raghavan et al. 2010): fraction ``binary_fraction`` (0.44), log10 P[d] ~
N(5.03, 2.28) truncated below at the period where the orbit would be smaller than three
primary radii (radius from mass and log g), mass ratio flat in [q_min, 1] with a twin
excess, eccentricity 0 below ``circularization_period`` (12 d) and uniform in
[0, e_max(P)] above, e_max = 1 − (P / 10 d)^(−2/3) (rising with period, capped by
periastron > 2 primary radii), isotropic inclination, uniform ω and periastron time.
:func:`radial_velocity` solves Kepler's equation vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import astropy.units as u
import numpy as np

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.geometry import angular_separation, designation
from lkmrs_sched.core.sections import PopulationConfig

#: Spawn-key head of every population stream ("POP").
POPULATION = 0x504F50
#: Object kinds (``Stars.kind``): science target or flux standard.
KIND_TARGET, KIND_STD = 0, 1
#: Input-catalogue classes (``Stars.cclass``): Kepler/K2-observed, in KIC/EPIC but not
#: observed, in neither (Gaia fill).
CLASS_KO, CLASS_KNO, CLASS_GAIA = 0, 1, 2
CLASS_NAMES = ("KO", "KNO", "Gaia")
#: Candidate pools (each with its own cell streams): KO targets, flux standards, KNO
#: targets, Gaia-fill targets; their kind and class.
POOL_KO, POOL_STD, POOL_KNO, POOL_GAIA = 0, 1, 2, 3
POOL_KIND = np.array([KIND_TARGET, KIND_STD, KIND_TARGET, KIND_TARGET], np.int8)
POOL_CLASS = np.array([CLASS_KO, CLASS_KNO, CLASS_KNO, CLASS_GAIA], np.int8)
POOL_DENSITY_KEY = ("ko_pool_density", "std_pool_density", "kno_pool_density",
                    "gaia_pool_density")
#: KO stars north of this Dec are Kepler-field targets (the K2 fields lie below +26°).
KEPLER_FIELD_MIN_DEC = 30.0
CELL_DEG = 1.0
EPOCH_MJD = 58000.0
#: K [km/s] = K_CONST · M2 sin i / (M1 + M2)^(2/3) / P[d]^(1/3) / sqrt(1 − e²), masses in Msun.
K_CONST = 212.91
#: a [Rsun] = A_CONST · (M_tot P[d]²)^(1/3).
A_CONST = 4.2084
LOGG_SUN = 4.438


# --- sky cells ------------------------------------------------------------------------


def _n_ra(band: int) -> int:
    centre = np.radians(band + 0.5 - 90.0)
    return max(1, int(np.floor(360.0 * np.cos(centre) / CELL_DEG)))


def cells_near(ra_deg: float, dec_deg: float, radius_deg: float) -> list[tuple[int, int]]:
    """Sky cells ``(band, ra_index)`` that may hold stars within ``radius_deg`` of a centre."""
    out = []
    lo = max(int(np.floor(dec_deg - radius_deg + 90.0)), 0)
    hi = min(int(np.floor(dec_deg + radius_deg + 90.0)), 179)
    for band in range(lo, hi + 1):
        n = _n_ra(band)
        worst = max(abs(band - 90.0), abs(band + 1 - 90.0))
        c = np.cos(np.radians(worst))
        s = np.sin(np.radians(radius_deg))
        if c <= s:
            out.extend((band, i) for i in range(n))
            continue
        half = np.degrees(np.arcsin(s / c)) + 1e-6
        width = 360.0 / n
        i0 = int(np.floor((ra_deg - half) / width))
        i1 = int(np.floor((ra_deg + half) / width))
        idx = sorted({i % n for i in range(i0, i1 + 1)})
        out.extend((band, i) for i in idx)
    return out


# --- property draws -------------------------------------------------------------------
#
# Every candidate star gets N_UNIFORM uniform and N_NORMAL normal deviates from its cell's
# stream; the functions below turn them into properties (one row of deviates per purpose),
# so properties are computed only for the stars a plate selects.

N_UNIFORM, N_NORMAL = 20, 5
_U_POS, _U_RANK, _U_MAG, _U_PAR, _U_BIN, _U_VAR, _U_LASP = 0, 2, 3, 6, 9, 17, 19


def _truncnorm(uu: np.ndarray, mean: np.ndarray, sigma: float, lo: np.ndarray,
               hi: float) -> np.ndarray:
    """Normal deviates truncated to [lo, hi] by inverse CDF of uniforms ``uu``."""
    from scipy.special import ndtr, ndtri

    a, b = ndtr((lo - mean) / sigma), ndtr((hi - mean) / sigma)
    p = np.clip(a + uu * (b - a), 1e-15, 1 - 1e-15)
    return np.clip(mean + sigma * ndtri(p), lo, hi)


def magnitude_slope(cclass: np.ndarray, dec_deg: np.ndarray, cfg: PopulationConfig
                    ) -> np.ndarray:
    """Counts slope α (dex per mag) of each star's class (module docstring)."""
    ko = np.where(np.asarray(dec_deg) > KEPLER_FIELD_MIN_DEC, cfg.ko_kepler_slope,
                  cfg.ko_k2_slope)
    return np.select([cclass == CLASS_KO, cclass == CLASS_KNO], [ko, cfg.kno_slope],
                     cfg.gaia_slope)


def draw_magnitudes(uu: np.ndarray, slope: np.ndarray | float, cfg: PopulationConfig
                    ) -> np.ndarray:
    """Gaia G of input-catalogue targets from uniforms ``uu`` (3, n) (module docstring), mag.

    ``slope`` is α of dN/dG ∝ 10^(α G), dex per mag, per star or for all.
    """
    a = np.broadcast_to(np.asarray(slope, float) * np.log(10.0), uu[0].shape)
    lo, hi = cfg.mag_bright, cfg.mag_limit
    a_safe = np.where(a > 0, a, 1.0)
    # Inverse CDF of exp(a G) on [lo, hi] (uniform for a = 0).
    g = np.where(a > 0, lo + np.log1p(uu[0] * np.expm1(a_safe * (hi - lo))) / a_safe,
                 lo + uu[0] * (hi - lo))
    # Tail: density falling linearly to zero at mag_faint (inverse CDF of 2(1 − x)).
    tail = cfg.mag_limit + (cfg.mag_faint - cfg.mag_limit) * (1.0 - np.sqrt(1.0 - uu[2]))
    return np.where(uu[1] < cfg.faint_tail_fraction, tail, g)


def draw_variables(uu: np.ndarray, cfg: PopulationConfig) -> tuple[np.ndarray, np.ndarray]:
    """Variable flag and extra epoch scatter (in Table 4 σ at S/N 20) from uniforms (2, n).

    The scale is log-uniform in [``variable_scale_min``, ``variable_scale_max``] (uniform
    when the minimum is 0); 0 for non-variables.
    """
    lo, hi = cfg.variable_scale_min, cfg.variable_scale_max
    scale = (lo * (hi / lo) ** uu[1]) if lo > 0 else hi * uu[1]
    variable = uu[0] < cfg.variable_fraction
    return variable, np.where(variable, scale, 0.0)


def draw_parameters(uu: np.ndarray, z: np.ndarray, cfg: PopulationConfig) -> dict:
    """Teff (K), log g (dex), [Fe/H] (dex), systemic RV (km/s), giant flag and component.

    ``uu`` are uniforms (3, n), ``z`` standard normals (5, n).
    """
    cum = np.cumsum([cfg.giant_fraction, cfg.hot_fraction, cfg.cool_fraction])
    kind = np.searchsorted(cum, uu[0], side="right")  # 0 giant, 1 hot, 2 cool, 3 dwarf
    giant, hot, cool = kind == 0, kind == 1, kind == 2
    dwarf_teff = np.clip(5800.0 + 650.0 * z[0], 3300.0, 8400.0)
    giant_teff = np.clip(4800.0 + 300.0 * z[0], 3400.0, 6000.0)
    hot_teff = 8500.0 * (15000.0 / 8500.0) ** uu[1]
    cool_teff = 2800.0 + 400.0 * uu[1]
    teff = np.select([giant, hot, cool], [giant_teff, hot_teff, cool_teff], dwarf_teff)
    logg = np.select(
        [giant, hot, cool],
        [
            2.5 + 0.0015 * (teff - 4800.0) + 0.45 * z[1],
            4.0 + 0.3 * z[1],
            5.0 + 0.1 * z[1],
        ],
        4.2 - 0.00025 * (teff - 5800.0) + 0.2 * z[1],
    )
    comp = np.searchsorted(
        np.cumsum([1.0 - cfg.thick_disc_fraction - cfg.halo_fraction, cfg.thick_disc_fraction]),
        uu[2],
        side="right",
    )  # 0 thin, 1 thick, 2 halo
    feh_mu = np.array([0.0, -0.5, -1.5])[comp]
    feh_sd = np.array([0.2, 0.3, 0.5])[comp]
    rv_mu = np.array([0.0, -10.0, 0.0])[comp]
    rv_sd = np.array([25.0, 50.0, 150.0])[comp]
    return {
        "teff": teff,
        "logg": np.clip(logg, 0.5, 5.3),
        "feh": np.clip(feh_mu + feh_sd * z[2], -3.0, 0.6),
        "rv_systemic": rv_mu + rv_sd * z[3],
        "giant": giant,
        "component": comp.astype(np.int8),
    }


def draw_standards(uu: np.ndarray, z: np.ndarray) -> dict:
    """Flux standards, F dwarfs of G 10.5–14: ``gmag`` plus :func:`draw_parameters`' keys."""
    n = uu.shape[1]
    return {
        "gmag": 10.5 + 3.5 * uu[0],
        "teff": 6000.0 + 1200.0 * uu[1],
        "logg": np.clip(4.1 + 0.2 * z[0], 3.5, 4.6),
        "feh": np.clip(-0.3 + 0.3 * z[1], -2.0, 0.5),
        "rv_systemic": -5.0 + 35.0 * z[2],
        "giant": np.zeros(n, bool),
        "component": np.zeros(n, np.int8),
    }


def stellar_mass(teff: np.ndarray, giant: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Rough primary mass, Msun: (Teff/5772)^1.67 on the main sequence, ~1.3 for giants."""
    ms = np.clip((teff / 5772.0) ** 1.67, 0.08, 20.0)
    gi = np.clip(1.3 * np.exp(0.3 * z), 0.8, 4.0)
    return np.where(giant, gi, ms)


def draw_binaries(uu: np.ndarray, z_mass: np.ndarray, p: dict, cfg: PopulationConfig) -> dict:
    """Binary flag and orbit of each star (zeros for single stars).

    Parameters
    ----------
    uu : ndarray, shape (8, n)
        Uniform deviates.
    z_mass : ndarray, shape (n,)
        Normal deviates for the giants' masses.
    p : dict
        ``teff``, ``logg``, ``giant`` of the stars.

    Returns
    -------
    dict
        ``binary`` (bool), ``mass1``/``mass2`` (Msun), ``q``, ``period_d`` (d), ``ecc``,
        ``omega_rad``, ``incl_deg``, ``t_peri_mjd`` (UTC MJD), ``k1_kms`` (km/s).
    """
    m1 = stellar_mass(p["teff"], p["giant"], z_mass)
    radius = np.sqrt(m1 * 10.0 ** (LOGG_SUN - p["logg"]))  # Rsun
    binary = uu[0] < cfg.binary_fraction
    twin = uu[1] < cfg.twin_fraction
    q = np.where(twin, 0.95 + 0.05 * uu[2], cfg.q_min + (1.0 - cfg.q_min) * uu[2])
    mt = m1 * (1.0 + q)
    # Shortest period: semi-major axis of three primary radii.
    logp_min = np.log10(np.sqrt((3.0 * radius / A_CONST) ** 3 / mt))
    logp_min = np.minimum(logp_min, cfg.log_period_max - 0.01)
    mean = np.full(len(m1), cfg.log_period_mean)
    period = 10.0 ** _truncnorm(uu[3], mean, cfg.log_period_sigma, logp_min, cfg.log_period_max)
    a = A_CONST * (mt * period**2) ** (1.0 / 3.0)
    p_circ = cfg.circularization_period.to_value(u.d)
    e_env = np.clip(1.0 - (period / 10.0) ** (-2.0 / 3.0), 0.0, 0.95)
    e_geo = np.clip(1.0 - 2.0 * radius / a, 0.0, None)
    ecc = np.where(period > p_circ, uu[4] * np.minimum(e_env, e_geo), 0.0)
    cosi = uu[5]
    sini = np.sqrt(1.0 - cosi**2)
    k1 = K_CONST * q * m1 * sini / mt ** (2.0 / 3.0) / period ** (1.0 / 3.0)
    k1 = k1 / np.sqrt(1.0 - ecc**2)
    return {
        "binary": binary,
        "mass1": m1,
        "mass2": np.where(binary, q * m1, 0.0),
        "q": np.where(binary, q, 0.0),
        "period_d": np.where(binary, period, 0.0),
        "ecc": np.where(binary, ecc, 0.0),
        "omega_rad": np.where(binary, 2 * np.pi * uu[6], 0.0),
        "incl_deg": np.where(binary, np.degrees(np.arccos(cosi)), 0.0),
        "t_peri_mjd": np.where(binary, EPOCH_MJD + period * uu[7], 0.0),
        "k1_kms": np.where(binary, k1, 0.0),
    }


# --- orbits ---------------------------------------------------------------------------


def solve_kepler(mean_anomaly: np.ndarray, ecc: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Eccentric anomaly E with E − e sin E = M (vectorised Newton, Danby's start), rad."""
    m = np.remainder(mean_anomaly, 2 * np.pi)
    e = np.broadcast_to(ecc, m.shape)
    big_e = m + 0.85 * e * np.sign(np.sin(m))
    for _ in range(50):
        f = big_e - e * np.sin(big_e) - m
        step = f / (1.0 - e * np.cos(big_e))
        big_e = big_e - step
        if np.max(np.abs(step), initial=0.0) < tol:
            break
    return big_e


def radial_velocity(
    mjd: np.ndarray,
    rv_systemic: np.ndarray,
    k1_kms: np.ndarray,
    period_d: np.ndarray,
    ecc: np.ndarray,
    omega_rad: np.ndarray,
    t_peri_mjd: np.ndarray,
) -> np.ndarray:
    """Primary's RV, v = γ + K [cos(ω + ν) + e cos ω], km/s (arrays broadcast).

    Single stars have ``k1_kms == 0`` (their period is ignored).
    """
    k1 = np.asarray(k1_kms, float)
    per = np.where(k1 > 0, period_d, 1.0)
    mean_anom = 2 * np.pi * (np.asarray(mjd, float) - t_peri_mjd) / per
    e = np.broadcast_to(np.asarray(ecc, float), mean_anom.shape)
    big_e = solve_kepler(mean_anom, e)
    nu = 2.0 * np.arctan2(np.sqrt(1 + e) * np.sin(big_e / 2), np.sqrt(1 - e) * np.cos(big_e / 2))
    return rv_systemic + k1 * (np.cos(omega_rad + nu) + e * np.cos(omega_rad))


# --- stars ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stars:
    """Unique stars as parallel arrays (one entry per star).

    Attributes
    ----------
    gp_id : int64, stable numeric star ID (cell, pool and position in the cell)
    kind : int8, 0 target, 1 flux standard
    cclass : int8, input-catalogue class (``CLASS_KO``, ``CLASS_KNO``, ``CLASS_GAIA``)
    rank : selection rank, uniform 0–1
    ra_deg, dec_deg : ICRS position, deg
    gmag : Gaia G, mag
    teff, logg, feh, rv_systemic : K, dex, dex, km/s
    giant : bool; component : int8 (0 thin, 1 thick disc, 2 halo)
    binary, mass1, mass2, q, period_d, ecc, omega_rad, incl_deg, t_peri_mjd, k1_kms :
        binary orbit (see :func:`draw_binaries`)
    variable : bool; variable_scale : extra epoch scatter in Table 4 σ at S/N 20
    lasp_u : the star's LASP difficulty, uniform 0–1
    has_catalogue_id : bool, in KIC/EPIC (KO and KNO)
    kic_id, epic_id : int64, the IDs it has in the Kepler / K2 catalogue if it is there
    """

    gp_id: np.ndarray
    kind: np.ndarray
    cclass: np.ndarray
    rank: np.ndarray
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    gmag: np.ndarray
    teff: np.ndarray
    logg: np.ndarray
    feh: np.ndarray
    rv_systemic: np.ndarray
    giant: np.ndarray
    component: np.ndarray
    binary: np.ndarray
    mass1: np.ndarray
    mass2: np.ndarray
    q: np.ndarray
    period_d: np.ndarray
    ecc: np.ndarray
    omega_rad: np.ndarray
    incl_deg: np.ndarray
    t_peri_mjd: np.ndarray
    k1_kms: np.ndarray
    variable: np.ndarray
    variable_scale: np.ndarray
    lasp_u: np.ndarray
    has_catalogue_id: np.ndarray
    kic_id: np.ndarray
    epic_id: np.ndarray

    def __len__(self) -> int:
        return len(self.gp_id)

    def take(self, idx: np.ndarray) -> Stars:
        """The stars at ``idx`` (index array or boolean mask)."""
        return Stars(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Stars]) -> Stars:
        return Stars(
            **{f.name: np.concatenate([getattr(s, f.name) for s in parts]) for f in fields(Stars)}
        )

    @property
    def kepler_observed(self) -> np.ndarray:
        """The KO flag: observed by Kepler or K2 (input-catalogue class KO)."""
        return self.cclass == CLASS_KO

    @property
    def uid(self) -> np.ndarray:
        """String star IDs ``LKnnnnnnnnnn`` (bytes, one per star)."""
        return np.char.add(b"LK", np.char.zfill(self.gp_id.astype("S10"), 10))

    @property
    def designation(self) -> np.ndarray:
        """IAU-style names ``Jhhmmss.ss+ddmmss.s`` (truncated, bytes)."""
        return designation(self.ra_deg, self.dec_deg).astype("S19")

    def rv(self, mjd: np.ndarray) -> np.ndarray:
        """True RV at UTC MJD ``mjd`` (broadcast against the stars), km/s."""
        return radial_velocity(mjd, self.rv_systemic, self.k1_kms, self.period_d, self.ecc,
                               self.omega_rad, self.t_peri_mjd)


def _cell_seed(seed: np.random.SeedSequence, pool: int, band: int, ra_idx: int
               ) -> np.random.SeedSequence:
    return np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, POPULATION, pool, band, ra_idx)
    )


@dataclass(frozen=True)
class Candidates:
    """Candidate stars of one or more sky cells, before their properties are computed.

    Attributes
    ----------
    gp_id : int64 star IDs; pool : int8 (``POOL_*``); rank : selection rank 0–1
    ra_deg, dec_deg : position, deg
    band : int, Dec band of the cell (for the KIC/EPIC-like numbers)
    uu : (N_UNIFORM, n) uniform deviates; z : (N_NORMAL, n) normal deviates
    """

    gp_id: np.ndarray
    pool: np.ndarray
    rank: np.ndarray
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    band: np.ndarray
    uu: np.ndarray
    z: np.ndarray

    def take(self, idx: np.ndarray) -> Candidates:
        return Candidates(self.gp_id[idx], self.pool[idx], self.rank[idx], self.ra_deg[idx],
                          self.dec_deg[idx], self.band[idx], self.uu[:, idx], self.z[:, idx])

    @staticmethod
    def concat(parts: list[Candidates]) -> Candidates:
        return Candidates(*(np.concatenate([getattr(c, f.name) for c in parts],
                                           axis=-1 if f.name in ("uu", "z") else 0)
                            for f in fields(Candidates)))


def draw_cell(
    seed: np.random.SeedSequence, density_per_deg2: float, pool: int, band: int, ra_idx: int
) -> Candidates:
    """All candidate stars of one pool in one sky cell (deterministic in seed, pool, cell).

    Parameters
    ----------
    density_per_deg2 : float
        Mean number of candidates per square degree.
    pool : int
        ``POOL_KO``, ``POOL_STD``, ``POOL_KNO`` or ``POOL_GAIA``.
    """
    rng = np.random.default_rng(_cell_seed(seed, pool, band, ra_idx))
    n_ra = _n_ra(band)
    width = 360.0 / n_ra
    d_lo, d_hi = np.radians(band - 90.0), np.radians(band - 89.0)
    area = np.radians(width) * (np.sin(d_hi) - np.sin(d_lo)) * (180.0 / np.pi) ** 2
    n = int(rng.poisson(density_per_deg2 * area))
    if n >= 1000:
        raise InputError(f"[population] {POOL_DENSITY_KEY[pool]}", density_per_deg2,
                         "fewer than 1000 candidates per 1° sky cell", "density too high")
    uu = rng.random((N_UNIFORM, n))
    z = rng.standard_normal((N_NORMAL, n))
    ra = (ra_idx + uu[_U_POS]) * width
    dec = np.degrees(np.arcsin(np.sin(d_lo) + uu[_U_POS + 1] * (np.sin(d_hi) - np.sin(d_lo))))
    return Candidates(
        gp_id=((band * 1000 + ra_idx) * 4 + pool) * 1000 + np.arange(n, dtype=np.int64),
        pool=np.full(n, pool, np.int8),
        rank=uu[_U_RANK],
        ra_deg=ra,
        dec_deg=dec,
        band=np.full(n, band, np.int64),
        uu=uu,
        z=z,
    )


def realize(c: Candidates, cfg: PopulationConfig) -> Stars:
    """Turn candidates into stars with all their properties."""
    uu, z = c.uu, c.z
    kind, cclass = POOL_KIND[c.pool], POOL_CLASS[c.pool]
    std = kind == KIND_STD
    par = draw_parameters(uu[_U_PAR:_U_PAR + 3], z, cfg)
    gmag = draw_magnitudes(uu[_U_MAG:_U_MAG + 3], magnitude_slope(cclass, c.dec_deg, cfg), cfg)
    if np.any(std):
        sp = draw_standards(uu[_U_MAG:_U_MAG + 2], z)
        gmag = np.where(std, sp.pop("gmag"), gmag)
        par = {k: np.where(std, sp[k], v) for k, v in par.items()}
    orbit = draw_binaries(uu[_U_BIN:_U_BIN + 8], z[4], par, cfg)
    variable, scale = draw_variables(uu[_U_VAR:_U_VAR + 2], cfg)
    has_id = cclass != CLASS_GAIA
    # gp_id = ((band·1000 + ra_idx)·4 + pool)·1000 + k; local = ra_idx·4000 + pool·1000 + k.
    ra_idx = (c.gp_id // 4000) % 1000
    local = ra_idx * 4000 + c.gp_id % 4000
    kic_local = ((c.band % 17) * 200 + ra_idx % 200) * 4000 + c.gp_id % 4000 + 1
    return Stars(
        gp_id=c.gp_id,
        kind=kind,
        cclass=cclass,
        rank=c.rank,
        ra_deg=c.ra_deg,
        dec_deg=c.dec_deg,
        gmag=gmag,
        variable=variable,
        variable_scale=scale,
        lasp_u=uu[_U_LASP],
        has_catalogue_id=has_id,
        kic_id=np.where(has_id, kic_local, 0),
        epic_id=np.where(has_id, 201_000_000 + (c.band % 25) * 2_000_000 + local, 0),
        **par,
        **orbit,
    )


def own_rank(gp_id: np.ndarray, key: int) -> np.ndarray:
    """A plate's own selection rank of stars, uniform 0–1, from their IDs and ``key``.

    SplitMix64 of ``gp_id`` mixed with ``key``: deterministic, independent of the global
    rank, the same star gets the same value on every call.
    """
    with np.errstate(over="ignore"):
        x = (np.asarray(gp_id, np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(key)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def select_stars(
    plate_ra: float,
    plate_dec: float,
    n: int,
    pool: int,
    cfg: PopulationConfig,
    seed: np.random.SeedSequence,
    cache: dict | None = None,
    where: str = "plate",
    rank_key: int | None = None,
) -> Stars:
    """The ``n`` lowest-rank candidates of ``pool`` within ``field_radius`` of a centre.

    Parameters
    ----------
    plate_ra, plate_dec : float
        Field centre, deg.
    n : int
        Number of stars wanted (a Table 1 count of that class).
    pool : int
        ``POOL_KO``, ``POOL_STD``, ``POOL_KNO`` or ``POOL_GAIA``.
    cache : dict, optional
        Shared between calls so neighbouring plates draw each cell once.
    rank_key : int, optional
        Select by :func:`own_rank` with this key instead of the stars' global rank (a
        test plate with its own target draw); the stars are the same stars.

    Raises
    ------
    InputError
        If the candidate pool holds fewer than ``n`` stars there.
    """
    cache = {} if cache is None else cache
    radius = cfg.field_radius.to_value(u.deg)
    key_name = POOL_DENSITY_KEY[pool]
    density = getattr(cfg, key_name).to_value(1 / u.deg**2)
    parts = []
    for band, ra_idx in cells_near(plate_ra, plate_dec, radius):
        key = (pool, band, ra_idx)
        if key not in cache:
            cache[key] = draw_cell(seed, density, pool, band, ra_idx)
        parts.append(cache[key])
    pool_c = Candidates.concat(parts)
    dist = np.degrees(angular_separation(np.radians(pool_c.ra_deg), np.radians(pool_c.dec_deg),
                                         np.radians(plate_ra), np.radians(plate_dec)))
    inside = np.flatnonzero(dist < radius)
    if len(inside) < n:
        raise InputError(f"[population] {key_name}", len(inside),
                         f"at least {n} candidates within {radius:g} deg ({where})",
                         "candidate pool too small")
    rank = pool_c.rank if rank_key is None else own_rank(pool_c.gp_id, rank_key)
    order = np.argsort(rank[inside], kind="stable")[:n]
    return realize(pool_c.take(np.sort(inside[order])), cfg)
