"""Dome open/closed models behind one small event-driven interface.

Every model answers two questions (the :class:`Weather` protocol):

* ``clear(now)`` — is the dome open at ``now`` (UTC MJD), and when does that change?
  This maps onto ``yield env.timeout(next_change - now)`` in a SimPy process, in the
  style of SDSS-V ``observesim.weather``.
* ``open_intervals(night)`` — the night's open ``[start, end)`` intervals (UTC MJD).

:func:`make_weather` builds one of three models for all nights at once, precomputing
every night's open intervals:

``stochastic``
    Xinglong climate. Whether a night is *usable* (has any open time) follows a
    two-state Markov chain whose stationary probability is the calendar month's
    ``usable_night_fraction`` and whose lag-1 autocorrelation is ``persistence``.
    Inside a usable night the dome alternates between open and closed spells with
    exponential durations, so that on average ``open_fraction`` of the dark time is open.
``replay``
    Open intervals read from a CSV (``start_utc,end_utc`` ISO times), clipped to the
    nights' dark time.
``ideal``
    The dome is open for the whole dark time of every night (the "ideal twin").

All models are closed outside the nights' dark time. The stochastic model draws only
from the generator it is given, so changing any other part of a scenario (the selector,
say) leaves the weather identical for the same weather stream.
:func:`summarize_weather` gives the usable-night fraction and open hours per month.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import astropy.units as u
import numpy as np

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.sections import WeatherConfig
from lkmrs_sched.core.timeconv import iso_to_mjd

_HOURS_PER_DAY = 24.0





@runtime_checkable
class Weather(Protocol):
    """The dome's open/closed state, event-driven: everything the simulator uses.

    Attributes
    ----------
    intervals : ndarray, shape (m, 2)
        Every open ``[start, end)`` interval (UTC MJD), sorted: the simulator's weather
        process interrupts the telescope at each ``end``.
    """

    intervals: np.ndarray

    def clear(self, now: float) -> tuple[bool, float]:
        """Dome state at ``now`` (UTC MJD, days) and the MJD of the next state change.

        The next change is ``np.inf`` if the state never changes again.
        """
        ...

    def open_intervals(self, night: int) -> np.ndarray:
        """``(k, 2)`` array of open ``[start, end)`` MJD intervals within night ``night``."""
        ...

    def open_hours(self) -> np.ndarray:
        """Open time per night (h): the nights table reports it for nights not operated."""
        ...


class IntervalWeather:
    """Weather given by precomputed open intervals (every model builds one of these).

    Parameters
    ----------
    intervals : ndarray, shape (m, 2)
        Open ``[start, end)`` intervals (UTC MJD), sorted, disjoint and non-touching.
    night_of : ndarray of int, shape (m,)
        Night index of each interval (non-decreasing).
    n_nights : int
        Number of nights.
    model : str
        Name of the model that produced the intervals.
    """

    def __init__(self, intervals: np.ndarray, night_of: np.ndarray, n_nights: int, model: str):
        self.intervals = np.asarray(intervals, dtype=float).reshape(-1, 2)
        self.intervals.flags.writeable = False
        self.night_of = np.asarray(night_of, dtype=np.int64)
        self.n_nights = int(n_nights)
        self.model = model
        self._offsets = np.searchsorted(self.night_of, np.arange(self.n_nights + 1))
        # Plain lists: bisect on them is several times faster than np.searchsorted on a
        # scalar, and clear() is called at every event of the simulation.
        self._starts: list[float] = self.intervals[:, 0].tolist()
        self._ends: list[float] = self.intervals[:, 1].tolist()

    def clear(self, now: float) -> tuple[bool, float]:
        """Dome state at ``now`` (UTC MJD) and the MJD of the next change (``np.inf``: none)."""
        i = bisect.bisect_right(self._starts, now) - 1
        if i >= 0 and now < self._ends[i]:
            return True, self._ends[i]
        nxt = i + 1
        return False, self._starts[nxt] if nxt < len(self._starts) else np.inf

    def open_intervals(self, night: int) -> np.ndarray:
        """Read-only ``(k, 2)`` array of night ``night``'s open ``[start, end)`` MJD intervals."""
        if not 0 <= night < self.n_nights:
            raise IndexError(f"night {night} outside 0..{self.n_nights - 1}")
        return self.intervals[self._offsets[night] : self._offsets[night + 1]]

    def open_hours(self) -> np.ndarray:
        """Open time per night (h), shape ``(n_nights,)``."""
        dur = (self.intervals[:, 1] - self.intervals[:, 0]) * _HOURS_PER_DAY
        return np.bincount(self.night_of, weights=dur, minlength=self.n_nights)


def _check_nights(dusk: np.ndarray, dawn: np.ndarray, months: np.ndarray) -> None:
    if not (dusk.ndim == 1 and dusk.shape == dawn.shape == months.shape):
        raise ValueError("dusk_mjd, dawn_mjd and months must be 1-d arrays of equal length")
    if np.any(~np.isfinite(dusk)) or np.any(~np.isfinite(dawn)) or np.any(dawn <= dusk):
        raise ValueError("every night needs finite dusk < dawn")
    if np.any(dusk[1:] < dawn[:-1]):
        raise ValueError("nights must be in time order and must not overlap")
    if np.any((months < 1) | (months > 12)):
        raise ValueError("months must be calendar months 1..12")


def _usable_nights(
    p: np.ndarray, dusk: np.ndarray, persistence: float, rng: np.random.Generator
) -> np.ndarray:
    """Two-state Markov chain: copy the previous night with probability rho**gap."""
    n = len(p)
    fresh = rng.random(n) < p
    gap = np.ones(n)
    gap[1:] = np.maximum(1.0, np.rint(dusk[1:] - dusk[:-1]))
    copy = rng.random(n) < persistence**gap
    copy[0] = False
    copy[(p <= 0) | (p >= 1)] = False  # exact 0/1 months are honoured exactly
    src = np.maximum.accumulate(np.where(copy, 0, np.arange(n)))
    return fresh[src]


def _spells(
    nights: np.ndarray,
    dusk: np.ndarray,
    dawn: np.ndarray,
    f_open: np.ndarray,
    closed_mean_d: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternating exponential open/closed spells in the given nights.

    The process starts in its stationary state (open with probability f; exponential
    spells are memoryless), so a night's expected open fraction is f. Nights whose draw
    has no open time at all are drawn again: a usable night has open time by definition.
    Nights with f = 1 are open throughout. Returns the open segments as
    ``(night, start, end)`` arrays in night and time order.
    """
    full = f_open[nights] >= 1
    out_n, out_s, out_e = [nights[full]], [dusk[nights[full]]], [dawn[nights[full]]]
    todo = nights[~full]
    while todo.size:
        f = f_open[todo]
        length = dawn[todo] - dusk[todo]
        mean_open = closed_mean_d * f / (1 - f)
        first_open = rng.random(todo.size) < f
        cols = 8
        dur = np.zeros((todo.size, 0))
        while dur.shape[1] == 0 or np.any(dur.sum(axis=1) < length):
            j = np.arange(dur.shape[1], dur.shape[1] + cols)
            state = first_open[:, None] ^ (j % 2 == 1)
            scale = np.where(state, mean_open[:, None], closed_mean_d)
            dur = np.concatenate([dur, rng.standard_exponential((todo.size, cols)) * scale], 1)
        state = first_open[:, None] ^ (np.arange(dur.shape[1]) % 2 == 1)
        end = np.cumsum(dur, axis=1)
        start = end - dur
        row, col = np.nonzero(state & (start < length[:, None]) & (dur > 0))
        out_n.append(todo[row])
        out_s.append(dusk[todo][row] + start[row, col])
        out_e.append(dusk[todo][row] + np.minimum(end[row, col], length[row]))
        got = np.zeros(todo.size, dtype=bool)
        got[row] = True
        todo = todo[~got]
    night = np.concatenate(out_n)
    s = np.concatenate(out_s)
    e = np.concatenate(out_e)
    order = np.lexsort((s, night))
    return night[order], s[order], e[order]




def read_open_intervals(path: str | Path) -> np.ndarray:
    """Read a replay CSV of open intervals.

    Parameters
    ----------
    path : path-like
        CSV with header ``start_utc,end_utc`` (other columns are ignored) and ISO 8601
        times (``2018-10-17T12:30:00``; naive times are UTC, offsets are converted).
        Blank lines and lines starting with ``#`` are skipped.

    Returns
    -------
    ndarray, shape (m, 2)
        ``[start, end)`` intervals in UTC MJD (days), in time order.

    Raises
    ------
    InputError
        Naming file, line and value: unreadable file, missing columns, unparsable time,
        ``end <= start``, intervals out of order or overlapping.
    """
    p = Path(path)
    from lkmrs_sched.core.textio import read_csv_rows

    lines = [
        (i, row)
        for i, row in enumerate(read_csv_rows(p, "a readable CSV of open intervals"), start=1)
        if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
    ]
    if not lines:
        raise InputError(str(p), ..., "a header start_utc,end_utc", "empty file")
    hline, header = lines[0]
    header = [c.strip() for c in header]
    missing = [c for c in ("start_utc", "end_utc") if c not in header]
    if missing:
        raise InputError(
            f"{p}: line {hline}",
            header,
            "columns start_utc,end_utc",
            "missing column(s) " + ", ".join(missing),
        )
    js, je = header.index("start_utc"), header.index("end_utc")
    out = np.empty((len(lines) - 1, 2))
    for r, (i, row) in enumerate(lines[1:]):
        where = f"{p}: line {i}"
        if len(row) != len(header):
            raise InputError(
                where, row, f"{len(header)} comma-separated values", "wrong number of values"
            )
        for j, col, name in ((0, js, "start_utc"), (1, je, "end_utc")):
            try:
                out[r, j] = iso_to_mjd(row[col])
            except ValueError:
                raise InputError(
                    f"{where} {name}", row[col], "an ISO time, e.g. 2018-10-17T12:30:00"
                ) from None
        if not out[r, 1] > out[r, 0]:
            raise InputError(
                f"{where} end_utc", row[je], f"a time after start_utc ({row[js].strip()})"
            )
        if r and out[r, 0] < out[r - 1, 1]:
            raise InputError(
                f"{where} start_utc",
                row[js],
                f"a time at or after the previous interval's end ({lines[r][1][je].strip()})",
                "intervals out of order or overlapping",
            )
    return out


def _merge_touching(s: np.ndarray, e: np.ndarray, night: np.ndarray) -> tuple:
    """Merge intervals that touch (end == next start) within the same night."""
    if s.size < 2:
        return s, e, night
    new = np.ones(s.size, dtype=bool)
    new[1:] = (s[1:] > e[:-1]) | (night[1:] != night[:-1])
    grp = np.cumsum(new) - 1
    ends = np.zeros(grp[-1] + 1)
    np.maximum.at(ends, grp, e)
    return s[new], ends, night[new]


def _clip_to_nights(
    ivals: np.ndarray, dusk: np.ndarray, dawn: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersect sorted disjoint intervals with the nights' [dusk, dawn)."""
    rs, re_ = ivals[:, 0], ivals[:, 1]
    lo = np.searchsorted(re_, dusk, side="right")
    hi = np.searchsorted(rs, dawn, side="left")
    counts = np.maximum(hi - lo, 0)
    night = np.repeat(np.arange(dusk.size), counts)
    first = np.cumsum(counts) - counts
    ridx = np.arange(counts.sum()) - np.repeat(first - lo, counts)
    s = np.maximum(rs[ridx], dusk[night])
    e = np.minimum(re_[ridx], dawn[night])
    keep = e > s
    return _merge_touching(s[keep], e[keep], night[keep])


def make_weather(
    config: WeatherConfig,
    dusk_mjd: np.ndarray,
    dawn_mjd: np.ndarray,
    months: np.ndarray,
    rng: np.random.Generator,
    source_dir: Path | None = None,
    night_usable: np.ndarray | None = None,
    night_open: np.ndarray | None = None,
) -> IntervalWeather:
    """Build the configured weather model for all nights at once.

    Parameters
    ----------
    config : WeatherConfig
        The ``[weather]`` section.
    dusk_mjd, dawn_mjd : ndarray of float, shape (n,)
        Each local night's start and end of dark time (UTC MJD, days), in time order.
        Nights need not be consecutive; persistence decays with the gap between them.
    months : ndarray of int, shape (n,)
        Each night's local calendar month (1..12).
    rng : numpy.random.Generator
        The weather's own stream (used only by the stochastic model).
    source_dir : Path, optional
        Folder against which a relative ``replay_file`` is resolved (the scenario's).
    night_usable, night_open : ndarray of float, shape (n,), optional
        Each night's usable-night chance and open fraction (stochastic model), for rules
        that change by date or season; default: the config's monthly values.

    Returns
    -------
    IntervalWeather
        Satisfies the :class:`Weather` protocol.

    Raises
    ------
    InputError
        For a bad configuration or replay file.
    ValueError
        For inconsistent night arrays (a programming error, not user input).
    """
    dusk = np.asarray(dusk_mjd, dtype=float)
    dawn = np.asarray(dawn_mjd, dtype=float)
    months = np.asarray(months, dtype=np.int64)
    _check_nights(dusk, dawn, months)
    build = WEATHER_MODELS.get(config.model)
    if build is None:
        raise InputError("[weather] model", config.model, "one of " + ", ".join(WEATHER_MODELS))
    p = (np.minimum(1.0, config.usable_scale
                    * np.asarray(config.usable_night_fraction, dtype=float)[months - 1])
         if night_usable is None else np.clip(np.asarray(night_usable, dtype=float), 0, 1))
    f = (np.asarray(config.open_fraction, dtype=float)[months - 1]
         if night_open is None else np.clip(np.asarray(night_open, dtype=float), 0.01, 1))
    if p.shape != dusk.shape or f.shape != dusk.shape:
        raise ValueError("night_usable and night_open need one value per night")
    return build(config, dusk, dawn, (p, f), rng, source_dir)


def _ideal(config: WeatherConfig, dusk: np.ndarray, dawn: np.ndarray,
           chances: tuple[np.ndarray, np.ndarray], rng: np.random.Generator,
           source_dir: Path | None) -> IntervalWeather:
    """Open for the whole dark time of every night."""
    return IntervalWeather(np.column_stack([dusk, dawn]), np.arange(dusk.size), dusk.size,
                           "ideal")


def _replay(config: WeatherConfig, dusk: np.ndarray, dawn: np.ndarray,
            chances: tuple[np.ndarray, np.ndarray], rng: np.random.Generator,
            source_dir: Path | None) -> IntervalWeather:
    """The open intervals of a CSV, clipped to the nights' dark time."""
    path = Path(config.replay_file)
    if not path.is_absolute() and source_dir is not None:
        path = Path(source_dir) / path
    s, e, night = _clip_to_nights(read_open_intervals(path), dusk, dawn)
    return IntervalWeather(np.column_stack([s, e]), night, dusk.size, "replay")


def _stochastic(config: WeatherConfig, dusk: np.ndarray, dawn: np.ndarray,
                chances: tuple[np.ndarray, np.ndarray], rng: np.random.Generator,
                source_dir: Path | None) -> IntervalWeather:
    """Markov-chain usable nights, exponential open/closed spells inside them.

    ``chances`` are each night's usable-night chance and mean open fraction.
    """
    p, f = chances
    usable = _usable_nights(p, dusk, config.persistence, rng)
    closed_mean_d = config.closed_spell_mean.to_value(u.h) / _HOURS_PER_DAY
    night, s, e = _spells(np.flatnonzero(usable), dusk, dawn, f, closed_mean_d, rng)
    return IntervalWeather(np.column_stack([s, e]), night, dusk.size, "stochastic")


#: The weather models by ``[weather] model`` name (the schema's choices).
WEATHER_MODELS = {"stochastic": _stochastic, "replay": _replay, "ideal": _ideal}


@dataclass(frozen=True)
class WeatherSummary:
    """Weather statistics per calendar month (index 0 = January; NaN: no nights).

    Attributes
    ----------
    n_nights : ndarray of int, shape (12,)
    usable_fraction : ndarray, shape (12,)
        Fraction of nights with any open time.
    open_hours_per_night : ndarray, shape (12,)
        Mean open time per night, all nights (h).
    open_hours_per_usable_night : ndarray, shape (12,)
        Mean open time per usable night (h).
    dark_hours_per_night : ndarray, shape (12,)
        Mean dark time per night (h).
    annual_usable_fraction : float
        Fraction of all nights with any open time.
    """

    n_nights: np.ndarray
    usable_fraction: np.ndarray
    open_hours_per_night: np.ndarray
    open_hours_per_usable_night: np.ndarray
    dark_hours_per_night: np.ndarray
    annual_usable_fraction: float

    def format(self) -> str:
        """A plain-text table, one row per month."""
        names = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
        lines = ["month  nights  usable  open_h/night  open_h/usable  dark_h/night"]
        for i, name in enumerate(names):
            lines.append(
                f"{name:5s} {self.n_nights[i]:7d} {self.usable_fraction[i]:7.3f}"
                f" {self.open_hours_per_night[i]:13.2f} {self.open_hours_per_usable_night[i]:14.2f}"
                f" {self.dark_hours_per_night[i]:13.2f}"
            )
        lines.append(f"all   {int(self.n_nights.sum()):7d} {self.annual_usable_fraction:7.3f}")
        return "\n".join(lines)


def summarize_weather(
    weather: Weather, dusk_mjd: np.ndarray, dawn_mjd: np.ndarray, months: np.ndarray
) -> WeatherSummary:
    """Usable-night fraction and open hours per calendar month, for any :class:`Weather`.

    Parameters
    ----------
    weather : Weather
        The model to summarise (its nights are ``0..n-1``).
    dusk_mjd, dawn_mjd : ndarray, shape (n,)
        Dark time of each night (UTC MJD).
    months : ndarray of int, shape (n,)
        Local calendar month of each night (1..12).
    """
    months = np.asarray(months, dtype=np.int64)
    n = months.size
    if isinstance(weather, IntervalWeather):
        hours = weather.open_hours()
    else:
        hours = np.array(
            [np.sum(np.diff(weather.open_intervals(i), axis=1)) * _HOURS_PER_DAY for i in range(n)]
        )
    dark = (np.asarray(dawn_mjd, dtype=float) - np.asarray(dusk_mjd, dtype=float)) * _HOURS_PER_DAY
    usable = hours > 0
    m = months - 1
    count = np.bincount(m, minlength=12)
    n_usable = np.bincount(m, weights=usable, minlength=12)
    open_sum = np.bincount(m, weights=hours, minlength=12)
    dark_sum = np.bincount(m, weights=dark, minlength=12)
    with np.errstate(invalid="ignore", divide="ignore"):
        return WeatherSummary(
            n_nights=count,
            usable_fraction=n_usable / count,
            open_hours_per_night=open_sum / count,
            open_hours_per_usable_night=open_sum / n_usable,
            dark_hours_per_night=dark_sum / count,
            annual_usable_fraction=float(usable.mean()) if n else float("nan"),
        )
