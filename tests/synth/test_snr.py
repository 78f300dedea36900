"""The exposure S/N model: named factors, calibration, direction of every condition."""

from __future__ import annotations

import numpy as np
import pytest

from lkmrs_sched.core.config import parse_scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.synth.snr import (
    ARMS,
    Conditions,
    ConstantSNRModel,
    SNRConfig,
    SNRModel,
    blue_snr,
    mag_from_nl,
    moon_sky_nl,
    nl_from_mag,
)


@pytest.fixture(scope="module")
def model() -> SNRModel:
    return SNRModel(SNRConfig())


@pytest.mark.parametrize("arm", ARMS)
def test_every_factor_is_one_at_nominal(model, arm):
    f = model.factors(arm, model.cfg.calibration_mag, model.nominal)
    assert set(f) == {"magnitude", "colour", "exposure", "seeing", "extinction",
                      "transparency", "fibre", "sky"}
    for name, value in f.items():
        assert float(value) == pytest.approx(1.0, abs=1e-12), name


def test_calibration_g15_fitted_snr(model):
    """A solar-type G = 15 star has the fitted calibration S/N in nominal conditions.

    How: the scenario fixes S/N(G_cal, nominal) per arm (fitted by tools/fit_synth.py to
    the paper's shares of spectra with S/N > 10: 6.409 blue, 8.206 red); β (sky/star
    electrons) comes from the nominal KS91 sky and the star's band magnitude; the CCD
    equation is solved for the star's electrons. Nominal conditions are the typical ones
    of the LK-MRS log (seeing 3.3″, airmass 1.15, Moon 75 % lit at 60° and 30° altitude,
    transparency 0.9, 1200 s).
    """
    cfg = model.cfg
    assert cfg.calibration_snr_blue == pytest.approx(6.409)
    assert cfg.calibration_snr_red == pytest.approx(8.206)
    blue, red = cfg.calibration_snr_blue, cfg.calibration_snr_red
    assert float(model.snr("blue", 15.0, model.nominal)) == pytest.approx(blue, rel=1e-9)
    assert float(model.snr("red", 15.0, model.nominal)) == pytest.approx(red, rel=1e-9)
    assert model.mag_at_snr("blue", blue) == pytest.approx(15.0, abs=1e-6)
    # Red is the more sensitive arm for a solar-type star; S/N 10 is reached near G 14.4.
    assert model.mag_at_snr("red", 10.0) > model.mag_at_snr("blue", 10.0)
    assert 14.0 < model.mag_at_snr("blue", 10.0) < 14.8
    assert 0.05 < model.beta["blue"] < 2
    # The bright end (G = 8) reaches S/N ~ 200 in nominal conditions, more in good ones.
    assert 180 < float(model.snr("blue", 8.0, model.nominal)) < 250
    good = model.nominal.replace(seeing_arcsec=2.4, airmass=1.0, moon_altitude_deg=-5.0,
                                 transparency=1.0)
    assert float(model.snr("blue", 8.0, good)) > 250


def test_sky_goes_through_the_fibre(model):
    """The fibre factor attenuates sky and star alike (b = b_cal·exposure·sky·fibre).

    Checked against the CCD equation written out: with s and b both scaled by t, S/N(t) =
    [(t s + t b + r²)/(t s)² + 1/C²]^(-1/2); with no read noise and no ceiling S/N ∝ √t.
    """
    cfg = model.cfg
    s, b = model.s_cal["blue"], model.b_cal["blue"]
    for t in (1.0, 0.3, 0.05, 0.005):
        want = 1 / np.sqrt((t * s + t * b + cfg.read_noise**2) / (t * s) ** 2
                           + 1 / cfg.snr_ceiling**2)
        got = float(model.snr("blue", cfg.calibration_mag, model.nominal,
                              teff=cfg.calibration_teff.value, throughput=t))
        assert got == pytest.approx(want, rel=1e-12)
    ideal = SNRModel(SNRConfig(read_noise=0.0, snr_ceiling=1e5))
    r = [float(ideal.snr("blue", 15.0, ideal.nominal, throughput=t)) for t in (1.0, 0.25)]
    assert r[1] / r[0] == pytest.approx(0.5, rel=1e-3)


def _snr(model, arm="blue", mag=15.0, **cond):
    return float(model.snr(arm, mag, model.nominal.replace(**cond)))


@pytest.mark.parametrize("arm", ARMS)
def test_snr_moves_the_right_way(model, arm):
    nominal = _snr(model, arm)
    assert _snr(model, arm, mag=14.0) > nominal > _snr(model, arm, mag=16.0)
    assert _snr(model, arm, seeing_arcsec=2.5) > nominal > _snr(model, arm, seeing_arcsec=5.0)
    assert _snr(model, arm, airmass=1.0) > nominal > _snr(model, arm, airmass=1.8)
    assert _snr(model, arm, transparency=1.0) > nominal > _snr(model, arm, transparency=0.5)
    assert _snr(model, arm, exptime_s=2400) > nominal > _snr(model, arm, exptime_s=600)
    assert _snr(model, arm, moon_illumination=0.3) > nominal > _snr(
        model, arm, moon_illumination=1.0)
    assert _snr(model, arm, moon_separation_deg=120) > nominal > _snr(
        model, arm, moon_separation_deg=15)
    assert _snr(model, arm, moon_altitude_deg=-5) > _snr(model, arm, moon_altitude_deg=10) \
        > nominal > _snr(model, arm, moon_altitude_deg=70)
    assert float(model.snr(arm, 15.0, model.nominal, throughput=0.5)) < nominal


def test_factor_directions(model):
    f = model.factors("blue", 16.0, model.nominal.replace(
        seeing_arcsec=5.0, airmass=1.5, transparency=0.5, moon_illumination=1.0,
        exptime_s=600), teff=4500.0, throughput=0.3)
    assert f["magnitude"] == pytest.approx(10 ** -0.4)
    assert f["exposure"] == pytest.approx(0.5)
    assert f["transparency"] == pytest.approx(0.5 / 0.9)
    assert f["fibre"] == pytest.approx(0.3)
    assert f["seeing"] < 1 and f["extinction"] < 1 and f["sky"] > 1
    assert f["colour"] < 1  # a cool star is fainter in the blue arm than its G suggests
    assert model.factors("red", 15.0, model.nominal, teff=4500.0)["colour"] > 1


def test_snr_saturates_at_the_ceiling(model):
    assert float(model.snr("blue", -1.0, model.nominal)) < model.cfg.snr_ceiling
    assert float(model.snr("blue", -1.0, model.nominal)) > 0.9 * model.cfg.snr_ceiling


def test_ks91_units_and_bright_moon():
    assert float(nl_from_mag(21.587)) == pytest.approx(79.0, rel=0.01)  # KS91's zenith dark sky
    assert float(mag_from_nl(nl_from_mag(19.3))) == pytest.approx(19.3)
    full = moon_sky_nl(1.0, 45.0, 45.0, 30.0, 0.172)
    total = float(mag_from_nl(full + nl_from_mag(21.587)))
    assert 17.0 < total < 19.5  # a full-Moon sky, V mag/arcsec²
    assert float(moon_sky_nl(1.0, 45.0, -1.0, 30.0, 0.172)) == 0.0


def test_impossible_calibration_is_an_input_error():
    with pytest.raises(InputError) as exc:
        SNRModel(SNRConfig(calibration_snr_blue=500.0, snr_ceiling=400.0), "s.toml: [snr]")
    assert exc.value.where == "s.toml: [snr] calibration_snr_blue"
    assert exc.value.value == 500.0
    assert "400" in exc.value.allowed
    sc = parse_scenario({"scenario": {"start": "2018-09-01", "end": "2018-09-30"},
                         "snr": {"calibration_snr_red": 2000.0}}, source="x.toml")
    with pytest.raises(InputError, match=r"x.toml: \[snr\] calibration_snr_red"):
        SNRModel(sc.snr, f"{sc.source}: [snr]")


def test_scenario_section_validates_units():
    with pytest.raises(InputError, match="nominal_seeing"):
        parse_scenario({"scenario": {"start": "2018-09-01", "end": "2018-09-30"},
                        "snr": {"nominal_seeing": "3 s"}}, source="x.toml")


def test_blue_snr_grid_and_errors(model):
    mags = np.array([12.0, 15.0])
    out = blue_snr(mags, seeing_arcsec=[3.3, 3.3, 5.0], airmass=1.15, moon_illumination=0.75,
                   moon_separation_deg=60.0, moon_altitude_deg=30.0)
    assert out.shape == (2, 3)
    assert out[1, 0] == pytest.approx(model.cfg.calibration_snr_blue)
    assert out[0, 0] > out[1, 0] and out[1, 2] < out[1, 0]
    thr = blue_snr(mags, throughput=np.array([1.0, 0.5]), seeing_arcsec=3.3, airmass=1.15,
                   moon_illumination=0.75, moon_separation_deg=60.0, moon_altitude_deg=30.0)
    assert thr[1, 0] < out[1, 0]
    for bad in (np.nan, 30.0, -5.0):
        with pytest.raises(InputError, match="magnitude out of range"):
            blue_snr(np.array([14.0, bad]), seeing_arcsec=3.3, airmass=1.2,
                     moon_illumination=0.5, moon_separation_deg=90, moon_altitude_deg=10)


def test_constant_twin_has_the_same_interface():
    twin = ConstantSNRModel(blue=25.0, red=35.0)
    cond = Conditions.nominal(SNRConfig()).replace(seeing_arcsec=np.array([[2.0], [6.0]]))
    out = twin.snr("blue", np.array([[10.0, 14.0, 15.0]]), cond, throughput=0.5)
    assert out.shape == (2, 3)
    assert np.all(out == 12.5)
