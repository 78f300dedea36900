"""Weather models: monthly statistics, persistence, event interface, replay, ideal."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.sim.weather import (
    IntervalWeather,
    Weather,
    WeatherConfig,
    make_weather,
    read_open_intervals,
    summarize_weather,
)

LAT, LON = 40.3933, 117.5772
MJD_2018_09_01 = 58362


def nights(n_days: int, start_mjd: int = MJD_2018_09_01, every: int = 1):
    """Approximate Xinglong nights (Sun at -18°, the scenario default), simple solar model.

    Within ~20 min of the almanac (no equation of time), which is all these tests need
    (the almanac is tested elsewhere). Returns dusk, dawn (UTC MJD) and local calendar months.
    """
    day = np.arange(0, n_days, every, dtype=float) + start_mjd
    noon_utc = day + 0.5 - LON / 360.0  # local solar noon of the evening's date
    decl = np.deg2rad(23.44) * np.sin(2 * np.pi * (noon_utc - 51544.5 - 79.5) / 365.25)
    phi = np.deg2rad(LAT)
    cos_h = (np.sin(np.deg2rad(-18.0)) - np.sin(phi) * np.sin(decl)) / (np.cos(phi) * np.cos(decl))
    half = np.arccos(cos_h) / (2 * np.pi)
    base = dt.date(1858, 11, 17)
    months = np.array([(base + dt.timedelta(days=int(d))).month for d in day])
    return noon_utc + half, noon_utc + 1 - half, months


@pytest.fixture(scope="module")
def century():
    """100 years of consecutive nights and the default stochastic weather on them."""
    dusk, dawn, months = nights(36525)
    w = make_weather(WeatherConfig(), dusk, dawn, months, np.random.default_rng(11))
    return dusk, dawn, months, w


def test_protocol_and_determinism(century):
    dusk, dawn, months, w = century
    assert isinstance(w, Weather)
    again = make_weather(WeatherConfig(), dusk, dawn, months, np.random.default_rng(11))
    np.testing.assert_array_equal(w.intervals, again.intervals)
    other = make_weather(WeatherConfig(), dusk, dawn, months, np.random.default_rng(12))
    assert not np.array_equal(w.open_hours(), other.open_hours())


def test_monthly_usable_fraction_matches_config(century):
    dusk, dawn, months, w = century
    s = summarize_weather(w, dusk, dawn, months)
    want = np.array(WeatherConfig().usable_night_fraction)
    # ~3000 nights a month, effective sample shrunk by (1+rho)/(1-rho) ≈ 2.1:
    # sigma <= 0.013, tolerance ~3.5 sigma.
    np.testing.assert_allclose(s.usable_fraction, want, atol=0.045)
    days = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    assert s.annual_usable_fraction == pytest.approx(np.dot(days, want) / days.sum(), abs=0.012)


def test_defaults_reproduce_brief_statistics(century):
    """Brief §1: ~63 % usable nights; ~8 open hours per December night, 1–2 in Jul–Aug."""
    dusk, dawn, months, w = century
    s = summarize_weather(w, dusk, dawn, months)
    assert s.annual_usable_fraction == pytest.approx(0.63, abs=0.02)
    assert s.open_hours_per_night[11] == pytest.approx(8.0, abs=0.6)
    assert 1.0 <= s.open_hours_per_night[6] <= 2.0
    assert 1.0 <= s.open_hours_per_night[7] <= 2.0
    # Spring dust: March–May worse than the winter months.
    assert s.usable_fraction[2:5].max() < s.usable_fraction[[0, 9, 10, 11]].min()


def test_open_fraction_within_usable_nights(century):
    dusk, dawn, months, w = century
    s = summarize_weather(w, dusk, dawn, months)
    frac = s.open_hours_per_usable_night / s.dark_hours_per_night
    # Redrawing the rare usable nights without open time biases f up slightly
    # (by < 0.01 for the defaults); sampling error ~0.01.
    np.testing.assert_allclose(frac, WeatherConfig().open_fraction, atol=0.03)
    # A usable night is not always fully open.
    hours = w.open_hours()
    dark = (dawn - dusk) * 24
    usable = hours > 0
    assert 0.1 < np.mean(hours[usable] < dark[usable] - 1e-9) < 0.99


def _lag1_residual_autocorr(w: IntervalWeather, months: np.ndarray, p: tuple) -> float:
    x = (w.open_hours() > 0).astype(float) - np.asarray(p)[months - 1]
    return float(np.corrcoef(x[:-1], x[1:])[0, 1])


@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_persistence_sets_lag1_autocorrelation(rho):
    dusk, dawn, months = nights(20000)
    cfg = WeatherConfig(persistence=rho)
    w = make_weather(cfg, dusk, dawn, months, np.random.default_rng(3))
    # n = 20000: sigma of a sample autocorrelation ~ 0.007-0.01.
    assert _lag1_residual_autocorr(w, months, cfg.usable_night_fraction) == pytest.approx(
        rho, abs=0.04
    )


def test_persistence_decays_over_gaps():
    """Nights two days apart are correlated as rho**2."""
    dusk, dawn, months = nights(40000, every=2)
    cfg = WeatherConfig(persistence=0.7)
    w = make_weather(cfg, dusk, dawn, months, np.random.default_rng(4))
    assert _lag1_residual_autocorr(w, months, cfg.usable_night_fraction) == pytest.approx(
        0.49, abs=0.04
    )


def test_exact_zero_and_one_months_are_honoured():
    dusk, dawn, months = nights(800)
    frac = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0)
    cfg = WeatherConfig(usable_night_fraction=frac, persistence=0.9)
    w = make_weather(cfg, dusk, dawn, months, np.random.default_rng(5))
    usable = w.open_hours() > 0
    np.testing.assert_array_equal(usable, np.isin(months, [1, 2, 3, 4, 5, 6, 9, 10, 11, 12]))


def _walk(w: IntervalWeather, t0: float, t1: float) -> np.ndarray:
    """Follow clear()'s next-change chain from t0 and collect the open intervals."""
    out, t = [], t0
    state, nxt = w.clear(t)
    start = t if state else None
    while nxt < t1:
        t = nxt
        new_state, nxt = w.clear(t)
        assert new_state != state, "clear() reported a change that is not one"
        if new_state:
            start = t
        else:
            out.append((start, t))
        state = new_state
    return np.array(out).reshape(-1, 2)


@pytest.mark.parametrize("model", ["stochastic", "ideal"])
def test_clear_agrees_with_open_intervals(model):
    dusk, dawn, months = nights(120)
    w = make_weather(WeatherConfig(model=model), dusk, dawn, months, np.random.default_rng(6))
    expected = np.concatenate([w.open_intervals(i) for i in range(len(dusk))])
    walked = _walk(w, dusk[0] - 0.5, dawn[-1] + 0.5)
    np.testing.assert_array_equal(walked, expected)
    # Random instants: state by brute force from the intervals.
    t = np.random.default_rng(7).uniform(dusk[0] - 1, dawn[-1] + 1, 5000)
    t = np.concatenate([t, expected.ravel()])  # boundaries: [start, end)
    for x in t:
        state, nxt = w.clear(x)
        inside = (expected[:, 0] <= x) & (x < expected[:, 1])
        assert state == inside.any()
        bounds = expected.ravel()
        later = bounds[bounds > x]
        assert nxt == (later.min() if later.size else np.inf)
    assert w.clear(dawn[-1] + 1) == (False, np.inf)


def test_intervals_lie_in_dark_time():
    dusk, dawn, months = nights(365)
    w = make_weather(WeatherConfig(), dusk, dawn, months, np.random.default_rng(8))
    for i in range(len(dusk)):
        iv = w.open_intervals(i)
        assert np.all(iv[:, 0] >= dusk[i]) and np.all(iv[:, 1] <= dawn[i])
        assert np.all(iv[:, 1] > iv[:, 0])
        assert np.all(iv[1:, 0] > iv[:-1, 1])  # disjoint, not touching
    with pytest.raises(ValueError):
        w.open_intervals(0)[0, 0] = 1.0  # read-only view


def test_ideal_is_open_all_dark_time():
    dusk, dawn, months = nights(30)
    w = make_weather(WeatherConfig(model="ideal"), dusk, dawn, months, np.random.default_rng(0))
    for i in range(30):
        np.testing.assert_array_equal(w.open_intervals(i), [[dusk[i], dawn[i]]])
    assert w.clear(dusk[3] + 0.01) == (True, dawn[3])
    assert w.clear(dawn[3]) == (False, dusk[4])


def test_replay_clips_to_nights(tmp_path: Path):
    dusk = np.array([58400.5, 58401.5, 58402.5])
    dawn = dusk + 0.4
    months = np.array([10, 10, 10])
    f = tmp_path / "open.csv"
    f.write_text(
        "start_utc,end_utc\n"
        "# a comment\n"
        "2018-10-10T10:00:00,2018-10-10T14:00:00\n"  # 58401.4166..58401.5833: clipped at dusk
        "2018-10-10T16:00:00,2018-10-10T17:00:00\n"  # 58401.666..58401.708
        "2018-10-11T13:00:00+01:00,2018-10-12T06:00:00Z\n"  # 58402.5 .. 58403.25: two nights
    )
    cfg = WeatherConfig(model="replay", replay_file="open.csv")
    w = make_weather(cfg, dusk, dawn, months, np.random.default_rng(0), source_dir=tmp_path)
    assert w.open_intervals(0).shape == (0, 2)
    np.testing.assert_allclose(
        w.open_intervals(1), [[58401.5, 58401 + 14 / 24], [58401 + 16 / 24, 58401 + 17 / 24]]
    )
    np.testing.assert_allclose(w.open_intervals(2), [[58402.5, 58402.9]])
    assert w.clear(58401.55) == (True, pytest.approx(58401 + 14 / 24))
    # An absolute path works without source_dir; the stream is not used.
    w2 = make_weather(
        dataclasses.replace(cfg, replay_file=str(f)), dusk, dawn, months, np.random.default_rng(9)
    )
    np.testing.assert_array_equal(w2.intervals, w.intervals)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("start,end\n2018-10-10T10:00,2018-10-10T11:00\n", "missing column"),
        ("start_utc,end_utc\n2018-10-10T10:00,yesterday\n", "line 2 end_utc"),
        ("start_utc,end_utc\n2018-10-10T10:00,2018-10-10T09:00\n", "line 2 end_utc"),
        (
            "start_utc,end_utc\n2018-10-10T10:00,2018-10-10T12:00\n"
            "2018-10-10T11:00,2018-10-10T13:00\n",
            "line 3 start_utc",
        ),
        ("start_utc,end_utc\n2018-10-10T10:00\n", "line 2"),
        ("", "empty file"),
    ],
)
def test_bad_replay_file(tmp_path: Path, text: str, match: str):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        read_open_intervals(f)
    assert "bad.csv" in str(err.value)


def test_missing_replay_file(tmp_path: Path):
    cfg = WeatherConfig(model="replay", replay_file="nope.csv")
    dusk, dawn, months = nights(3)
    with pytest.raises(InputError, match=r"nope\.csv"):
        make_weather(cfg, dusk, dawn, months, np.random.default_rng(0), source_dir=tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        {"usable_night_fraction": (0.5,) * 11 + (-0.1,)},
        {"usable_night_fraction": (0.5,) * 11 + (1.2,)},
        {"usable_night_fraction": (0.5,) * 11},
        {"open_fraction": (0.0,) * 12},
        {"persistence": 1.0},
        {"persistence": -0.2},
        {"closed_spell_mean": -1 * u.h},
        {"model": "replay"},
    ],
)
def test_config_validation(change):
    with pytest.raises(InputError, match=r"\[weather\]"):
        WeatherConfig(**change)


def test_scenario_toml_validation():
    from lkmrs_sched.core.config import parse_scenario

    head = {"scenario": {"start": "2018-09-01", "end": "2018-10-01"}}
    ok = parse_scenario({**head, "weather": {"persistence": 0.5, "closed_spell_mean": "90 min"}})
    assert ok.weather.closed_spell_mean.to_value(u.h) == pytest.approx(1.5)
    with pytest.raises(InputError, match="usable_night_fraction"):
        parse_scenario({**head, "weather": {"usable_night_fraction": [0.5] * 11 + [-0.1]}})
    with pytest.raises(InputError, match="replay_file"):
        parse_scenario({**head, "weather": {"model": "replay"}})


def test_weather_stream_independent_of_other_draws():
    """The weather depends only on its own generator (spawned streams)."""
    dusk, dawn, months = nights(365)
    a_weather, a_other = (np.random.default_rng(s) for s in np.random.SeedSequence(1).spawn(2))
    b_weather, _ = (np.random.default_rng(s) for s in np.random.SeedSequence(1).spawn(2))
    a_other.random(1000)  # e.g. the selector drawing more with other parameters
    wa = make_weather(WeatherConfig(), dusk, dawn, months, a_weather)
    wb = make_weather(WeatherConfig(), dusk, dawn, months, b_weather)
    np.testing.assert_array_equal(wa.intervals, wb.intervals)


def test_bad_night_arrays():
    dusk, dawn, months = nights(5)
    with pytest.raises(ValueError):
        make_weather(WeatherConfig(), dawn, dusk, months, np.random.default_rng(0))
    with pytest.raises(ValueError):
        make_weather(WeatherConfig(), dusk, dawn, months + 12, np.random.default_rng(0))
