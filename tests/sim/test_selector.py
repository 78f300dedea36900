"""The MRS plate selector (pure policy) and the other programmes' plate sets."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from scipy.optimize import brentq

from lkmrs_sched.core.config import SelectorConfig
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import FOOTPRINTS
from lkmrs_sched.sim.policy import Candidates, Conditions, Decision
from lkmrs_sched.sim.selector import PlateSelector
from lkmrs_sched.sky.footprints import PlateSet, load_plates

TD = ("LK-MRS", "TD-B", "TD-C", "TD-D")


def cands(rows: list[tuple[str, int, int]]) -> Candidates:
    """Candidates from (project, n_exposures_possible, exposures_so_far) rows."""
    n = len(rows)
    return Candidates(
        plate_index=np.arange(100, 100 + n),
        project=[r[0] for r in rows],
        remaining_window_h=[r[1] * 23 / 60 + 0.5 for r in rows],
        n_exposures_possible=[r[1] for r in rows],
        exposures_so_far=[r[2] for r in rows],
    )


def cond(rows, used=None) -> Conditions:
    return Conditions(mjd=58400.6, night=3, candidates=cands(rows), time_used_h=used or {})


def everything(n_per_project: int = 4) -> list[tuple[str, int, int]]:
    return [(p, 8, 0) for p in ("NT", *TD) for _ in range(n_per_project)]


def draws(selector: PlateSelector, conditions: Conditions, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [selector.choose(conditions, rng) for _ in range(n)]


def test_nt_share_and_lkmrs_share_with_fixed_shares():
    sel = PlateSelector(SelectorConfig(rebalance_gain=0.0))
    out = draws(sel, cond(everything()), 20000)
    nt = np.mean([d.programme == "NT" for d in out])
    # Binomial sigma: 0.0034 (NT), 0.0041 (LK-MRS among ~12500 TD draws); tolerance ~4 sigma.
    assert nt == pytest.approx(3 / 8, abs=0.014)
    td = [d for d in out if d.programme == "TD"]
    assert np.mean([d.project == "LK-MRS" for d in td]) == pytest.approx(0.30, abs=0.017)
    for p in TD[1:]:
        assert np.mean([d.project == p for d in td]) == pytest.approx(0.7 / 3, abs=0.016)
    assert all(d.project == "NT" for d in out if d.programme == "NT")


def test_usage_ignored_with_gain_zero():
    sel = PlateSelector(SelectorConfig(rebalance_gain=0.0))
    w = sel.project_weights({"LK-MRS": 0.0, "TD-B": 500.0})
    np.testing.assert_allclose(w / w.sum(), [0.3, 0.7 / 3, 0.7 / 3, 0.7 / 3])


def test_rebalancing_favours_the_underserved_project():
    cfg = SelectorConfig(rebalance_gain=1.0, rebalance_prior=10 * u.h)
    sel = PlateSelector(cfg)
    used = {"LK-MRS": 0.0, "TD-B": 100.0, "TD-C": 100.0, "TD-D": 100.0}
    # The documented rule, by hand: f_p = (u_p + H s_p) / (U + H), w ∝ s exp(g (s - f) / s).
    s = np.array([0.3, 0.7 / 3, 0.7 / 3, 0.7 / 3])
    f = (np.array([0.0, 100, 100, 100]) + 10 * s) / 310
    w = s * np.exp((s - f) / s)
    expected = w[0] / w.sum()
    got = sel.project_weights(used)
    assert got[0] / got.sum() == pytest.approx(expected, rel=1e-12)
    assert expected > 0.45  # clearly above the allocated 0.30
    c = cond([(p, 8, 0) for p in TD for _ in range(3)], used)
    out = draws(sel, c, 10000)
    assert np.mean([d.project == "LK-MRS" for d in out]) == pytest.approx(expected, abs=0.02)
    # Over-served: drawn less than its share.
    over = sel.project_weights({"LK-MRS": 300.0, "TD-B": 10.0, "TD-C": 10.0, "TD-D": 10.0})
    assert over[0] / over.sum() < 0.2
    # Stronger gain, stronger pull.
    strong = PlateSelector(dataclasses.replace(cfg, rebalance_gain=3.0)).project_weights(used)
    assert strong[0] / strong.sum() > expected


def _closed_loop(gain: float, seed: int = 1, n: int = 3000) -> float:
    """LK-MRS's share of TD hours when its plates are visible only a third of the time."""
    sel = PlateSelector(SelectorConfig(nt_share=0.0, rebalance_gain=gain))
    rng, vis = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    used = dict.fromkeys(TD, 0.0)
    for _ in range(n):
        projects = [p for p in TD if p != "LK-MRS" or vis.random() < 1 / 3]
        d = sel.choose(cond([(p, 5, 0) for p in projects], used), rng)
        used[d.project] += 2.0
    return used["LK-MRS"] / sum(used.values())


def _equilibrium(gain: float) -> float:
    """Fixed point f = P(visible) * P(LK-MRS drawn | visible, usage fractions f)."""
    s, so = 0.3, 0.7 / 3

    def q(f: float) -> float:
        w_lk = s * np.exp(gain * (s - f) / s)
        w_other = so * np.exp(gain * (so - (1 - f) / 3) / so)
        return w_lk / (w_lk + 3 * w_other)

    return brentq(lambda f: f - q(f) / 3, 1e-9, 1 - 1e-9)


@pytest.mark.parametrize("gain", [0.0, 1.0, 3.0])
def test_rebalancing_closes_the_gap_in_a_loop(gain):
    """LK-MRS visible a third of the time: feedback lifts its share towards 30 %."""
    share = _closed_loop(gain)
    # Fixed shares: 1/3 * 0.3 = 0.10; gain 1: 0.154; gain 3: 0.207 (mean-field fixed
    # point; the 10 h prior is negligible after 6000 h). Binomial-ish noise ~0.005.
    assert share == pytest.approx(_equilibrium(gain), abs=0.02)
    if gain > 0:
        assert share > _closed_loop(0.0) + 0.04


def test_started_plate_boost_ratio():
    boost = 5.0
    sel = PlateSelector(SelectorConfig(started_plate_boost=boost))
    # One project only, one started plate (10 exposures) and four fresh ones.
    c = cond([("LK-MRS", 8, 10)] + [("LK-MRS", 8, 0)] * 4)
    out = draws(sel, c, 20000)
    p_started = np.mean([d.plate_index == 100 for d in out])
    # Expected boost / (boost + 4) = 5/9; binomial sigma 0.0035.
    assert p_started == pytest.approx(boost / (boost + 4), abs=0.015)
    fresh = Counter(d.plate_index for d in out if d.plate_index != 100)
    ratio = (20000 * p_started) / (sum(fresh.values()) / 4)
    assert ratio == pytest.approx(boost, rel=0.08)
    # Boost 1: all alike.
    flat = draws(PlateSelector(SelectorConfig(started_plate_boost=1.0)), c, 20000, seed=1)
    assert np.mean([d.plate_index == 100 for d in flat]) == pytest.approx(0.2, abs=0.012)


def test_goal_plates_never_chosen():
    sel = PlateSelector(SelectorConfig(goal_exposures=60, other_td_goal_exposures=60))
    c = cond([("LK-MRS", 8, 60), ("LK-MRS", 8, 75), ("LK-MRS", 8, 59), ("TD-B", 8, 60)])
    out = draws(sel, c, 2000)
    assert {d.plate_index for d in out} == {102}
    assert {d.planned_exposures for d in out} == {1}  # capped at the goal
    assert sel.choose(cond([("LK-MRS", 8, 60), ("TD-C", 8, 61)]), np.random.default_rng(0)) is None
    # Without a goal for the other projects (the default), their plates stay in use:
    # their time use never ends; LK-MRS's plates still stop at 60.
    free = PlateSelector(SelectorConfig(goal_exposures=60))
    out = draws(free, cond([("LK-MRS", 8, 60), ("TD-C", 8, 500)]), 200)
    assert {(d.project, d.plate_index, d.planned_exposures) for d in out} == {("TD-C", 101, 8)}
    # no goal end for a goal-less plate
    assert free.planned_end(Decision("TD", "TD-C", 101, 5), 505) is None
    # NT plates have no goal: each NT pointing is a new one-night plate.
    nt = draws(sel, cond([("LK-MRS", 8, 60), ("NT", 8, 3)]), 200)
    assert {(d.programme, d.plate_index, d.planned_exposures) for d in nt} == {("NT", 101, 3)}


def test_td_plates_need_room_to_start():
    sel = PlateSelector(SelectorConfig(), min_exposures_to_start=3, max_exposures_per_pointing=8)
    rows = [("LK-MRS", 2, 0), ("LK-MRS", 2, 30), ("TD-B", 1, 0), ("TD-C", 3, 5), ("TD-D", 12, 0)]
    out = draws(sel, cond(rows), 3000)
    assert {d.plate_index for d in out} == {103, 104}
    planned = {d.plate_index: d.planned_exposures for d in out}
    assert planned == {103: 3, 104: 8}  # until the window ends, at most 8
    assert sel.choose(cond(rows[:3]), np.random.default_rng(0)) is None


def test_nt_pointings():
    sel = PlateSelector(SelectorConfig(nt_exposures_per_pointing=3))
    rows = [("NT", 2, 0), ("NT", 8, 0), ("NT", 1, 2), ("NT", 8, 3)]
    out = draws(sel, cond(rows), 2000)
    assert Counter((d.programme, d.project) for d in out).keys() == {("NT", "NT")}
    # Plates 100 and 102 lack room for 3; an NT plate's earlier exposures do not count
    # (each NT pointing is a new plate of the pool), so 103 plans 3 like 101.
    assert {(d.plate_index, d.planned_exposures) for d in out} == {(101, 3), (103, 3)}


def test_empty_and_unavailable():
    sel = PlateSelector(SelectorConfig())
    rng = np.random.default_rng(0)
    assert sel.choose(Conditions(58400.0, 0, Candidates.empty()), rng) is None
    assert sel.probabilities(Conditions(58400.0, 0, Candidates.empty())).shape == (0,)
    # Only NT candidates, nt_share 0: NT may not be drawn at all.
    no_nt = PlateSelector(SelectorConfig(nt_share=0.0))
    assert no_nt.choose(cond([("NT", 8, 0)]), rng) is None
    # A project with share 0 is never drawn, even if it is the only one visible.
    no_lk = PlateSelector(SelectorConfig(lkmrs_share=0.0))
    assert no_lk.choose(cond([("LK-MRS", 8, 0)]), rng) is None


def test_never_lkmrs_without_its_plates():
    sel = PlateSelector(SelectorConfig(rebalance_gain=5.0))
    rows = [(p, 8, 0) for p in ("NT", "TD-B", "TD-C", "TD-D") for _ in range(3)]
    rows += [("LK-MRS", 2, 0), ("LK-MRS", 8, 60)]  # LK-MRS visible but not startable
    out = draws(sel, cond(rows, {"LK-MRS": 0.0, "TD-B": 50.0}), 5000)
    assert all(d is not None and d.project != "LK-MRS" for d in out)
    # Redraw rule: with NT unavailable every draw is TD.
    td_only = draws(sel, cond(rows[3:]), 2000)
    assert all(d.programme == "TD" for d in td_only)


def test_probabilities_match_choices():
    sel = PlateSelector(SelectorConfig())
    rows = [("NT", 8, 0)] * 5 + [("NT", 8, 1), ("LK-MRS", 6, 12), ("LK-MRS", 4, 0)]
    rows += [("TD-B", 8, 0), ("TD-B", 2, 0), ("LK-MRS", 8, 60), ("TD-D", 5, 30)]
    c = cond(rows, {"LK-MRS": 20.0, "TD-B": 5.0, "TD-D": 40.0, "NT": 30.0})
    p = sel.probabilities(c)
    assert p.sum() == pytest.approx(1.0)
    assert p[9] == 0 and p[10] == 0
    n = 20000
    freq = Counter(d.plate_index - 100 for d in draws(sel, c, n, seed=3))
    emp = np.array([freq[i] / n for i in range(len(rows))])
    assert np.all(np.abs(emp - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-12), (emp, p)


def test_deterministic_and_three_draws_per_call():
    sel = PlateSelector(SelectorConfig())
    c = cond(everything(3), {"LK-MRS": 3.0})
    assert draws(sel, c, 500, seed=9) == draws(sel, c, 500, seed=9)
    assert draws(sel, c, 500, seed=9) != draws(sel, c, 500, seed=10)
    rng, ref = np.random.default_rng(4), np.random.default_rng(4)
    for conditions in (c, Conditions(0.0, 0, Candidates.empty()), cond([("NT", 8, 3)])):
        sel.choose(conditions, rng)
        ref.random(3)
        assert rng.random() == ref.random()


def test_decision_type():
    d = PlateSelector(SelectorConfig()).choose(cond([("TD-B", 8, 0)]), np.random.default_rng(0))
    assert d == Decision("TD", "TD-B", 100, 8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.planned_exposures = 3  # type: ignore[misc]


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown projects"):
        PlateSelector(SelectorConfig()).choose(cond([("TD-X", 8, 0)]), np.random.default_rng(0))
    with pytest.raises(InputError, match="other_td_projects"):
        PlateSelector(SelectorConfig(other_td_projects=("TD-B", "TD-B")))
    with pytest.raises(InputError, match="other_td_projects"):
        PlateSelector(SelectorConfig(other_td_projects=("NT",)))
    with pytest.raises(InputError, match="min_exposures_to_start"):
        PlateSelector(SelectorConfig(), max_exposures_per_pointing=2, min_exposures_to_start=3)
    with pytest.raises(ValueError):
        Candidates([1, 2], ["NT"], [1.0], [3], [0])


def test_call_time():
    """About 30 µs per call with 50 candidates on a laptop; assert a loose ceiling."""
    sel = PlateSelector(SelectorConfig())
    rng = np.random.default_rng(0)
    rows = [("NT", int(k % 9), 0) for k in range(30)]
    rows += [(p, int(k % 9), int(k * 7 % 61)) for p in TD for k in range(5)]
    c = cond(rows, {"LK-MRS": 10.0, "TD-B": 30.0})
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(2000):
            sel.choose(c, rng)
        best = min(best, (time.perf_counter() - t0) / 2000)
    assert best < 300e-6


def test_selector_does_not_import_simpy():
    code = "import sys, lkmrs_sched.sim.selector; print('simpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the other programmes' plate sets (assumptions, footprints/README.md) ------------


def test_other_plate_files_load_and_match_selector():
    td = load_plates(FOOTPRINTS / "td_other.csv", project="TD-?")
    nt = load_plates(FOOTPRINTS / "nt.csv", project="NT")
    assert set(td.project) == set(SelectorConfig().other_td_projects)
    from astropy.coordinates import SkyCoord

    from lkmrs_sched.sim.sky import plate_pools

    rows = list(csv.DictReader((FOOTPRINTS / "td_other.csv").open()))
    field = np.array([r["field"] for r in rows])
    gal = SkyCoord(ra=td.ra_deg, dec=td.dec_deg, unit="deg").galactic
    # TD-B (MRS-B): plane plates along the northern Galactic plane, and high-latitude ones
    plane = field == "plane"
    assert set(td.project[plane]) == {"TD-B"}
    assert np.all(np.abs(gal.b.deg[plane]) <= 5.0 + 1e-3)
    assert np.all((gal.l.deg[plane] >= 40.0 - 1e-3) & (gal.l.deg[plane] <= 215.0 + 1e-3))
    assert np.all(np.abs(gal.b.deg[field == "high-latitude"]) >= 30)
    # TD-C: the named winter star-forming regions (RA 3.4 .. 6.8 h); TD-D spread in RA
    c = td.project == "TD-C"
    assert np.all((td.ra_deg[c] > 50) & (td.ra_deg[c] < 102)) and len(set(field[c])) == c.sum()
    assert np.ptp(td.ra_deg[td.project == "TD-D"]) > 300
    assert np.all(td.dec_deg > -10)
    # pools: 25 of 40 plane plates in 2018-19, 12 of 40 and 2 high-latitude from 2019-09,
    # 6 of 36 spread plates (Li J. et al. 2023; README "Other programmes")
    pools = {rows[int(idx[0])]["pool"]: (len(idx), k)
             for idx, k in plate_pools(FOOTPRINTS / "td_other.csv")}
    assert pools["B-plane-2018"] == (40, 25) and pools["B-plane-2019"] == (40, 12)
    assert pools["B-high-2019"][1] == 2 and pools["D-spread"] == (36, 6)
    assert {r["active_until"] for r in rows if r["pool"] == "B-plane-2018"} == {"2019-08-31"}
    assert {r["active_from"] for r in rows if r["pool"].endswith("2019")} == {"2019-09-01"}
    assert len(nt) >= 100 and set(nt.project) == {"NT"}
    assert np.all((nt.dec_deg >= -5) & (nt.dec_deg <= 65))
    lk = load_plates(FOOTPRINTS / "lkmrs.csv")
    combined = PlateSet.concat([lk, td, nt])
    assert len(set(combined.plan_id)) == len(combined)
    assert len(set(combined.plate_name)) == len(combined)


def test_plate_generator_is_deterministic(tmp_path: Path, monkeypatch):
    path = Path(__file__).resolve().parents[2] / "tools" / "make_other_plates.py"
    spec = importlib.util.spec_from_file_location("make_other_plates", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "HERE", tmp_path)
    mod.main()
    for name in ("td_other.csv", "nt.csv"):
        fresh = (tmp_path / name).read_text()
        assert fresh == (FOOTPRINTS / name).read_text()


def test_same_night_weight_moves_a_project_observed_tonight_to_nt():
    """A project already observed tonight keeps ``same_night_weight`` of its TD share."""
    w = 0.3
    sel = PlateSelector(SelectorConfig(rebalance_gain=0.0, same_night_weight=w))
    rows = everything()
    base = Conditions(mjd=58400.6, night=3, candidates=cands(rows))
    tonight = dataclasses.replace(base, projects_tonight=frozenset({"LK-MRS"}))
    project = np.array([r[0] for r in rows])
    p0, p1 = sel.probabilities(base), sel.probabilities(tonight)
    lk0, lk1 = p0[project == "LK-MRS"].sum(), p1[project == "LK-MRS"].sum()
    assert lk0 == pytest.approx(5 / 8 * 0.30)
    assert lk1 == pytest.approx(w * lk0)  # the LK-MRS weight is damped ...
    assert p1[project == "NT"].sum() == pytest.approx(3 / 8 + (1 - w) * lk0)  # ... into NT
    for p in TD[1:]:  # the other projects are untouched
        assert p1[project == p].sum() == pytest.approx(p0[project == p].sum())
    # The sampled choices follow the same probabilities (binomial σ ≈ 0.002 for 20000).
    out = draws(sel, tonight, 20000)
    assert np.mean([d.project == "LK-MRS" for d in out]) == pytest.approx(lk1, abs=0.01)
    # Default weight 1: no effect.
    plain = PlateSelector(SelectorConfig(rebalance_gain=0.0))
    np.testing.assert_allclose(plain.probabilities(tonight), plain.probabilities(base))


def _mode_loop(gain: float, n: int = 3000, seed: int = 5) -> tuple[float, float]:
    """NT's share of hours and LK-MRS's share of TD hours when NT pointings are short."""
    sel = PlateSelector(SelectorConfig(rebalance_gain=gain))
    rng = np.random.default_rng(seed)
    used = dict.fromkeys(("NT", *TD), 0.0)
    hours = {"NT": 1.65, "TD": 2.6}  # 3 exposures + overhead against a ~5-exposure visit
    for _ in range(n):
        d = sel.choose(cond([(p, 5, 0) for p in ("NT", *TD)], used), rng)
        used[d.project] += hours[d.programme]
    td = sum(used[p] for p in TD)
    return used["NT"] / (used["NT"] + td), used["LK-MRS"] / td


def _mode_equilibrium(gain: float, h_nt: float = 1.65, h_td: float = 2.6) -> float:
    """Fixed point f = hours share of NT when NT is drawn with the rule-2 weights at f."""
    s = 3 / 8

    def hours_share(f: float) -> float:
        w_nt = s * np.exp(gain * (s - f) / s)
        w_td = (1 - s) * np.exp(gain * (f - s) / (1 - s))
        q = w_nt / (w_nt + w_td)
        return q * h_nt / (q * h_nt + (1 - q) * h_td)

    return brentq(lambda f: f - hours_share(f), 1e-9, 1 - 1e-9)


def test_mode_draw_follows_allocated_versus_used_hours():
    """Rule 2: with rebalancing the realised NT share of MRS hours nears its allocation."""
    nt0, lk0 = _mode_loop(0.0)
    # fixed draw shares give NT 3/8 of the *draws*, so fewer hours: 0.375*1.65 /
    # (0.375*1.65 + 0.625*2.6) = 0.276 (binomial-ish noise ~0.01)
    assert nt0 == pytest.approx(_mode_equilibrium(0.0), abs=0.02)
    assert _mode_equilibrium(0.0) == pytest.approx(0.375 * 1.65 / (0.375 * 1.65 + 0.625 * 2.6))
    for gain in (3.0, 8.0):
        nt, lk = _mode_loop(gain)
        assert nt == pytest.approx(_mode_equilibrium(gain), abs=0.015), gain
        assert lk == pytest.approx(0.30, abs=0.015)
    # the stronger the gain, the closer to 3/8 (0.346 at gain 3, 0.363 at 8)
    assert _mode_equilibrium(3.0) < _mode_equilibrium(8.0) < 3 / 8
    assert 3 / 8 - _mode_equilibrium(8.0) < 0.015
    assert lk0 == pytest.approx(0.30, abs=0.03)
    w_nt, w_td = PlateSelector(SelectorConfig(rebalance_gain=2.0)).mode_weights(
        {"NT": 100.0, "LK-MRS": 10.0, "TD-B": 10.0})
    assert w_nt < 0.375 / 0.625 * w_td  # over-served NT is drawn less than its share
