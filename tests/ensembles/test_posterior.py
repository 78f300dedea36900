"""Posterior draws kept with a scenario and how forecasts use them (issue #11, items 3-4)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import lkmrs_sched  # noqa: F401
from lkmrs_sched.core.config import default_scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.ensembles.calibrate import season_sigma_draws
from lkmrs_sched.ensembles.posterior import Posterior

META = {"season_first": "2018", "later_first": "2019-07-01", "later_last": "2021-06-30"}


def posterior(n: int = 40, sigma: float = 0.2, seed: int = 0) -> Posterior:
    rng = np.random.default_rng(seed)
    cols = {"weight": np.full(n, 1.0 / n),
            "usable_scale": rng.uniform(0.7, 0.8, n),
            "rebalance_gain": rng.uniform(2, 6, n),
            "unavailable_project": np.array(["redraw", "nt"] * (n // 2)),
            "usable_scale_later": rng.uniform(0.6, 0.65, n),
            "usable_scale_mean": np.full(n, 0.7),
            "season_sigma": np.full(n, sigma)}
    return Posterior(cols, dict(META))


def test_write_read_round_trip(tmp_path):
    post = posterior()
    path = post.write(tmp_path / "p.csv", notes={"fitted_to": "Table 2 and DR7, DR9"})
    back = Posterior.read(path)
    assert back.meta["season_first"] == "2018" and back.meta["fitted_to"].startswith("Table")
    assert list(back.columns) == list(post.columns)
    np.testing.assert_allclose(back.columns["usable_scale"], post.columns["usable_scale"],
                               rtol=1e-5)
    assert list(back.columns["unavailable_project"]) == list(post.columns["unavailable_project"])
    assert back.parameters == ["usable_scale", "rebalance_gain", "unavailable_project"]


@pytest.mark.parametrize(("text", "problem"), [
    ("a,b\n1,2\n", "weight column"),
    ("weight,usable_scale\n1,x\n", "a number"),
    ("weight,usable_scale\n-1,0.5\n", "weights >= 0"),
    ("weight,unavailable_project\n1,maybe\n", "redraw"),
])
def test_bad_posterior_files(tmp_path, text, problem):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError) as info:
        Posterior.read(p)
    assert str(p) in info.value.where and problem in str(info.value)


def test_realizations_draw_rows_and_seasons_deterministically():
    post = posterior()
    sc = default_scenario("2019-06-15", "2023-06-30")
    a, da = post.realization(sc, 3, 2019)
    b, db = post.realization(sc, 3, 2019)
    _, dc = post.realization(sc, 4, 2019)
    assert da == db and a.hash == b.hash  # same realization, same draw
    assert (da["row"], da["season_scales"]) != (dc["row"], dc["season_scales"])
    row = post.row(da["row"])
    assert a.selector.rebalance_gain == pytest.approx(row["rebalance_gain"])
    assert a.selector.unavailable_project == row["unavailable_project"]
    scales = {int(k): v for k, v in da["season_scales"].items()}
    assert sorted(scales) == [2018, 2019, 2020, 2021, 2022]
    # the calibrated season (the rest of 2018-19) its own scale, 2019-21 the later
    # window's, the seasons after the mean times a season effect
    assert scales[2018] == pytest.approx(row["usable_scale"])
    assert scales[2019] == scales[2020] == pytest.approx(row["usable_scale_later"])
    assert scales[2021] != scales[2022]
    for day, season in (("2019-06-20", 2018), ("2020-01-10", 2019), ("2022-12-01", 2022)):
        assert a.at(dt.date.fromisoformat(day)).weather.usable_scale == pytest.approx(
            scales[season])


def test_season_effects_have_the_posteriors_size():
    post = posterior(sigma=0.2)
    sc = default_scenario("2021-07-01", "2023-06-30")
    logs = np.array([[np.log(s / 0.7) for s in post.realization(sc, k, 5)[1][
        "season_scales"].values()] for k in range(400)])
    assert logs.std() == pytest.approx(0.2, rel=0.1)  # ~800 draws: ~3 % error
    assert abs(logs.mean()) < 0.03
    flat = posterior(sigma=0.0)
    assert {round(s, 9) for s in flat.realization(sc, 1, 5)[1]["season_scales"].values()} \
        == {0.7}


def test_season_sigma_draws_follow_the_contrast():
    rng = np.random.default_rng(1)
    w = np.ones(200)
    small = season_sigma_draws(np.full(200, 0.01), w, rng, n_seasons_later=2)
    large = season_sigma_draws(np.full(200, 0.3), w, rng, n_seasons_later=2)
    assert np.all((small >= 0.01) & (small <= 0.5)) and np.all(large <= 0.5)
    assert np.median(large) > 2 * np.median(small)
    # the likelihood peaks at sigma = |d| / sqrt(1 + 1/n): the posterior's bulk is above it
    assert np.quantile(large, 0.1) > 0.1
