"""Exposure S/N per MRS arm, as named multiplicative factors around nominal conditions.

The model follows the style of DESI's ``desisurvey/etc.py``: every observing condition is
a dimensionless factor that is exactly 1 at the nominal conditions held in the scenario's
``[snr]`` section. Signal factors multiply the star's photo-electrons per spectral pixel,
the sky factor multiplies the sky photo-electrons, and the CCD equation with a systematic
ceiling combines them::

    s   = s_cal · magnitude · colour · exposure · seeing · extinction · transparency · fibre
    b   = b_cal · exposure · sky · fibre
    S/N = [ (s + b + r²) / s² + 1 / C² ]^(-1/2)

The sky light enters the same fibre and spectrograph as the star's, so the fibre factor
attenuates both: an inefficient fibre loses signal and background alike, and its S/N
falls as √fibre where the sky dominates, as fibre where the read noise does (clouds and
seeing act on the star only: the sky glow is at the fibre already).

======================  ==========================================================  =========
factor                  definition                                                  = 1 when
======================  ==========================================================  =========
``magnitude``           10^(-0.4 (G - G_cal))                                       G = G_cal
``colour``              blackbody flux at the arm's wavelength relative to Gaia G,  Teff =
                        divided by the same ratio for the calibration star          T_cal
``exposure``            t / t_nom                                                   t = t_nom
``seeing``              Moffat (β) light inside the 3.3″ fibre, over its nominal    nominal
``extinction``          10^(-0.4 k_arm (X - X_nom))                                 nominal X
``transparency``        T / T_nom (cloud transmission)                              nominal
``fibre``               fibre × spectrograph throughput (an input, 1 = healthy),    healthy
                        on star and sky
``sky``                 sky surface brightness (dark sky + Krisciunas & Schaefer    nominal
                        1991 moonlight) over its nominal value
======================  ==========================================================  =========

Calibration (:meth:`SNRModel.calibrate`): the scenario fixes the S/N of a calibration
star (default a solar-type star, Teff 5800 K, G = 15) under nominal conditions, per arm
(default blue 10 — the LK-MRS design limit — and red 13). The sky-to-star electron ratio β
at nominal conditions follows from photometry: the star's magnitude in the arm's band
(V ≈ G + 0.14 for blue, R_C ≈ G − 0.22 for red, solar colours), the light fraction that
enters the fibre, and the nominal sky surface brightness times the fibre's solid angle.
With the read noise r and ceiling C, the S/N equation is a quadratic in s whose positive
root gives s_cal and b_cal = β s_cal. A calibration S/N at or above the ceiling is
impossible and raises :class:`~lkmrs_sched.core.errors.InputError`.

The "ideal" twin is :class:`ConstantSNRModel` (the same interface, a fixed S/N per arm
times the fibre throughput), for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import astropy.units as u
import numpy as np

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.sections import SNRConfig

ARMS = ("blue", "red")
#: Central wavelength of each arm and the effective wavelength of Gaia G, nm.
ARM_WAVELENGTH_NM = {"blue": 515.0, "red": 655.0}
G_WAVELENGTH_NM = 622.0
#: Band magnitude minus G for a solar-type star (V − G, R_C − G), mag.
ARM_MINUS_G_SOLAR = {"blue": 0.14, "red": -0.22}
#: Moonlight colour (V − R_C, solar), mag: the red arm's moon sky is this much brighter.
MOON_V_MINUS_R = 0.36
_HC_OVER_K_NM_K = 1.438777e7  # h c / k in nm·K
MAG_RANGE = (-2.0, 25.0)


@dataclass(frozen=True)
class Conditions:
    """Observing conditions; every attribute is a float array (or scalar) that broadcasts.

    Attributes
    ----------
    exptime_s : exposure time, s
    seeing_arcsec : FWHM seeing at the telescope, arcsec
    airmass : airmass of the target (≥ 1)
    moon_illumination : illuminated fraction of the Moon, 0–1
    moon_separation_deg : Moon–target angle, degrees
    moon_altitude_deg : Moon altitude, degrees (below 0: no moonlight)
    transparency : cloud transmission, 0–1
    """

    exptime_s: np.ndarray
    seeing_arcsec: np.ndarray
    airmass: np.ndarray
    moon_illumination: np.ndarray
    moon_separation_deg: np.ndarray
    moon_altitude_deg: np.ndarray
    transparency: np.ndarray

    @classmethod
    def nominal(cls, cfg: SNRConfig) -> Conditions:
        """The nominal conditions of ``cfg`` (every factor is 1 there)."""
        return cls(
            exptime_s=np.asarray(cfg.nominal_exptime.to_value(u.s)),
            seeing_arcsec=np.asarray(cfg.nominal_seeing.to_value(u.arcsec)),
            airmass=np.asarray(cfg.nominal_airmass),
            moon_illumination=np.asarray(cfg.nominal_moon_illumination),
            moon_separation_deg=np.asarray(cfg.nominal_moon_separation.to_value(u.deg)),
            moon_altitude_deg=np.asarray(cfg.nominal_moon_altitude.to_value(u.deg)),
            transparency=np.asarray(cfg.nominal_transparency),
        )

    def replace(self, **kw: float | np.ndarray) -> Conditions:
        """A copy with some conditions changed."""
        values = {k: getattr(self, k) for k in self.__dataclass_fields__}
        values.update({k: np.asarray(v, dtype=float) for k, v in kw.items()})
        return Conditions(**values)


# --- photometry helpers ---------------------------------------------------------------


def nl_from_mag(mag: np.ndarray) -> np.ndarray:
    """Surface brightness in nanoLamberts from mag/arcsec² (Krisciunas & Schaefer 1991)."""
    return 34.08 * np.exp(20.7233 - 0.92104 * np.asarray(mag, float))


def mag_from_nl(nl: np.ndarray) -> np.ndarray:
    """Surface brightness in mag/arcsec² from nanoLamberts."""
    return (20.7233 - np.log(np.asarray(nl, float) / 34.08)) / 0.92104


def ks_airmass(zenith_deg: np.ndarray) -> np.ndarray:
    """KS91 airmass X(Z) = (1 − 0.96 sin² Z)^(−1/2), finite to the horizon."""
    s = np.sin(np.radians(zenith_deg))
    return 1.0 / np.sqrt(1.0 - 0.96 * s * s)


def moon_sky_nl(
    illumination: np.ndarray,
    separation_deg: np.ndarray,
    moon_altitude_deg: np.ndarray,
    target_zenith_deg: np.ndarray,
    k: float,
) -> np.ndarray:
    """Scattered moonlight, nanoLamberts (Krisciunas & Schaefer 1991, their Eqs. 15–21).

    Parameters
    ----------
    illumination : array_like
        Illuminated fraction 0–1; the phase angle is arccos(2·illumination − 1).
    separation_deg, moon_altitude_deg, target_zenith_deg : array_like
        Moon–target angle (clipped at 5°, where the formula stops applying), Moon altitude
        and target zenith distance, degrees.
    k : float
        Extinction coefficient, mag per airmass.
    """
    alpha = np.degrees(np.arccos(np.clip(2.0 * np.asarray(illumination, float) - 1.0, -1, 1)))
    istar = 10.0 ** (-0.4 * (3.84 + 0.026 * alpha + 4e-9 * alpha**4))
    rho = np.radians(np.clip(separation_deg, 5.0, 180.0))
    f_rho = 10.0**5.36 * (1.06 + np.cos(rho) ** 2) + 10.0 ** (6.15 - np.degrees(rho) / 40.0)
    alt = np.asarray(moon_altitude_deg, float)
    x_moon = ks_airmass(90.0 - np.clip(alt, 0.0, 90.0))
    x_tgt = ks_airmass(target_zenith_deg)
    b = f_rho * istar * 10.0 ** (-0.4 * k * x_moon) * (1.0 - 10.0 ** (-0.4 * k * x_tgt))
    return np.where(alt > 0.0, b, 0.0)


def dark_sky_nl(zenith_mag: float, target_zenith_deg: np.ndarray, k: float) -> np.ndarray:
    """Dark sky towards the target, nanoLamberts (KS91 Eq. 2: brighter with airmass)."""
    x = ks_airmass(target_zenith_deg)
    return nl_from_mag(zenith_mag) * x * 10.0 ** (-0.4 * k * (x - 1.0))


def zenith_from_airmass(airmass: np.ndarray) -> np.ndarray:
    """Zenith distance (deg) of a plane-parallel airmass sec Z."""
    return np.degrees(np.arccos(1.0 / np.clip(np.asarray(airmass, float), 1.0, None)))


def moffat_in_fibre(seeing_arcsec: np.ndarray, diameter_arcsec: float, beta: float) -> np.ndarray:
    """Fraction of a centred Moffat PSF of FWHM ``seeing`` inside a fibre of ``diameter``."""
    fwhm = np.asarray(seeing_arcsec, float)
    alpha = fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    r = 0.5 * diameter_arcsec
    return 1.0 - (1.0 + (r / alpha) ** 2) ** (1.0 - beta)


def _planck_ratio(teff: np.ndarray, lam_nm: float) -> np.ndarray:
    """Blackbody B_λ(λ) / B_λ(λ_G) at temperature ``teff`` (K)."""
    t = np.asarray(teff, float)
    x1 = _HC_OVER_K_NM_K / (lam_nm * t)
    x2 = _HC_OVER_K_NM_K / (G_WAVELENGTH_NM * t)
    return (G_WAVELENGTH_NM / lam_nm) ** 5 * np.expm1(x2) / np.expm1(x1)


def check_magnitudes(mag: np.ndarray, where: str) -> np.ndarray:
    """Return ``mag`` as a float array; InputError if any value is NaN or out of range."""
    m = np.asarray(mag, float)
    bad = ~((m >= MAG_RANGE[0]) & (m <= MAG_RANGE[1]))
    if np.any(bad):
        raise InputError(
            where,
            float(m[bad].flat[0]),
            f"Gaia G magnitudes between {MAG_RANGE[0]:g} and {MAG_RANGE[1]:g}",
            "magnitude out of range",
        )
    return m


# --- the models -----------------------------------------------------------------------


class SNRLike(Protocol):
    """The interface every S/N model offers (so the ideal twin can stand in)."""

    def snr(
        self,
        arm: str,
        mag: np.ndarray,
        cond: Conditions,
        teff: np.ndarray | float = ...,
        throughput: np.ndarray | float = ...,
    ) -> np.ndarray: ...


class SNRModel:
    """The standard S/N model of this module (see the module docstring).

    Parameters
    ----------
    cfg : SNRConfig
        Settings (the scenario's ``[snr]`` section).
    where : str
        Prefix for error messages, e.g. ``"scenario.toml: [snr]"``.

    Raises
    ------
    InputError
        If the calibration is impossible (calibration S/N not below ``snr_ceiling``).
    """

    def __init__(self, cfg: SNRConfig | None = None, where: str = "[snr]"):
        self.cfg = cfg = cfg or SNRConfig()
        self.nominal = Conditions.nominal(cfg)
        self.k = {"blue": cfg.extinction_blue, "red": cfg.extinction_red}
        self.dark = {"blue": cfg.dark_sky_blue, "red": cfg.dark_sky_red}
        self._fibre_d = cfg.fibre_diameter.to_value(u.arcsec)
        self._ee_nominal = float(
            moffat_in_fibre(self.nominal.seeing_arcsec, self._fibre_d, cfg.moffat_beta)
        )
        self._teff_cal = cfg.calibration_teff.to_value(u.K)
        self._sky_nominal = {a: float(self.sky_nl(a, self.nominal)) for a in ARMS}
        self.s_cal: dict[str, float] = {}
        self.b_cal: dict[str, float] = {}
        self.beta: dict[str, float] = {}
        for arm in ARMS:
            target = getattr(cfg, f"calibration_snr_{arm}")
            self.s_cal[arm], self.b_cal[arm], self.beta[arm] = self.calibrate(arm, target, where)

    # -- calibration ------------------------------------------------------------------

    def sky_to_star(self, arm: str) -> float:
        """β: nominal sky electrons over calibration-star electrons in the fibre."""
        omega = np.pi * (0.5 * self._fibre_d) ** 2  # fibre solid angle, arcsec²
        mu = float(mag_from_nl(self._sky_nominal[arm]))
        m_sky = mu - 2.5 * np.log10(omega)
        # The calibration star's band magnitude: solar colour, corrected for its Teff.
        colour = self._colour_raw(arm, self._teff_cal) / self._colour_raw(arm, 5772.0)
        m_star = self.cfg.calibration_mag + ARM_MINUS_G_SOLAR[arm] - 2.5 * np.log10(colour)
        return float(10.0 ** (-0.4 * (m_sky - m_star)) / self._ee_nominal)

    def calibrate(self, arm: str, target_snr: float, where: str) -> tuple[float, float, float]:
        """Star and sky electrons per pixel of the calibration star at nominal conditions.

        Returns
        -------
        s_cal, b_cal : float
            Star and sky photo-electrons per spectral pixel, electrons.
        beta : float
            Their ratio b_cal / s_cal.
        """
        c = self.cfg.snr_ceiling
        if not target_snr < c:
            raise InputError(
                f"{where} calibration_snr_{arm}",
                target_snr,
                f"below snr_ceiling ({c:g})",
                "impossible S/N calibration",
            )
        n2 = 1.0 / (1.0 / target_snr**2 - 1.0 / c**2)
        beta = self.sky_to_star(arm)
        r2 = self.cfg.read_noise**2
        a = n2 * (1.0 + beta)
        s = 0.5 * (a + np.sqrt(a * a + 4.0 * n2 * r2))
        return float(s), float(beta * s), beta

    # -- factors ----------------------------------------------------------------------

    def sky_nl(self, arm: str, cond: Conditions) -> np.ndarray:
        """Sky surface brightness towards the target in the arm, nanoLamberts (V or R)."""
        z = zenith_from_airmass(cond.airmass)
        moon = moon_sky_nl(
            cond.moon_illumination, cond.moon_separation_deg, cond.moon_altitude_deg, z, self.k[arm]
        )
        if arm == "red":
            moon = moon * 10.0 ** (0.4 * MOON_V_MINUS_R)
        return dark_sky_nl(self.dark[arm], z, self.k[arm]) + moon

    @staticmethod
    def _colour_raw(arm: str, teff: np.ndarray | float) -> np.ndarray:
        return _planck_ratio(teff, ARM_WAVELENGTH_NM[arm])

    def factors(
        self,
        arm: str,
        mag: np.ndarray | float,
        cond: Conditions,
        teff: np.ndarray | float | None = None,
        throughput: np.ndarray | float = 1.0,
    ) -> dict[str, np.ndarray]:
        """The named dimensionless factors, each 1 at nominal conditions.

        Parameters
        ----------
        arm : {"blue", "red"}
        mag : array_like
            Gaia G, mag.
        cond : Conditions
            Observing conditions (broadcast against ``mag``).
        teff : array_like, optional
            Effective temperature, K (default: the calibration star's).
        throughput : array_like
            Fibre and spectrograph throughput relative to a healthy fibre.

        Returns
        -------
        dict
            ``magnitude, colour, exposure, seeing, extinction, transparency, fibre`` (signal)
            and ``sky`` (background).
        """
        cfg, nom = self.cfg, self.nominal
        teff = self._teff_cal if teff is None else teff
        ee = moffat_in_fibre(cond.seeing_arcsec, self._fibre_d, cfg.moffat_beta)
        return {
            "magnitude": 10.0 ** (-0.4 * (np.asarray(mag, float) - cfg.calibration_mag)),
            "colour": self._colour_raw(arm, teff) / self._colour_raw(arm, self._teff_cal),
            "exposure": np.asarray(cond.exptime_s, float) / nom.exptime_s,
            "seeing": ee / self._ee_nominal,
            "extinction": 10.0
            ** (-0.4 * self.k[arm] * (np.asarray(cond.airmass, float) - nom.airmass)),
            "transparency": np.asarray(cond.transparency, float) / nom.transparency,
            "fibre": np.asarray(throughput, float),
            "sky": self.sky_nl(arm, cond) / self._sky_nominal[arm],
        }

    def snr_from_factors(self, arm: str, f: dict[str, np.ndarray]) -> np.ndarray:
        """Combine :meth:`factors` into S/N with the CCD equation and the ceiling."""
        s = self.s_cal[arm] * (
            f["magnitude"] * f["colour"] * f["exposure"] * f["seeing"] * f["extinction"]
        ) * (f["transparency"] * f["fibre"])
        b = self.b_cal[arm] * f["exposure"] * f["sky"] * f["fibre"]
        return self.combine(s, b)

    def combine(self, s: np.ndarray, b: np.ndarray) -> np.ndarray:
        """S/N = [(s + b + r²)/s² + 1/C²]^(−1/2) for star and sky electrons ``s``, ``b``."""
        s = np.maximum(s, 1e-30)
        inv2 = (s + b + self.cfg.read_noise**2) / (s * s) + 1.0 / self.cfg.snr_ceiling**2
        return 1.0 / np.sqrt(inv2)

    def snr(
        self,
        arm: str,
        mag: np.ndarray | float,
        cond: Conditions,
        teff: np.ndarray | float | None = None,
        throughput: np.ndarray | float = 1.0,
    ) -> np.ndarray:
        """Median per-pixel S/N of one arm (arrays broadcast by NumPy rules)."""
        return self.snr_from_factors(arm, self.factors(arm, mag, cond, teff, throughput))

    def mag_at_snr(self, arm: str, snr: float, cond: Conditions | None = None) -> float:
        """G at which a calibration-coloured star reaches ``snr`` (bisection), mag."""
        cond = cond or self.nominal
        lo, hi = -2.0, 25.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if float(self.snr(arm, mid, cond)) > snr:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


class ConstantSNRModel:
    """Ideal twin: a fixed S/N per arm, scaled only by the fibre throughput."""

    def __init__(self, blue: float = 30.0, red: float = 40.0):
        self.value = {"blue": float(blue), "red": float(red)}

    def snr(
        self,
        arm: str,
        mag: np.ndarray | float,
        cond: Conditions,
        teff: np.ndarray | float | None = None,
        throughput: np.ndarray | float = 1.0,
    ) -> np.ndarray:
        shape = np.broadcast_shapes(
            np.shape(mag),
            np.shape(throughput),
            *(np.shape(getattr(cond, k)) for k in cond.__dataclass_fields__),
        )
        return np.broadcast_to(self.value[arm] * np.asarray(throughput, float), shape).copy()


def model_from_config(cfg: SNRConfig, where: str = "[snr]") -> SNRModel | ConstantSNRModel:
    """The S/N model a scenario asks for."""
    if cfg.model == "constant":
        return ConstantSNRModel(cfg.constant_snr_blue, cfg.constant_snr_red)
    return SNRModel(cfg, where)


def blue_snr(
    mag: np.ndarray,
    *,
    exptime_s: np.ndarray | float = 1200.0,
    seeing_arcsec: np.ndarray | float,
    airmass: np.ndarray | float,
    moon_illumination: np.ndarray | float,
    moon_separation_deg: np.ndarray | float,
    moon_altitude_deg: np.ndarray | float,
    transparency: np.ndarray | float | None = None,
    teff: np.ndarray | float | None = None,
    throughput: np.ndarray | float = 1.0,
    model: SNRModel | None = None,
) -> np.ndarray:
    """Blue-arm S/N of stars (rows) in exposures (columns), without building a catalogue.

    Parameters
    ----------
    mag : array_like, shape (n_star,)
        Gaia G, mag (−2 … 25).
    exptime_s, seeing_arcsec, airmass, moon_illumination, moon_separation_deg, \
moon_altitude_deg, transparency : array_like, shape (n_exp,) or scalar
        Per-exposure conditions (s, arcsec, airmass, 0–1, deg, deg, 0–1); transparency
        defaults to the nominal value.
    teff : array_like, shape (n_star,), optional
        Effective temperature, K (default: the calibration star's, 5800 K).
    throughput : array_like, shape (n_star,) or scalar
        Fibre throughput relative to a healthy fibre.
    model : SNRModel, optional
        Default: ``SNRModel(SNRConfig())``.

    Returns
    -------
    ndarray, shape (n_star, n_exp)
        Blue S/N per star per exposure.

    Raises
    ------
    InputError
        If a magnitude is NaN or outside −2 … 25.
    """
    model = model or SNRModel()
    m = check_magnitudes(np.atleast_1d(mag), "blue_snr mag")[:, None]
    tr = model.nominal.transparency if transparency is None else transparency
    cond = Conditions(
        *(
            np.atleast_1d(np.asarray(x, float))[None, :]
            for x in (
                exptime_s,
                seeing_arcsec,
                airmass,
                moon_illumination,
                moon_separation_deg,
                moon_altitude_deg,
                tr,
            )
        )
    )
    te = None if teff is None else np.atleast_1d(np.asarray(teff, float))[:, None]
    thr = np.asarray(throughput, float)
    thr = thr[:, None] if thr.ndim == 1 else thr
    return model.snr("blue", m, cond, te, thr)


# --- measurement noise ----------------------------------------------------------------


def measurement_noise(
    z: np.ndarray,
    uu: np.ndarray,
    sigma: np.ndarray,
    outlier_fraction: float,
    outlier_scale: float,
    extra: np.ndarray | None = None,
) -> np.ndarray:
    """Core noise with an independent tail, plus an object's own extra scatter.

    Parameters
    ----------
    z, uu : ndarray, shape S (synth: (n_e, n); the fast path: (m,))
        Standard normals and uniforms (one each per measurement).
    sigma : ndarray, shape S
        Core σ (the ``[snr] core_*`` law at the spectrum's S/N).
    outlier_fraction, outlier_scale : float
        Where ``uu < outlier_fraction`` the core σ is ``outlier_scale`` times wider.
    extra : ndarray, optional
        Extra σ of each measurement's object, added in quadrature (a variable star's
        epoch scatter): shape (n,) against S = (n_e, n), or S; only its non-zero
        entries cost anything.

    Returns
    -------
    ndarray, shape S
        z · sqrt((m σ)² + extra²) with m = ``outlier_scale`` in the tail, else 1.
    """
    core = sigma * np.where(uu < outlier_fraction, outlier_scale, 1.0)
    out = core * z
    if extra is None:
        return out
    if extra.ndim == 1 and out.ndim == 2:  # one value per object (column)
        v = np.flatnonzero(extra > 0)
        if len(v):
            out[:, v] = z[:, v] * np.sqrt(core[:, v] ** 2 + extra[v] ** 2)
        return out
    extra = np.broadcast_to(extra, out.shape)
    v = extra > 0
    if v.any():
        out[v] = z[v] * np.sqrt(core[v] ** 2 + extra[v] ** 2)
    return out
