"""Scenario files: defaults, units, relative paths, and one clear error per kind of mistake."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import astropy.units as u
import pytest

from lkmrs_sched.core.config import default_scenario, load_scenario, parse_scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import FOOTPRINTS, SCENARIOS

HEAD = '[scenario]\nname = "t"\nstart = "2018-09-01"\nend = "2019-06-30"\n'


def write(tmp_path: Path, body: str, head: str = HEAD, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(head + textwrap.dedent(body), encoding="utf-8")
    return p


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_scenario(path)
    return info.value


def test_defaults_are_the_table2_evidence_choices():
    sc = default_scenario()
    assert (sc.start, sc.end) == (dt.date(2018, 9, 1), dt.date(2019, 6, 30))
    assert sc.site.latitude.to_value("deg") == pytest.approx(40.393333)
    assert sc.site.longitude.to_value("deg") == pytest.approx(117.577222)
    assert sc.site.elevation.to_value("m") == 960
    assert sc.site.utc_offset.to_value("h") == 8
    assert sc.night.twilight.to_value("deg") == -18
    assert sc.night.mrs_lunar_days == (7, 22)
    assert sc.night.shutdown == (("07-01", "08-31"),)
    obs = sc.observing
    assert obs.exposure_time.to_value("s") == 1200 and obs.readout_time.to_value("s") == 180
    assert obs.overhead.to_value("min") == 30 and obs.hour_angle_limit.to_value("h") == 2
    assert obs.moon_min_separation.to_value("deg") == 10
    assert obs.hour_angle_applies_to == "midpoint" and obs.setup_before_window is True
    assert (obs.min_exposures_to_start, obs.max_exposures_per_pointing) == (3, 8)


def test_quantities_convert_to_their_declared_units(tmp_path):
    p = write(tmp_path, """
        [observing]
        exposure_time = "20 min"
        overhead = "0.5 h"
        hour_angle_limit = "120 min"
        [night]
        twilight = "-0.2 rad"
        [site]
        elevation = "0.96 km"
    """)
    sc = load_scenario(p)
    assert sc.observing.exposure_time.unit == u.s
    assert sc.observing.exposure_time.value == pytest.approx(1200)
    assert sc.observing.overhead.to_value("min") == pytest.approx(30)
    assert sc.observing.hour_angle_limit.to_value("h") == pytest.approx(2)
    assert sc.night.twilight.to_value("deg") == pytest.approx(-11.459, abs=1e-3)
    assert sc.site.elevation.to_value("m") == pytest.approx(960)
    assert sc.source == str(p) and "exposure_time" in sc.text


def test_relative_paths_resolve_against_the_scenario_folder(tmp_path):
    sub = tmp_path / "deep"
    sub.mkdir()
    p = write(sub, '[selector]\nlkmrs_footprints = "../plates.csv"\n')
    sc = load_scenario(p)
    assert sc.path(sc.selector.lkmrs_footprints) == (tmp_path / "plates.csv").resolve()
    assert sc.path("/abs/x.csv") == Path("/abs/x.csv")
    # The defaults resolve against scenarios/, i.e. the shipped footprints.
    d = default_scenario()
    assert d.path(d.selector.lkmrs_footprints) == FOOTPRINTS / "lkmrs.csv"


def test_hash_is_stable_and_tracks_settings(tmp_path):
    a = load_scenario(write(tmp_path, '[night]\ntwilight = "-18 deg"\n', name="a.toml"))
    b = load_scenario(write(tmp_path, '# a comment\n[night]\ntwilight = "-18 deg"\n',
                            name="b.toml"))
    c = load_scenario(write(tmp_path, '[night]\ntwilight = "-15 deg"\n', name="c.toml"))
    assert a.hash == b.hash != c.hash
    assert a.canonical()["night"]["twilight"] == "-18.0 deg"


def test_canonical_quantities_parse_back():
    """canonical() writes every quantity as "value unit" text that reads back unchanged."""
    sc = default_scenario()
    canon = sc.canonical()
    for section in ("site", "night", "observing"):
        obj = getattr(sc, section)
        for key, text in canon[section].items():
            value = getattr(obj, key)
            if isinstance(value, u.Quantity):
                assert u.Quantity(text) == value, (section, key, text)


@pytest.mark.parametrize("path", sorted((SCENARIOS).glob("*.toml")),
                         ids=lambda p: p.name)
def test_shipped_scenarios_load(path):
    sc = load_scenario(path)
    assert sc.start <= sc.end
    assert sc.path(sc.selector.lkmrs_footprints).exists()


# --- Errors: each names the file and key, shows the value, says what is allowed ---------

@pytest.mark.parametrize(("body", "where", "value", "allowed"), [
    ('[observing]\nexposure = "1200 s"\n', "[observing] exposure", "'1200 s'",
     "exposure_time"),
    ('[obsering]\nexposure_time = "1200 s"\n', "[obsering]", None, "observing"),
    ('[observing]\nexposure_time = "20 deg"\n', "[observing] exposure_time", "'20 deg'",
     "convertible to s"),
    ('[observing]\nexposure_time = 1200\n', "[observing] exposure_time", "1200",
     "convertible to s"),
    ('[observing]\nexposure_time = "1200"\n', "[observing] exposure_time", "'1200'",
     "convertible to s"),
    ('[observing]\nexposure_time = "long"\n', "[observing] exposure_time", "'long'",
     "convertible to s"),
    ('[night]\ntwilight = "-30 deg"\n', "[night] twilight", "'-30 deg'", "between -24 and 0"),
    ('[observing]\nhour_angle_applies_to = "end"\n', "[observing] hour_angle_applies_to",
     "'end'", "'midpoint'"),
    ('[observing]\nsetup_before_window = "yes"\n', "[observing] setup_before_window",
     "'yes'", "true or false"),
    ('[observing]\nmax_exposures_per_pointing = 2.5\n',
     "[observing] max_exposures_per_pointing", "2.5", "an integer"),
    ('[observing]\nmin_exposures_to_start = 9\n', "[observing] min_exposures_to_start", "9",
     "at most max_exposures_per_pointing (8)"),
    ('[night]\nmrs_lunar_days = [22, 7]\n', "[night] mrs_lunar_days", "[22, 7]",
     "first day <= last day"),
    ('[night]\nmrs_lunar_days = [7]\n', "[night] mrs_lunar_days", "[7]", "a list of 2 items"),
    ('[night]\nshutdown = [["07-01", "08-32"]]\n', "[night] shutdown[0]", "'08-32'",
     "MM-DD"),
    ('[site]\nlatitude = "95 deg"\n', "[site] latitude", "'95 deg'", "between -90 and 90"),
])
def test_bad_settings_are_reported_precisely(tmp_path, body, where, value, allowed):
    p = write(tmp_path, body)
    err = error_of(p)
    msg = str(err)
    assert msg.startswith(f"{p}: {where}"), msg
    if value is not None:
        assert value in msg, msg
    assert "allowed:" in msg and allowed in msg.split("allowed:", 1)[1], msg
    assert "\n" not in msg


@pytest.mark.parametrize(("head", "where", "value", "allowed"), [
    ('[scenario]\nstart = "2019-06-30"\nend = "2018-09-01"\n', "[scenario] end",
     "'2018-09-01'", "on or after start (2019-06-30)"),
    ('[scenario]\nstart = "2018-09-31"\nend = "2019-06-30"\n', "[scenario] start",
     "'2018-09-31'", "YYYY-MM-DD"),
    ('[scenario]\nend = "2019-06-30"\n', "[scenario] start", None, "YYYY-MM-DD"),
    ('[scenario]\nstart = "2018-09-01"\nend = "2019-06-30"\nseed = -1\n', "[scenario] seed",
     "-1", "non-negative integer"),
    ('[scenario]\nstart = "2018-09-01"\nend = "2019-06-30"\nsead = 1\n', "[scenario] sead",
     "1", "seed"),
])
def test_bad_scenario_header(tmp_path, head, where, value, allowed):
    p = write(tmp_path, "", head=head)
    msg = str(error_of(p))
    assert msg.startswith(f"{p}: {where}"), msg
    if value is not None:
        assert value in msg, msg
    assert allowed in msg.split("allowed:", 1)[1], msg


def test_dates_parse_from_toml_dates_too(tmp_path):
    p = write(tmp_path, "", head="[scenario]\nstart = 2018-09-01\nend = 2018-09-30\n")
    sc = load_scenario(p)
    assert (sc.start, sc.end) == (dt.date(2018, 9, 1), dt.date(2018, 9, 30))
    with pytest.raises(InputError, match=r"\[scenario\] end: end before start"):
        load_scenario(write(tmp_path, "", head="[scenario]\nstart = 2018-09-02\n"
                            "end = 2018-09-01\n"))


def test_unreadable_and_malformed_files(tmp_path):
    missing = tmp_path / "nope.toml"
    msg = str(error_of(missing))
    assert msg.startswith(str(missing)) and "readable TOML" in msg
    broken = tmp_path / "broken.toml"
    broken.write_text("[scenario\nstart = 1\n")
    msg = str(error_of(broken))
    assert msg.startswith(str(broken)) and "TOML syntax error" in msg and "valid TOML" in msg


def test_parse_scenario_names_its_source():
    with pytest.raises(InputError) as info:
        parse_scenario({"scenario": {"start": "2018-09-01", "end": "2019-06-30"},
                        "site": {"elevation": "high"}}, source="inline")
    assert str(info.value).startswith("inline: [site] elevation: not a quantity: 'high';")
