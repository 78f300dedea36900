"""ABC calibration (issue 4) recovers parameters that the simulator itself used.

Truth logs are simulated from the uncalibrated year-1 scenario with chosen values of
``usable_scale`` and ``overhead_min`` (every other parameter stays at the value that made
the log, i.e. at its truth), and ``calibrate`` is run on their statistics. One set of 200
prior draws serves every test here: it does not depend on the observed statistics, and
``calibrate`` reloads it from its result store (shared by the xdist workers of a session,
under a lock, so it is simulated once).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import re
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from lkmrs_sched.cli import main
from lkmrs_sched.core.config import load_scenario
from lkmrs_sched.core.resources import SCENARIOS
from lkmrs_sched.ensembles.calibrate import FREE_PARAMETERS, apply_parameters, calibrate
from lkmrs_sched.sim.logstats import statistics
from lkmrs_sched.sim.simulator import Simulation

PRIOR = SCENARIOS / "year1-2018-prior.toml"
NAMES = ["usable_scale", "overhead_min"]
DRAWS, SEED = 200, 3


def prior_std(name: str) -> float:
    """Standard deviation of the (uniform) prior."""
    p = FREE_PARAMETERS[name]
    assert not p.log
    return (p.hi - p.lo) / np.sqrt(12)


@pytest.fixture(scope="module")
def base():
    return load_scenario(PRIOR)


@pytest.fixture(scope="module")
def shared(tmp_path_factory, worker_id, base) -> Path:
    """Folder whose ``draws`` store holds the 200 prior draws (computed once per session)."""
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # the session's folder, common to all xdist workers
    folder = root / "abc-prior-draws"
    folder.mkdir(exist_ok=True)
    with open(root / "abc-prior-draws.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / "complete").exists():
                calibrate(statistics(truth_log(base, 0.7, 35.0, 1)), base, names=NAMES,
                          draws=DRAWS, seed=SEED, workers=2, store=folder / "draws",
                          progress=False)
                (folder / "complete").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


def truth_log(base, usable_scale: float, overhead_min: float, seed: int):
    """A year-1 log simulated with known parameter values."""
    truth = {"usable_scale": usable_scale, "overhead_min": overhead_min}
    return Simulation(apply_parameters(base, truth), seed).run()


def representative_log(base, usable_scale: float, overhead_min: float):
    """The truth's typical year: of 21 seeded logs, the one with the median exposure count.

    (One log is one draw of the weather; a test of recovery should not hinge on a 1-in-20
    year, which a 2-sigma criterion misses by design. The choice looks only at the logs.)
    """
    logs = [truth_log(base, usable_scale, overhead_min, seed) for seed in range(2018, 2039)]
    logs.sort(key=lambda log: len(log.exposures))
    return logs[len(logs) // 2]


def fit(shared: Path, base, observed: dict, accept: float = 0.1):
    return calibrate(observed, base, names=NAMES, draws=DRAWS, accept_fraction=accept,
                     seed=SEED, workers=2, store=shared / "draws", progress=False)


# --------------------------------------------------------------------- one known truth
def test_calibrate_recovers_known_parameters(shared, base):
    truth = {"usable_scale": 0.62, "overhead_min": 33.0}
    log = representative_log(base, truth["usable_scale"], truth["overhead_min"])
    cal = fit(shared, base, statistics(log))
    assert cal.draws == DRAWS and len(cal.weights) == round(0.1 * DRAWS)
    for name, value in truth.items():
        e = cal.estimates[name]
        p = FREE_PARAMETERS[name]
        assert e["prior"] == [p.lo, p.hi]
        assert p.lo <= e["p16"] <= e["median"] <= e["p84"] <= p.hi, (name, e)
        assert e["std"] > 0
        # the truth lies within the 16-84 % range widened to 2 sigma
        assert abs(e["median"] - value) <= 2 * e["std"], (name, value, e)
        assert e["p16"] - e["std"] <= value <= e["p84"] + e["std"], (name, value, e)
    # One year's LK-MRS statistics narrow the weather scale down (with the shares held by
    # the allocation, LK-MRS's time follows the total time only through its 30 % of the
    # TD 5/8: the release totals are what pins the total down, README "Calibration") ...
    assert cal.estimates["usable_scale"]["std"] < 0.75 * prior_std("usable_scale")
    # ... but not the overhead, which trades off against the weather (a longer overhead
    # and a worse season both mean fewer pointings); it is not made wider than the prior.
    assert cal.estimates["overhead_min"]["std"] < 1.1 * prior_std("overhead_min")

    # Rerunning on the stored draws gives the same answer (nothing random left).
    again = fit(shared, base, statistics(log))
    assert again.estimates == cal.estimates


# ---------------------------------------------------------- coverage over many truths
def z_scores(shared: Path, base, accept: float) -> np.ndarray:
    """(median − truth) / std for 30 truths spread over the prior; shape (30, 2)."""
    rng = np.random.default_rng(123)
    z = []
    for j in range(30):
        truth = {"usable_scale": float(rng.uniform(0.45, 1.2)),
                 "overhead_min": float(rng.uniform(22.0, 48.0))}
        log = truth_log(base, truth["usable_scale"], truth["overhead_min"], 1000 + j)
        cal = fit(shared, base, statistics(log), accept)
        z.append([(cal.estimates[n]["median"] - truth[n]) / cal.estimates[n]["std"]
                  for n in NAMES])
    return np.array(z)


@pytest.mark.parametrize("accept", [
    pytest.param(0.1, id="rejection-20-kept"),
    # 50 kept draws for 9 regression terms: below MIN_KEPT_PER_TERM, so plain rejection
    # (the regression adjustment was over-confident there: rms z 1.63, max |z| 5.9).
    pytest.param(0.25, id="50-kept"),
])
def test_posterior_widths_are_honest_over_many_truths(shared, base, accept):
    """For a calibrated posterior, (median − truth)/std behaves like a unit normal."""
    z = z_scores(shared, base, accept)
    assert np.isfinite(z).all()
    rms = np.sqrt(np.mean(z**2, axis=0))
    assert np.all(rms <= 1.3), rms  # not over-confident on average
    assert np.all(rms >= 0.4), rms  # nor uselessly wide
    assert np.mean(np.abs(z) > 2) <= 0.1, np.abs(z).max(axis=0)
    assert np.abs(z).max() <= 3.5, np.abs(z).max(axis=0)


# --------------------------------------------------------------------------------- CLI
def test_cli_writes_a_scenario_with_the_fitted_values(shared, base, tmp_path, capsys):
    log = representative_log(base, 0.62, 33.0)
    log_path = tmp_path / "truth.sqlite"
    log.write(log_path)
    target = tmp_path / "fitted.toml"
    # --out is the shared folder, so the CLI finds the 200 prior draws in its store
    code = main(["calibrate", "--log", str(log_path), "--parameters", ",".join(NAMES),
                 "--draws", str(DRAWS), "--seed", str(SEED), "--workers", "2", "--no-releases",
                 "--out", str(shared), "--write-scenario", str(target)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "usable_scale" in out and "overhead_min" in out

    text = target.read_text()
    marked = [line for line in text.splitlines() if "# calibrated: " in line]
    assert len(marked) == 2, marked
    assert any(line.startswith("overhead = ") and "overhead_min = " in line
               and "truth.sqlite" in line for line in marked), marked
    assert any(line.startswith("usable_scale = ") and "usable_scale = " in line.split("#")[1]
               for line in marked), marked

    cal = fit(shared, base, statistics(log))  # the library's answer for the same log
    medians = {n: float(f"{cal.estimates[n]['median']:.3g}") for n in NAMES}
    for n in NAMES:  # the comments quote the fitted values
        assert re.search(rf"{n} = {medians[n]:.3g} \(16-84 %", text), n
    fitted = load_scenario(target)
    assert fitted.observing.overhead.to_value(u.min) == pytest.approx(medians["overhead_min"])
    assert fitted.weather.usable_scale == pytest.approx(medians["usable_scale"])
    # the site's climatology is kept; the fitted scale multiplies it
    assert fitted.weather.usable_night_fraction == base.weather.usable_night_fraction
    # the kept draws are written next to the scenario and named in it
    from lkmrs_sched.ensembles.posterior import load_posterior

    post = load_posterior(fitted)
    assert post is not None and len(post) == round(0.1 * DRAWS)
    assert post.columns["weight"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(np.sort(post.columns["usable_scale"]),
                               np.sort(cal.accepted[:, NAMES.index("usable_scale")]), rtol=1e-5)
    # everything not calibrated is the base scenario's
    paths = ("lkmrs_footprints", "other_td_footprints", "nt_footprints")
    for key in paths:  # rewritten relative to the new file, but the same files
        assert fitted.path(getattr(fitted.selector, key)) == base.path(getattr(base.selector,
                                                                               key))
    assert dataclasses.replace(fitted.selector, **{k: "" for k in paths}) == \
        dataclasses.replace(base.selector, **{k: "" for k in paths})
    assert fitted.seeing == base.seeing
    assert fitted.observing.exposure_time == base.observing.exposure_time
    assert fitted.weather.open_fraction == base.weather.open_fraction

    saved = json.loads((shared / "calibration.json").read_text())
    assert saved["source"] == "truth.sqlite" and saved["draws"] == DRAWS
    assert saved["parameters"] == json.loads(json.dumps(cal.estimates))


def test_cli_calibrated_scenario_is_usable_where_it_is_written(tmp_path, capsys):
    out = tmp_path / "runs" / "calibrate"
    code = main(["calibrate", "--parameters", "usable_scale", "--draws", "10", "--workers", "2",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    fitted = load_scenario(out / "calibrated.toml")
    assert statistics(Simulation(fitted, 1).run())["exposures"] > 0


def test_cli_rejects_unknown_parameter(tmp_path, capsys):
    code = main(["calibrate", "--parameters", "usable_scale,moon_phase", "--draws", "10",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "unknown parameter" in err and "moon_phase" in err
    with contextlib.suppress(FileNotFoundError):
        assert not any((tmp_path / "draws").iterdir())


def test_regression_adjustment_pulls_toward_the_truth_on_a_known_model():
    """Statistics = linear function of one parameter + noise: ABC recovers it."""
    from lkmrs_sched.ensembles.calibrate import FREE_PARAMETERS, abc_posterior

    rng = np.random.default_rng(0)
    p = FREE_PARAMETERS["usable_scale"]
    theta = p.from_unit(rng.uniform(size=3000))
    stats = np.column_stack([100 * theta, 40 * theta]) + rng.normal(0, 2, (3000, 2))
    observed = np.array([100 * 0.8, 40 * 0.8])
    adjusted, w = abc_posterior(theta[:, None], stats, observed, [p], 0.1)  # 300 kept
    assert np.average(adjusted[:, 0], weights=w) == pytest.approx(0.8, abs=0.01)
    assert np.all((adjusted >= p.lo) & (adjusted <= p.hi))  # stays inside the prior
