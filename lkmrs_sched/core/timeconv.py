"""Time conversions, once: MJD ↔ calendar dates, ISO strings and LAMOST's local minutes.

Times inside the package are UTC MJD (days) as floats. LAMOST catalogues count time in
local (Beijing, UTC+8) modified Julian minutes, ``lmjm``; public code converts them as
UTC MJD = lmjm/1440 − 8/24 (brief §7). Nights are named by the local date of their
evening.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

#: MJD of 1970-01-01 (the Unix epoch), days.
MJD_UNIX_EPOCH = 40587
#: MJD 0 as a date and as a UTC instant.
MJD_EPOCH_DATE = dt.date(1858, 11, 17)
MJD_EPOCH = dt.datetime(1858, 11, 17, tzinfo=dt.UTC)
#: Beijing time minus UTC, hours (LAMOST's ``lmjm`` and dates are local).
UTC_OFFSET_H = 8.0
MINUTES_PER_DAY = 1440.0


def date_to_mjd(d: dt.date | np.ndarray) -> np.ndarray:
    """MJD of 00:00 UTC on calendar date(s) (a date or an array of datetime64[D])."""
    days = np.asarray(np.datetime64(d, "D") if isinstance(d, dt.date) else d,
                      dtype="datetime64[D]")
    return days.astype(np.int64).astype(float) + MJD_UNIX_EPOCH


def iso_date_to_mjd(text: str) -> int:
    """Integer MJD of an ISO date ``YYYY-MM-DD`` (anything after the date is ignored).

    Raises
    ------
    ValueError
        If ``text`` does not start with an ISO date.
    """
    return (dt.date.fromisoformat(text[:10]) - MJD_EPOCH_DATE).days


def iso_to_mjd(text: str) -> float:
    """UTC MJD of an ISO date-time (naive times are UTC; offsets are honoured).

    Raises
    ------
    ValueError
        If ``text`` is not an ISO date-time.
    """
    t = dt.datetime.fromisoformat(text.strip())
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    return (t - MJD_EPOCH).total_seconds() / 86400.0


def mjd_to_lmjm(mjd: np.ndarray) -> np.ndarray:
    """Local (UTC+8) modified Julian minute of UTC MJD(s), rounded to the minute."""
    return np.round((np.asarray(mjd) + UTC_OFFSET_H / 24.0) * MINUTES_PER_DAY).astype(np.int64)


def lmjm_to_mjd(lmjm: np.ndarray) -> np.ndarray:
    """UTC MJD of local modified Julian minute(s): lmjm/1440 − 8/24."""
    return np.asarray(lmjm, dtype=float) / MINUTES_PER_DAY - UTC_OFFSET_H / 24.0


def iso_times(mjd: np.ndarray) -> list[str]:
    """ISO UTC strings (seconds precision, ``Z``) for MJDs; ``""`` for NaN."""
    mjd = np.atleast_1d(np.asarray(mjd, dtype=float))
    out = [""] * len(mjd)
    ok = np.isfinite(mjd)
    if ok.any():
        from astropy.time import Time

        from lkmrs_sched.core.offline import offline

        with offline():
            iso = Time(mjd[ok], format="mjd", scale="utc").isot
        for i, s in zip(np.flatnonzero(ok), np.atleast_1d(iso), strict=True):
            out[i] = s[:19] + "Z"
    return out


def iso_time(mjd: float) -> str | None:
    """ISO UTC string of one MJD (as :func:`iso_times`), ``None`` for NaN."""
    text = iso_times(np.array([mjd]))[0]
    return text or None
