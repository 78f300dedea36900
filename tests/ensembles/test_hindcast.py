"""Hindcasts (issue #11, item 5): scoring pieces, and coverage at the nominal rate on logs
the simulator made with known parameters.

The known-truth test runs a small domain (October .. December 2018, trained to mid
November) several times; it pools the informative plates' randomized PITs, which are
uniform when the hindcast's forecast distribution is the truth's, and checks the 50 % and
90 % coverages against their binomial Monte Carlo error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pytest

import lkmrs_sched  # noqa: F401
from lkmrs_sched.cli import main
from lkmrs_sched.core.config import load_scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import SCENARIOS
from lkmrs_sched.ensembles.calibrate import apply_parameters
from lkmrs_sched.ensembles.hindcast import hindcast, score_plate, split_log
from lkmrs_sched.sim.importers import import_table2
from lkmrs_sched.sim.simulator import Simulation

PRIOR = SCENARIOS / "year1-2018-prior.toml"
TRUTHS = (  # known parameters of the logs scored (within the ABC prior)
    {"usable_scale": 0.7, "rebalance_gain": 4.0, "started_plate_boost": 5.0,
     "same_night_weight": 0.4},
    {"usable_scale": 0.95, "rebalance_gain": 2.0, "started_plate_boost": 10.0,
     "same_night_weight": 0.7},
    {"usable_scale": 0.55, "rebalance_gain": 8.0, "started_plate_boost": 3.0,
     "same_night_weight": 0.2},
    {"usable_scale": 0.85, "rebalance_gain": 6.0, "started_plate_boost": 20.0,
     "same_night_weight": 0.5},
)


def test_score_plate_pit_bands_and_degenerate_forecasts():
    x = np.arange(100)  # a uniform forecast 0..99
    s = score_plate(x, 49.0, 0.5)
    assert s["pit"] == pytest.approx(0.495) and s["median"] == 49.5 and s["informative"]
    assert s["in50"] and s["in90"] and (s["p05"], s["p95"]) == (4.0, 94.0)
    out = score_plate(x, 97.0, 0.0)
    assert out["in50"] is False and out["in90"] is False and out["pit"] == 0.97
    # a single-valued forecast: covered when equal, PIT uniform by the randomization
    z = np.zeros(50)
    same = score_plate(z, 0.0, 0.3)
    assert same["in90"] and same["pit"] == pytest.approx(0.3) and not same["informative"]
    assert score_plate(z, 2.0, 0.3)["pit"] == 1.0


def test_split_log_keeps_the_nights_up_to_the_date():
    log = import_table2()
    train = split_log(log, dt.date(2019, 1, 31))
    nights = np.asarray(train.exposures["night"], str)
    assert max(nights) <= "2019-01-31" and len(train.pointings) == 27
    assert len(train.exposures) == int(np.sum(np.asarray(log.exposures["night"], str)
                                              <= "2019-01-31"))


def test_bad_dates_are_input_errors():
    sc = load_scenario(PRIOR)
    log = import_table2()
    for d, e in ((dt.date(2018, 8, 1), None), (dt.date(2019, 5, 1), dt.date(2019, 4, 1)),
                 (dt.date(2019, 1, 31), dt.date(2019, 7, 31))):
        with pytest.raises(InputError):
            hindcast(log, sc, d, e, draws=10, realizations=2, workers=1, progress=False)


def small(base):
    return base.replace(start=dt.date(2018, 10, 1), end=dt.date(2018, 12, 31))


@pytest.fixture(scope="module")
def truth_hindcasts():
    base = small(load_scenario(PRIOR))
    results = []
    for j, truth in enumerate(TRUTHS):
        log = Simulation(apply_parameters(base, truth), 50_000 + j).run()
        results.append(hindcast(log, base, dt.date(2018, 11, 15), dt.date(2018, 12, 31),
                                draws=240, accept_fraction=0.1, realizations=60, seed=7 + j,
                                workers=2, progress=False))
    return results


def test_hindcast_on_known_truths_covers_at_the_nominal_rate(truth_hindcasts):
    pit = np.concatenate([r.pits(q) for r in truth_hindcasts for q in ("exposures",)])
    n = len(pit)
    assert n >= 20  # enough informative plates to test
    for lo, hi in ((0.25, 0.75), (0.05, 0.95)):
        nominal = hi - lo
        cover = np.mean((pit >= lo) & (pit <= hi))
        sigma = np.sqrt(nominal * (1 - nominal) / n)
        assert abs(cover - nominal) <= 3 * sigma + 0.02, (nominal, cover, n)
    # the inclusive bands cover at least as often (discreteness only adds)
    inside90 = np.mean([s["exposures"]["in90"] for r in truth_hindcasts
                        for s in r.plates.values() if s["exposures"]["informative"]])
    assert inside90 >= 0.9 - 3 * np.sqrt(0.09 / n)


def test_hindcast_result_is_consistent(truth_hindcasts):
    r = truth_hindcasts[0]
    assert len(r.plates) == 20
    cov = r.coverage["all"]["exposures"]
    assert cov["plates"] == 20
    assert cov["90"] == pytest.approx(np.mean([s["exposures"]["in90"]
                                               for s in r.plates.values()]))
    table = r.to_table()
    assert len(table) == 40 and set(table["quantity"]) == {"exposures", "nights"}
    d = r.to_dict()
    assert d["train_until"] == "2018-11-15" and d["until"] == "2018-12-31"
    assert json.loads(json.dumps(d)) == d


def test_cli_hindcast_writes_its_outputs(tmp_path, capsys):
    base = small(load_scenario(PRIOR))
    path = tmp_path / "small.toml"
    from lkmrs_sched.core.config import scenario_to_toml

    path.write_text(scenario_to_toml(dataclasses.replace(base), folder=tmp_path))
    log = Simulation(base, 123).run()
    log.write(tmp_path / "truth.sqlite")
    out = tmp_path / "h"
    code = main(["hindcast", "--train-until", "2018-11-15", "--log",
                 str(tmp_path / "truth.sqlite"), "--scenario", str(path), "--draws", "20",
                 "--realizations", "6", "--workers", "1", "--out", str(out)])
    text, err = capsys.readouterr()
    assert code == 0, err
    assert "90 % band covers" in text
    saved = json.loads((out / "hindcast.json").read_text())
    assert saved["realizations"] == 6 and set(saved["coverage"]) == {"all", "informative"}
    assert (out / "pit.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "plates.ecsv").exists()
    assert main(["hindcast", "--train-until", "2018-13-01"]) == 2
