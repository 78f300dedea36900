"""The observation log: Table 2 and MRS_plan importers, SQLite round trip, ECSV export,
and clear errors for files that are not observation logs."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from helpers import cache_dir

from lkmrs_sched.core.config import default_scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import TABLE2
from lkmrs_sched.core.timeconv import lmjm_to_mjd, mjd_to_lmjm
from lkmrs_sched.sim.importers import import_mrs_plan, import_table2, read_any_log
from lkmrs_sched.sim.obslog import TABLES, ObservationLog

K2B1 = "TD005004N074006K01"  # plan ID of K2b1 (RA 00:50, Dec +07:40)
K2C1 = "TD033722N181216K01"  # plan ID of K2c1 (RA 03:37, Dec +18:12)
MJD_EPOCH_LOCAL = dt.datetime(1858, 11, 17)


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    """A private almanac cache for this module (the env var is read at call time)."""
    with cache_dir(tmp_path_factory.mktemp("obslog-cache")):
        yield


@pytest.fixture(scope="module")
def table2_log():
    return import_table2()


@pytest.fixture(scope="module")
def sim_log():
    from lkmrs_sched.sim.simulator import Simulation

    return Simulation(default_scenario("2018-12-10", "2019-01-10"), 4).run()


def lmjm_of(local: dt.datetime) -> int:
    """Local modified Julian minute of a local (UTC+8) wall-clock time, from first principles."""
    return int((local - MJD_EPOCH_LOCAL).total_seconds() // 60)


def assert_same_tables(a: ObservationLog, b: ObservationLog) -> None:
    for name in TABLES:
        ta, tb = getattr(a, name), getattr(b, name)
        assert ta.colnames == tb.colnames, name
        assert len(ta) == len(tb), name
        for c in ta.colnames:
            x, y = np.asarray(ta[c]), np.asarray(tb[c])
            if x.dtype.kind == "f":
                np.testing.assert_array_equal(x, y, err_msg=f"{name}.{c}")
            else:
                assert x.astype(str).tolist() == y.astype(str).tolist(), (name, c)


# ---------------------------------------------------------------------- Table 2
def test_table2_import_counts(table2_log):
    log = table2_log
    assert len(log.pointings) == 44
    assert len(log.exposures) == 222
    assert len(set(np.asarray(log.pointings["night"]))) == 40
    per_plate = log.exposures_per_plate()
    assert len(per_plate) == 13
    assert min(per_plate.values()) == 4 and max(per_plate.values()) == 44
    assert per_plate["K2b3"] > 40 and per_plate["K2d4"] > 40
    # brief §4 names K1a1 among the 20–30 group, but the shipped CSV gives it 10
    for name in ("K2d1", "K2d3", "K2e1"):
        assert 20 <= per_plate[name] <= 30, name
    assert log.info["kind"] == "observed"
    assert set(log.pointings["project"]) == {"LK-MRS"}
    assert set(log.pointings["end_reason"]) == {"observed"}
    assert np.all(np.asarray(log.exposures["time_estimated"]) == 1)
    # ~74 h exposing (brief §4): 221 × 1200 s + one 600 s exposure
    assert np.sum(log.exposures["exptime_s"]) / 3600 == pytest.approx(221 / 3 + 1 / 6)
    assert Counter(np.asarray(log.exposures["exptime_s"]).tolist())[600.0] == 1


def test_table2_pointings_match_the_csv_rows(table2_log):
    import csv

    with TABLE2.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    p, e = table2_log.pointings, table2_log.exposures
    for r, pt in zip(rows, p, strict=True):
        assert pt["plate_name"] == r["plate_name"]
        assert pt["night"] == r["night_date"]
        assert pt["n_exposures"] == int(r["n_exposures"])
        mine = e[e["pointing_id"] == pt["pointing_id"]]
        assert len(mine) == int(r["n_exposures"])
        assert np.all(np.asarray(mine["seeing_arcsec"]) == float(r["seeing_arcsec"]))
        # placed exposures do not overlap and lie inside the pointing
        s = np.sort(np.asarray(mine["start_mjd"]))
        assert np.all(np.diff(s) >= float(r["exptime_s"]) / 86400 - 1e-9)
        assert pt["start_mjd"] < s[0] and s[-1] < pt["end_mjd"]
    expect: Counter = Counter()
    for r in rows:
        expect[r["plate_name"]] += int(r["n_exposures"])
    assert table2_log.exposures_per_plate() == dict(expect)


# ---------------------------------------------------------------------- MRS_plan
def write_plan(path: Path, rows: list[tuple]) -> Path:
    lines = ["pid,obsdate,planid,ra,dec,mag,seeing,exptime,lmjm_list"]
    for i, (obsdate, planid, exptime, seeing, lmjm) in enumerate(rows, start=1):
        lines.append(f'{i},{obsdate},{planid},0,0,15,{seeing},{exptime},"{lmjm}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_mrs_plan_import_times_and_skips(tmp_path):
    t0 = lmjm_of(dt.datetime(2018, 10, 20, 20, 0))  # 20:00 Beijing time = 12:00 UTC
    t1 = lmjm_of(dt.datetime(2018, 10, 21, 23, 30))
    first = [t0, t0 + 23, t0 + 46, t0 + 69]
    second = [t1 + 23, t1]  # out of order, space-separated below
    f = write_plan(tmp_path / "plan.csv", [
        ("2018-10-20", K2B1, 1200, 3.1, "[" + ", ".join(map(str, first)) + "]"),
        ("2018-10-20", "TD005004N074006K02", 1200, 3.1, f"[{t0}]"),  # test plate: skipped
        ("2018-10-21", K2C1, 600, "", " ".join(map(str, second))),
    ])
    log = import_mrs_plan(f)
    assert log.info["skipped_rows"] == "1"
    assert log.info["kind"] == "observed"
    assert len(log.pointings) == 2 and len(log.exposures) == 6
    e = log.exposures
    assert list(e["plate_name"]) == ["K2b1"] * 4 + ["K2c1"] * 2
    assert list(e["night"]) == ["2018-10-20"] * 4 + ["2018-10-21"] * 2
    expect_lmjm = first + sorted(second)
    assert list(e["lmjm"]) == expect_lmjm
    np.testing.assert_allclose(np.asarray(e["start_mjd"]),
                               np.array(expect_lmjm) / 1440 - 8 / 24, rtol=0, atol=1e-9)
    assert e["start_utc"][0] == "2018-10-20T12:00:00Z"
    assert e["start_utc"][4] == "2018-10-21T15:30:00Z"
    assert list(e["exptime_s"]) == [1200.0] * 4 + [600.0] * 2
    assert np.all(np.asarray(e["time_estimated"]) == 0)
    assert np.isnan(e["seeing_arcsec"][5]) and e["seeing_arcsec"][0] == 3.1
    p = log.pointings
    assert list(p["n_exposures"]) == [4, 2]
    # the pointing starts one overhead before its first exposure, ends after the read-out
    assert p["start_mjd"][0] == pytest.approx(e["start_mjd"][0] - 30 / 1440, abs=1e-9)
    assert p["end_mjd"][0] == pytest.approx(e["start_mjd"][3] + (1200 + 180) / 86400, abs=1e-9)
    # K2b1 transits near local 22:30 in late October: hour angles are within a few hours
    assert np.all(np.abs(np.asarray(e["hour_angle_h"])[:4]) < 3)


def test_lmjm_conversions_round_trip():
    x = np.array([84112800, 84112823, 84114450])
    assert np.array_equal(mjd_to_lmjm(lmjm_to_mjd(x)), x)
    assert lmjm_to_mjd(np.array([84112800]))[0] == pytest.approx(84112800 / 1440 - 1 / 3)


@pytest.mark.parametrize("bad", ["[27175560, abc]", "[]", "  ", "1.5e, 3"])
def test_mrs_plan_bad_lmjm_list(tmp_path, bad):
    f = write_plan(tmp_path / "plan.csv", [("2018-10-20", K2B1, 1200, 3.1, bad)])
    with pytest.raises(InputError, match="lmjm_list") as exc:
        import_mrs_plan(f)
    assert "line 2" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_mrs_plan_without_known_plates_or_columns(tmp_path):
    f = write_plan(tmp_path / "plan.csv", [("2018-10-20", "TD000000N000000K02", 1200, 3, "[1]")])
    with pytest.raises(InputError, match="no row matches a known plate"):
        import_mrs_plan(f)
    g = tmp_path / "nolmjm.csv"
    g.write_text("planid,obsdate,exptime,seeing\nx,2018-10-20,1200,3\n")
    with pytest.raises(InputError, match="missing column"):
        import_mrs_plan(g)


# ---------------------------------------------------------------------- SQLite, ECSV
def test_sqlite_round_trip_observed_and_simulated(table2_log, sim_log, tmp_path):
    for name, log in (("t2", table2_log), ("sim", sim_log)):
        path = tmp_path / f"{name}.sqlite"
        log.write(path)
        back = ObservationLog.read(path)
        assert back.content_digest() == log.content_digest(), name
        assert_same_tables(log, back)
        assert {k: v for k, v in back.info.items() if k != "schema_version"} == log.info
        # rewriting the read-back log gives the same file content
        back.write(tmp_path / f"{name}2.sqlite")
        assert ObservationLog.read(tmp_path / f"{name}2.sqlite").content_digest() \
            == log.content_digest()
    assert len(sim_log.nights) == 32 and len(sim_log.ledger) > 0
    assert len(table2_log.nights) == 0  # imported logs carry no nights/ledger


def test_write_replaces_an_existing_file(sim_log, table2_log, tmp_path):
    path = tmp_path / "log.sqlite"
    sim_log.write(path)
    table2_log.write(path)
    assert ObservationLog.read(path).content_digest() == table2_log.content_digest()
    assert [p.name for p in tmp_path.iterdir()] == ["log.sqlite"]  # no temporary left over


def test_content_digest_sees_changes(sim_log):
    other = ObservationLog(sim_log.pointings, sim_log.exposures.copy(), sim_log.nights,
                           sim_log.ledger, dict(sim_log.info))
    assert other.content_digest() == sim_log.content_digest()
    other.exposures["seeing_arcsec"][0] += 0.01
    assert other.content_digest() != sim_log.content_digest()
    later = ObservationLog(sim_log.pointings, sim_log.exposures, sim_log.nights, sim_log.ledger,
                           {**sim_log.info, "created_utc": "2099-01-01T00:00:00+00:00"})
    assert later.content_digest() == sim_log.content_digest()


def test_ecsv_export_writes_four_tables(sim_log, tmp_path):
    paths = sim_log.to_ecsv(tmp_path / "ecsv")
    assert len(paths) == 4
    assert sorted(p.name for p in paths) == sorted(f"{t}.ecsv" for t in TABLES)
    assert sorted(p.name for p in (tmp_path / "ecsv").iterdir()) == sorted(p.name for p in paths)
    for name, p in zip(TABLES, paths, strict=True):
        t = Table.read(p, format="ascii.ecsv")
        src = getattr(sim_log, name)
        assert t.colnames == src.colnames
        assert len(t) == len(src)
        assert t.meta["lkmrs_sched_log"] == name
        assert t.meta["kind"] == "simulated"
        for c in src.colnames:
            if np.asarray(src[c]).dtype.kind == "f":
                np.testing.assert_array_equal(np.asarray(t[c]), np.asarray(src[c]))


# ---------------------------------------------------------------------- bad files
def test_reading_random_bytes_is_an_input_error(tmp_path):
    f = tmp_path / "corrupt.sqlite"
    f.write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(InputError) as exc:
        ObservationLog.read(f)
    msg = str(exc.value)
    assert str(f) in msg and "\n" not in msg
    assert "observation log" in msg


def test_reading_a_truncated_log_is_an_input_error(sim_log, tmp_path):
    f = tmp_path / "log.sqlite"
    sim_log.write(f)
    data = f.read_bytes()
    f.write_bytes(data[:len(data) // 3])
    with pytest.raises(InputError, match=str(f)):
        ObservationLog.read(f).content_digest()


def test_reading_a_foreign_sqlite_file_is_an_input_error(tmp_path):
    f = tmp_path / "foreign.sqlite"
    con = sqlite3.connect(f)
    con.execute("CREATE TABLE stars (id INTEGER, ra REAL, dec REAL)")
    con.execute("INSERT INTO stars VALUES (1, 10.0, 20.0)")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="missing table") as exc:
        ObservationLog.read(f)
    assert "pointings" in str(exc.value) and "\n" not in str(exc.value)
    assert f.read_bytes()[:16] == b"SQLite format 3\x00"  # read-only: the file is untouched


def test_reading_a_log_with_a_missing_column_is_an_input_error(sim_log, tmp_path):
    f = tmp_path / "log.sqlite"
    sim_log.write(f)
    con = sqlite3.connect(f)
    con.execute("ALTER TABLE exposures DROP COLUMN seeing_arcsec")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="seeing_arcsec"):
        ObservationLog.read(f)


@pytest.mark.parametrize("make", ["missing", "empty", "directory"])
def test_reading_no_log_is_an_input_error(tmp_path, make):
    f = tmp_path / "x.sqlite"
    if make == "empty":
        f.write_bytes(b"")
    elif make == "directory":
        f.mkdir()
    with pytest.raises(InputError) as exc:
        ObservationLog.read(f)
    assert str(f) in str(exc.value)


def test_read_any_log_dispatches_by_content(sim_log, tmp_path):
    f = tmp_path / "log.sqlite"
    sim_log.write(f)
    assert read_any_log(f).content_digest() == sim_log.content_digest()
    assert len(read_any_log(TABLE2).exposures) == 222
    t0 = lmjm_of(dt.datetime(2018, 10, 20, 20, 0))
    plan = write_plan(tmp_path / "plan.csv", [("2018-10-20", K2B1, 1200, 3.1, f"[{t0}]")])
    assert list(read_any_log(plan).exposures["lmjm"]) == [t0]
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="unrecognised log format"):
        read_any_log(other)
    with pytest.raises(InputError):
        read_any_log(tmp_path / "missing.csv")


# ---------------------------------------------------------------------- through the CLI
def bad_logs(tmp_path: Path) -> dict[str, Path]:
    corrupt = tmp_path / "corrupt" / "observations.sqlite"
    corrupt.parent.mkdir()
    corrupt.write_bytes(np.random.default_rng(1).bytes(4096))
    foreign = tmp_path / "foreign" / "observations.sqlite"
    foreign.parent.mkdir()
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE stars (id INTEGER)")
    con.commit()
    con.close()
    return {"corrupt": corrupt, "foreign": foreign}


@pytest.mark.parametrize("kind", ["corrupt", "foreign"])
def test_cli_reproduce_table2_with_a_bad_log_exits_2(tmp_path, capsys, kind):
    from lkmrs_sched.cli import main

    log = bad_logs(tmp_path)[kind]
    code = main(["reproduce-table2", "--log", str(log), "--realizations", "1",
                 "--workers", "1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lkmrs-sched: error: ")
    assert str(log) in lines[0] and "observation log" in lines[0]


@pytest.mark.parametrize("kind", ["corrupt", "foreign"])
def test_cli_synth_with_a_bad_log_exits_2(tmp_path, capsys, kind):
    from lkmrs_sched.cli import main

    log = bad_logs(tmp_path)[kind]
    code = main(["synth", str(log.parent), "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(log) in lines[0]
