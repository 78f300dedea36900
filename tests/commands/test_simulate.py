"""``lkmrs-sched simulate``: outputs (SQLite, summary.json, figures) that agree with each
other, reproducibility by seed, and bad input → exit code 2 with one clear line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers import cache_dir

from lkmrs_sched.cli import main
from lkmrs_sched.core.resources import FOOTPRINTS, SCENARIOS

YEAR1 = SCENARIOS / "year1-2018.toml"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    """A private almanac/windows cache for this module (the env var is read at call time)."""
    with cache_dir(tmp_path_factory.mktemp("cli-cache")):
        yield


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def write_scenario(folder: Path, start="2018-12-01", end="2018-12-31", **sections) -> Path:
    """A scenario file in ``folder`` with absolute footprint paths; sections override keys."""
    data = {
        "scenario": {"name": "t", "start": start, "end": end, "seed": 1},
        "selector": {"lkmrs_footprints": str(FOOTPRINTS / "lkmrs.csv"),
                     "other_td_footprints": str(FOOTPRINTS / "td_other.csv"),
                     "nt_footprints": str(FOOTPRINTS / "nt.csv")},
    }
    for name, keys in sections.items():
        data.setdefault(name, {}).update(keys)
    lines = []
    for name, keys in data.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
    path = folder / "scenario.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(["simulate", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def query(path: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------- success
def test_year1_simulate_outputs_agree(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, YEAR1, "--out", out)
    assert code == 0, err
    assert err == ""
    db = out / "observations.sqlite"
    files = {p.name for p in out.iterdir()}
    assert {"observations.sqlite", "summary.json", "exposures_per_plate.png",
            "visit_calendar.png"} <= files
    for png in ("exposures_per_plate.png", "visit_calendar.png"):
        data = (out / png).read_bytes()
        assert data[:8] == PNG and len(data) > 5000
    s = json.loads((out / "summary.json").read_text())
    for key in ("nights_with_lkmrs", "lkmrs_pointings", "lkmrs_exposures", "plates_visited",
                "exposures_per_plate", "hours", "time_ledger"):
        assert key in s, key
    assert set(s["hours"]) == {"exposing", "overhead", "read-out"}
    assert s["seed"] == 20180901 and s["scenario"] == "year1-2018"
    # A log of Table 2's order (40 nights, 222 exposures, 13 plates).
    assert 15 <= s["nights_with_lkmrs"] <= 120
    assert 100 <= s["lkmrs_exposures"] <= 700
    # The summary agrees with the SQLite file, queried without the package.
    lk = "project = 'LK-MRS'"
    assert s["lkmrs_exposures"] == query(db, f"SELECT count(*) FROM exposures WHERE {lk}")[0][0]
    # Pointings and nights with at least one exposure, as a real log lists them.
    seen = f"{lk} AND n_exposures > 0"
    assert s["lkmrs_pointings"] == query(db, f"SELECT count(*) FROM pointings WHERE {seen}")[0][0]
    assert s["nights_with_lkmrs"] == query(
        db, f"SELECT count(DISTINCT night) FROM pointings WHERE {seen}")[0][0]
    per_plate = dict(query(db, f"SELECT plate_name, count(*) FROM exposures WHERE {lk} "
                               "GROUP BY plate_name"))
    assert s["exposures_per_plate"] == per_plate
    assert s["plates_visited"] == len(per_plate)
    assert sum(per_plate.values()) == s["lkmrs_exposures"]
    exposing = query(db, f"SELECT sum(exptime_s) FROM exposures WHERE {lk}")[0][0] / 3600
    assert s["hours"]["exposing"] == pytest.approx(exposing, abs=1e-3)
    ovh, ro = query(db, f"SELECT sum(overhead_h), sum(readout_h) FROM ledger WHERE {lk}")[0]
    assert s["hours"]["overhead"] == pytest.approx(ovh, abs=1e-3)
    assert s["hours"]["read-out"] == pytest.approx(ro, abs=1e-3)
    n_lk_exp = s["lkmrs_exposures"]
    # every exposure is read out (3 min), aborted ones too (they end their pointing)
    n_aborted = query(db, f"SELECT count(*) FROM pointings WHERE {lk} "
                          "AND end_reason = 'aborted'")[0][0]
    assert ro == pytest.approx((n_lk_exp + n_aborted) * 0.05)
    projects = s["time_ledger"]["projects"]
    assert set(projects) == {"LK-MRS", "TD-B", "TD-C", "TD-D", "NT"}
    for proj, v in projects.items():
        sci, o, r = query(db, "SELECT sum(science_h), sum(overhead_h), sum(readout_h) "
                              f"FROM ledger WHERE project = '{proj}'")[0]
        assert v == pytest.approx({"science_h": sci, "overhead_h": o, "readout_h": r},
                                  abs=1e-3)
    for col, v in s["time_ledger"]["nights"].items():
        assert v == pytest.approx(query(db, f"SELECT sum({col}) FROM nights")[0][0], abs=1e-3)
    # stdout reports the same numbers
    assert f"{n_lk_exp} exposures" in stdout
    info = dict(query(db, "SELECT key, value FROM info"))
    assert info["kind"] == "simulated" and info["seed"] == "20180901"
    assert info["scenario_text"] == YEAR1.read_text(encoding="utf-8")


def test_summary_counts_nights_and_pointings_with_exposures(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, YEAR1, "--out", out, "--no-figures")[0] == 0
    s = json.loads((out / "summary.json").read_text())
    db = out / "observations.sqlite"
    lk = "project = 'LK-MRS'"
    assert s["nights_with_lkmrs"] == query(
        db, f"SELECT count(DISTINCT night) FROM exposures WHERE {lk}")[0][0]
    assert s["lkmrs_pointings"] == query(
        db, f"SELECT count(*) FROM pointings WHERE {lk} AND n_exposures > 0")[0][0]


def test_same_seed_same_log_other_seed_different(tmp_path, capsys):
    sc = write_scenario(tmp_path)
    rows = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        code, _, err = run_cli(capsys, sc, "--seed", seed, "--out", tmp_path / name,
                               "--no-figures")
        assert code == 0, err
        db = tmp_path / name / "observations.sqlite"
        rows[name] = {t: query(db, f"SELECT * FROM {t}")
                      for t in ("pointings", "exposures", "nights", "ledger")}
        assert not (tmp_path / name / "visit_calendar.png").exists()
    assert len(rows["a"]["exposures"]) > 50
    assert rows["a"] == rows["b"]
    assert rows["a"]["exposures"] != rows["c"]["exposures"]


def test_ideal_weather_scenario_has_no_closed_hours(tmp_path, capsys):
    sc = write_scenario(tmp_path, weather={"model": "ideal"})
    code, _, err = run_cli(capsys, sc, "--out", tmp_path / "o", "--no-figures")
    assert code == 0, err
    db = tmp_path / "o" / "observations.sqlite"
    closed, n = query(db, "SELECT sum(closed_h), count(*) FROM nights WHERE mode = 'MRS'")[0]
    assert n > 5 and closed == 0.0
    assert query(db, "SELECT count(*) FROM exposures WHERE interrupted = 1")[0][0] == 0
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["time_ledger"]["nights"]["closed_h"] == 0.0
    # the same scenario with stochastic weather loses time to the dome
    sc = write_scenario(tmp_path, weather={"model": "stochastic"})
    assert run_cli(capsys, sc, "--out", tmp_path / "s", "--no-figures")[0] == 0
    db = tmp_path / "s" / "observations.sqlite"
    assert query(db, "SELECT sum(closed_h) FROM nights WHERE mode = 'MRS'")[0][0] > 1


# ---------------------------------------------------------------------- bad input
BAD_USABLE = [-0.1, 0.72, 0.62, 0.60, 0.58, 0.50, 0.32, 0.36, 0.68, 0.78, 0.78, 0.82]


@pytest.mark.parametrize(("sections", "dates", "needle"), [
    ({"weather": {"usable_night_fraction": BAD_USABLE}}, {}, "usable_night_fraction"),
    ({"weather": {"usable_night_fraction": [0.5] * 11}}, {}, "usable_night_fraction"),
    ({"weather": {"open_fraction": [1.5] * 12}}, {}, "open_fraction"),
    ({"selector": {"nt_share": 1.5}}, {}, "nt_share"),
    ({"selector": {"lkmrs_share": -0.3}}, {}, "lkmrs_share"),
    ({"observing": {"min_exposures_to_start": 9}}, {}, "min_exposures_to_start"),
    ({}, {"start": "2018-10-09", "end": "2018-10-09"}, "no MRS night"),  # new moon
    ({}, {"start": "2019-07-10", "end": "2019-08-20"}, "no MRS night"),  # shutdown
    ({}, {"start": "2019-01-10", "end": "2019-01-01"}, "end before start"),
    ({"weather": {"model": "replay", "replay_file": "nowhere.csv"}}, {}, "nowhere.csv"),
    ({"night": {"twilight": "-18 km"}}, {}, "twilight"),
    ({"selector": {"no_such_key": 1}}, {}, "no_such_key"),
])
def test_bad_scenario_exits_2_with_one_line(tmp_path, capsys, sections, dates, needle):
    sc = write_scenario(tmp_path, **dates, **sections)
    code, _, err = run_cli(capsys, sc, "--out", tmp_path / "o", "--no-figures")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lkmrs-sched: error: ")
    assert needle in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "observations.sqlite").exists()


def test_empty_plate_set_exits_2(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("plan_id,ra_j2000,dec_j2000,plate_name\n")
    sc = write_scenario(tmp_path, selector={"lkmrs_footprints": str(empty)})
    code, _, err = run_cli(capsys, sc, "--out", tmp_path / "o")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "empty.csv" in lines[0] and "plate" in lines[0]


NOT_UTF8 = pytest.param(b"\x00\xff\xfe garbage", id="not-utf8")


@pytest.mark.parametrize("content", [None, "this is [not toml", NOT_UTF8])
def test_missing_or_unreadable_scenario_exits_2(tmp_path, capsys, content):
    sc = tmp_path / "scenario.toml"
    if isinstance(content, str):
        sc.write_text(content)
    elif isinstance(content, bytes):
        sc.write_bytes(content)
    code, _, err = run_cli(capsys, sc, "--out", tmp_path / "o")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(sc) in lines[0], err


def test_negative_seed_exits_2(tmp_path, capsys):
    sc = write_scenario(tmp_path)
    code, _, err = run_cli(capsys, sc, "--seed", "-1", "--out", tmp_path / "o")
    assert code == 2 and "--seed" in err and len(err.strip().splitlines()) == 1
