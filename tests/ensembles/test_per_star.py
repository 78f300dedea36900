"""The full chain (synth → reduce) against the fast path, on the same realizations.

Issue #12, point 7: the fast path stays the default only while its survey totals lie
within the full chain's Monte Carlo error. Realization k has the seed
``SeedSequence(2019, spawn_key=(k,))`` in both, so the exposures' conditions (hence every
S/N, good epoch and baseline) are the same and only the measurement noise differs.
"""

from __future__ import annotations

import numpy as np
import pytest

from lkmrs_sched.core.config import default_scenario
from lkmrs_sched.ensembles.per_star import full_chain_outcomes
from lkmrs_sched.sim.importers import import_table2
from lkmrs_sched.sky.footprints import load_lkmrs
from lkmrs_sched.synth.outcomes import build_star_catalogue, star_outcomes, survey_totals

#: The three plates with the most Table 2 exposures (111 exposures, 4 months).
PLATES = ("K2b3", "K2d4", "K2d3")
REALIZATIONS = 5
#: Totals compared, with the criterion's completeness bins below 10^3 d added.
KEYS = ("spectra_snr_gt_10", "stars_ge_10_good_epochs", "stars_ge_30_good_epochs",
        "rv_tested", "median_sigma_rv", "median_sigma_rv_mean", "rv_variable_detections",
        "binaries_detected", "variables_detected", "false_detections")


def _flat(t: dict) -> dict[str, float]:
    out = {k: float(t[k]) for k in KEYS}
    for i, b in enumerate(t["completeness_vs_period"][:3]):
        out[f"completeness_bin{i}"] = b["completeness"]
    out["paper_false_detections"] = float(t["paper"]["false_detections"])
    return out


@pytest.fixture(scope="module")
def paired():
    scenario = default_scenario()
    plates = load_lkmrs()
    ex = import_table2().exposures
    ex = ex[np.isin(np.asarray(ex["plate_name"]).astype(str), PLATES)]
    cat = build_star_catalogue(plates, scenario)
    fast, full = [], []
    for k in range(REALIZATIONS):
        seed = np.random.SeedSequence(2019, spawn_key=(k,))
        f = star_outcomes(ex, plates, scenario, seed, catalogue=cat)
        g = full_chain_outcomes(ex, plates, scenario, seed, catalogue=cat)
        fast.append((f, _flat(survey_totals(f))))
        full.append((g, _flat(survey_totals(g))))
    return fast, full


def test_same_conditions_give_the_same_epochs(paired):
    fast, full = paired
    for (f, _), (g, _) in zip(fast, full, strict=True):
        np.testing.assert_array_equal(f.uid, g.uid)
        np.testing.assert_array_equal(f.n_good, g.n_good)
        np.testing.assert_array_equal(f.n_spectra, g.n_spectra)
        np.testing.assert_allclose(f.baseline_days, g.baseline_days, rtol=0, atol=1e-6)
    # The realizations differ (their conditions are drawn from their own seeds).
    assert fast[0][1]["spectra_snr_gt_10"] != fast[1][1]["spectra_snr_gt_10"]


def test_fast_path_totals_within_the_full_chains_monte_carlo_error(paired):
    """|mean(fast) − mean(full)| ≤ 3 · sqrt(s_fast² + s_full²)/√R for every total, with s
    the realizations' standard deviation; totals without spread must agree exactly."""
    fast, full = paired
    for key in fast[0][1]:
        a = np.array([t[key] for _, t in fast])
        b = np.array([t[key] for _, t in full])
        se = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / REALIZATIONS)
        assert abs(a.mean() - b.mean()) <= 3 * se + 1e-9, (key, a, b)
    # The comparison has teeth: detections in the hundreds, the paper's test flags many
    # constant stars, the robust test almost none.
    det = np.mean([t["rv_variable_detections"] for _, t in full])
    assert det > 100
    paper = np.mean([t["paper_false_detections"] for _, t in full])
    assert paper > 20 * max(np.mean([t["false_detections"] for _, t in full]), 1.0)


def test_forecast_per_star_full_runs_the_chain_in_every_realization(tmp_path, capsys):
    """``forecast --per-star full``: the survey totals come from synth + reduce; the store
    of a fast forecast is not mixed with a full one."""
    from lkmrs_sched.cli import main
    from lkmrs_sched.core.resources import SCENARIOS

    scenario = tmp_path / "month.toml"
    scenario.write_text(f'[scenario]\nbase = "{SCENARIOS / "forecast-2019.toml"}"\n'
                        'name = "month"\nend = "2019-10-15"\n', encoding="utf-8")
    out = tmp_path / "full"
    args = ["forecast", str(scenario), "--realizations", "2", "--workers", "1", "--out",
            str(out), "--seed", "5"]
    assert main([*args, "--per-star", "full"]) == 0
    summary = __import__("json").loads((out / "forecast.json").read_text())
    totals = summary["totals"]
    for key in ("rv_variable_detections", "paper_false_detections", "median_sigma_rv"):
        assert key in totals
    assert totals["rv_variable_detections"]["median"] > 100
    assert "completeness_vs_period_paper" in summary
    assert (out / "stars.ecsv").exists()
    capsys.readouterr()
    assert main(args) == 2  # same folder, fast path: a different ensemble, refused
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lkmrs-sched: error:"), err
