"""Ensembles on a real Dask cluster (issue #13): a scheduler and a worker started as their
own processes in another folder; results travel back and the client writes every file,
identical to a local run; bad scheduler addresses end with exit 2 and one line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lkmrs_sched.cli import main
from lkmrs_sched.core.resources import SCENARIOS
from lkmrs_sched.ensembles import ensemble

DASK = str(Path(sys.executable).parent / "dask")


def _start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "LKMRS_CACHE_DIR": str(cwd / "cache"), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=log.open("w"), start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``dask scheduler`` and ``dask worker`` in a folder of their own; yields the address."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("cluster")
    info = folder / "scheduler.json"
    procs = [_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(info)], folder,
                    folder / "scheduler.log")]
    try:
        t0 = time.monotonic()
        while not info.exists() or not info.read_text().strip():
            assert time.monotonic() - t0 < 60, (folder / "scheduler.log").read_text()
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        procs.append(_start([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1",
                             "--no-dashboard", "--local-directory", str(folder / "work")],
                            folder, folder / "worker.log"))
        with Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
        yield address, folder
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _files(folder: Path) -> dict[str, Path]:
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def _sqlite_content(path: Path) -> dict[str, list]:
    """Every table's rows (the provenance's creation time left out)."""
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master ORDER BY name")]
        out = {n: con.execute(f"SELECT * FROM {n}").fetchall() for n in names
               if not n.startswith("sqlite_") and n != "exposures_plate"}
    finally:
        con.close()
    out["info"] = [r for r in out["info"] if r[0] != "created_utc"]
    return out


def _assert_same_folders(a: Path, b: Path) -> None:
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    for name, pa in fa.items():
        pb = fb[name]
        if name.endswith(".sqlite"):
            assert _sqlite_content(pa) == _sqlite_content(pb), name
        elif name.endswith(".npz"):  # a zip: member times differ, arrays may not
            with np.load(pa) as x, np.load(pb) as y:
                assert sorted(x.files) == sorted(y.files), name
                for f in x.files:
                    np.testing.assert_array_equal(x[f], y[f], err_msg=f"{name}:{f}")
        else:
            assert pa.read_bytes() == pb.read_bytes(), name


def test_forecast_on_a_separate_cluster_writes_every_file_in_the_clients_folder(
        cluster, tmp_path, monkeypatch, capsys):
    """Relative scenario and --out: the files land in the client's folder, not the
    worker's, and equal those of a local run (JSON and figures byte for byte, logs row for
    row, per-star arrays value for value)."""
    address, cluster_folder = cluster
    client_folder = tmp_path / "client"
    client_folder.mkdir()
    monkeypatch.chdir(client_folder)
    Path("short.toml").write_text(f'[scenario]\nbase = "{SCENARIOS / "forecast-2019.toml"}"\n'
                                  'name = "short"\nend = "2019-10-31"\n', encoding="utf-8")
    common = ["forecast", "short.toml", "--realizations", "3", "--seed", "7"]
    assert main([*common, "--dask", address, "--out", "out-dask"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert main([*common, "--workers", "1", "--out", "out-local"]) == 0
    capsys.readouterr()
    dask_files = _files(client_folder / "out-dask")
    assert "logs/realization-0002.sqlite" in dask_files
    assert "stars/realization-0002.npz" in dask_files and "stars.ecsv" in dask_files
    assert "out-dask" in printed and Path("out-dask/forecast.json").exists()
    _assert_same_folders(client_folder / "out-dask", client_folder / "out-local")
    # the worker wrote nothing of its own
    assert not list(cluster_folder.rglob("out-dask")) and not list(cluster_folder.rglob("*.sqlite"))


def test_reproduce_and_calibrate_take_dask(cluster, tmp_path, capsys):
    address, _ = cluster
    for name, args in (("reproduce", ["reproduce-table2", "--realizations", "3"]),
                       ("calibrate", ["calibrate", "--draws", "12", "--parameters",
                                      "usable_scale"])):
        outs = {}
        for backend in (["--dask", address], ["--workers", "1"]):
            out = tmp_path / name / backend[0].strip("-")
            assert main([*args, *backend, "--out", str(out)]) == 0, capsys.readouterr().err
            outs[backend[0]] = out
        capsys.readouterr()
        result = "scorecard.json" if name == "reproduce" else "calibration.json"
        assert (outs["--dask"] / result).read_bytes() == (outs["--workers"] / result).read_bytes()


@pytest.mark.parametrize(("address", "problem"), [
    ("tcp://127.0.0.1:1", "cannot connect"),
    ("not an address", "malformed address"),
    ("foo://host:1", "malformed address"),
    ("tcp://127.0.0.1:notaport", "malformed address"),
])
def test_bad_scheduler_address_exits_2_with_one_line(address, problem, monkeypatch, capsys,
                                                     tmp_path):
    monkeypatch.setattr(ensemble, "DASK_CONNECT_TIMEOUT_S", 2.0)
    t0 = time.monotonic()
    code = main(["reproduce-table2", "--realizations", "2", "--dask", address,
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "--dask" in err and problem in err and "Traceback" not in err
    assert time.monotonic() - t0 < 30
