"""Seeing at LAMOST (filled in by the simulator work)."""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u

from lkmrs_sched import schema


@dataclass(frozen=True)
class SeeingConfig:
    """Seeing at LAMOST: log-normal, correlated within a night."""

    median: u.Quantity = schema.quantity("3.3 arcsec", "arcsec", 0.3, 20, "Table 2 median")
    sigma_ln: float = schema.number(0.24, 0, 3, doc="dispersion of ln(seeing)")
    night_fraction: float = schema.number(
        0.8, 0, 1, doc="share of ln-variance common to a whole night"
    )
    minimum: u.Quantity = schema.quantity("1.0 arcsec", "arcsec", 0, 20)
