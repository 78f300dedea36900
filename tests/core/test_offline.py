"""Offline behaviour stays inside our own calls (issue #13): importing the package leaves
astropy's settings alone; our calls never download; a user's astropy calls keep
astropy's own settings before, between and after ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

from lkmrs_sched.core import offline as offline_mod
from lkmrs_sched.core.offline import is_offline, offline

PROBE = """
import json, socket, warnings

def no_network(*args, **kwargs):
    raise AssertionError("network access attempted")

socket.socket.connect = no_network
socket.create_connection = no_network

from astropy.utils import iers
from astropy.utils.data import conf

def settings():
    return {"auto_download": iers.conf.auto_download, "auto_max_age": iers.conf.auto_max_age,
            "iers_degraded_accuracy": iers.conf.iers_degraded_accuracy,
            "allow_internet": conf.allow_internet, "filters": len(warnings.filters)}

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    before = settings()
    import lkmrs_sched
    after_import = settings()
    from lkmrs_sched.sky.almanac import compute_almanac
    from lkmrs_sched.core.config import default_scenario
    from lkmrs_sched.sim.simulator import simulate
    before_call = settings()  # third-party imports add warning filters of their own
    alm = compute_almanac(default_scenario("2018-09-01", "2023-06-30"))
    log = simulate(default_scenario("2018-12-01", "2018-12-20"), seed=3)
    after_call = settings()
ours = [str(f[1].pattern) for f in warnings.filters if f[1] is not None
        and ("polar motions" in f[1].pattern or "covered by IERS" in f[1].pattern)]
print(json.dumps({"before": before, "after_import": after_import, "before_call": before_call,
                  "after_call": after_call, "our_filters": ours,
                  "nights": len(alm), "exposures": len(log.exposures),
                  "warnings": [str(w.message) for w in caught]}))
"""


def test_import_and_library_calls_leave_astropy_settings_alone(tmp_path):
    """A fresh interpreter with sockets disabled: astropy's settings are its defaults
    after ``import lkmrs_sched`` and after library calls (a 5-year almanac, a simulation),
    which ran without network and without IERS or download warnings."""
    env = {**os.environ, "LKMRS_CACHE_DIR": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, timeout=180, check=False)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    defaults = {"auto_download": True, "auto_max_age": 30.0, "iers_degraded_accuracy": "error",
                "allow_internet": True}
    for when in ("before", "after_import", "after_call"):
        got = {k: v for k, v in out[when].items() if k != "filters"}
        assert got == defaults, when
    assert out["before"]["filters"] == out["after_import"]["filters"]
    assert out["before_call"]["filters"] == out["after_call"]["filters"]
    assert out["our_filters"] == []
    assert out["nights"] == 1764 and out["exposures"] > 0
    bad = [m for m in out["warnings"] if "IERS" in m or "download" in m.lower()]
    assert not bad, bad


@pytest.fixture
def online():
    """Leave the session's offline context for one test (astropy's defaults)."""
    from astropy.utils import iers
    from astropy.utils.data import conf

    saved = [(c, item, getattr(c, item)) for c, item in
             ((iers.conf, "auto_download"), (iers.conf, "auto_max_age"),
              (iers.conf, "iers_degraded_accuracy"), (conf, "allow_internet"))]
    depth, stack = offline_mod._depth, offline_mod._exit_stack
    for c, item, _ in saved:
        c.reset(item)
    offline_mod._depth, offline_mod._exit_stack = 0, None
    try:
        yield
    finally:
        offline_mod._depth, offline_mod._exit_stack = depth, stack
        for c, item, value in saved:
            setattr(c, item, value)


def test_context_sets_and_restores_and_nests(online):
    from astropy.utils.data import conf

    assert not is_offline() and conf.allow_internet is True
    n_filters = len(warnings.filters)
    with offline():
        assert is_offline()
        with offline():
            assert is_offline()
        assert is_offline()  # the inner exit keeps the outer's settings
    assert not is_offline() and conf.allow_internet is True
    assert len(warnings.filters) == n_filters


def test_context_restores_after_an_exception(online):
    with pytest.raises(ValueError), offline():
        raise ValueError("boom")
    assert not is_offline()


def test_overlapping_threads_stay_offline_until_the_last_leaves(online):
    """Two threads in our code at once (a Dask worker): offline until both have left."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with offline():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with offline():
            second_in.set()
            first_out.wait(10)
            seen["after_first_left"] = is_offline()

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen["after_first_left"] is True
    assert not is_offline()


def test_astropy_time_calls_in_the_library_run_offline(online, monkeypatch):
    """The ephemerides and ISO conversions call astropy's Time inside the context."""
    import astropy.time

    from lkmrs_sched.core.timeconv import iso_times
    from lkmrs_sched.sky import ephemeris

    states = []
    real = astropy.time.Time

    def Probe(*args, **kwargs):  # stands in for the class
        states.append(is_offline())
        return real(*args, **kwargs)

    monkeypatch.setattr(ephemeris, "Time", Probe)
    monkeypatch.setattr(astropy.time, "Time", Probe)
    ephemeris._tt_jd(np.array([58500.0]))
    iso_times(np.array([58500.0]))
    ephemeris.ut1_minus_utc(np.array([58500.0]))
    assert states == [True, True]
    assert not is_offline()
