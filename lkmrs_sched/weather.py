"""Dome open/closed models behind one event-driven interface (filled in by the simulator work)."""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u

from lkmrs_sched import schema


@dataclass(frozen=True)
class WeatherConfig:
    """Dome open/closed model (see :mod:`lkmrs_sched.weather`)."""

    model: str = schema.choice("stochastic", ("stochastic", "replay", "ideal"))
    usable_night_fraction: tuple = schema.items(
        (0.62, 0.62, 0.55, 0.50, 0.52, 0.42, 0.20, 0.22, 0.50, 0.72, 0.75, 0.72),
        "float",
        12,
        0,
        1,
        "chance that a night is usable, January..December",
    )
    persistence: float = schema.number(0.35, 0, 0.99, doc="night-to-night correlation of usability")
    open_spell_mean: u.Quantity = schema.quantity(
        "4 h", "h", 0.01, 48, "mean open spell in a usable night"
    )
    closed_spell_mean: u.Quantity = schema.quantity(
        "1 h", "h", 0.01, 48, "mean closed spell in a usable night"
    )
    replay_file: str = schema.path(
        "", "CSV of open intervals (start_utc,end_utc) for model='replay'"
    )
