"""Shared fixtures.

Every test session (each xdist worker has its own) runs with astropy offline and gets a
private, empty almanac cache:
``LKMRS_CACHE_DIR`` points into pytest's temporary folder, so tests never read or write
the project's ``.lkmrs-cache``. Expensive objects (almanacs, windows) are session-scoped
and computed without the cache, so they are the same whatever ran before.
"""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from helpers import cache_dir

#: The package's copy of the paper's Table 2 (the first-year observation log).
from lkmrs_sched.core.resources import TABLE2

#: LAMOST at Xinglong, as the default scenario has it.
SITE_LAT_DEG, SITE_LON_DEG, SITE_HEIGHT_M = 40.393333, 117.577222, 960.0


@pytest.fixture(scope="session", autouse=True)
def _private_almanac_cache(tmp_path_factory):
    """Point ``LKMRS_CACHE_DIR`` at a fresh folder for the whole session."""
    folder = tmp_path_factory.mktemp("lkmrs-cache")
    with cache_dir(folder) as folder:
        yield folder


@pytest.fixture(scope="session", autouse=True)
def _astropy_offline():
    """Keep astropy offline for the whole session, the reference computations too.

    The package no longer configures astropy at import (only inside its own calls), but
    the tests compare with astropy/astroplan directly, which must not download either.
    """
    from lkmrs_sched.core.offline import offline

    with offline():
        yield


@pytest.fixture(scope="session")
def season_scenario():
    """Default scenario for the first LK-MRS season, 2018-09-01 .. 2019-06-30."""
    from lkmrs_sched.core.config import default_scenario

    return default_scenario("2018-09-01", "2019-06-30")


@pytest.fixture(scope="session")
def season_almanac(season_scenario):
    """Almanac of the first season (computed, not cached)."""
    from lkmrs_sched.sky.almanac import compute_almanac

    return compute_almanac(season_scenario)


@pytest.fixture(scope="session")
def survey_scenario():
    """Default scenario for the whole survey, 2018-09-01 .. 2023-06-30."""
    from lkmrs_sched.core.config import default_scenario

    return default_scenario("2018-09-01", "2023-06-30")


@pytest.fixture(scope="session")
def survey_almanac(survey_scenario):
    """Almanac of the whole survey (computed, not cached)."""
    from lkmrs_sched.sky.almanac import compute_almanac

    return compute_almanac(survey_scenario)


@pytest.fixture(scope="session")
def lkmrs_plates():
    """The 20 LK-MRS footprints shipped with the project."""
    from lkmrs_sched.sky.footprints import load_lkmrs

    return load_lkmrs()


@pytest.fixture(scope="session")
def season_windows(lkmrs_plates, season_almanac, season_scenario):
    """Windows of the 20 plates over the first season, default rules."""
    from lkmrs_sched.sky.visibility import compute_windows

    return compute_windows(lkmrs_plates, season_almanac, season_scenario.observing)


@pytest.fixture(scope="session")
def table2_rows():
    """Rows of Table 2: plate, exposure time (s), exposures, night (date), seeing."""
    with TABLE2.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        {
            "plate_name": r["plate_name"],
            "exptime_s": float(r["exptime_s"]),
            "n_exposures": int(r["n_exposures"]),
            "night": dt.date.fromisoformat(r["night_date"]),
            "seeing": float(r["seeing_arcsec"]),
        }
        for r in rows
    ]


@pytest.fixture(scope="session")
def site_location():
    """The site as an astropy EarthLocation (for independent reference computations)."""
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    return EarthLocation.from_geodetic(
        SITE_LON_DEG * u.deg, SITE_LAT_DEG * u.deg, SITE_HEIGHT_M * u.m
    )
