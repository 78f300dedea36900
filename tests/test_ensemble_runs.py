"""Year-1 ensembles: the Table 2 scorecard, worker-count independence and resumption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lkmrs_sched.cli import main


def run(tmp_path, capsys, *args: str) -> dict:
    path = tmp_path / f"card-{len(list(tmp_path.iterdir()))}.json"
    code = main(["reproduce-table2", *args, "--json", str(path)])
    assert code == 0, capsys.readouterr().err
    return json.loads(path.read_text())


def test_scorecard_is_the_same_for_one_and_two_workers(tmp_path, capsys):
    one = run(tmp_path, capsys, "--realizations", "6", "--seed", "9", "--workers", "1",
              "--out", str(tmp_path / "w1"))
    two = run(tmp_path, capsys, "--realizations", "6", "--seed", "9", "--workers", "2",
              "--out", str(tmp_path / "w2"))
    assert one["statistics"] == two["statistics"]
    card = one["statistics"]
    observed = {k: v["observed"] for k, v in card.items()}
    assert observed["nights"] == 40 and observed["pointings"] == 44
    assert observed["exposures"] == 222 and observed["plates_visited"] == 13
    assert observed["max_exposures_per_plate"] == 44
    for v in card.values():
        assert set(v) == {"observed", "median", "p05", "p95", "percentile", "within"}
        assert v["p05"] <= v["median"] <= v["p95"]
        assert v["within"] == (v["p05"] <= v["observed"] <= v["p95"])
    other = run(tmp_path, capsys, "--realizations", "6", "--seed", "10", "--workers", "2",
                "--out", str(tmp_path / "w3"))
    assert other["statistics"] != one["statistics"]  # the seed matters


def test_killed_ensemble_restarts_to_the_same_result(tmp_path):
    args = [sys.executable, "-m", "lkmrs_sched", "reproduce-table2", "--realizations", "30",
            "--seed", "5", "--workers", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ref = subprocess.run([*args, "--out", str(tmp_path / "ref"), "--json",
                          str(tmp_path / "ref.json")], env=env, capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    store = tmp_path / "run" / "realizations"
    proc = subprocess.Popen([*args, "--out", str(tmp_path / "run")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while len(list(store.glob("realization-*.json"))) < 5:
        assert proc.poll() is None, "finished before it could be interrupted"
        assert time.monotonic() - t0 < 120
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in store.glob("realization-*.json")}
    assert 5 <= len(done) < 30
    again = subprocess.run([*args, "--out", str(tmp_path / "run"), "--json",
                            str(tmp_path / "again.json")], env=env, capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr
    assert {p: p.stat().st_mtime_ns for p in done} == done  # not recomputed
    assert json.loads((tmp_path / "again.json").read_text()) == \
        json.loads((tmp_path / "ref.json").read_text())


def test_a_store_of_another_ensemble_is_refused(tmp_path, capsys):
    run(tmp_path, capsys, "--realizations", "2", "--seed", "1", "--workers", "1",
        "--out", str(tmp_path / "x"))
    code = main(["reproduce-table2", "--realizations", "2", "--seed", "2", "--workers", "1",
                 "--out", str(tmp_path / "x")])
    assert code == 2
    assert "different ensemble" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--realizations", "0"], ["--workers", "0"]])
def test_bad_counts_exit_2(option, capsys):
    assert main(["reproduce-table2", *option]) == 2
    assert option[0] in capsys.readouterr().err
