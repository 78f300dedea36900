"""Shared value checks: the dates the sky code supports, finite bounded numbers.

Each check raises :class:`~lkmrs_sched.core.errors.InputError` naming where the value
came from, the value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

from lkmrs_sched.core.errors import InputError

#: First supported night: the IERS-B table shipped with astropy (UT1−UTC) starts on
#: 1962-01-01, and the almanac looks 40 days back for the previous new moon.
FIRST_NIGHT = dt.date(1962, 3, 1)


@functools.cache
def last_night() -> dt.date:
    """Last supported night: before the year ERFA's leap-second table calls "dubious".

    ERFA knows leap seconds announced up to its release and treats UTC more than five
    years later as dubious (its warnings would otherwise reach the user); the almanac
    needs a few days after the last night.
    """
    import warnings

    import erfa

    year = dt.date.today().year
    with warnings.catch_warnings():
        warnings.simplefilter("error", erfa.ErfaWarning)
        for y in range(max(year, 2023), year + 200):
            try:
                erfa.dat(y, 1, 1, 0.0)
            except erfa.ErfaWarning:
                return dt.date(y - 1, 12, 25)
    return dt.date(year + 199, 12, 25)  # pragma: no cover


def supported_range() -> str:
    """The supported nights, as text for messages."""
    return f"a date from {FIRST_NIGHT.isoformat()} to {last_night().isoformat()}"


def check_night(date: dt.date, where: str) -> dt.date:
    """A night inside the range the ephemerides support."""
    if not FIRST_NIGHT <= date <= last_night():
        raise InputError(where, date.isoformat(), supported_range()
                         + " (the ephemerides' range)", "date out of range")
    return date


def finite(raw: Any, where: str, lo: float | None = None, hi: float | None = None) -> float:
    """A finite number within ``[lo, hi]``."""
    try:
        x = float(raw)
    except (TypeError, ValueError):
        x = math.nan
    ok = math.isfinite(x) and (lo is None or x >= lo) and (hi is None or x <= hi)
    if not ok:
        if lo is not None and hi is not None:
            allowed = f"a finite number from {lo:g} to {hi:g}"
        elif lo is not None:
            allowed = f"a finite number >= {lo:g}"
        elif hi is not None:
            allowed = f"a finite number <= {hi:g}"
        else:
            allowed = "a finite number"
        raise InputError(where, raw, allowed, "out of range" if math.isfinite(x)
                         else "not a finite number")
    return x
