"""Keep astropy offline: no IERS or ephemeris downloads, ever.

The IERS-A/B tables shipped with ``astropy-iers-data`` cover UT1−UTC and polar motion
for the survey years; beyond them astropy extrapolates with a warning, which is
harmless at the precision we need (seconds of time).
"""

from __future__ import annotations

import warnings


def configure() -> None:
    """Switch astropy to offline mode (idempotent)."""
    from astropy.utils import iers
    from astropy.utils.data import conf as data_conf

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    iers.conf.iers_degraded_accuracy = "warn"
    data_conf.allow_internet = False
    warnings.filterwarnings("ignore", message=".*Tried to get polar motions.*")
    warnings.filterwarnings(
        "ignore", message=".*(some) times are outside of range covered by IERS.*"
    )
