"""Per-night almanac: twilight, Moon, lunar calendar, MRS/LRS nights, shutdown.

A night is named by the local (UTC+8) date of its evening. For every night the almanac
holds dusk and dawn for the configured twilight altitude, the Moon on a grid of
:data:`MOON_GRID` instants from dusk to dawn (topocentric CIRS direction, altitude,
illumination), the lunar day, whether it is an MRS night (lunar days 7–22 by default) and
whether it falls in a summer shutdown window. Everything is computed at once for all
nights with NumPy over :class:`~lkmrs_sched.sky.ephemeris.Ephemeris`, and cached on disk keyed
by every input (see :func:`cache_dir`).

Lunar-day convention (Chinese calendar): day 1 is the local (UTC+8) date that contains
the instant of new moon (geocentric conjunction in ecliptic longitude); the lunar day of
night D is the lunar day of D's local date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from lkmrs_sched.core.atomic import write_npz
from lkmrs_sched.core.cache import load_npz, store_npz
from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.resources import cache_dir
from lkmrs_sched.core.timeconv import date_to_mjd
from lkmrs_sched.sky.ephemeris import Ephemeris, Site, altitude, radec

#: Moon samples per night, evenly from dusk to dawn (≤ 40 min apart).
MOON_GRID = 25
#: Bump when the computation changes, to invalidate caches.
ALMANAC_VERSION = 5






@dataclass(frozen=True)
class Almanac:
    """Per-night table for one site and date range (arrays of length ``n_nights``).

    Attributes
    ----------
    night : ndarray of datetime64[D]
        Local date of the evening.
    midnight : ndarray of float
        UTC MJD of local midnight at the end of that date.
    dusk, dawn : ndarray of float
        UTC MJD when the Sun crosses the twilight altitude (evening, morning).
    dark_hours : ndarray of float
        Hours from dusk to dawn.
    moon_illumination : ndarray of float
        Illuminated fraction at local midnight (0–1).
    lunar_day : ndarray of int
        Chinese lunar day 1–30 of the local date.
    mrs_night, shutdown : ndarray of bool
        MRS (bright) night; in a maintenance shutdown window.
    grid : ndarray, shape (n_nights, MOON_GRID)
        UTC MJD of the Moon samples (dusk … dawn).
    moon_ra, moon_dec, moon_alt, moon_grid_illumination : ndarray, shape like ``grid``
        Topocentric apparent CIRS RA/Dec (radians), altitude (radians), illuminated fraction.
    new_moons : ndarray of float
        UTC MJD of the new moons found around the range.
    era_midnight : ndarray of float
        Local Earth rotation angle (ERA + longitude, radians) at local midnight.
    c2i : ndarray, shape (n_nights, 3, 3)
        GCRS→CIRS rotation at local midnight.
    aberration : ndarray, shape (n_nights, 3)
        Earth's velocity over c at local midnight (annual aberration).
    utc_offset_h, latitude : float
        Local time minus UTC (hours); site latitude (radians).
    """

    night: np.ndarray
    midnight: np.ndarray
    dusk: np.ndarray
    dawn: np.ndarray
    dark_hours: np.ndarray
    moon_illumination: np.ndarray
    lunar_day: np.ndarray
    mrs_night: np.ndarray
    shutdown: np.ndarray
    grid: np.ndarray
    moon_ra: np.ndarray
    moon_dec: np.ndarray
    moon_alt: np.ndarray
    moon_grid_illumination: np.ndarray
    new_moons: np.ndarray
    era_midnight: np.ndarray
    c2i: np.ndarray
    aberration: np.ndarray
    utc_offset_h: float
    latitude: float

    def __len__(self) -> int:
        return len(self.night)

    @property
    def observable(self) -> np.ndarray:
        """MRS nights outside shutdown (boolean per night)."""
        return self.mrs_night & ~self.shutdown

    def night_index(self, date: dt.date | str) -> int:
        """Index of the night whose evening falls on ``date`` (``KeyError`` if absent)."""
        i = np.searchsorted(self.night, np.datetime64(date, "D"))
        if i >= len(self.night) or self.night[i] != np.datetime64(date, "D"):
            raise KeyError(f"night {date} is not in the almanac")
        return int(i)

    def moon_at(self, night: int, mjd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Moon RA, Dec, altitude (radians) at times within one night (linear on the grid)."""
        g = self.grid[night]
        x = np.cos(self.moon_dec[night]) * np.cos(self.moon_ra[night])
        y = np.cos(self.moon_dec[night]) * np.sin(self.moon_ra[night])
        z = np.sin(self.moon_dec[night])
        v = np.stack([np.interp(mjd, g, c) for c in (x, y, z)], axis=-1)
        ra, dec = radec(v)
        return ra, dec, np.interp(mjd, g, self.moon_alt[night])

    def save(self, path: Path) -> None:
        """Write to ``.npz`` atomically."""
        write_npz(path, {f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: Path) -> Almanac | None:
        """Read an almanac written by :meth:`save` (None if absent or damaged)."""
        kw: dict = load_npz(path, [f.name for f in fields(cls)])
        if kw is None:
            return None
        try:
            kw["utc_offset_h"] = float(kw["utc_offset_h"])
            kw["latitude"] = float(kw["latitude"])
        except (TypeError, ValueError):
            return None
        n = len(kw["night"])
        if any(len(kw[k]) != n for k in ("dusk", "dawn", "lunar_day", "grid", "c2i")):
            return None
        return cls(**kw)


def site_of(scenario: Scenario) -> Site:
    """The scenario's observer geometry."""
    s = scenario.site
    return Site.from_degrees(s.latitude.to_value("deg"), s.longitude.to_value("deg"),
                             s.elevation.to_value("m"))


def _twilight(eph: Ephemeris, midnight: np.ndarray, h0: float, evening: bool,
              iterations: int = 6) -> np.ndarray:
    """Instants when the Sun's altitude is ``h0`` (radians), near each local midnight.

    Newton-like fixed point on the hour angle: the Sun's CIRS position is re-evaluated at
    each new estimate, so the result is exact to the ephemeris (converges to < 0.01 s).
    """
    lat = eph.site.lat
    t = midnight + (-0.25 if evening else 0.25)
    for _ in range(iterations):
        ra, dec = radec(eph.sun(t))
        cos_h0 = (np.sin(h0) - np.sin(lat) * np.sin(dec)) / (np.cos(lat) * np.cos(dec))
        h_target = np.arccos(np.clip(cos_h0, -1, 1)) * (1 if evening else -1)
        ha = eph.local_era(t) - ra
        dha = (h_target - ha + np.pi) % (2 * np.pi) - np.pi
        # The Sun moves ~1°/day eastward, so its HA grows at ERA_RATE − 2π/365.25.
        t = t + dha / (2 * np.pi * (1.00273781191135448 - 1 / 365.2422))
    return t


def find_new_moons(eph: Ephemeris, mjd_lo: float, mjd_hi: float) -> np.ndarray:
    """UTC MJD of every new moon (geocentric conjunction in ecliptic longitude) in a span."""
    t = np.arange(mjd_lo, mjd_hi, 0.5)
    d = eph.sun_moon_longitude_difference(t)
    idx = np.flatnonzero((d[:-1] < 0) & (d[1:] >= 0) & (d[1:] - d[:-1] < np.pi))

    def f(x: float) -> float:
        return float(eph.sun_moon_longitude_difference(np.array([x]))[0])

    return np.array([brentq(f, t[i], t[i + 1], xtol=1e-6) for i in idx])


def lunar_days(local_dates: np.ndarray, new_moons: np.ndarray, utc_offset_h: float) -> np.ndarray:
    """Chinese lunar day (1 = local date containing the new moon) of each local date."""
    nm_local_day = np.floor(new_moons + utc_offset_h / 24.0)  # MJD of local date of new moon
    day = date_to_mjd(local_dates)
    k = np.searchsorted(nm_local_day, day, side="right") - 1
    if np.any(k < 0):
        raise ValueError("new-moon list does not reach back far enough")
    return (day - nm_local_day[k]).astype(int) + 1


def lunar_days_of(local_dates: np.ndarray, scenario: Scenario | None = None) -> np.ndarray:
    """Chinese lunar day of local dates (``datetime64[D]`` or ISO strings), no cache.

    For callers that have dates but no almanac (for example an imported log's nights).
    """
    from lkmrs_sched.core.config import default_scenario

    scenario = scenario or default_scenario()
    dates = np.asarray(local_dates, dtype="datetime64[D]")
    if dates.size == 0:
        return np.zeros(0, dtype=int)
    utc_offset = scenario.site.utc_offset.to_value("h")
    lo, hi = date_to_mjd(dates.min()), date_to_mjd(dates.max())
    eph = Ephemeris(lo - 40.0, hi + 2.0, site_of(scenario))
    return lunar_days(dates, find_new_moons(eph, lo - 38.0, hi + 2.0), utc_offset)


def in_shutdown(local_dates: np.ndarray, windows: tuple[tuple[str, str], ...]) -> np.ndarray:
    """True where the local date falls in a yearly MM-DD window (inclusive; may wrap the year)."""
    months = (local_dates.astype("datetime64[M]").astype(int) % 12) + 1
    days = (local_dates - local_dates.astype("datetime64[M]")).astype(int) + 1
    md = months * 100 + days
    out = np.zeros(len(local_dates), dtype=bool)
    for lo, hi in windows:
        a = int(lo[:2]) * 100 + int(lo[3:])
        b = int(hi[:2]) * 100 + int(hi[3:])
        out |= ((md >= a) & (md <= b)) if a <= b else ((md >= a) | (md <= b))
    return out


def compute_almanac(scenario: Scenario, start: dt.date | None = None,
                    end: dt.date | None = None) -> Almanac:
    """Compute the almanac for the scenario's nights (or ``start``..``end``), no cache."""
    start = start or scenario.start
    end = end or scenario.end
    utc_offset = scenario.site.utc_offset.to_value("h")
    nights = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    midnight = date_to_mjd(nights) + 1.0 - utc_offset / 24.0
    eph = Ephemeris(midnight[0] - 40.0, midnight[-1] + 1.0, site_of(scenario))
    h0 = np.radians(scenario.night.twilight.to_value("deg"))
    dusk = _twilight(eph, midnight, h0, evening=True)
    dawn = _twilight(eph, midnight, h0, evening=False)
    frac = np.linspace(0.0, 1.0, MOON_GRID)
    grid = dusk[:, None] + (dawn - dusk)[:, None] * frac[None, :]
    moon = eph.moon(grid)
    moon_ra, moon_dec = radec(moon)
    moon_alt = altitude(eph.local_era(grid) - moon_ra, moon_dec, eph.site.lat)
    new_moons = find_new_moons(eph, midnight[0] - 38.0, midnight[-1] + 1.0)
    lday = lunar_days(nights, new_moons, utc_offset)
    lo, hi = scenario.night.mrs_lunar_days
    return Almanac(
        night=nights, midnight=midnight, dusk=dusk, dawn=dawn, dark_hours=(dawn - dusk) * 24.0,
        moon_illumination=eph.moon_illumination(midnight), lunar_day=lday,
        mrs_night=(lday >= lo) & (lday <= hi),
        shutdown=in_shutdown(nights, scenario.night.shutdown),
        grid=grid, moon_ra=moon_ra, moon_dec=moon_dec, moon_alt=moon_alt,
        moon_grid_illumination=eph.moon_illumination(grid), new_moons=new_moons,
        era_midnight=eph.local_era(midnight), c2i=eph.c2i(midnight),
        aberration=eph.aberration_beta(midnight),
        utc_offset_h=float(utc_offset), latitude=float(eph.site.lat),
    )


def _cache_key(scenario: Scenario, start: dt.date, end: dt.date) -> str:
    import astropy
    import erfa

    parts = (ALMANAC_VERSION, MOON_GRID, start, end, scenario.canonical()["site"],
             scenario.canonical()["night"], astropy.__version__, erfa.__version__)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


def get_almanac(scenario: Scenario, start: dt.date | None = None, end: dt.date | None = None,
                use_cache: bool = True) -> Almanac:
    """The almanac for the scenario's range, from the disk cache when possible."""
    start = start or scenario.start
    end = end or scenario.end
    path = cache_dir() / f"almanac-{_cache_key(scenario, start, end)}.npz"
    if use_cache:
        cached = Almanac.load(path)  # a damaged entry is None: recomputed and replaced
        if cached is not None:
            return cached
    alm = compute_almanac(scenario, start, end)
    if use_cache:
        store_npz(path, {f.name: getattr(alm, f.name) for f in fields(alm)})
    return alm
