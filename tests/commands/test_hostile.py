"""Hostile inputs and faults, across all ten commands (issue #14).

The corpus below is what a hostile user tries: bad options, broken or foreign files,
tampered logs and stores, unwritable or dangerous output locations. Every bad case must
end with exit code 2 and exactly one line on stderr that names where the problem is, the
value and what is allowed — no traceback — and must leave every file as it was (inputs
are hashed before and after; the command runs with the case's folder as working folder,
so a default output location would show up too). Cases that used to be silently wrong
are now errors (asserted like the others) or correct results (asserted separately
below, with the store, claim, cache and security cases).

Each case is one ``cli.main([...])`` call in this process (tiny date ranges, one or two
realizations, one worker), except the two-process claim and the cache-location checks,
which need processes of their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lkmrs_sched import cli
from lkmrs_sched.core.resources import FOOTPRINTS, TABLE2
from lkmrs_sched.sim.obslog import EXPOSURE_COLUMNS

TINY = ("2018-12-18", "2018-12-22")  # MRS nights (lunar days 7-22) of December 2018
EVENING = dt.datetime(2018, 12, 20, 20, 0)  # Beijing time, inside the tiny range
FORECAST = ("2019-10-01", "2019-10-10")  # after Table 2's last night (2019-06-14)


# --------------------------------------------------------------------------- inputs
def scenario_text(name: str = "tiny", start: str = TINY[0], end: str = TINY[1], *,
                  lkmrs: Path | str | None = None, other_td: Path | str | None = None,
                  extra: str = "", weather: str | None = 'model = "ideal"') -> str:
    """A small scenario with absolute footprint paths (so it works from any folder)."""
    return (f'[scenario]\nname = "{name}"\nstart = "{start}"\nend = "{end}"\nseed = 1\n\n'
            f'[selector]\nlkmrs_footprints = "{lkmrs or FOOTPRINTS / "lkmrs.csv"}"\n'
            f'other_td_footprints = "{other_td or FOOTPRINTS / "td_other.csv"}"\n'
            f'nt_footprints = "{FOOTPRINTS / "nt.csv"}"\n\n'
            + (f"[weather]\n{weather}\n" if weather is not None else "") + extra)


def write(path: Path, text: str | bytes, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def tiny(tmp: Path, name: str = "tiny.toml", **kw) -> Path:
    return write(tmp / name, scenario_text(**kw))


def forecast_scenario(tmp: Path, name: str = "fc.toml", **kw) -> Path:
    return write(tmp / name, scenario_text(kw.pop("label", "fc"), *FORECAST, **kw))


def latin1(path: Path, source: Path) -> Path:
    """A copy of ``source`` with one Latin-1 byte (not UTF-8) in its second line."""
    lines = source.read_bytes().split(b"\n")
    lines[1] = lines[1] + b"\xe9"
    return write(path, b"\n".join(lines))


def lmjm_at(local: dt.datetime) -> int:
    """Local modified Julian minute of a Beijing time."""
    return round((local - dt.datetime(1858, 11, 17)).total_seconds() / 60)


def evening(minutes: int = 0) -> int:
    """lmjm of the tiny range's evening, ``minutes`` later."""
    return lmjm_at(EVENING) + minutes


def plan_id(name: str) -> str:
    from lkmrs_sched.sky.footprints import load_lkmrs

    plates = load_lkmrs()
    return str(plates.plan_id[plates.index(name)])


def mrs_plan(path: Path, rows: list[tuple[str, str, str]] | None = None, bom: bool = False
             ) -> Path:
    """An MRS_plan CSV; rows of (obsdate, planid, lmjm_list)."""
    if rows is None:
        t0 = evening()
        rows = [("2018-12-20", plan_id("K2d4"), f"[{t0}, {t0 + 23}, {t0 + 46}]")]
    lines = ["obsdate,planid,exptime,seeing,lmjm_list"]
    lines += [f'{d},{p},1200,3.2,"{lm}"' for d, p, lm in rows]
    return write(path, "\n".join(lines) + "\n", bom=bom)


def table2_copy(path: Path, duplicate: bool = False, bom: bool = False) -> Path:
    lines = TABLE2.read_text(encoding="utf-8").splitlines()
    body = lines[:4] + ([lines[2]] if duplicate else [])
    return write(path, "\n".join(body) + "\n", bom=bom)


@pytest.fixture(scope="module")
def sim_log(tmp_path_factory) -> Path:
    """A simulated log of the tiny scenario (ideal weather: it has LK-MRS exposures)."""
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.sim.simulator import Simulation

    folder = tmp_path_factory.mktemp("hostile-log")
    log = Simulation(load_scenario(tiny(folder)), 3).run()
    assert (log.exposures["project"] == "LK-MRS").any()
    log.write(folder / "observations.sqlite")
    return folder / "observations.sqlite"


def tampered(sim_log: Path, path: Path, *sql: str) -> Path:
    """A copy of the simulated log with SQL applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sim_log.read_bytes())
    con = sqlite3.connect(path)
    try:
        for statement in sql:
            con.execute(statement)
        con.commit()
    finally:
        con.close()
    return path


FIRST = "exposure_id = (SELECT min(exposure_id) FROM exposures WHERE project = 'LK-MRS')"
ALL_COLUMNS = ", ".join(c for c in EXPOSURE_COLUMNS if c != "exposure_id")


def run_folder(sim_log: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "observations.sqlite").write_bytes(sim_log.read_bytes())
    return folder


def catalogue(path: Path, edit: Callable | None = None, bom: bool = False) -> Path:
    """A small synthetic DR8 catalogue (CSV, or the format of the suffix), optionally edited."""
    from reduction_fakes import small_catalogue

    t = small_catalogue(seed=3, stars_per_spid=4, n_exposures=3).table()
    if edit is not None:
        edit(t)
    path.parent.mkdir(parents=True, exist_ok=True)
    t.write(path, format="ascii.csv" if path.suffix == ".csv" else None, overwrite=True)
    if bom:
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return path


def set_first_blue(column: str, value) -> Callable:
    def edit(t):
        import numpy as np

        i = int(np.flatnonzero(np.asarray(t["band"]) == "B")[0])
        t[column] = np.asarray(t[column], dtype=float)
        t[column][i] = value
    return edit


# --------------------------------------------------------------------------- the corpus
@dataclass(frozen=True)
class Case:
    """One hostile input: the class of issue #14 it belongs to, the command, how to
    build it in a fresh folder (returns the argv), and what the error line must name."""

    id: str
    kind: str  # traceback | silent | security | data-loss | message
    command: str
    build: Callable[[Path, Path], list[str]]  # (folder, simulated log) -> argv
    expect: tuple[str, ...]


def _c(id, kind, command, build, *expect):
    return pytest.param(Case(id, kind, command, build, expect), id=f"{command}-{id}")


def _summary_folder(tmp: Path) -> Path:
    """A folder holding a simulate summary (what report reads), made once per case."""
    folder = tmp / "sim"
    if not (folder / "summary.json").exists():
        folder.mkdir(exist_ok=True)
        (folder / "summary.json").write_text('{"lkmrs_exposures": 3}', encoding="utf-8")
    return folder


def _symlink_loop(tmp: Path) -> Path:
    loop = tmp / "loop"
    loop.symlink_to(tmp / "loop")
    return loop


CASES = [
    # ---- hindcast: a training date that is not a date, and an unbounded count
    _c("bad-train-date", "traceback", "hindcast",
       lambda t, s: ["hindcast", "--train-until", "2019-02-30", "--out", str(t / "o")],
       "--train-until", "2019-02-30"),
    _c("one-realization", "message", "hindcast",
       lambda t, s: ["hindcast", "--train-until", "2019-01-31", "--realizations", "1",
                     "--out", str(t / "o")], "--realizations", "1"),
    # ---- report: a folder that is not a run folder, and an output onto an input
    _c("not-a-run-folder", "message", "report",
       lambda t, s: ["report", str(t)], "no forecast.json", "a folder written by lkmrs-sched"),
    _c("out-onto-an-input", "data-loss", "report",
       lambda t, s: ["report", str(_summary_folder(t)), "--out",
                     str(_summary_folder(t) / "summary.json")], "--out", "overwrite an input"),
    # ---- tracebacks before: negative seeds, unbounded counts
    _c("negative-seed", "traceback", "run",
       lambda t, s: ["run", "--seed", "-1", "--out", str(t / "o")], "--seed", "-1", "2**64 - 1"),
    _c("negative-seed", "traceback", "reproduce-table2",
       lambda t, s: ["reproduce-table2", "--seed", "-3"], "--seed", "-3"),
    _c("negative-seed", "traceback", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--seed", "-1"], "--seed"),
    _c("negative-seed", "traceback", "calibrate",
       lambda t, s: ["calibrate", "--seed", "-7"], "--seed", "-7"),
    _c("negative-seed", "traceback", "simulate",
       lambda t, s: ["simulate", str(tiny(t)), "--seed", "-5"], "--seed", "-5"),
    _c("negative-seed", "traceback", "synth",
       lambda t, s: ["synth", str(run_folder(s, t / "run")), "--seed", "-1"], "--seed"),
    _c("huge-realizations", "traceback", "run",
       lambda t, s: ["run", "--realizations", "1000000000"], "--realizations", "100000"),
    _c("huge-realizations", "traceback", "compare",
       lambda t, s: ["compare", str(forecast_scenario(t)), str(forecast_scenario(t, "b.toml")),
                     "--realizations", str(10**12)], "--realizations"),
    _c("zero-realizations", "traceback", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--realizations", "0"],
       "--realizations", "'0'"),
    _c("zero-workers", "traceback", "reproduce-table2",
       lambda t, s: ["reproduce-table2", "--workers", "0"], "--workers"),
    _c("huge-draws", "traceback", "calibrate",
       lambda t, s: ["calibrate", "--draws", "99999999"], "--draws", "99999999"),
    _c("nan-accept", "traceback", "calibrate",
       lambda t, s: ["calibrate", "--accept", "nan"], "--accept", "nan"),
    # ---- TOML with top-level scalars
    _c("toml-scalar-scenario", "traceback", "simulate",
       lambda t, s: ["simulate", str(write(t / "s.toml", "scenario = 5\n"))],
       "s.toml: scenario", "5", "table"),
    _c("toml-scalar-section", "traceback", "almanac",
       lambda t, s: ["almanac", "--scenario", str(write(t / "s.toml", 'weather = "x"\n'
                                                         + scenario_text(weather=None)))],
       "s.toml: weather", "'x'", "table"),
    # ---- non-UTF-8 CSVs
    _c("latin1-footprints", "traceback", "visibility",
       lambda t, s: ["visibility", "--scenario", str(tiny(
           t, lkmrs=latin1(t / "lk.csv", FOOTPRINTS / "lkmrs.csv")))],
       "lk.csv: line 2", "UTF-8"),
    _c("latin1-table2", "traceback", "reproduce-table2",
       lambda t, s: ["reproduce-table2", "--log", str(latin1(t / "t2.csv", TABLE2))],
       "t2.csv: line 2", "UTF-8"),
    _c("latin1-mrs-plan", "traceback", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--from-log",
                     str(latin1(t / "plan.csv", mrs_plan(t / "p0.csv")))],
       "plan.csv: line 2", "UTF-8"),
    _c("latin1-replay-weather", "traceback", "simulate",
       lambda t, s: ["simulate", str(tiny(t, weather=(
           'model = "replay"\nreplay_file = "'
           + str(write(t / "open.csv", b"start_utc,end_utc\n2018-12-20T12:00:00,"
                       b"2018-12-20T20:00:00\xe9\n")) + '"'))), "--out", str(t / "o")],
       "open.csv: line 2", "UTF-8"),
    _c("latin1-catalogue", "traceback", "reduce",
       lambda t, s: ["reduce", str(write(t / "c.csv", b"obsid\xe9,uid\n1,2\n")),
                     "--out", str(t / "o")], "c.csv", "utf-8"),
    # ---- SQLite logs with wrong cell types or values
    _c("sqlite-text-in-real", "traceback", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--from-log", str(tampered(
           s, t / "l.sqlite", f"UPDATE exposures SET start_mjd = 'abc' WHERE {FIRST}"))],
       "l.sqlite: table exposures", "column start_mjd", "'abc'", "a number"),
    _c("sqlite-null-in-integer", "traceback", "reproduce-table2",
       lambda t, s: ["reproduce-table2", "--log", str(tampered(
           s, t / "l.sqlite", f"UPDATE exposures SET lmjm = NULL WHERE {FIRST}"))],
       "column lmjm", "None", "an integer"),
    _c("sqlite-lmjm-1e30", "traceback", "calibrate",
       lambda t, s: ["calibrate", "--log", str(tampered(
           s, t / "l.sqlite", f"UPDATE exposures SET lmjm = 1e30 WHERE {FIRST}"))],
       "column lmjm", "1e+30", "an integer"),
    _c("sqlite-lmjm-inf", "traceback", "synth",
       lambda t, s: ["synth", str(tampered(s, t / "run" / "observations.sqlite",
                                           f"UPDATE exposures SET lmjm = 9e999 WHERE {FIRST}")
                                  .parent)], "column lmjm", "inf"),
    _c("sqlite-text-exptime", "traceback", "synth",
       lambda t, s: ["synth", str(tampered(s, t / "run" / "observations.sqlite",
                                           f"UPDATE exposures SET exptime_s = 'long' "
                                           f"WHERE {FIRST}").parent)],
       "column exptime_s", "'long'"),
    # ---- lmjm inf / 1e30 in an MRS_plan
    _c("mrs-plan-lmjm-inf", "traceback", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--from-log", str(mrs_plan(
           t / "plan.csv", [("2018-12-20", plan_id("K2d4"), "[inf]")]))],
       "plan.csv: line 2 lmjm_list", "'inf'", "whole"),
    _c("mrs-plan-lmjm-1e30", "traceback", "reproduce-table2",
       lambda t, s: ["reproduce-table2", "--log", str(mrs_plan(
           t / "plan.csv", [("2018-12-20", plan_id("K2d4"), "[1e30]")]))],
       "lmjm_list", "'1e30'"),
    # ---- output locations
    _c("out-is-a-file", "traceback", "simulate",
       lambda t, s: ["simulate", str(tiny(t)), "--out", str(write(t / "f.txt", "x"))],
       "--out", "f.txt", "not a folder"),
    _c("out-is-a-file", "traceback", "reduce",
       lambda t, s: ["reduce", str(catalogue(t / "c.csv")), "--out",
                     str(write(t / "f.txt", "x"))], "--out", "f.txt", "not a folder"),
    _c("out-symlink-loop", "traceback", "simulate",
       lambda t, s: ["simulate", str(tiny(t)), "--out", str(_symlink_loop(t))],
       "--out", "loop", "symlink loop"),
    _c("out-parquet", "traceback", "synth",
       lambda t, s: ["synth", str(run_folder(s, t / "run")), "--out", str(t / "x.parquet")],
       "--out", "x.parquet", ".fits", "pandas"),
    _c("out-symlink-loop", "traceback", "synth",
       lambda t, s: ["synth", str(run_folder(s, t / "run")), "--out",
                     str(_symlink_loop(t) / "x.fits")], "--out", "symlink loop"),
    _c("out-unwritable", "traceback", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--out", "/proc/lkmrs-hostile"],
       "--out", "/proc/lkmrs-hostile", "write"),
    _c("out-under-a-file", "traceback", "calibrate",
       lambda t, s: ["calibrate", "--out", str(write(t / "f.txt", "x") / "sub")],
       "--out", "f.txt"),
    _c("json-is-a-folder", "traceback", "reproduce-table2",
       lambda t, s: ["reproduce-table2", "--scenario", str(tiny(t)), "--realizations", "1",
                     "--out", str(t / "o"), "--json", str(t)], "--json", "folder"),
    _c("json-under-a-file", "traceback", "compare",
       lambda t, s: ["compare", str(forecast_scenario(t)), str(forecast_scenario(t, "b.toml")),
                     "--realizations", "1", "--no-stars", "--out", str(t / "o"), "--json",
                     str(write(t / "f.txt", "x") / "c.json")], "--json", "f.txt"),
    _c("dask-address-garbage", "traceback", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--dask", "garbage", "--no-stars",
                     "--realizations", "1", "--out", str(t / "o")], "--dask", "'garbage'"),
    # ---- dates beyond the ephemerides
    _c("year-1", "traceback", "almanac",
       lambda t, s: ["almanac", "--start", "0001-01-01", "--end", "0001-01-02"],
       "--start", "0001-01-01", "1962"),
    _c("year-2200", "message", "visibility",
       lambda t, s: ["visibility", "--start", "2200-01-01", "--end", "2200-01-02"],
       "--start", "2200-01-01", "ephemerides"),
    _c("scenario-1900", "message", "simulate",
       lambda t, s: ["simulate", str(tiny(t, start="1900-01-01", end="1900-01-05"))],
       "[scenario] start", "1900-01-01"),
    # ---- silently wrong before: now clear errors
    _c("unknown-plate", "silent", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--from-log", str(mrs_plan(
           t / "plan.csv", [("2018-12-20", "TD000000N000000K01", f"[{evening()}]")]))],
       "planid", "TD000000N000000K01", "footprints"),
    _c("lmjm-far-from-obsdate", "silent", "reproduce-table2",
       lambda t, s: ["reproduce-table2", "--log", str(mrs_plan(t / "plan.csv", [(
           "2018-12-20", plan_id("K2d4"), str(lmjm_at(dt.datetime(2019, 3, 2, 21))))]))],
       "lmjm_list", "night of 2018-12-20"),
    _c("duplicate-plan-rows", "silent", "calibrate",
       lambda t, s: ["calibrate", "--log", str(mrs_plan(t / "plan.csv", [
           ("2018-12-20", plan_id("K2d4"), str(evening())),
           ("2018-12-20", plan_id("K2d4"), str(evening(120)))]))],
       "plan.csv: line 3", "duplicate row"),
    _c("duplicate-lmjm", "silent", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--from-log", str(mrs_plan(
           t / "plan.csv", [("2018-12-20", plan_id("K2d4"), f"[{evening()}, {evening()}]")]))],
       "lmjm_list", str(evening()), "duplicate lmjm"),
    _c("overlapping-plates", "silent", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--from-log", str(mrs_plan(
           t / "plan.csv", [("2018-12-20", plan_id("K2d4"), f"[{evening()}]"),
                            ("2018-12-20", plan_id("K2d3"), f"[{evening(5)}]")]))],
       "plan.csv: line 3", "overlapping"),
    _c("duplicate-table2-row", "silent", "reproduce-table2",
       lambda t, s: ["reproduce-table2", "--log", str(table2_copy(t / "t2.csv", True))],
       "t2.csv: line 5", "duplicate row"),
    _c("sqlite-duplicate-exposure", "silent", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--from-log", str(tampered(
           s, t / "l.sqlite", f"INSERT INTO exposures SELECT (SELECT max(exposure_id) + 1 "
           f"FROM exposures), {ALL_COLUMNS} FROM exposures WHERE {FIRST}"))],
       "table exposures", "duplicate exposure"),
    _c("sqlite-unknown-plate", "silent", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--from-log", str(tampered(
           s, t / "l.sqlite", "UPDATE exposures SET plate_name = 'K2z9' "
           "WHERE project = 'LK-MRS'"))], "plate_name", "K2z9", "footprints"),
    _c("sqlite-lmjm-off", "silent", "calibrate",
       lambda t, s: ["calibrate", "--log", str(tampered(
           s, t / "l.sqlite", f"UPDATE exposures SET lmjm = lmjm + 600 WHERE {FIRST}"))],
       "column lmjm", "local minute"),
    _c("rv-1e30-strict", "silent", "reduce",
       lambda t, s: ["reduce", str(catalogue(t / "c.csv", set_first_blue("rv_lasp0", 1e30))),
                     "--strict", "--quiet", "--out", str(t / "o")],
       "c.csv: column rv_lasp0", "outside"),
    _c("snr-1e300-strict", "silent", "reduce",
       lambda t, s: ["reduce", str(catalogue(t / "c.csv", set_first_blue("snr", 1e300))),
                     "--strict", "--quiet", "--out", str(t / "o")], "column snr", "S/N above"),
    _c("min-snr-inf", "silent", "reduce",
       lambda t, s: ["reduce", str(catalogue(t / "c.csv")), "--min-snr", "inf",
                     "--out", str(t / "o")], "--min-snr", "'inf'", "finite"),
    # ---- security: odd characters in folder names
    _c("sqlite-uri-characters", "security", "reproduce-table2",
       lambda t, s: ["reproduce-table2", "--log", str(tampered(
           s, t / "we#ird?%41 dir" / "l.sqlite",
           f"UPDATE exposures SET seeing_arcsec = 'x' WHERE {FIRST}"))],
       "we#ird?%41 dir/l.sqlite: table exposures", "column seeing_arcsec"),
    # ---- data loss before: outputs over inputs
    _c("out-holds-input", "data-loss", "reduce",
       lambda t, s: ["reduce", str(catalogue(t / "d" / "catalog.ecsv")), "--out", str(t / "d")],
       "--out", "catalog.ecsv", "overwrite"),
    _c("write-scenario-over-input", "data-loss", "calibrate",
       lambda t, s: ["calibrate", "--scenario", str(tiny(t)), "--write-scenario",
                     str(t / "tiny.toml"), "--draws", "10"],
       "--write-scenario", "tiny.toml", "overwrite"),
    _c("out-holds-from-log", "data-loss", "forecast",
       lambda t, s: ["forecast", str(forecast_scenario(t)), "--out", str(t / "x"),
                     "--from-log", str(run_folder(s, t / "x" / "logs") / "observations.sqlite")],
       "--out", "overwrite"),
    _c("synth-summary-over-input", "data-loss", "synth",
       lambda t, s: ["synth", str(run_folder(s, t / "run")), "--scenario", str(tiny(t, lkmrs=(
           write(t / "run" / "synth_summary.json", (FOOTPRINTS / "lkmrs.csv").read_bytes()))))],
       "--out", "synth_summary.json", "overwrite"),
    # ---- misleading messages / wrong refusals that are now clear errors
    _c("compare-later-bad-scenario", "message", "compare",
       lambda t, s: ["compare", str(forecast_scenario(t)), str(write(t / "bad.toml", "[x]\n")),
                     "--realizations", "1", "--out", str(t / "o")], "bad.toml", "[x]"),
    _c("scenario-is-a-folder", "message", "run",
       lambda t, s: ["run", "--scenario", str(t)], "folder"),
    _c("catalogue-is-a-folder", "message", "reduce",
       lambda t, s: ["reduce", str(t), "--out", str(t / "o")], "a folder, not a file"),
    _c("unknown-parameter", "message", "calibrate",
       lambda t, s: ["calibrate", "--parameters", "usable_scale,usable_scale"],
       "--parameters", "usable_scale", "duplicate"),
]


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its SHA-256 (symlinks by their target text)."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if Path(root, d).is_symlink()]:
            p = Path(root, name)
            rel = str(p.relative_to(folder))
            out[rel] = ("link:" + os.readlink(p)) if p.is_symlink() else \
                hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A fresh working folder; matplotlib's cache kept in the test's cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(Path(os.environ["LKMRS_CACHE_DIR"]) / "mpl"))
    return tmp_path


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith("lkmrs-sched"), err
    assert "error:" in lines[0] and "allowed" in lines[0], err
    return lines[0]


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_is_one_line_exit_2_and_changes_nothing(case, here, sim_log, capsys):
    argv = case.build(here, sim_log)
    capsys.readouterr()
    before = _snapshot(here)
    code = cli.main(argv)  # an exception here is a traceback: the test fails
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    line = one_error_line(err)
    for text in case.expect:
        assert text in line, (text, line)
    assert _snapshot(here) == before, "files changed"


def test_corpus_covers_every_command_and_class():
    cases = [p.values[0] for p in CASES]
    assert {c.command for c in cases} == set(cli.COMMANDS)
    assert {c.kind for c in cases} == {"traceback", "silent", "security", "data-loss",
                                       "message"}


# ------------------------------------------------------------------ correct results now
def test_bom_is_accepted_in_toml_and_csv_inputs(here, capsys):
    """A UTF-8 BOM (spreadsheets write one) is read like any UTF-8 file."""
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.sim.importers import read_any_log
    from lkmrs_sched.sim.weather import read_open_intervals
    from lkmrs_sched.sky.footprints import load_plates

    lk = write(here / "lk.csv", (FOOTPRINTS / "lkmrs.csv").read_bytes(), bom=True)
    assert len(load_plates(lk)) == 20
    sc = write(here / "s.toml", scenario_text(lkmrs=lk), bom=True)
    assert load_scenario(sc).name == "tiny"
    assert cli.main(["visibility", "--scenario", str(sc), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert len(read_any_log(table2_copy(here / "t2.csv", bom=True)).pointings) == 3
    assert len(read_any_log(mrs_plan(here / "plan.csv", bom=True)).exposures) == 3
    replay = write(here / "open.csv", "start_utc,end_utc\n2018-12-20T12:00:00,"
                   "2018-12-20T20:00:00\n", bom=True)
    assert read_open_intervals(replay).shape == (1, 2)
    cat = catalogue(here / "c.csv", bom=True)
    assert cli.main(["reduce", str(cat), "--out", str(here / "r"), "--quiet",
                     "--no-figures"]) == 0
    summary = json.loads((here / "r" / "summary.json").read_text())
    assert summary["n_rows_excluded"] == 0 and summary["n_spectra"] > 0


def test_reduce_reports_impossible_values_and_min_snr_applies_everywhere(here, capsys):
    def edit(t):
        set_first_blue("rv_lasp0", 1e30)(t)
        set_first_blue("teff_lasp", float("inf"))(t)
    cat = catalogue(here / "c.csv", edit)
    assert cli.main(["reduce", str(cat), "--out", str(here / "r"), "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "rv_lasp0" in err and "teff_lasp" in err  # reported, not dropped silently
    from astropy.table import Table

    catalog = Table.read(here / "r" / "catalog.ecsv")
    assert max(abs(float(x)) for x in catalog["rv"] if x == x) < 3000
    # --min-snr above every S/N: no epoch is used, for the catalogue and the RV tests alike
    assert cli.main(["reduce", str(cat), "--out", str(here / "s"), "--no-figures", "--quiet",
                     "--min-snr", "9999"]) == 0
    summary = json.loads((here / "s" / "summary.json").read_text())
    assert summary["rv_variables"]["n_tested"] == 0


def test_synth_accepts_a_run_of_a_scenario_with_a_base(here, capsys):
    base = tiny(here, "base.toml")
    whatif = write(here / "whatif.toml", '[scenario]\nbase = "base.toml"\nname = "w"\n\n'
                   "[selector]\nstarted_plate_boost = 1.0\n")
    assert cli.main(["simulate", str(whatif), "--out", str(here / "run"), "--no-figures"]) == 0
    assert base.exists()
    assert cli.main(["synth", str(here / "run"), "--no-figures"]) == 0
    summary = json.loads((here / "run" / "synth_summary.json").read_text())
    assert summary["scenario"] == "w"


def test_scenario_name_cannot_escape_runs(here, capsys):
    sc = forecast_scenario(here, label="../../escape")
    code = cli.main(["forecast", str(sc), "--realizations", "1", "--workers", "1",
                     "--no-stars"])
    assert code == 0, capsys.readouterr().err
    made = {p.relative_to(here) for p in here.rglob("*") if p.is_file()}
    assert all(p.parts[0] in ("runs", "fc.toml") for p in made), made
    assert (here / "runs" / "forecast-escape" / "forecast.json").is_file()


def test_sqlite_path_with_uri_characters_is_read_without_stray_files(here, sim_log):
    from lkmrs_sched.sim.obslog import ObservationLog

    folder = here / "a#b?c%41 d"
    path = run_folder(sim_log, folder) / "observations.sqlite"
    before = sorted(here.rglob("*"))
    assert len(ObservationLog.read(path).exposures) > 0
    assert sorted(here.rglob("*")) == before


def test_truncated_cache_file_is_a_miss(here, capsys):
    from lkmrs_sched.core.config import default_scenario
    from lkmrs_sched.core.resources import cache_dir
    from lkmrs_sched.sky.almanac import _cache_key

    argv = ["almanac", "--start", "2018-11-20", "--end", "2018-11-22", "--json"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    start, end = dt.date(2018, 11, 20), dt.date(2018, 11, 22)
    entry = cache_dir() / f"almanac-{_cache_key(default_scenario(), start, end)}.npz"
    assert entry.is_file()
    entry.write_bytes(entry.read_bytes()[:100])  # as a crash or a full disk would leave it
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == first
    assert entry.stat().st_size > 100  # rewritten whole


# ------------------------------------------------------------------ result stores
def _reproduce(capsys, out: Path, scenario: Path, *extra: str) -> tuple[int, str]:
    code = cli.main(["reproduce-table2", "--scenario", str(scenario), "--realizations", "2",
                     "--workers", "1", "--out", str(out), *extra])
    return code, capsys.readouterr().err


def test_store_identity_covers_the_files_a_scenario_names(here, capsys):
    """Editing td_other.csv and rerunning into the same --out is a different ensemble."""
    other = write(here / "td_other.csv", (FOOTPRINTS / "td_other.csv").read_bytes())
    sc = tiny(here, other_td=other)
    code, err = _reproduce(capsys, here / "o", sc)
    assert code == 0, err
    store = here / "o" / "realizations"
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["identity"][0]["result_schema"] >= 2
    assert manifest["identity"][0]["files"]["selector.other_td_footprints"]
    before = _snapshot(here / "o")
    lines = other.read_text().splitlines()
    write(other, "\n".join([lines[0], *lines[2:]]) + "\n")  # one plate fewer
    code, err = _reproduce(capsys, here / "o", sc)
    assert code == 2
    assert "different ensemble" in one_error_line(err)
    assert _snapshot(here / "o") == before


def test_store_of_an_older_version_is_refused(here, capsys):
    sc = tiny(here)
    assert _reproduce(capsys, here / "o", sc)[0] == 0
    manifest = here / "o" / "realizations" / "manifest.json"
    old = json.loads(manifest.read_text())
    old["identity"][0]["lkmrs_sched"] = "0.0.1"
    manifest.write_text(json.dumps(old))
    code, err = _reproduce(capsys, here / "o", sc)
    assert code == 2 and "different ensemble" in one_error_line(err)


def test_stored_result_with_missing_keys_is_recomputed(here, capsys):
    sc = tiny(here)
    assert _reproduce(capsys, here / "o", sc, "--json", "a.json")[0] == 0
    result = here / "o" / "realizations" / "realization-0001.json"
    good = json.loads(result.read_text())
    result.write_text(json.dumps({k: v for k, v in good.items() if k != "nights"}))
    code, err = _reproduce(capsys, here / "o", sc, "--json", "b.json")
    assert code == 0, err
    assert json.loads(result.read_text()) == good
    assert json.loads(Path("a.json").read_text()) == json.loads(Path("b.json").read_text())


def test_failed_run_does_not_block_the_corrected_rerun(here, capsys):
    """A run that fails before storing a result leaves no claim that refuses the fix."""
    replay = write(here / "open.csv", "start_utc,end_utc\n2018-12-20T12:00:00,"
                   "2018-12-20T11:00:00\n")  # ends before it starts: found by the workers
    sc = tiny(here, weather=f'model = "replay"\nreplay_file = "{replay}"')
    code, err = _reproduce(capsys, here / "o", sc)
    assert code == 2 and "open.csv: line 2" in one_error_line(err)
    write(replay, "start_utc,end_utc\n2018-12-20T12:00:00,2018-12-20T20:00:00\n")
    code, err = _reproduce(capsys, here / "o", sc)
    assert code == 0, err


def test_bad_json_path_is_refused_before_the_ensemble_runs(here, capsys):
    code, err = _reproduce(capsys, here / "o", tiny(here), "--json",
                           str(write(here / "f.txt", "x") / "card.json"))
    assert code == 2 and "--json" in one_error_line(err)
    assert not (here / "o").exists()  # nothing ran


def test_compare_same_stems_and_every_scenario_checked_first(here, capsys):
    a = forecast_scenario(here / "a", "s.toml", label="one")
    b = forecast_scenario(here / "b", "s.toml", label="two")
    code = cli.main(["compare", str(a), str(b), "--realizations", "2", "--workers", "1",
                     "--no-stars", "--out", str(here / "cmp")])
    assert code == 0, capsys.readouterr().err
    report = json.loads((here / "cmp" / "comparison.json").read_text())
    assert report["baseline"] == "s" and set(report["differences"]) == {"s-2"}
    assert (here / "cmp" / "s-2" / "realizations" / "manifest.json").is_file()


def test_two_processes_claiming_one_folder_exactly_one_wins(here):
    sc = tiny(here)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [subprocess.Popen([sys.executable, "-m", "lkmrs_sched", "reproduce-table2",
                               "--scenario", str(sc), "--realizations", "2", "--workers", "1",
                               "--seed", str(seed), "--out", str(here / "o")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=env) for seed in (1, 2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "in use by another run" in loser or "different ensemble" in loser, loser
    one_error_line(loser)
    winner = 1 + [code for code, _ in results].index(0)
    manifest = json.loads((here / "o" / "realizations" / "manifest.json").read_text())
    assert manifest["seed"] == winner
    assert len(list((here / "o" / "realizations").glob("realization-*.json"))) == 2


def test_no_command_writes_outside_out_and_the_cache(tmp_path):
    """A run with figures in a clean home: only --out and the cache folder get files."""
    home, work, cache = tmp_path / "home", tmp_path / "work", tmp_path / "cache"
    for d in (home, work):
        d.mkdir()
    sc = tiny(work)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env.update(HOME=str(home), LKMRS_CACHE_DIR=str(cache))
    done = subprocess.run([sys.executable, "-m", "lkmrs_sched", "simulate", str(sc), "--out",
                           str(work / "out")], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list((work / "out").glob("*.png"))
    assert not list(home.rglob("*")), list(home.rglob("*"))
    assert {p.name for p in work.iterdir()} == {"tiny.toml", "out"}
    assert (cache / "matplotlib").is_dir()


def test_tiny_calibration_reports_what_it_did():
    """10 draws with --accept 0.01 keep 6 (the minimum), too few for the regression."""
    import numpy as np

    from lkmrs_sched.ensembles.calibrate import Calibration

    est = {"usable_scale": {k: 0.5 for k in ("median", "mean", "std", "p16", "p84")}}
    cal = Calibration(["usable_scale"], est, np.zeros((6, 1)), np.ones(6), 10, 0.01)
    text = cal.format()
    assert "closest 6 kept (60%" in text and "plain rejection" in text
    assert "1 % kept" not in text and "regression adjustment" not in text
    big = Calibration(["usable_scale"], est, np.zeros((150, 1)), np.ones(150), 1500, 0.1)
    assert "closest 150 kept (10%" in big.format() and "regression adjustment" in big.format()
