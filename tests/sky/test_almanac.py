"""The almanac against independent references, the lunar calendar, the log, and the cache.

References: astroplan (astropy's full Sun/Moon transforms) for twilight and the Moon's
illuminated fraction; Meeus, *Astronomical Algorithms* (2nd ed.), ch. 49, for the
instants of new moon; published new-moon times for a spot check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from lkmrs_sched.core.config import default_scenario
from lkmrs_sched.sky import almanac as almanac_mod
from lkmrs_sched.sky.almanac import Almanac, compute_almanac, get_almanac, lunar_days

SEC = 1.0 / 86400.0
UTC_OFFSET_D = 8.0 / 24.0


# --- Meeus ch. 49: mean new moon plus the 25 periodic and 14 planetary terms ----------

def meeus_new_moon_jde(k: np.ndarray) -> np.ndarray:
    """JDE (TT) of the true new moon of lunation ``k`` (k = 0 near 2000-01-06)."""
    k = np.asarray(k, dtype=float)
    t = k / 1236.85
    jde = (2451550.09766 + 29.530588861 * k + 0.00015437 * t**2 - 0.000000150 * t**3
           + 0.00000000073 * t**4)
    e = 1 - 0.002516 * t - 0.0000074 * t**2
    m = np.radians(2.5534 + 29.10535670 * k - 0.0000014 * t**2 - 0.00000011 * t**3)
    mp = np.radians(201.5643 + 385.81693528 * k + 0.0107582 * t**2 + 0.00001238 * t**3
                    - 0.000000058 * t**4)
    f = np.radians(160.7108 + 390.67050284 * k - 0.0016118 * t**2 - 0.00000227 * t**3
                   + 0.000000011 * t**4)
    om = np.radians(124.7746 - 1.56375588 * k + 0.0020672 * t**2 + 0.00000215 * t**3)
    s = np.sin
    periodic = (
        -0.40720 * s(mp) + 0.17241 * e * s(m) + 0.01608 * s(2 * mp) + 0.01039 * s(2 * f)
        + 0.00739 * e * s(mp - m) - 0.00514 * e * s(mp + m) + 0.00208 * e**2 * s(2 * m)
        - 0.00111 * s(mp - 2 * f) - 0.00057 * s(mp + 2 * f) + 0.00056 * e * s(2 * mp + m)
        - 0.00042 * s(3 * mp) + 0.00042 * e * s(m + 2 * f) + 0.00038 * e * s(m - 2 * f)
        - 0.00024 * e * s(2 * mp - m) - 0.00017 * s(om) - 0.00007 * s(mp + 2 * m)
        + 0.00004 * s(2 * mp - 2 * f) + 0.00004 * s(3 * m) + 0.00003 * s(mp + m - 2 * f)
        + 0.00003 * s(2 * mp + 2 * f) - 0.00003 * s(mp + m + 2 * f)
        + 0.00003 * s(mp - m + 2 * f) - 0.00002 * s(mp - m - 2 * f)
        - 0.00002 * s(3 * mp + m) + 0.00002 * s(4 * mp)
    )
    a = np.radians([
        299.77 + 0.107408 * k - 0.009173 * t**2, 251.88 + 0.016321 * k,
        251.83 + 26.651886 * k, 349.42 + 36.412478 * k, 84.66 + 18.206239 * k,
        141.74 + 53.303771 * k, 207.14 + 2.453732 * k, 154.84 + 7.306860 * k,
        34.52 + 27.261239 * k, 207.19 + 0.121824 * k, 291.34 + 1.844379 * k,
        161.72 + 24.198154 * k, 239.56 + 25.513099 * k, 331.55 + 3.592518 * k,
    ])
    amp = np.array([325, 165, 164, 126, 110, 62, 60, 56, 47, 42, 40, 37, 35, 23]) * 1e-6
    planetary = np.tensordot(amp, np.sin(a), axes=1)
    return jde + periodic + planetary


def meeus_new_moons_utc(year_lo: int, year_hi: int) -> np.ndarray:
    """UTC MJD of every new moon from 1 Jan ``year_lo`` to 31 Dec ``year_hi``."""
    k = np.arange(np.floor((year_lo - 2000) * 12.3685) - 2,
                  np.ceil((year_hi + 1 - 2000) * 12.3685) + 2)
    utc = Time(meeus_new_moon_jde(k), format="jd", scale="tt").utc.mjd
    lo, hi = Time([f"{year_lo}-01-01", f"{year_hi + 1}-01-01"], scale="utc").mjd
    return utc[(utc >= lo) & (utc < hi)]


def test_meeus_implementation_reproduces_example_49a():
    """Meeus's worked example: the new moon of 1977 February (k = −283)."""
    assert meeus_new_moon_jde(-283) == pytest.approx(2443192.65118, abs=2e-5)


@pytest.fixture(scope="module")
def almanac_2018_2023():
    """Almanac for every night of 2018–2023 (computed, not cached)."""
    return compute_almanac(default_scenario("2018-01-01", "2023-12-31"))


# --- Twilight and the Moon against astroplan -------------------------------------------

@pytest.fixture(scope="module")
def astroplan_reference(almanac_2018_2023, site_location):
    """astroplan's dusk, dawn and illumination on 16 nights spread over 2018–2023."""
    from astroplan import Observer, moon_illumination

    alm = almanac_2018_2023
    idx = np.linspace(3, len(alm) - 4, 16).astype(int)
    observer = Observer(location=site_location)
    noon = Time(alm.midnight[idx] - 0.5, format="mjd")  # local noon of the evening's date
    midnight = Time(alm.midnight[idx], format="mjd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dusk = observer.twilight_evening_astronomical(noon, which="next").mjd
        dawn = observer.twilight_morning_astronomical(midnight, which="next").mjd
        illum = np.asarray(moon_illumination(midnight))
    return idx, dusk, dawn, illum


def test_dusk_and_dawn_match_astroplan_within_a_minute(almanac_2018_2023, astroplan_reference):
    alm = almanac_2018_2023
    idx, dusk, dawn, _ = astroplan_reference
    years = {str(alm.night[i])[:4] for i in idx}
    assert years == {str(y) for y in range(2018, 2024)}
    err_dusk = np.abs(alm.dusk[idx] - dusk) / SEC
    err_dawn = np.abs(alm.dawn[idx] - dawn) / SEC
    print(f"max |Δdusk| = {err_dusk.max():.2f} s, max |Δdawn| = {err_dawn.max():.2f} s")
    assert err_dusk.max() < 60.0 and err_dawn.max() < 60.0
    # astroplan interpolates a 150-point grid; both should agree to a few seconds.
    assert max(err_dusk.max(), err_dawn.max()) < 5.0


def test_moon_illumination_matches_astroplan(almanac_2018_2023, astroplan_reference):
    alm = almanac_2018_2023
    idx, _, _, illum = astroplan_reference
    err = np.abs(alm.moon_illumination[idx] - illum)
    print(f"max |Δillumination| = {err.max():.2e}")
    assert err.max() < 0.01
    assert illum.min() < 0.3 and illum.max() > 0.7  # the sample covers the phases


# --- New moons and lunar days -----------------------------------------------------------

def test_new_moons_2018_2023_match_meeus(almanac_2018_2023):
    """Same count, |Δ| < 30 min and the same UTC+8 date for every new moon of 2018–2023."""
    ref = meeus_new_moons_utc(2018, 2023)
    nm = almanac_2018_2023.new_moons
    ours = nm[(nm >= ref[0] - 1) & (nm <= ref[-1] + 1)]
    assert len(ref) == len(ours) == 74
    diff = (ours - ref) / SEC
    print(f"max |Δ new moon| vs Meeus = {np.abs(diff).max():.1f} s")
    assert np.abs(diff).max() < 30 * 60
    assert (np.floor(ours + UTC_OFFSET_D) == np.floor(ref + UTC_OFFSET_D)).all()


@pytest.mark.parametrize("published", [
    "2018-10-09 03:47", "2018-11-07 16:02", "2018-12-07 07:20", "2019-01-06 01:28",
])
def test_new_moons_match_published_times(almanac_2018_2023, published):
    t = Time(published, scale="utc").mjd
    nm = almanac_2018_2023.new_moons
    assert np.abs(nm - t).min() < 5 * 60 * SEC


def test_lunar_days_follow_the_new_moons(almanac_2018_2023):
    """Every night's lunar day equals the one derived from Meeus's new moons (UTC+8 dates)."""
    alm = almanac_2018_2023
    # Independently: the UTC+8 calendar date of each Meeus new moon is lunar day 1.
    day_one = sorted((dt.datetime(1858, 11, 17) + dt.timedelta(days=float(t) + 8 / 24)).date()
                     for t in meeus_new_moons_utc(2017, 2023))
    ref = []
    for night in alm.night.astype(dt.date):
        last = max(d for d in day_one if d <= night)
        ref.append((night - last).days + 1)
    np.testing.assert_array_equal(alm.lunar_day, ref)
    # The library's own helper agrees when fed Meeus's new moons.
    np.testing.assert_array_equal(lunar_days(alm.night, meeus_new_moons_utc(2017, 2023), 8.0),
                                  ref)
    # Day 1 on the new-moon date, +1 every night, months of 29 or 30 days.
    steps = np.diff(alm.lunar_day)
    assert set(steps[steps != 1]) <= {-28, -29}
    assert alm.lunar_day.min() == 1 and alm.lunar_day.max() == 30
    np.testing.assert_array_equal(alm.mrs_night, (alm.lunar_day >= 7) & (alm.lunar_day <= 22))
    # The Moon is near full on MRS nights and near new on LRS nights.
    assert alm.moon_illumination[alm.mrs_night].mean() > 0.7
    assert alm.moon_illumination[~alm.mrs_night].mean() < 0.25


def test_table2_nights_are_mrs_nights_with_evening_dates(season_almanac, table2_rows):
    """The log supports naming a night by its evening date (our convention).

    Evening dates: 43 of 44 rows on lunar days 7–22; 2018-11-30 is day 23.
    If the log's dates were morning dates (evening = date − 1), three rows would fall on
    day 6 (and 2018-11-30 on day 22): 41 in range instead of 43. Both are within one day.
    """
    alm = season_almanac
    evening = np.array([alm.lunar_day[alm.night_index(r["night"])] for r in table2_rows])
    morning = np.array([alm.lunar_day[alm.night_index(r["night"] - dt.timedelta(days=1))]
                        for r in table2_rows])
    nights = [r["night"].isoformat() for r in table2_rows]
    in_range = (evening >= 7) & (evening <= 22)
    assert in_range.sum() == 43
    assert [n for n, ok in zip(nights, in_range, strict=True) if not ok] == ["2018-11-30"]
    assert evening.min() >= 6 and evening.max() <= 23  # all within one day of 7–22
    assert sorted({n for n, d in zip(nights, morning, strict=True) if d == 6}) == [
        "2018-12-13", "2019-02-11", "2019-06-09"]
    assert ((morning >= 7) & (morning <= 22)).sum() == 41
    # The almanac's MRS flag says the same as the evening convention.
    flags = np.array([alm.mrs_night[alm.night_index(r["night"])] for r in table2_rows])
    np.testing.assert_array_equal(flags, in_range)


# --- Per-night structure ----------------------------------------------------------------

def test_nights_dusk_dawn_and_shutdown(season_almanac):
    alm = season_almanac
    assert len(alm) == 303 and str(alm.night[0]) == "2018-09-01"
    assert (alm.dusk < alm.midnight).all() and (alm.midnight < alm.dawn).all()
    np.testing.assert_allclose(alm.dark_hours, (alm.dawn - alm.dusk) * 24.0)
    # Local midnight is 16:00 UTC of the evening's date.
    np.testing.assert_allclose(alm.midnight % 1.0, 16.0 / 24.0, atol=1e-9)
    winter = alm.night_index("2018-12-21")
    summer = alm.night_index("2019-06-21")
    assert 11.3 < alm.dark_hours[winter] < 11.6 and 4.6 < alm.dark_hours[summer] < 5.0
    assert alm.dark_hours.argmax() in range(winter - 10, winter + 10)
    assert not alm.shutdown.any()  # Sep–Jun only
    assert alm.grid.shape == (303, almanac_mod.MOON_GRID)
    np.testing.assert_allclose(alm.grid[:, 0], alm.dusk)
    np.testing.assert_allclose(alm.grid[:, -1], alm.dawn)


def test_shutdown_covers_july_and_august(survey_almanac):
    alm = survey_almanac
    months = alm.night.astype("datetime64[M]").astype(int) % 12 + 1
    np.testing.assert_array_equal(alm.shutdown, np.isin(months, [7, 8]))
    np.testing.assert_array_equal(alm.observable, alm.mrs_night & ~alm.shutdown)


def test_moon_altitude_matches_astropy(season_almanac, site_location):
    from astropy.coordinates import AltAz, get_body

    alm = season_almanac
    t = alm.grid[::20, ::6].ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tt = Time(t, format="mjd")
        ref = get_body("moon", tt, site_location).transform_to(
            AltAz(obstime=tt, location=site_location)).alt.deg
    err = np.abs(np.degrees(alm.moon_alt[::20, ::6].ravel()) - ref) * 3600
    assert err.max() < 10.0  # arcsec


# --- Determinism, vectorisation, cache --------------------------------------------------

def _assert_same(a: Almanac, b: Almanac, atol: float = 0.0) -> None:
    for f in dataclasses.fields(Almanac):
        x, y = np.asarray(getattr(a, f.name)), np.asarray(getattr(b, f.name))
        if atol and x.dtype.kind == "f":
            np.testing.assert_allclose(x, y, rtol=0, atol=atol, err_msg=f.name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=f.name)


def test_almanac_is_deterministic(season_scenario):
    a = compute_almanac(season_scenario, dt.date(2019, 1, 1), dt.date(2019, 2, 28))
    b = compute_almanac(season_scenario, dt.date(2019, 1, 1), dt.date(2019, 2, 28))
    _assert_same(a, b)


def test_sub_range_equals_slice_of_longer_range(season_almanac, season_scenario):
    """A month computed alone equals the same nights of the season (to 1e-9 day = 0.1 ms)."""
    sub = compute_almanac(season_scenario, dt.date(2019, 1, 10), dt.date(2019, 2, 9))
    i = season_almanac.night_index("2019-01-10")
    sl = slice(i, i + len(sub))
    np.testing.assert_array_equal(sub.night, season_almanac.night[sl])
    for name in ("midnight", "dusk", "dawn", "moon_illumination", "grid", "moon_ra",
                 "moon_dec", "moon_alt", "era_midnight", "c2i", "aberration"):
        np.testing.assert_allclose(getattr(sub, name), getattr(season_almanac, name)[sl],
                                   rtol=0, atol=1e-9, err_msg=name)
    for name in ("lunar_day", "mrs_night", "shutdown"):
        np.testing.assert_array_equal(getattr(sub, name), getattr(season_almanac, name)[sl])
    # Its new moons are the season's (same instants) for the span it covers.
    for t in sub.new_moons:
        assert np.abs(season_almanac.new_moons - t).min() < 1e-6


def test_cache_reuses_recomputes_and_keys(season_scenario, tmp_path, monkeypatch):
    monkeypatch.setenv("LKMRS_CACHE_DIR", str(tmp_path))
    sc = season_scenario.replace(start=dt.date(2019, 3, 1), end=dt.date(2019, 3, 20))
    first = get_almanac(sc)
    files = sorted(tmp_path.glob("almanac-*.npz"))
    assert len(files) == 1
    # Second call: from disk (computing is made impossible), identical arrays.
    real_compute = almanac_mod.compute_almanac

    def forbidden(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(almanac_mod, "compute_almanac", forbidden)
    _assert_same(get_almanac(sc), first)
    monkeypatch.setattr(almanac_mod, "compute_almanac", real_compute)
    # A different twilight is a different entry, with different dusks.
    night = dataclasses.replace(sc.night, twilight=-12 * u.deg)
    other = get_almanac(sc.replace(night=night))
    assert len(list(tmp_path.glob("almanac-*.npz"))) == 2
    assert (other.dusk < first.dusk).all()  # −12° comes earlier in the evening
    # A corrupted entry is recomputed and replaced.
    files[0].write_bytes(b"not an npz file")
    again = get_almanac(sc)
    _assert_same(again, first)
    _assert_same(Almanac.load(files[0]), first)
    # use_cache=False neither reads nor writes.
    files[0].write_bytes(b"garbage")
    _assert_same(get_almanac(sc, use_cache=False), first)
    assert files[0].read_bytes() == b"garbage"


def test_cache_defaults_to_the_session_folder(_private_almanac_cache):
    """Tests never touch the project's cache: LKMRS_CACHE_DIR is the session's folder."""
    assert almanac_mod.cache_dir() == _private_almanac_cache
