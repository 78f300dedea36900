"""The Python API (issue #13): public names exported lazily, str paths accepted, typed
results with units, astropy left as it was."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import lkmrs_sched as lk
from lkmrs_sched.core.resources import SCENARIOS


def test_import_is_light_and_every_public_name_resolves():
    code = ("import sys, lkmrs_sched; heavy = [m for m in ('numpy', 'astropy', 'simpy', "
            "'distributed', 'matplotlib') if m in sys.modules]; print(heavy)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "[]"
    for name in lk.__all__:
        assert getattr(lk, name) is not None, name
    assert set(lk.__all__) <= set(dir(lk))
    with pytest.raises(AttributeError):
        lk.no_such_name  # noqa: B018


def test_simulate_synthesize_reduce_with_str_paths(tmp_path):
    scenario = lk.default_scenario("2018-12-01", "2018-12-31")
    log = lk.simulate(scenario, seed=4, out=str(tmp_path / "run"))
    assert isinstance(log, lk.ObservationLog)
    assert (tmp_path / "run" / "observations.sqlite").is_file()
    assert log.to_tables()["exposures"]["ra_deg"].unit == "deg"
    synth = lk.synthesize(str(tmp_path / "run"), out=str(tmp_path / "m.fits"))
    assert isinstance(synth, lk.Synthetic)
    assert synth.measured["rv_b0"].unit == "km/s" and (tmp_path / "m.fits").is_file()
    result = lk.reduce(synth.measured, out=str(tmp_path / "red"))
    cat = result.catalogue
    assert cat["teff"].unit == "K" and str(cat["logg"].unit) == "dex"
    assert (tmp_path / "red" / "catalog.ecsv").is_file()
    again = lk.reduce(str(tmp_path / "m.fits"))
    np.testing.assert_array_equal(again.catalogue["rv"], cat["rv"])


def test_run_forecast_takes_str_paths(tmp_path):
    scenario = tmp_path / "short.toml"
    scenario.write_text(f'[scenario]\nbase = "{SCENARIOS / "forecast-2019.toml"}"\n'
                        'name = "short"\nend = "2019-08-31"\n', encoding="utf-8")
    result = lk.run_forecast(str(scenario), realizations=2, seed=3, out=str(tmp_path / "f"),
                             workers=1, progress=False)
    summary = json.loads((tmp_path / "f" / "forecast.json").read_text())
    assert summary == json.loads(json.dumps(result.to_dict()))
    from astropy.table import Table

    table = Table.read(tmp_path / "f" / "stars.ecsv")
    assert table["sigma_rv_median"].unit == "km/s"
    assert len(result.to_table()) == 20
