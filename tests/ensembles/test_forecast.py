"""Forecasts (issue 7): the same answer on every backend and after an interruption; the
physical invariants of every realization; a what-if comparison with common random
numbers; the main job's outputs.

Short scenarios inherit from the shipped ones and end early (a few months to a year).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from helpers import wait_for_results

from lkmrs_sched.cli import main
from lkmrs_sched.core.config import load_scenario
from lkmrs_sched.core.resources import SCENARIOS
from lkmrs_sched.ensembles.ensemble import realization_seed
from lkmrs_sched.ensembles.forecast import month_grid, run_forecast, start_after
from lkmrs_sched.sim.importers import import_table2
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sim.policy import LKMRS
from lkmrs_sched.sim.simulator import Simulation
from lkmrs_sched.sim.sky import prepared_sky

LKMRS_PLATES = {f"K1a{i}" for i in range(1, 5)} | {f"K2{g}{i}" for g in "bcde"
                                                    for i in range(1, 5)}
PNG = b"\x89PNG\r\n\x1a\n"


def short(folder: Path, base: str, end: str, name: str) -> Path:
    """A scenario file inheriting from ``scenarios/<base>`` that ends on ``end``."""
    path = folder / f"{name}.toml"
    path.write_text(f'[scenario]\nbase = "{SCENARIOS / base}"\nname = "{name}"\n'
                    f'end = "{end}"\n', encoding="utf-8")
    return path


def canonical(obj) -> str:
    """JSON text with sorted keys (NaN-safe equality of two summaries)."""
    return json.dumps(obj, sort_keys=True)


def same_tables(a: Table, b: Table) -> None:
    assert a.colnames == b.colnames
    for c in a.colnames:
        x, y = np.asarray(a[c]), np.asarray(b[c])
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=c)  # NaNs in the same places
        else:
            assert (x == y).all(), c


@pytest.fixture(scope="module")
def table2() -> ObservationLog:
    return import_table2()


@pytest.fixture(scope="module")
def half_year(tmp_path_factory) -> Path:
    """The baseline from Table 2's end (2019-06-15) to 2019-12-31."""
    return short(tmp_path_factory.mktemp("scenarios"), "forecast-2019.toml", "2019-12-31",
                 "half-year")


# ---------------------------------------------------------------------------- backends
def test_forecast_is_identical_on_one_worker_two_workers_and_dask(half_year, table2,
                                                                  tmp_path, capsys):
    from distributed import Client, LocalCluster

    scenario = load_scenario(half_year)
    kw = {"stars": True, "progress": False}
    one = run_forecast(scenario, table2, 4, 11, out=tmp_path / "w1", workers=1, **kw).to_dict()
    two = run_forecast(scenario, table2, 4, 11, out=tmp_path / "w2", workers=2, **kw).to_dict()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dask = run_forecast(scenario, table2, 4, 11, out=tmp_path / "dask",
                            dask_address=client, **kw).to_dict()
        # the command line, given the scheduler's address
        code = main(["forecast", str(half_year), "--realizations", "4", "--seed", "11",
                     "--dask", cluster.scheduler_address, "--out", str(tmp_path / "cli")])
        assert code == 0, capsys.readouterr().err
    assert canonical(one) == canonical(two)
    assert canonical(one) == canonical(dask)
    assert canonical(json.loads((tmp_path / "cli" / "forecast.json").read_text())) == \
        canonical(one)

    # per-star outcomes were part of it, and the realizations differ from one another
    assert one["realizations"] == 4 and one["totals"]["stars_ge_10_good_epochs"]["median"] > 0
    assert "completeness_vs_period" in one
    folders = [tmp_path / f for f in ("w1", "w2", "dask", "cli")]
    results = [json.loads((tmp_path / "w1" / "realizations" / f"realization-{k:04d}.json")
                          .read_text()) for k in range(4)]
    assert len({r["totals"]["lkmrs_exposures_new"] for r in results}) > 1
    # every realization's stored result, star arrays and log are the same on every backend
    for k in range(4):
        name = f"realization-{k:04d}"
        ref = (folders[0] / "realizations" / f"{name}.json").read_text()
        logs = [ObservationLog.read(f / "logs" / f"{name}.sqlite") for f in folders]
        for f, log in zip(folders[1:], logs[1:], strict=True):
            assert (f / "realizations" / f"{name}.json").read_text() == ref, (f.name, k)
            assert log.content_digest() == logs[0].content_digest(), (f.name, k)
            with np.load(folders[0] / "stars" / f"{name}.npz") as a, \
                    np.load(f / "stars" / f"{name}.npz") as b:
                assert sorted(a.files) == sorted(b.files)
                for field in a.files:
                    np.testing.assert_array_equal(a[field], b[field], err_msg=field)
    assert (tmp_path / "cli" / "stars.ecsv").exists()


# -------------------------------------------------------------------------- resumption
def _job(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # keeps this session's LKMRS_CACHE_DIR
    return subprocess.Popen([sys.executable, "-m", "lkmrs_sched", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _kill_job_after(proc: subprocess.Popen, store: Path, n_done: int,
                    timeout: float = 120.0) -> None:
    """kill -9 the whole job once ``store`` holds ``n_done`` realization results."""
    try:
        wait_for_results(proc, store, n_done, timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)


def test_killed_forecast_resumes_to_the_same_result(half_year, tmp_path, capsys):
    args = ["forecast", str(half_year), "--realizations", "8", "--seed", "3",
            "--workers", "1"]  # per-star outcomes on
    assert main([*args, "--out", str(tmp_path / "ref")]) == 0, capsys.readouterr().err

    out = tmp_path / "run"
    proc = _job(*args, "--out", str(out))
    _kill_job_after(proc, out / "realizations", 3)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "forecast.json").exists()
    names = [p.stem for p in sorted((out / "realizations").glob("realization-*.json"))]
    assert 3 <= len(names) < 8
    done = {p: p.stat().st_mtime_ns for n in names
            for p in (out / "realizations" / f"{n}.json", out / "logs" / f"{n}.sqlite",
                      out / "stars" / f"{n}.npz")}

    again = subprocess.run([sys.executable, "-m", "lkmrs_sched", *args, "--out", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    # the finished realizations (result, log, star arrays) were not recomputed
    assert {p: p.stat().st_mtime_ns for p in done} == done
    assert canonical(json.loads((out / "forecast.json").read_text())) == \
        canonical(json.loads((tmp_path / "ref" / "forecast.json").read_text()))
    same_tables(Table.read(out / "stars.ecsv"), Table.read(tmp_path / "ref" / "stars.ecsv"))
    for k in range(8):
        a = ObservationLog.read(out / "logs" / f"realization-{k:04d}.sqlite")
        b = ObservationLog.read(tmp_path / "ref" / "logs" / f"realization-{k:04d}.sqlite")
        assert a.content_digest() == b.content_digest(), k


# --------------------------------------------------------------------------- invariants
def test_every_realization_respects_the_invariants(table2, table2_rows, tmp_path):
    path = short(tmp_path, "forecast-2019.toml", "2020-06-30", "one-year")
    scenario = load_scenario(path)
    n = 3
    result = run_forecast(scenario, table2, n, 5, out=tmp_path / "f", workers=2, stars=False,
                          progress=False)
    summary = result.to_dict()
    table = result.to_table()  # the typed result's per-plate table agrees with the summary
    assert len(table) == len(summary["plates"])
    for row in table:
        assert row["exposures_median"] == summary["plates"][row["plate"]]["exposures"]["median"]
    start, end = dt.date(2019, 6, 15), dt.date(2020, 6, 30)
    assert (summary["start"], summary["end"]) == (start.isoformat(), end.isoformat())
    goal = scenario.selector.goal_exposures

    # Table 2 itself (the CSV, not the importer): exposures per plate by each month's end
    observed: dict[str, int] = {}
    first = min(r["night"] for r in table2_rows)  # the grid starts with the log's first month
    months = np.array(month_grid(first, end), dtype="datetime64[D]")
    observed_cum = {name: np.zeros(len(months), dtype=int) for name in LKMRS_PLATES}
    for r in table2_rows:
        observed[r["plate_name"]] = observed.get(r["plate_name"], 0) + r["n_exposures"]
        observed_cum[r["plate_name"]] += r["n_exposures"] * (months >= np.datetime64(r["night"]))
    before = months < np.datetime64(start)  # month ends before the forecast begins
    assert before.sum() == 8  # October 2018 .. May 2019

    assert set(summary["plates"]) == LKMRS_PLATES
    for name, p in summary["plates"].items():
        c = p["cumulative"]
        assert c["months"] == [str(m) for m in months]
        for key in ("median", "p05", "p95"):
            assert np.all(np.diff(c[key]) >= 0), (name, key)  # never decreases
            # at the start every plate has exactly its observed exposures, in every quantile
            np.testing.assert_array_equal(np.array(c[key])[before], observed_cum[name][before],
                                          err_msg=f"{name} {key}")
        assert np.all(np.array(c["p05"]) <= np.array(c["median"]))
        assert np.all(np.array(c["median"]) <= np.array(c["p95"]))
        assert p["observed_exposures"] == observed.get(name, 0)

    # the sky of the simulated period, as the simulator saw it
    sky = prepared_sky(start_after(scenario, table2))
    alm, plates, windows = sky.almanac, sky.plates, sky.windows
    night_index = {str(d): i for i, d in enumerate(alm.night)}
    assert min(night_index) == start.isoformat() and max(night_index) == end.isoformat()
    plate_index = {str(nm): i for i, (nm, pr) in enumerate(zip(plates.plate_name,
                                                               plates.project, strict=True))
                   if pr == LKMRS}
    never = {nm for nm, i in plate_index.items() if windows.hours[i].sum() == 0}
    max_per_pointing = scenario.observing.max_exposures_per_pointing

    logs = sorted((tmp_path / "f" / "logs").glob("realization-*.sqlite"))
    assert [p.name for p in logs] == [f"realization-{k:04d}.sqlite" for k in range(n)]
    td_hours: list[dict[str, float]] = []
    for k, path in enumerate(logs):
        result = json.loads((tmp_path / "f" / "realizations" / f"realization-{k:04d}.json")
                            .read_text())
        log = ObservationLog.read(path)
        assert log.info["kind"] == "simulated"
        td_hours.append(check_realised_shares(log, result["shares"]))
        e = log.exposures[log.exposures["project"] == LKMRS]
        assert len(e) == result["totals"]["lkmrs_exposures_new"] > 0
        nights = np.asarray(e["night"], dtype=str)
        # inside the simulated period, on MRS nights outside the summer shutdown
        assert min(nights) >= start.isoformat() and max(nights) <= end.isoformat()
        idx = np.array([night_index[s] for s in nights])
        # MRS lunar days, or an edge night within the tolerance (the schedule draws them)
        tol = scenario.night.lunar_day_tolerance
        lo, hi = scenario.night.mrs_lunar_days
        assert np.all((alm.lunar_day[idx] >= lo - tol) & (alm.lunar_day[idx] <= hi + tol))
        assert not alm.shutdown[idx].any()
        names = np.asarray(e["plate_name"], dtype=str)
        assert not set(names) & never  # no plate without any window in the period
        # ... and each exposure inside its plate's window of that night
        pidx = np.array([plate_index[s] for s in names])
        t0 = np.asarray(e["start_mjd"], dtype=float)
        t1 = t0 + np.asarray(e["exptime_s"], dtype=float) / 86400.0
        tol = 1.0 / 86400.0
        assert np.all(t0 >= windows.exp_start[pidx, idx] - tol), k
        assert np.all(t1 <= windows.exp_end[pidx, idx] + tol), k
        p = log.pointings[log.pointings["project"] == LKMRS]
        assert np.asarray(p["n_exposures"]).max() <= max_per_pointing

        new = {nm: int((names == nm).sum()) for nm in set(names)}
        for name, r in result["plates"].items():
            # the combined count = observed + this realization's log, never below observed
            assert r["exposures"] == observed.get(name, 0) + new.get(name, 0), (k, name)
            assert r["exposures"] >= observed.get(name, 0)
            assert r["exposures"] <= max(goal, observed.get(name, 0))  # stops at the goal
            cum = np.array(r["cumulative"])
            assert np.all(np.diff(cum) >= 0) and cum[-1] == r["exposures"], (k, name)
            np.testing.assert_array_equal(cum[before], observed_cum[name][before])
            # the realization's curve is the log's: observed + simulated nights by month end
            mine = np.sort(nights[names == name]).astype("datetime64[D]")
            expected = observed_cum[name] + np.searchsorted(mine, months, side="right")
            np.testing.assert_array_equal(cum, expected, err_msg=f"{k} {name}")
            assert (r["goal_date"] is not None) == (r["exposures"] >= goal)
    check_share_summary(summary["shares"], td_hours, scenario)


def check_realised_shares(log: ObservationLog, shares: dict) -> dict[str, float]:
    """A realization's shares are its log's ledger hours (overhead + exposures +
    read-outs) per project, counted here from the ledger; its TD hours per project."""
    led = log.ledger
    hours = {str(p): float(sum(led["science_h"][m] + led["overhead_h"][m] + led["readout_h"][m]))
             for p in set(np.asarray(led["project"], dtype=str))
             for m in [np.asarray(led["project"], dtype=str) == p]}
    td = {p: h for p, h in hours.items() if p != "NT"}
    assert set(td) == {LKMRS, "TD-B", "TD-C", "TD-D"}  # every TD project used time
    assert shares["td_hours"] == pytest.approx(sum(td.values()))
    assert shares["nt_share_of_mrs_hours"] == pytest.approx(
        hours["NT"] / (hours["NT"] + sum(td.values())))
    assert shares["td_hour_shares"] == pytest.approx({p: h / sum(td.values())
                                                      for p, h in td.items()})
    assert sum(shares["td_hour_shares"].values()) == pytest.approx(1.0)
    assert shares["lkmrs_share_of_td_hours"] == shares["td_hour_shares"][LKMRS]
    return td


def check_share_summary(summary: dict, td_hours: list[dict[str, float]], scenario) -> None:
    """The forecast's per-project shares: median and 5-95 % over the realizations, pooled
    over all their TD hours, and the allocated share beside them."""
    per = summary["td_hour_shares"]
    assert list(per) == [LKMRS, "TD-B", "TD-C", "TD-D"]
    for p, row in per.items():
        x = [h[p] / sum(h.values()) for h in td_hours]
        assert row["median"] == pytest.approx(np.median(x))
        assert row["p05"] == pytest.approx(np.percentile(x, 5))
        assert row["pooled"] == pytest.approx(sum(h[p] for h in td_hours)
                                              / sum(sum(h.values()) for h in td_hours))
    assert per[LKMRS]["allocated"] == pytest.approx(scenario.selector.lkmrs_share)
    assert per["TD-B"]["allocated"] == pytest.approx((1 - scenario.selector.lkmrs_share) / 3)
    assert summary["nt_share_of_mrs_hours"]["allocated"] == pytest.approx(
        scenario.selector.nt_share)


# ------------------------------------------------------------------------------ compare
def test_lkmrs_at_40_percent_gives_more_exposures_with_common_weather(tmp_path, capsys):
    base = short(tmp_path, "forecast-2019.toml", "2020-06-30", "baseline-short")
    more = short(tmp_path, "whatif-lkmrs40.toml", "2020-06-30", "lkmrs40-short")
    code = main(["compare", str(base), str(more), "--realizations", "8", "--seed", "4",
                 "--no-stars", "--workers", "2", "--out", str(tmp_path / "cmp"),
                 "--json", str(tmp_path / "cmp.json")])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "cmp.json").read_text())
    assert report == json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert report["baseline"] == "baseline-short" and report["realizations"] == 8
    d = report["differences"]["lkmrs40-short"]["lkmrs_exposures_new"]
    assert d["ci95_lo"] > 0
    assert d["ci95_lo"] <= d["mean"] <= d["ci95_hi"]

    # the differences are paired realization by realization
    def new(name: str) -> np.ndarray:
        return np.array([json.loads((tmp_path / "cmp" / name / "realizations" /
                                     f"realization-{k:04d}.json").read_text())
                         ["totals"]["lkmrs_exposures_new"] for k in range(8)])

    diff = new("lkmrs40-short") - new("baseline-short")
    assert d["mean"] == pytest.approx(diff.mean())
    assert d["share_positive"] == pytest.approx(np.mean(diff > 0))
    assert report["totals"]["lkmrs40-short"]["lkmrs_exposures_new"]["median"] > \
        report["totals"]["baseline-short"]["lkmrs_exposures_new"]["median"]

    # common random numbers: realization k of both scenarios has the same weather
    s0, s1 = load_scenario(base), load_scenario(more)
    assert s0.selector.lkmrs_share == 0.3 and s1.selector.lkmrs_share == 0.4
    weather = {}
    for k in (0, 1, 7):
        w0 = Simulation(s0, realization_seed(4, k)).weather.intervals
        w1 = Simulation(s1, realization_seed(4, k)).weather.intervals
        np.testing.assert_array_equal(w0, w1)
        weather[k] = w0
    assert not np.array_equal(weather[0], weather[1])  # but not across realizations


# ----------------------------------------------------------------------------- main job
def test_main_job_writes_the_forecast_and_figures(tmp_path, capsys):
    out = tmp_path / "main"
    t0 = time.perf_counter()
    code = main(["run", "--realizations", "2", "--workers", "2", "--out", str(out)])
    elapsed = time.perf_counter() - t0
    text, err = capsys.readouterr()
    assert code == 0, err
    assert "Forecast baseline" in text
    summary = json.loads((out / "forecast.json").read_text())
    assert (summary["start"], summary["end"]) == ("2019-06-15", "2023-06-30")
    assert summary["realizations"] == 2 and set(summary["plates"]) == LKMRS_PLATES
    assert summary["totals"]["stars_ge_10_good_epochs"]["median"] > 0
    figures = ("fan_chart.png", "exposures_forecast.png", "goal_chances.png", "goal_dates.png",
               "sky_map.png", "footprints.png", "season_calendar.png", "hours_per_month.png",
               "epochs_per_star.png", "completeness_vs_period.png")
    for name in figures:
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, name
    # the run ends by naming its report, which embeds every figure
    assert text.strip().splitlines()[-1] == f"Report: {out / 'report.html'}"
    assert (out / "report.html").read_text().count("data:image/png;base64,") == len(figures)
    stars = Table.read(out / "stars.ecsv")
    assert len(stars) > 1000 and set(np.unique(stars["plate"])) <= LKMRS_PLATES
    for k in range(2):
        log = ObservationLog.read(out / "logs" / f"realization-{k:04d}.sqlite")
        assert max(np.asarray(log.exposures["night"], dtype=str)) <= "2023-06-30"
    print(f"main job, 2 realizations with stars: {elapsed:.1f} s")


def test_forecast_bad_input_exits_2(tmp_path, capsys):
    scn = short(tmp_path, "forecast-2019.toml", "2019-12-31", "s")
    assert main(["forecast", str(scn), "--realizations", "0"]) == 2
    assert "--realizations" in capsys.readouterr().err
    early = short(tmp_path, "forecast-2019.toml", "2019-06-01", "early")
    assert main(["forecast", str(early), "--realizations", "1"]) == 2  # end before start
    assert "end before start" in capsys.readouterr().err
    inside = tmp_path / "inside.toml"  # valid, but it ends within the observed log
    inside.write_text(f'[scenario]\nbase = "{SCENARIOS / "forecast-2019.toml"}"\n'
                      'start = "2019-01-01"\nend = "2019-06-10"\n')
    assert main(["forecast", str(inside), "--realizations", "1", "--out",
                 str(tmp_path / "x")]) == 2
    assert "nothing left to forecast" in capsys.readouterr().err
