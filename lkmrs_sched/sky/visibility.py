"""Per-plate nightly windows, and the rules for fitting exposures into them.

A plate's window on a night is the interval where its hour angle is within
±``hour_angle_limit``, it is dark (dusk … dawn), and the Moon is at least
``moon_min_separation`` away. Hour-angle edges are exact: HA = local ERA − RA_CIRS grows
linearly at the sidereal rate, so the edges follow from the transit time in closed form.
The Moon edge is found by linear interpolation of the separation on the almanac's Moon
grid (≤ 40 min spacing; error ≪ 1 min); if the Moon cuts a window in two, the longest
part is kept.

:class:`PointingRules` says how a pointing (overhead, then ``n`` exposures with read-outs)
fits a window; the same rules drive the simulator and the feasibility check of the
observed log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from lkmrs_sched.core.cache import load_npz, store_npz
from lkmrs_sched.core.geometry import angular_separation
from lkmrs_sched.core.resources import cache_dir
from lkmrs_sched.core.sections import ObservingConfig
from lkmrs_sched.sky.almanac import Almanac
from lkmrs_sched.sky.ephemeris import ERA_RATE, airmass, altitude, unit, wrap_pi
from lkmrs_sched.sky.footprints import PlateSet

DAY_H = 24.0


def apparent_directions(plates: PlateSet, almanac: Almanac) -> tuple[np.ndarray, np.ndarray]:
    """Apparent CIRS RA and Dec (radians) of each plate at each local midnight, (P, N).

    Annual aberration (first order) and the GCRS→CIRS rotation (precession–nutation) at
    local midnight; the change over one night (< 0.1″) is ignored.
    """
    ra, dec = np.radians(plates.ra_deg), np.radians(plates.dec_deg)
    v = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)
    app = unit(v[:, None, :] + almanac.aberration[None, :, :])  # (P, N, 3)
    cirs = np.einsum("nij,pnj->pni", almanac.c2i, app)
    return (np.arctan2(cirs[..., 1], cirs[..., 0]) % (2 * np.pi),
            np.arcsin(np.clip(cirs[..., 2], -1, 1)))


@dataclass(frozen=True)
class Windows:
    """Visibility of P plates over N nights (arrays of shape (P, N); NaN where none).

    Attributes
    ----------
    plates : PlateSet
    almanac : Almanac
    ra, dec : ndarray
        Apparent CIRS coordinates of the plates (radians).
    transit : ndarray
        UTC MJD of the meridian transit nearest local midnight.
    ha_start, ha_end : ndarray
        UTC MJD where HA = −limit and +limit around that transit.
    start, end : ndarray
        The window (HA ∩ dark ∩ Moon), UTC MJD; NaN if empty.
    hours : ndarray
        Window length in hours (0 if empty).
    exp_start, exp_end : ndarray
        Where exposures may lie: like the window, but its hour-angle edges moved by the
        slack of ``hour_angle_applies_to`` (an exposure [s, s + t] is allowed when
        ``s >= exp_start`` and ``s + t <= exp_end``). Dark-time and Moon edges stay.
    """

    plates: PlateSet
    almanac: Almanac
    ra: np.ndarray
    dec: np.ndarray
    transit: np.ndarray
    ha_start: np.ndarray
    ha_end: np.ndarray
    start: np.ndarray
    end: np.ndarray
    hours: np.ndarray
    exp_start: np.ndarray
    exp_end: np.ndarray

    def hour_angle(self, plate: int | np.ndarray, night: int | np.ndarray,
                   mjd: np.ndarray) -> np.ndarray:
        """Hour angle in hours of plate(s) at UTC MJD ``mjd`` during night(s)."""
        return (mjd - self.transit[plate, night]) * ERA_RATE / (2 * np.pi) * DAY_H

    def altitude(self, plate: int | np.ndarray, night: int | np.ndarray,
                 mjd: np.ndarray) -> np.ndarray:
        """Altitude in degrees."""
        ha = np.radians(self.hour_angle(plate, night, mjd) * 15.0)
        return np.degrees(altitude(ha, self.dec[plate, night], self.almanac.latitude))

    def airmass(self, plate: int | np.ndarray, night: int | np.ndarray,
                mjd: np.ndarray) -> np.ndarray:
        """Airmass (Kasten & Young 1989)."""
        return airmass(np.radians(self.altitude(plate, night, mjd)))

    def moon_conditions(self, plate: np.ndarray, night: np.ndarray, mjd: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Moon separation (deg), altitude (deg) and illumination at times, vectorised.

        One entry per (plate, night, mjd) triple; the Moon is interpolated linearly on
        the almanac's per-night grid (as :meth:`Almanac.moon_at`).
        """
        alm = self.almanac
        mjd = np.asarray(mjd, dtype=float)
        if len(mjd) == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        g = alm.grid[night]  # (E, G)
        frac = np.clip((mjd - g[:, 0]) / (g[:, -1] - g[:, 0]), 0, 1) * (g.shape[1] - 1)
        i0 = np.minimum(frac.astype(int), g.shape[1] - 2)
        w = frac - i0
        rows = np.arange(len(mjd))

        def lerp(a: np.ndarray) -> np.ndarray:
            return a[rows, i0] * (1 - w) + a[rows, i0 + 1] * w

        ra, dec = alm.moon_ra[night], alm.moon_dec[night]
        v = (lerp(np.cos(dec) * np.cos(ra)), lerp(np.cos(dec) * np.sin(ra)), lerp(np.sin(dec)))
        norm = np.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)
        pra, pdec = self.ra[plate, night], self.dec[plate, night]
        pv = (np.cos(pdec) * np.cos(pra), np.cos(pdec) * np.sin(pra), np.sin(pdec))
        cos_sep = (v[0] * pv[0] + v[1] * pv[1] + v[2] * pv[2]) / norm
        sep = np.degrees(np.arccos(np.clip(cos_sep, -1, 1)))
        return sep, np.degrees(lerp(alm.moon_alt[night])), lerp(alm.moon_grid_illumination[night])

    def moon_separation(self, plate: int, night: int, mjd: np.ndarray) -> np.ndarray:
        """Topocentric Moon–plate separation in degrees at times within one night."""
        mra, mdec, _ = self.almanac.moon_at(night, mjd)
        return np.degrees(angular_separation(self.ra[plate, night], self.dec[plate, night],
                                             mra, mdec))


def compute_windows(plates: PlateSet, almanac: Almanac, observing: ObservingConfig) -> Windows:
    """Windows of every plate on every night of the almanac (vectorised)."""
    ra, dec = apparent_directions(plates, almanac)
    ha_mid = wrap_pi(almanac.era_midnight[None, :] - ra)  # (P, N) hour angle at local midnight
    transit = almanac.midnight[None, :] - ha_mid / ERA_RATE
    half = observing.hour_angle_limit.to_value("h") * 2 * np.pi / DAY_H / ERA_RATE  # days
    ha_start, ha_end = transit - half, transit + half
    limit = observing.moon_min_separation.to_value("deg")
    # Moon too close anywhere on the night's grid? Dot products against cos(limit), (P, N, G);
    # angles are computed only for the few plate-nights that need clipping.
    pv = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)
    mv = np.stack([np.cos(almanac.moon_dec) * np.cos(almanac.moon_ra),
                   np.cos(almanac.moon_dec) * np.sin(almanac.moon_ra),
                   np.sin(almanac.moon_dec)], axis=-1)
    near_moon = (np.einsum("pnk,ngk->png", pv, mv) > np.cos(np.radians(limit))).any(axis=2)

    def clip(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.maximum(lo, almanac.dusk[None, :])
        hi = np.minimum(hi, almanac.dawn[None, :])
        n_nights = len(almanac)
        for flat in np.flatnonzero((near_moon & (hi > lo)).ravel()):
            p, n = divmod(int(flat), n_nights)
            sep = np.degrees(angular_separation(ra[p, n], dec[p, n], almanac.moon_ra[n],
                                                almanac.moon_dec[n]))
            lo[p, n], hi[p, n] = _moon_clip(almanac.grid[n], sep, limit, lo[p, n], hi[p, n])
        empty = ~(hi > lo)
        lo[empty] = np.nan
        hi[empty] = np.nan
        return lo, hi

    start, end = clip(ha_start.copy(), ha_end.copy())
    texp = observing.exposure_time.to_value("d")
    before, after = {"start": (0.0, texp), "midpoint": (texp / 2, texp / 2),
                     "whole": (0.0, 0.0)}[observing.hour_angle_applies_to]
    exp_start, exp_end = clip(ha_start - before, ha_end + after)
    hours = np.nan_to_num((end - start) * DAY_H)
    return Windows(plates, almanac, ra, dec, transit, ha_start, ha_end, start, end, hours,
                   exp_start, exp_end)


def _moon_clip(grid: np.ndarray, sep: np.ndarray, limit: float, lo: float, hi: float
               ) -> tuple[float, float]:
    """Longest sub-interval of [lo, hi] where the interpolated separation is ≥ limit."""
    t = np.concatenate([[lo], grid[(grid > lo) & (grid < hi)], [hi]])
    s = np.interp(t, grid, sep) - limit
    best = (np.nan, np.nan)
    best_len = 0.0
    seg_start = t[0] if s[0] >= 0 else None
    for i in range(1, len(t)):
        if (s[i - 1] >= 0) != (s[i] >= 0):
            x = t[i - 1] + (t[i] - t[i - 1]) * s[i - 1] / (s[i - 1] - s[i])
            if s[i] >= 0:
                seg_start = x
            elif seg_start is not None:
                if x - seg_start > best_len:
                    best, best_len = (seg_start, x), x - seg_start
                seg_start = None
    if seg_start is not None and t[-1] - seg_start > best_len:
        best = (seg_start, t[-1])
    return best


@dataclass(frozen=True)
class PointingRules:
    """How a pointing fits a window: overhead, then exposures separated by read-outs.

    Times in days; windows are the exposure windows ``Windows.exp_start/exp_end``. With
    ``setup_before_window`` the overhead may be spent before the window opens (slewing and
    fibre positioning need neither darkness nor the hour-angle range).
    """

    exposure: float
    readout: float
    overhead: float
    setup_before_window: bool
    max_exposures: int
    min_exposures: int

    @classmethod
    def from_config(cls, obs: ObservingConfig) -> PointingRules:
        """Rules from the scenario's ``[observing]`` section."""
        return cls(obs.exposure_time.to_value("d"), obs.readout_time.to_value("d"),
                   obs.overhead.to_value("d"), obs.setup_before_window,
                   obs.max_exposures_per_pointing, obs.min_exposures_to_start)

    @property
    def cadence(self) -> float:
        """Exposure plus read-out (days)."""
        return self.exposure + self.readout

    def first_exposure_start(self, now: np.ndarray | float, w0: np.ndarray | float
                             ) -> np.ndarray | float:
        """Start of the first exposure when the overhead begins at ``now``."""
        if self.setup_before_window:
            return np.maximum(now + self.overhead, w0)
        return np.maximum(now, w0) + self.overhead

    def n_fit(self, first_start: np.ndarray | float, w1: np.ndarray | float) -> np.ndarray:
        """How many exposures fit from ``first_start`` until the window closes at ``w1``."""
        room = (w1 - self.exposure - first_start) / self.cadence
        with np.errstate(invalid="ignore"):
            n = np.floor(room + 1e-9) + 1
        return np.where(np.isfinite(n) & (n > 0), n, 0).astype(int)

    def pointing_fits(self, n: np.ndarray | int, w0: np.ndarray | float,
                      w1: np.ndarray | float) -> np.ndarray:
        """Whether a whole pointing of ``n`` exposures (with its overhead) fits [w0, w1].

        The pointing starts as early as the rules allow: its overhead just before the
        window when ``setup_before_window``, else at the window's opening.
        """
        now = w0 - self.overhead if self.setup_before_window else w0
        return self.n_fit(self.first_exposure_start(now, w0), w1) >= n


def window_settings(observing: ObservingConfig) -> tuple[str, ...]:
    """The observing settings that shape windows (not overheads or exposure counts)."""
    return tuple(repr(getattr(observing, k)) for k in (
        "hour_angle_limit", "hour_angle_applies_to", "exposure_time", "moon_min_separation"))


_WINDOW_ARRAYS = ("ra", "dec", "transit", "ha_start", "ha_end", "start", "end", "hours",
                  "exp_start", "exp_end")
WINDOWS_VERSION = 1


def get_windows(plates: PlateSet, almanac: Almanac, observing: ObservingConfig,
                use_cache: bool = True) -> Windows:
    """:func:`compute_windows`, cached on disk next to the almanacs.

    The key covers the almanac's content, the plates' identities and coordinates, and the
    observing rules, so any change recomputes.
    """
    if not use_cache:
        return compute_windows(plates, almanac, observing)
    h = hashlib.sha256(repr((WINDOWS_VERSION, *window_settings(observing))).encode())
    for arr in (almanac.dusk, almanac.dawn, almanac.era_midnight, almanac.moon_ra,
                plates.ra_deg, plates.dec_deg):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update("\x00".join(map(str, plates.plan_id)).encode())
    path = cache_dir() / f"windows-{h.hexdigest()[:20]}.npz"
    data = load_npz(path, _WINDOW_ARRAYS)  # a damaged entry is None: recompute, replace
    if data is not None and all(np.shape(data[k])[:1] == (len(plates),) for k in data):
        return Windows(plates, almanac, **data)
    win = compute_windows(plates, almanac, observing)
    store_npz(path, {k: getattr(win, k) for k in _WINDOW_ARRAYS})
    return win
