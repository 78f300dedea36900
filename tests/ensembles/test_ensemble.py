"""Year-1 ensembles (issue 4): ``reproduce-table2`` is worker-independent, an interrupted
ensemble resumes to the same answer without redoing finished realizations, and a result
store made by another ensemble is refused."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import wait_for_results

from lkmrs_sched.cli import main
from lkmrs_sched.core.config import load_scenario
from lkmrs_sched.core.resources import SCENARIOS
from lkmrs_sched.ensembles.ensemble import percentile_summary, realization_seed
from lkmrs_sched.sim.logstats import HEADLINE, reported_shares, statistics
from lkmrs_sched.sim.simulator import Simulation
from lkmrs_sched.sim.sky import prepared_sky

YEAR1 = SCENARIOS / "year1-2018.toml"
#: Table 2 of Zong et al. (2020): the first LK-MRS year as it was observed.
TABLE2 = {"nights": 40, "pointings": 44, "exposures": 222, "plates_visited": 13,
          "max_exposures_per_plate": 44}


def scorecard(capsys, out: Path, *args: str) -> dict:
    """``reproduce-table2 ... --out OUT --json OUT.json`` in this process; the JSON."""
    target = out.with_suffix(".json")
    code = main(["reproduce-table2", *args, "--out", str(out), "--json", str(target)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(target.read_text())


def stored(store: Path) -> dict[Path, int]:
    """Realization result files of a store and their modification times (ns)."""
    return {p: p.stat().st_mtime_ns for p in sorted(store.glob("realization-*.json"))}


# ------------------------------------------------------------------- worker independence
def test_scorecard_json_is_identical_for_one_and_two_workers(tmp_path, capsys):
    one = scorecard(capsys, tmp_path / "w1", "--realizations", "6", "--seed", "7",
                    "--workers", "1")
    two = scorecard(capsys, tmp_path / "w2", "--realizations", "6", "--seed", "7",
                    "--workers", "2")
    assert one["statistics"] == two["statistics"]
    assert one == two  # scenario, hash, seed, count too
    assert one["realizations"] == 6 and one["seed"] == 7 and one["scenario"] == "year1-2018"

    card = one["statistics"]
    assert list(card) == list(HEADLINE)
    for name, value in TABLE2.items():
        assert card[name]["observed"] == value, name
    for name, row in card.items():
        assert set(row) == {"observed", "median", "p05", "p95", "percentile", "within"}, name
        assert row["p05"] <= row["median"] <= row["p95"], name
        assert 0 <= row["percentile"] <= 100, name
        assert row["within"] == (row["p05"] <= row["observed"] <= row["p95"]), name

    # The card summarises exactly the stored realizations, and realization k is the
    # simulation seeded by (scenario, seed 7, k) — nothing else.
    sims = [json.loads(p.read_text()) for p in
            sorted((tmp_path / "w1" / "realizations").glob("realization-*.json"))]
    assert len(sims) == 6
    for name in HEADLINE:
        assert percentile_summary([s[name] for s in sims], card[name]["observed"]) == card[name]
    assert len({s["exposures"] for s in sims}) > 1  # the realizations really differ
    scenario = load_scenario(YEAR1)
    sky = prepared_sky(scenario)
    from lkmrs_sched.ensembles.posterior import load_posterior

    posterior = load_posterior(scenario)
    for k in (0, 5):  # realization k: its posterior draw, then its seed
        drawn, _ = posterior.realization(scenario, k, 7)
        log = Simulation(drawn, realization_seed(7, k), sky=sky).run()
        stats = json.loads(json.dumps(statistics(log)))
        assert stats == {n: sims[k][n] for n in stats}
        # the realised shares per project are the log's, as simulate's summary has them
        assert sims[k]["td_hour_shares"] == pytest.approx(
            reported_shares(log, "summary")["td_hour_shares"])
        assert set(sims[k]["td_hour_shares"]) == {"LK-MRS", "TD-B", "TD-C", "TD-D"}
    # the realised shares and the season's release totals come with the card
    assert 0 < one["shares"]["lkmrs_share_of_td_hours"]["median"] < 1
    per = one["shares"]["td_hour_shares"]
    assert per["LK-MRS"]["median"] == one["shares"]["lkmrs_share_of_td_hours"]["median"]
    assert per["TD-B"]["median"] == percentile_summary(
        [s["td_hour_shares"]["TD-B"] for s in sims])["median"]
    assert per["LK-MRS"]["pooled"] == pytest.approx(
        sum(s["lkmrs_hours"] for s in sims) / sum(s["td_hours"] for s in sims))
    assert per["LK-MRS"]["allocated"] == 0.3
    assert set(one["releases"]) == {"td_spectra_dr7", "nt_spectra_dr7"}

    # A different master seed gives a different ensemble.
    other = scorecard(capsys, tmp_path / "s8", "--realizations", "6", "--seed", "8",
                      "--workers", "2")
    assert other["statistics"] != one["statistics"]


# --------------------------------------------------------------------------- resumption
def _cli(*args: str) -> subprocess.Popen:
    """The command in its own session (process group), as a shell would start a job."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # keeps this session's LKMRS_CACHE_DIR
    return subprocess.Popen([sys.executable, "-m", "lkmrs_sched", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _group(pgid: int) -> list[int]:
    """Processes still alive in process group ``pgid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def _reap(proc: subprocess.Popen) -> None:
    """Kill whatever is left of the job started by :func:`_cli`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=30)


def interrupt_after(proc: subprocess.Popen, store: Path, n_done: int, sig: int,
                    group: bool = True, timeout: float = 120.0) -> tuple[int, str]:
    """Send ``sig`` to the job (or its main process only) once ``store`` holds ``n_done``
    results; return (exit code, stderr)."""
    try:
        wait_for_results(proc, store, n_done, timeout)
        if group:  # Ctrl-C in a terminal, or kill -9 of the whole job
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        if group:
            _, err = proc.communicate(timeout=60)
            return proc.returncode, err
        proc.wait(timeout=60)  # workers may keep the stderr pipe open
        return proc.returncode, ""
    except BaseException:
        _reap(proc)
        raise


def test_interrupted_ensemble_resumes_to_the_uninterrupted_result(tmp_path, capsys):
    n = "80"
    args = ["reproduce-table2", "--realizations", n, "--seed", "5", "--workers", "2"]
    reference = scorecard(capsys, tmp_path / "ref", *args[1:])

    out = tmp_path / "run"
    store = out / "realizations"
    # Ctrl-C: exit 130 with the resume hint, finished results kept, no process left.
    proc = _cli(*args, "--out", str(out))
    code, err = interrupt_after(proc, store, 5, signal.SIGINT)
    assert code == 130, err
    assert "interrupted; finished work is kept" in err and "Traceback" not in err, err
    assert not _group(proc.pid)
    first = stored(store)
    assert 5 <= len(first) < 80
    # kill -9 of the whole job (no chance to clean up) during the second run.
    code, _ = interrupt_after(_cli(*args, "--out", str(out)), store, len(first) + 5,
                              signal.SIGKILL)
    assert code == -signal.SIGKILL
    second = stored(store)
    assert len(first) + 5 <= len(second) < 80
    assert {p: second[p] for p in first} == first  # the second run left them alone
    assert not (out / "scorecard.json").exists()

    final = subprocess.run([sys.executable, "-m", "lkmrs_sched", *args, "--out", str(out),
                            "--json", str(tmp_path / "resumed.json")],
                           capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert len(stored(store)) == 80
    assert {p: stored(store)[p] for p in second} == second  # finished ones not recomputed
    assert json.loads((tmp_path / "resumed.json").read_text()) == reference
    # every stored realization equals the uninterrupted run's
    for p in sorted(store.glob("realization-*.json")):
        assert json.loads(p.read_text()) == \
            json.loads((tmp_path / "ref" / "realizations" / p.name).read_text()), p.name


def test_terminated_ensemble_leaves_no_worker_processes(tmp_path):
    proc = _cli("reproduce-table2", "--realizations", "80", "--seed", "6", "--workers", "2",
                "--out", str(tmp_path / "run"))
    try:
        code, _ = interrupt_after(proc, tmp_path / "run" / "realizations", 3, signal.SIGTERM,
                                  group=False)
        assert code in (-signal.SIGTERM, 130, 143)
        t0 = time.monotonic()
        while _group(proc.pid) and time.monotonic() - t0 < 5:
            time.sleep(0.1)
        assert not _group(proc.pid), "orphaned worker processes"
    finally:
        _reap(proc)


def test_damaged_result_is_recomputed(tmp_path, capsys):
    args = ("--realizations", "3", "--seed", "4", "--workers", "1")
    first = scorecard(capsys, tmp_path / "x", *args)
    store = tmp_path / "x" / "realizations"
    before = stored(store)
    damaged = store / "realization-0001.json"
    damaged.write_text('{"nights": 4')  # as a crash in the middle of a plain write would
    again = scorecard(capsys, tmp_path / "x", *args)
    assert again == first
    assert json.loads(damaged.read_text())["nights"] > 0
    assert stored(store)[store / "realization-0000.json"] == before[store / "realization-0000.json"]


# ------------------------------------------------------------------------- foreign store
def test_store_of_a_different_ensemble_is_refused(tmp_path, capsys):
    out = tmp_path / "x"
    scorecard(capsys, out, "--realizations", "2", "--seed", "1", "--workers", "1")
    store = out / "realizations"
    files = {p: p.read_bytes() for p in [*store.iterdir(), out / "scorecard.json"]}

    for extra in (["--seed", "2"],  # another seed
                  ["--seed", "1", "--scenario", str(SCENARIOS / "year1-2018-prior.toml")]):
        code = main(["reproduce-table2", "--realizations", "2", "--workers", "1", *extra,
                     "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, extra
        assert err.startswith("lkmrs-sched: error: ") and err.count("\n") == 1, err
        assert str(store / "manifest.json") in err and "different ensemble" in err, err
        assert "Traceback" not in err
    # nothing was mixed in or overwritten
    assert {p: p.read_bytes() for p in [*store.iterdir(), out / "scorecard.json"]} == files

    # The same ensemble with more realizations is the same ensemble: it extends the store.
    more = scorecard(capsys, out, "--realizations", "3", "--seed", "1", "--workers", "1")
    assert more["realizations"] == 3
    assert all(files[p] == p.read_bytes() for p in files if p.name.startswith("realization"))
    assert np.isfinite(more["statistics"]["exposures"]["median"])


def test_bad_counts_exit_2(capsys):
    for option in (["--realizations", "0"], ["--workers", "0"]):
        assert main(["reproduce-table2", *option]) == 2
        assert option[0] in capsys.readouterr().err


# ------------------------------------------------------------------------ realised shares
def test_share_summary_pools_hours_and_counts_absent_projects_as_zero():
    from lkmrs_sched.ensembles.ensemble import format_shares, share_summary

    # LK-MRS 30 h of 100 h TD, then 10 h of 20 h; TD-B absent from the second
    records = [{"lkmrs_share_of_td_hours": 0.3, "nt_share_of_mrs_hours": 0.5,
                "td_hours": 100.0, "nt_hours": 100.0,
                "td_hour_shares": {"LK-MRS": 0.3, "TD-B": 0.7}},
               {"lkmrs_share_of_td_hours": 0.5, "nt_share_of_mrs_hours": 0.2,
                "td_hours": 20.0, "nt_hours": 5.0,
                "td_hour_shares": {"LK-MRS": 0.5, "TD-C": 0.5}}]
    s = share_summary(records, {"LK-MRS": 0.3, "TD-B": 0.35, "TD-C": 0.35, "NT": 0.375})
    assert list(s["td_hour_shares"]) == ["LK-MRS", "TD-B", "TD-C"]
    lk = s["td_hour_shares"]["LK-MRS"]
    assert lk["median"] == 0.4 and lk["pooled"] == 40 / 120 and lk["allocated"] == 0.3
    assert s["lkmrs_share_of_td_hours"]["pooled"] == 40 / 120
    assert s["td_hour_shares"]["TD-B"]["median"] == 0.35  # 0.7 and 0 (no hours)
    assert s["td_hour_shares"]["TD-B"]["pooled"] == 70 / 120
    assert s["td_hour_shares"]["TD-C"]["pooled"] == 10 / 120
    nt = s["nt_share_of_mrs_hours"]
    assert nt["median"] == 0.35 and nt["pooled"] == 105 / 225 and nt["allocated"] == 0.375
    assert "pooled" not in s["td_hours"] and s["td_hours"]["median"] == 60
    text = "\n".join(format_shares(s))
    assert "TD-B share of TD hours" in text and "pooled 58.3%" in text
    assert "NT share of MRS hours" in text and "(allocated 37.5%)" in text
    assert share_summary([]) == {}
