"""Forecasts: identical on every backend, resumable, invariant-respecting; what-if comparison."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lkmrs_sched.cli import main
from lkmrs_sched.config import PROJECT_ROOT, load_scenario
from lkmrs_sched.forecast import run_forecast
from lkmrs_sched.obslog import ObservationLog, import_table2
from lkmrs_sched.simulator import Simulation, prepared, streams

SCENARIOS = PROJECT_ROOT / "scenarios"


def short(tmp: Path, base: str, end: str, name: str = "short") -> Path:
    """A scenario inheriting from ``scenarios/<base>`` that ends early."""
    path = tmp / f"{name}.toml"
    path.write_text(f'[scenario]\nbase = "{SCENARIOS / base}"\nname = "{name}"\nend = "{end}"\n')
    return path


@pytest.fixture(scope="module")
def log() -> ObservationLog:
    return import_table2()


@pytest.fixture(scope="module")
def half_year(tmp_path_factory) -> Path:
    return short(tmp_path_factory.mktemp("scn"), "forecast-2019.toml", "2019-12-31")


def test_same_forecast_on_one_worker_two_workers_and_dask(half_year, log, tmp_path):
    from distributed import Client, LocalCluster

    scenario = load_scenario(half_year)
    one = run_forecast(scenario, log, 4, 11, out=tmp_path / "w1", workers=1, progress=False)
    two = run_forecast(scenario, log, 4, 11, out=tmp_path / "w2", workers=2, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dask = run_forecast(scenario, log, 4, 11, out=tmp_path / "dask", dask_address=client,
                            progress=False)
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert json.dumps(one, sort_keys=True) == json.dumps(dask, sort_keys=True)
    # per-star outcomes were part of it, and realizations differ from one another
    assert one["totals"]["stars_ge_10_good_epochs"]["median"] > 0
    news = [json.loads(p.read_text())["totals"]["lkmrs_exposures_new"]
            for p in sorted((tmp_path / "w1" / "realizations").glob("realization-*.json"))]
    assert len(news) == 4 and len(set(news)) > 1


def test_forecast_invariants(half_year, log, tmp_path):
    scenario = load_scenario(half_year)
    summary = run_forecast(scenario, log, 3, 5, out=tmp_path, workers=2, stars=False,
                           progress=False)
    observed = log.exposures_per_plate()
    months = np.array(summary["plates"]["K2b3"]["cumulative"]["months"], dtype="datetime64[D]")
    first_forecast_month = np.datetime64("2019-06-30")
    e = log.exposures
    for name, p in summary["plates"].items():
        c = p["cumulative"]
        for key in ("median", "p05", "p95"):
            assert np.all(np.diff(c[key]) >= 0), (name, key)  # cumulative never decreases
        # up to the start of the forecast the counts are exactly the observed ones
        mine = np.sort(np.array(e["night"][e["plate_name"] == name], dtype="datetime64[D]"))
        before = months < first_forecast_month
        expected = np.searchsorted(mine, months[before], side="right")
        np.testing.assert_array_equal(np.array(c["median"])[before], expected)
        assert p["observed_exposures"] == observed.get(name, 0)
        assert p["exposures"]["p05"] >= observed.get(name, 0)
        assert p["exposures"]["p95"] <= max(60, observed.get(name, 0))  # goal: 60 per plate
    import datetime as dt

    _, plates, windows = prepared(load_scenario(half_year).replace(start=dt.date(2019, 6, 15)))
    never = {str(n) for n, h in zip(plates.plate_name, windows.hours.sum(axis=1), strict=True)
             if h == 0}
    logs = sorted((tmp_path / "logs").glob("realization-*.sqlite"))
    assert len(logs) == 3
    for path in logs:
        sim = ObservationLog.read(path)
        nights = np.asarray(sim.exposures["night"], dtype="datetime64[D]")
        assert nights.min() >= np.datetime64("2019-06-15")
        assert nights.max() <= np.datetime64("2019-12-31")
        assert not set(np.asarray(sim.exposures["plate_name"], dtype=str)) & never
        assert sim.info["kind"] == "simulated"


def _cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "lkmrs_sched", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_after(proc: subprocess.Popen, folder: Path, n_done: int, timeout: float = 120) -> None:
    """SIGKILL ``proc`` once ``folder`` holds ``n_done`` realization results."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if len(list(folder.glob("realization-*.json"))) >= n_done:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        if proc.poll() is not None:
            pytest.fail(f"finished before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no realization finished in time")


def test_killed_forecast_resumes_to_the_same_result(tmp_path):
    scn = short(tmp_path, "forecast-2019.toml", "2020-12-31")
    args = ["forecast", str(scn), "--realizations", "8", "--workers", "1", "--seed", "3",
            "--no-stars"]
    ref = _cli(*args, "--out", str(tmp_path / "ref"))
    assert ref.wait() == 0, ref.stderr.read()
    out = tmp_path / "run"
    kill_after(_cli(*args, "--out", str(out)), out / "realizations", 3)
    done = {p: p.stat().st_mtime_ns for p in (out / "realizations").glob("realization-*.json")}
    assert 3 <= len(done) < 8 and not (out / "forecast.json").exists()
    again = _cli(*args, "--out", str(out))
    assert again.wait() == 0, again.stderr.read()
    assert {p: p.stat().st_mtime_ns for p in done} == done  # finished ones were not redone
    assert json.loads((out / "forecast.json").read_text()) == \
        json.loads((tmp_path / "ref" / "forecast.json").read_text())


def test_lkmrs_at_40_percent_gives_more_exposures_paired(tmp_path, capsys):
    base = short(tmp_path, "forecast-2019.toml", "2020-06-30", "base")
    more = short(tmp_path, "whatif-lkmrs40.toml", "2020-06-30", "lkmrs40")
    code = main(["compare", str(base), str(more), "--realizations", "8", "--seed", "4",
                 "--no-stars", "--workers", "2", "--out", str(tmp_path / "cmp")])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    d = report["differences"]["lkmrs40"]["lkmrs_exposures_new"]
    assert d["ci95_lo"] > 0 and d["mean"] > 0
    # Common random numbers: realization k of both scenarios has the same weather.
    s_base, s_more = load_scenario(base), load_scenario(more)
    from lkmrs_sched.ensemble import realization_seed

    for k in (0, 5):
        w0 = Simulation(s_base, realization_seed(4, k)).weather.intervals
        w1 = Simulation(s_more, realization_seed(4, k)).weather.intervals
        np.testing.assert_array_equal(w0, w1)
    assert streams(realization_seed(4, 0))["weather"].random() != \
        streams(realization_seed(4, 1))["weather"].random()


def test_main_job_writes_forecast_and_figures(tmp_path, capsys):
    out = tmp_path / "main"
    assert main(["run", "--realizations", "2", "--workers", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Forecast baseline" in text and "K2d4" in text
    summary = json.loads((out / "forecast.json").read_text())
    assert summary["end"] == "2023-06-30" and summary["realizations"] == 2
    assert set(summary["plates"]) == {f"K{k}" for k in
                                      ("1a1", "1a2", "1a3", "1a4")} | {
        f"K2{g}{i}" for g in "bcde" for i in range(1, 5)}
    for name in ("fan_chart.png", "goal_chances.png", "sky_map.png", "epochs_per_star.png",
                 "stars.ecsv"):
        assert (out / name).stat().st_size > 1000, name
    assert len(list((out / "logs").glob("realization-*.sqlite"))) == 2


def test_forecast_bad_input_exits_2(tmp_path, capsys):
    scn = short(tmp_path, "forecast-2019.toml", "2019-12-31")
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
