"""Time-dependent rules: ``[[changes]]`` in a scenario (issue #11, item 6)."""

from __future__ import annotations

import datetime as dt
import textwrap
import tomllib
from pathlib import Path

import astropy.units as u
import pytest

from lkmrs_sched.core.config import DATED_KEYS, load_scenario, parse_scenario, scenario_to_toml
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import SCENARIOS

HEAD = '[scenario]\nname = "t"\nstart = "2019-06-15"\nend = "2023-06-30"\n'


def write(tmp_path: Path, body: str, name: str = "s.toml", head: str = HEAD) -> Path:
    p = tmp_path / name
    p.write_text(head + textwrap.dedent(body), encoding="utf-8")
    return p


def test_rules_change_from_a_date_and_until_a_date(tmp_path):
    sc = load_scenario(write(tmp_path, """
        [selector]
        lkmrs_share = 0.3
        [[changes]]
        from = "2021-09-01"
        selector = { lkmrs_share = 0.40, started_plate_boost = 2.0 }
        [[changes]]
        from = 2021-07-01
        until = "2021-09-30"
        night = { shutdown = [["07-01", "09-30"]] }
        observing = { overhead = "40 min" }
    """))
    assert len(sc.changes) == 2
    at = sc.at
    assert at(dt.date(2021, 8, 31)).selector.lkmrs_share == 0.3
    assert at(dt.date(2021, 9, 1)).selector.lkmrs_share == 0.4
    assert at(dt.date(2023, 1, 1)).selector.started_plate_boost == 2.0
    assert at(dt.date(2021, 7, 1)).night.shutdown == (("07-01", "09-30"),)
    assert at(dt.date(2021, 10, 1)).night.shutdown == (("07-01", "08-31"),)  # until: reverts
    assert at(dt.date(2021, 8, 1)).observing.overhead.to_value(u.min) == 40
    assert at(dt.date(2021, 8, 1)).changes == ()
    # the spans of constant rules cover the scenario without gaps, in order
    regimes = sc.regimes()
    assert [(a.isoformat(), b.isoformat()) for a, b, _ in regimes] == [
        ("2019-06-15", "2021-06-30"), ("2021-07-01", "2021-08-31"),
        ("2021-09-01", "2021-09-30"), ("2021-10-01", "2023-06-30")]
    assert [r.selector.lkmrs_share for _, _, r in regimes] == [0.3, 0.3, 0.4, 0.4]
    # the changes are part of the scenario's identity
    plain = load_scenario(write(tmp_path, "[selector]\nlkmrs_share = 0.3\n", "plain.toml"))
    assert sc.hash != plain.hash


def test_changes_round_trip_through_toml_and_bases(tmp_path):
    write(tmp_path, """
        [[changes]]
        from = "2020-01-01"
        weather = { usable_scale = 0.5 }
    """, "base.toml")
    child = write(tmp_path, """
        [[changes]]
        from = "2021-09-01"
        selector = { lkmrs_share = 0.4 }
    """, "child.toml", head='[scenario]\nbase = "base.toml"\nname = "c"\n')
    sc = load_scenario(child)
    # the base's changes come first, the what-if's after (it wins on a shared key)
    assert [c.start.isoformat() for c in sc.changes] == ["2020-01-01", "2021-09-01"]
    assert sc.at(dt.date(2022, 1, 1)).weather.usable_scale == 0.5
    again = parse_scenario(tomllib.loads(scenario_to_toml(sc)))
    assert again.hash == sc.hash
    assert again.at(dt.date(2022, 1, 1)).selector.lkmrs_share == 0.4


@pytest.mark.parametrize(("body", "where", "value", "allowed"), [
    ('[[changes]]\nselector = { lkmrs_share = 0.4 }\n', "[[changes]][0] from", None,
     "ISO date"),
    ('[[changes]]\nfrom = "2021-13-01"\nselector = { lkmrs_share = 0.4 }\n',
     "[[changes]][0] from", "2021-13-01", "ISO date"),
    ('[[changes]]\nfrom = "2021-09-01"\nuntil = "2021-08-01"\nselector = {lkmrs_share = 0.4}\n',
     "[[changes]][0] until", "2021-08-01", "on or after from"),
    ('[[changes]]\nfrom = "2021-09-01"\nobserving = { exposure_time = "900 s" }\n',
     "[[changes]][0] observing.exposure_time", "900 s", "overhead"),
    ('[[changes]]\nfrom = "2021-09-01"\nselector = { lkmrs_share = 1.5 }\n',
     "[[changes]][0] selector.lkmrs_share", "1.5", "between 0 and 1"),
    ('[[changes]]\nfrom = "2021-09-01"\nsite = { elevation = "1 km" }\n',
     "[[changes]][0] site", None, "selector"),
    ('[[changes]]\nfrom = "2021-09-01"\n', "[[changes]][0]", None, "section override"),
    ('[[changes]]\nfrom = "2021-09-01"\nobserving = { min_exposures_to_start = 12 }\n',
     "from 2021-09-01 [observing] min_exposures_to_start", "12", "max_exposures"),
])
def test_bad_changes_are_reported_precisely(tmp_path, body, where, value, allowed):
    p = write(tmp_path, body)
    with pytest.raises(InputError) as info:
        load_scenario(p)
    e = info.value
    assert str(p) in e.where and where in e.where, e.where
    if value is not None:
        assert value in str(e.value), e.value
    assert allowed in e.allowed, e.allowed


def test_dated_keys_leave_the_sky_alone():
    """No dated key reshapes windows, almanac or plate sets (those are computed once)."""
    for section, keys in DATED_KEYS.items():
        assert not {"exposure_time", "hour_angle_limit", "hour_angle_applies_to",
                    "moon_min_separation", "twilight"} & set(keys), section
        assert not any(k.endswith("_footprints") for k in keys), section


def test_shipped_time_dependent_example():
    sc = load_scenario(SCENARIOS / "whatif-lkmrs40-from-2021.toml")
    assert sc.at(dt.date(2021, 8, 31)).selector.lkmrs_share == pytest.approx(0.3)
    assert sc.at(dt.date(2021, 9, 1)).selector.lkmrs_share == pytest.approx(0.4)
    shut = sc.at(dt.date(2022, 9, 15)).night.shutdown
    assert shut == (("07-01", "09-30"),)
    assert sc.at(dt.date(2021, 9, 15)).night.shutdown == (("07-01", "08-31"),)
