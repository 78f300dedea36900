"""``lkmrs-sched almanac`` and ``visibility``: JSON, tables, filters, and bad input.

Bad input must give exit code 2 and exactly one line on stderr that names the file and
row or key (or the option), shows the value and says what is allowed — no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.time import Time

from lkmrs_sched.cli import main
from lkmrs_sched.core.resources import FOOTPRINTS

ALMANAC_KEYS = {"night", "dusk_utc", "dawn_utc", "dark_hours", "moon_illumination",
                "lunar_day", "mrs_night", "shutdown"}
VISIBILITY_KEYS = {"night", "plan_id", "plate_name", "start_utc", "end_utc", "hours"}
LKMRS_CSV = FOOTPRINTS / "lkmrs.csv"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def mjd_of(iso: str) -> float:
    return Time(iso.rstrip("Z"), format="isot", scale="utc").mjd


# --- almanac ----------------------------------------------------------------------------

def test_almanac_json(capsys, season_almanac):
    rc, out, err = run(capsys, "almanac", "--start", "2019-01-01", "--end", "2019-01-14",
                       "--json")
    assert rc == 0 and err == ""
    recs = json.loads(out)
    assert len(recs) == 14
    for r in recs:
        assert set(r) == ALMANAC_KEYS
        i = season_almanac.night_index(r["night"])
        assert abs(mjd_of(r["dusk_utc"]) - season_almanac.dusk[i]) * 86400 < 1.0
        assert abs(mjd_of(r["dawn_utc"]) - season_almanac.dawn[i]) * 86400 < 1.0
        assert r["dark_hours"] == pytest.approx(season_almanac.dark_hours[i], abs=1e-4)
        assert r["moon_illumination"] == pytest.approx(
            season_almanac.moon_illumination[i], abs=1e-4)
        assert r["lunar_day"] == season_almanac.lunar_day[i]
        assert r["mrs_night"] is bool(season_almanac.mrs_night[i])
        assert r["shutdown"] is False
    assert [r["night"] for r in recs][:2] == ["2019-01-01", "2019-01-02"]
    # The span crosses the new moon of 2019-01-06: both LRS and MRS nights.
    assert {r["mrs_night"] for r in recs} == {True, False}
    assert [r["lunar_day"] for r in recs if r["night"] == "2019-01-06"] == [1]


def test_almanac_table_is_the_default(capsys):
    rc, out, _ = run(capsys, "almanac", "--start", "2019-07-01", "--end", "2019-07-03")
    assert rc == 0
    lines = out.splitlines()
    assert len(lines) == 4
    assert lines[0].split()[:3] == ["night", "dusk", "(UTC)"]
    assert lines[1].startswith("2019-07-01") and lines[1].rstrip().endswith("shutdown")
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


# --- visibility -------------------------------------------------------------------------

def test_visibility_json_and_plate_filter(capsys, season_windows, season_almanac):
    rc, out, err = run(capsys, "visibility", "--start", "2018-12-15", "--end", "2018-12-31",
                       "--plates", "K2b3,TD085754N225914K01", "--json")
    assert rc == 0 and err == ""
    recs = json.loads(out)
    assert recs and all(set(r) == VISIBILITY_KEYS for r in recs)
    assert {r["plate_name"] for r in recs} == {"K2b3", "K2d4"}
    assert {r["plan_id"] for r in recs} == {"TD010605N031628K01", "TD085754N225914K01"}
    w, plates = season_windows, season_windows.plates
    for r in recs:
        p, n = plates.index(r["plate_name"]), season_almanac.night_index(r["night"])
        assert season_almanac.observable[n]
        assert abs(mjd_of(r["start_utc"]) - w.start[p, n]) * 86400 < 1.0
        assert abs(mjd_of(r["end_utc"]) - w.end[p, n]) * 86400 < 1.0
        assert r["hours"] == pytest.approx(w.hours[p, n], abs=1e-4)
    # Every observable night of the span with a window is listed, and only those.
    nights = [n for n in range(len(season_almanac))
              if "2018-12-15" <= str(season_almanac.night[n]) <= "2018-12-31"]
    expect = {(str(season_almanac.night[n]), name) for n in nights for name in ("K2b3", "K2d4")
              if season_almanac.observable[n] and w.hours[plates.index(name), n] > 0}
    assert {(r["night"], r["plate_name"]) for r in recs} == expect


def test_visibility_all_nights_and_table(capsys):
    span = ("--start", "2019-01-01", "--end", "2019-01-14", "--plates", "K2d1")
    _, out, _ = run(capsys, "visibility", *span, "--json")
    mrs_only = {r["night"] for r in json.loads(out)}
    _, out, _ = run(capsys, "visibility", *span, "--json", "--all-nights")
    every = {r["night"] for r in json.loads(out)}
    assert mrs_only < every and len(every) == 14  # K2d1 transits at night all January
    rc, out, _ = run(capsys, "visibility", *span)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["night", "plate", "plan_id"]
    assert len(lines) == 1 + len(mrs_only)
    assert all(" K2d1 " in line for line in lines[1:])


def test_visibility_default_plates_are_the_20_lkmrs_plates(capsys):
    _, out, _ = run(capsys, "visibility", "--start", "2019-03-20", "--end", "2019-03-20",
                    "--all-nights", "--json")
    names = {r["plate_name"] for r in json.loads(out)}
    assert names and names <= {line.split(",")[9] for line in
                               LKMRS_CSV.read_text().splitlines()[1:]}
    assert "K2e1" in names and "K2b1" not in names  # C14 up in March, C8 not


# --- Bad input --------------------------------------------------------------------------

def assert_one_clear_line(rc: int, out: str, err: str, *pieces: str) -> str:
    assert rc == 2, (rc, err)
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("lkmrs-sched: error: "), err
    assert "Traceback" not in err and "allowed:" in err, err
    for piece in pieces:
        assert piece in err, (piece, err)
    return err


def scenario_with_plates(tmp_path: Path, csv_lines: list[str], header: str | None = None
                         ) -> Path:
    """A scenario whose [selector] lkmrs_footprints is a CSV written next to it."""
    rows = LKMRS_CSV.read_text().splitlines()
    (tmp_path / "bad.csv").write_text("\n".join([header or rows[0], *csv_lines]) + "\n")
    p = tmp_path / "bad.toml"
    p.write_text('[scenario]\nstart = "2019-01-01"\nend = "2019-01-03"\n'
                 '[selector]\nlkmrs_footprints = "bad.csv"\n')
    return p


def good_rows() -> list[str]:
    return LKMRS_CSV.read_text().splitlines()[1:]


@pytest.mark.parametrize(("rows", "pieces"), [
    # malformed row: a value missing
    (lambda r: [r[0], r[1].replace(",2169,", ",")],
     ["bad.csv: line 3:", "wrong number of values", "11 comma-separated values"]),
    # malformed coordinate
    (lambda r: [r[0].replace("00:50:04.30", "00h50")],
     ["bad.csv: line 2 ra_j2000:", "'00h50'", "sexagesimal"]),
    # Dec below −10° (plan ID consistent with the coordinates)
    (lambda r: [r[0].replace("TD005004N074006K01", "TD005004S120000K01")
                .replace("+07:40:06.42", "-12:00:00.00")],
     ["bad.csv: line 2 dec_j2000:", "'-12:00:00.00'", "Dec above -10 deg"]),
    # plan ID disagreeing with the coordinates
    (lambda r: [r[0], r[1].replace("TD005501N004722K01", "TD005501N004723K01")],
     ["bad.csv: line 3 plan_id:", "'TD005501N004723K01'", "disagrees",
      "TD005501N004722K01 (from the row's RA/Dec"]),
    # duplicate plate name / plan ID
    (lambda r: [r[0], r[1].replace("K2b2", "K2b1")],
     ["bad.csv: line 3 plate_name:", "duplicate", "'K2b1'", "line 2 has it too"]),
    (lambda r: [r[0], r[0].replace("K2b1", "K2b2")],
     ["bad.csv: line 3 plan_id:", "duplicate", "'TD005004N074006K01'"]),
    # negative count
    (lambda r: [r[0].replace(",2065,", ",-2065,")],
     ["bad.csv: line 2 n_target:", "'-2065'", "a non-negative integer"]),
])
def test_bad_footprints_via_visibility(capsys, tmp_path, rows, pieces):
    p = scenario_with_plates(tmp_path, rows(good_rows()))
    assert_one_clear_line(*run(capsys, "visibility", "--scenario", str(p)), str(tmp_path),
                          *pieces)


def test_missing_footprint_column_via_visibility(capsys, tmp_path):
    header = LKMRS_CSV.read_text().splitlines()[0].replace("plate_name,", "")
    rows = [",".join(c for i, c in enumerate(r.split(",")) if i != 9) for r in good_rows()]
    p = scenario_with_plates(tmp_path, rows, header=header)
    assert_one_clear_line(*run(capsys, "visibility", "--scenario", str(p)),
                          "bad.csv: header", "missing column(s) plate_name",
                          "columns plan_id, ra_j2000, dec_j2000, plate_name")


@pytest.mark.parametrize(("command", "body", "pieces"), [
    ("almanac", '[observing]\nexposure = "1200 s"\n',
     ["[observing] exposure: unknown key", "'1200 s'", "exposure_time"]),
    ("visibility", '[night]\ntwilight = "-18 min"\n',
     ["[night] twilight: wrong unit", "'-18 min'", "convertible to deg"]),
    ("almanac", '[nite]\ntwilight = "-18 deg"\n',
     ["[nite]: unknown section", "sections"]),
])
def test_bad_scenario_keys_via_cli(capsys, tmp_path, command, body, pieces):
    p = tmp_path / "s.toml"
    p.write_text('[scenario]\nstart = "2019-01-01"\nend = "2019-01-03"\n' + body)
    assert_one_clear_line(*run(capsys, command, "--scenario", str(p)), str(p), *pieces)


@pytest.mark.parametrize("command", ["almanac", "visibility"])
def test_end_before_start_in_a_scenario_file(capsys, tmp_path, command):
    p = tmp_path / "s.toml"
    p.write_text('[scenario]\nstart = "2019-03-01"\nend = "2019-02-01"\n')
    assert_one_clear_line(*run(capsys, command, "--scenario", str(p)),
                          f"{p}: [scenario] end: end before start", "'2019-02-01'",
                          "a date on or after start (2019-03-01)")


@pytest.mark.parametrize("command", ["almanac", "visibility"])
def test_end_before_start_on_the_command_line(capsys, tmp_path, command):
    assert_one_clear_line(*run(capsys, command, "--start", "2019-03-01", "--end", "2019-02-01"),
                          "--end: end before start", "'2019-02-01'",
                          "on or after --start (2019-03-01)")
    # --end alone, earlier than the scenario's start.
    p = tmp_path / "s.toml"
    p.write_text('[scenario]\nstart = "2019-03-01"\nend = "2019-03-31"\n')
    assert_one_clear_line(*run(capsys, command, "--scenario", str(p), "--end", "2019-02-01"),
                          "--end: end before start", "'2019-02-01'")


def test_bad_dates_plates_and_files(capsys, tmp_path):
    assert_one_clear_line(*run(capsys, "almanac", "--start", "2019-02-30"),
                          "--start:", "'2019-02-30'", "YYYY-MM-DD")
    assert_one_clear_line(*run(capsys, "visibility", "--start", "2019-01-01", "--end",
                               "2019-01-02", "--plates", "K2b3,K9z9"),
                          "--plates: unknown plate", "'K9z9'", "K2b3")
    missing = tmp_path / "missing.toml"
    assert_one_clear_line(*run(capsys, "almanac", "--scenario", str(missing)), str(missing),
                          "a readable TOML scenario file")


def test_bad_input_in_a_real_process(tmp_path):
    """The installed entry point: exit status 2, one line on stderr, nothing on stdout."""
    p = scenario_with_plates(tmp_path, [good_rows()[0].replace("+07:40:06.42",
                                                               "-12:00:00.00")])
    res = subprocess.run([sys.executable, "-m", "lkmrs_sched", "visibility", "--scenario",
                          str(p)], capture_output=True, text=True, timeout=120, check=False)
    assert_one_clear_line(res.returncode, res.stdout, res.stderr, "bad.csv: line 2 dec_j2000",
                          "'-12:00:00.00'", "Dec above -10 deg")


def test_json_nights_are_consecutive(capsys):
    _, out, _ = run(capsys, "almanac", "--start", "2019-02-25", "--end", "2019-03-02",
                    "--json")
    nights = np.array([r["night"] for r in json.loads(out)], dtype="datetime64[D]")
    assert (np.diff(nights) == np.timedelta64(1, "D")).all() and len(nights) == 6
