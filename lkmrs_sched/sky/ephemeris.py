"""Fast, exact Sun, Moon and Earth-rotation ephemerides for one site.

The Sun and the Moon are computed with ERFA (the library astropy's own coordinate
transforms call: ``epv00``, ``moon98``, ``c2i06a``, ``era00``) once, on a uniform series
of instants spanning the whole period, and interpolated with cubic splines. Directions
are apparent geocentric CIRS (the Sun's with annual aberration); the Moon is made topocentric
by subtracting the observer's geocentric position, and hour angles follow from the Earth
rotation angle (CIO-based: HA = ERA + longitude − RA_CIRS). Polar motion (< 0.5″) and
refraction (as in astroplan's defaults) are ignored.

Accuracy against astropy's full ``AltAz`` transform: a few arcseconds for the Sun and
the Moon, i.e. well under a second of time for rise/set/twilight instants (tested).
UT1−UTC comes from the IERS-B table shipped with astropy (no download).
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import erfa
import numpy as np
from astropy.coordinates import EarthLocation
from astropy.time import Time
from astropy.utils import iers
from scipy.interpolate import CubicSpline

from lkmrs_sched.core.offline import offline

#: Earth rotation rate in radians per UT1 day (IAU 2000 ERA definition).
ERA_RATE = 2.0 * np.pi * 1.00273781191135448
#: Speed of light in AU per day.
C_AU_PER_DAY = 173.1446326846693
#: Sampling steps (days) for the splines: Sun daily, Moon every 3 h.
SUN_STEP = 1.0
MOON_STEP = 0.125


def unit(v: np.ndarray) -> np.ndarray:
    """Normalise vectors along the last axis."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def radec(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right ascension in [0, 2π) and declination (radians) of vectors (..., 3)."""
    ra = np.arctan2(v[..., 1], v[..., 0]) % (2 * np.pi)
    dec = np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1]))
    return ra, dec


def altitude(ha: np.ndarray, dec: np.ndarray, lat: float) -> np.ndarray:
    """Altitude (radians) from hour angle and declination (radians) at latitude ``lat``."""
    s = np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(ha)
    return np.arcsin(np.clip(s, -1.0, 1.0))


def airmass(alt: np.ndarray) -> np.ndarray:
    """Airmass from altitude (radians), Kasten & Young (1989); ``inf`` below the horizon."""
    alt_deg = np.degrees(alt)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = 1.0 / (np.sin(alt) + 0.50572 * (alt_deg + 6.07995) ** -1.6364)
    return np.where(alt_deg > -1.0, x, np.inf)


def wrap_pi(x: np.ndarray) -> np.ndarray:
    """Wrap angles to (−π, π]."""
    return np.pi - (np.pi - x) % (2 * np.pi)


@offline()
def _tt_jd(mjd_utc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = Time(mjd_utc, format="mjd", scale="utc").tt
    return t.jd1, t.jd2


@offline()
def ut1_minus_utc(mjd_utc: np.ndarray) -> np.ndarray:
    """UT1−UTC in seconds from the shipped IERS-B table (edge values beyond it)."""
    table = iers.IERS_B.open()
    mjd = np.asarray(table["MJD"].to_value(u.d))
    dut = np.asarray(table["UT1_UTC"].to_value(u.s))
    return np.interp(mjd_utc, mjd, dut)


@dataclass(frozen=True)
class Site:
    """Observer geometry in radians and AU.

    Attributes
    ----------
    lat : float
        Geodetic latitude (radians), used for altitudes.
    lon : float
        East longitude (radians).
    rho_cos : float
        Distance from the Earth's axis, AU.
    rho_sin : float
        Height above the equatorial plane, AU.
    """

    lat: float
    lon: float
    rho_cos: float
    rho_sin: float

    @classmethod
    def from_degrees(cls, lat_deg: float, lon_deg: float, height_m: float) -> Site:
        """Build from geodetic latitude/longitude (degrees) and height (m, WGS84)."""
        loc = EarthLocation.from_geodetic(lon_deg * u.deg, lat_deg * u.deg, height_m * u.m)
        x, y, z = (c.to_value(u.AU) for c in (loc.x, loc.y, loc.z))
        return cls(np.radians(lat_deg), np.radians(lon_deg), float(np.hypot(x, y)), float(z))

    def position(self, local_era: np.ndarray) -> np.ndarray:
        """Observer's geocentric CIRS position (AU), shape (..., 3)."""
        return np.stack([self.rho_cos * np.cos(local_era), self.rho_cos * np.sin(local_era),
                         np.full_like(local_era, self.rho_sin)], axis=-1)


class Ephemeris:
    """Sun, Moon and local Earth rotation angle for one site over one period.

    Parameters
    ----------
    mjd_start, mjd_end : float
        UTC MJD span to cover (a margin of two days is added on both sides).
    site : Site
        The observer.
    """

    def __init__(self, mjd_start: float, mjd_end: float, site: Site):
        self.site = site
        lo, hi = float(mjd_start) - 2.0, float(mjd_end) + 2.0
        sun_t = np.arange(lo, hi + SUN_STEP, SUN_STEP)
        moon_t = np.arange(lo, hi + MOON_STEP, MOON_STEP)
        jd1, jd2 = _tt_jd(sun_t)
        pvh, _ = erfa.epv00(jd1, jd2)
        earth_pos, earth_vel = pvh["p"], pvh["v"]  # heliocentric Earth, AU and AU/day (BCRS)
        c2i = erfa.c2i06a(jd1, jd2)  # GCRS -> CIRS rotation
        sun_gcrs = unit(-earth_pos) * np.linalg.norm(earth_pos, axis=-1, keepdims=True)
        # Annual aberration, first order (20.5"), for the apparent direction.
        beta = earth_vel / C_AU_PER_DAY
        sun_app = unit(unit(sun_gcrs) + beta) * np.linalg.norm(sun_gcrs, axis=-1, keepdims=True)
        self._sun = CubicSpline(sun_t, np.einsum("nij,nj->ni", c2i, sun_app), axis=0)
        self._sun_gcrs = CubicSpline(sun_t, sun_gcrs, axis=0)
        self._beta = CubicSpline(sun_t, beta, axis=0)
        self._c2i = CubicSpline(sun_t, c2i.reshape(-1, 9), axis=0)
        mjd1, mjd2 = _tt_jd(moon_t)
        moon_gcrs = erfa.moon98(mjd1, mjd2)["p"]
        # No annual aberration for the Moon: it moves with the Earth, so the aberration
        # cancels the light-time shift (astropy's get_body agrees to < 1″; adding it was 20″).
        moon_app = moon_gcrs
        c2i_m = self._c2i(moon_t).reshape(-1, 3, 3)
        self._moon = CubicSpline(moon_t, np.einsum("nij,nj->ni", c2i_m, moon_app), axis=0)
        self._moon_gcrs = CubicSpline(moon_t, moon_gcrs, axis=0)
        self.moon_times = moon_t
        # Earth rotation: UT1−UTC sampled daily (IERS-B); ERA evaluated exactly by era00.
        self._dut_t = sun_t
        self._dut = ut1_minus_utc(sun_t) / 86400.0

    def local_era(self, mjd: np.ndarray) -> np.ndarray:
        """Local Earth rotation angle ERA + longitude (radians)."""
        mjd = np.asarray(mjd, dtype=float)
        return erfa.era00(2400000.5, mjd + np.interp(mjd, self._dut_t, self._dut)) + self.site.lon

    def sun(self, mjd: np.ndarray) -> np.ndarray:
        """Apparent geocentric CIRS Sun vectors (AU), shape (..., 3)."""
        return self._sun(mjd)

    def moon(self, mjd: np.ndarray, topocentric: bool = True) -> np.ndarray:
        """Apparent CIRS Moon vectors (AU), topocentric by default, shape (..., 3)."""
        v = self._moon(mjd)
        if topocentric:
            v = v - self.site.position(self.local_era(mjd))
        return v

    def c2i(self, mjd: np.ndarray) -> np.ndarray:
        """GCRS→CIRS rotation matrices, shape (..., 3, 3)."""
        m = self._c2i(mjd)
        return m.reshape(*np.shape(mjd), 3, 3)

    def aberration_beta(self, mjd: np.ndarray) -> np.ndarray:
        """Earth's velocity over c (dimensionless), shape (..., 3)."""
        return self._beta(mjd)

    def moon_illumination(self, mjd: np.ndarray) -> np.ndarray:
        """Illuminated fraction of the Moon (geocentric, as astroplan defines it)."""
        s = self._sun_gcrs(mjd)
        m = self._moon_gcrs(mjd)
        rs, rm = np.linalg.norm(s, axis=-1), np.linalg.norm(m, axis=-1)
        cos_psi = np.sum(s * m, axis=-1) / (rs * rm)
        psi = np.arccos(np.clip(cos_psi, -1, 1))
        i = np.arctan2(rs * np.sin(psi), rm - rs * np.cos(psi))
        return (1.0 + np.cos(i)) / 2.0

    def sun_moon_longitude_difference(self, mjd: np.ndarray) -> np.ndarray:
        """Apparent geocentric ecliptic-of-date longitude of the Moon minus the Sun (radians).

        The Sun's direction includes annual aberration (the Moon, moving with the Earth,
        has none), so the zero is the apparent conjunction that defines the new moon.
        """
        t = np.atleast_1d(mjd)
        jd1, jd2 = _tt_jd(t)
        rot = erfa.ecm06(jd1, jd2)  # ICRS -> ecliptic of date
        s = np.einsum("nij,nj->ni", rot, unit(self._sun_gcrs(t)) + self._beta(t))
        m = np.einsum("nij,nj->ni", rot, self._moon_gcrs(np.atleast_1d(mjd)))
        return wrap_pi(np.arctan2(m[:, 1], m[:, 0]) - np.arctan2(s[:, 1], s[:, 0]))
