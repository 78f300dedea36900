"""RV zero points: common constant stars, reference RVs and the alternate-lamp shift."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table
from reduction_fakes import small_catalogue

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.reduction import (
    read_reference_rvs,
    rv_zero_points,
    rv_zero_points_reference,
    spectra_from_table,
)
from lkmrs_sched.reduction.fakes import fake_catalogue
from lkmrs_sched.reduction.groups import weighted_mean_scatter

N_EXP = 12


@pytest.fixture(scope="module")
def plate():
    """One full plate: 16 spectrographs × 240 stars, 12 exposures, σ_offset = 0.3 km/s,
    the first 3 exposures with the alternate lamp (+6.5 km/s), Table 4 RV noise."""
    fake = fake_catalogue(
        seed=21,
        n_plates=1,
        stars_per_spid=240,
        n_exposures=N_EXP,
        snr_range=(30.0, 300.0),
        rv_offset_sigma=0.3,
        lamp_exposures=3,
    )
    return fake, spectra_from_table(fake.arrow())


def _grid(table: Table, lmjm: np.ndarray, column: str) -> np.ndarray:
    out = np.full((lmjm.size, 16), np.nan)
    e = np.searchsorted(
        lmjm, np.asarray(table["exposure" if "status" in table.colnames else "lmjm"])
    )
    out[e, np.asarray(table["spid"]) - 1] = np.asarray(table[column], dtype=float)
    return out


def test_offsets_recovered_to_005_kms_rms(plate):
    fake, spectra = plate
    zp = rv_zero_points(spectra)
    lmjm = np.unique(np.asarray(fake.offsets["lmjm"]))
    truth = _grid(fake.offsets, lmjm, "offset")
    # The method is relative: per spectrograph the offsets average to ~0 over exposures.
    truth -= truth.mean(axis=0)
    got = _grid(zp.offsets, lmjm, "offset")
    err = _grid(zp.offsets, lmjm, "error")
    assert np.isfinite(got).all()
    rms = np.sqrt(np.mean((got - truth) ** 2))
    assert rms <= 0.05, rms
    # The misfit is what the quoted errors say it should be (noise-limited, no bias).
    assert 0.6 < rms / np.median(err) < 1.5
    assert np.std(truth) > 0.2  # the test does inject offsets of ~0.3 km/s
    assert (zp.offsets["n_stars"] > 150).all()


def test_constant_star_scatter_falls_and_lamp_shift_removed(plate):
    fake, spectra = plate
    zp = rv_zero_points(spectra)
    sp = spectra.spectra
    star = np.asarray(sp["star"])
    rv_raw = np.asarray(sp["rv"], dtype=float)
    rv_cor = zp.apply(rv_raw)
    w = np.asarray(sp["rv_snr"], dtype=float) ** 2
    n = len(spectra.stars)
    _, before, _, _ = weighted_mean_scatter(star, rv_raw, w, n)
    _, after, _, _ = weighted_mean_scatter(star, rv_cor, w, n)
    assert np.median(after) < 0.8 * np.median(before)
    # Against the truth: lamp exposures no longer read 6.5 km/s high.
    true_rv = np.asarray(fake.spectra["rv"])[np.searchsorted(fake.spectra["obsid"], sp["obsid"])]
    lamp = np.asarray(spectra.exposures["alt_lamp"])[np.asarray(sp["exposure"])]
    assert lamp.sum() == 3 * 16 * 240
    raw_bias = np.mean(rv_raw[lamp] - true_rv[lamp]) - np.mean(rv_raw[~lamp] - true_rv[~lamp])
    cor_bias = np.mean(rv_cor[lamp] - true_rv[lamp]) - np.mean(rv_cor[~lamp] - true_rv[~lamp])
    assert raw_bias == pytest.approx(6.5, abs=0.1)
    assert abs(cor_bias) < 0.05
    assert (zp.offsets["lamp_shift"][np.asarray(zp.offsets["exposure_index"]) <= 3] == 6.5).all()


def test_more_iterations_are_configurable_and_stable(plate):
    _, spectra = plate
    one = rv_zero_points(spectra, iterations=1)
    two = rv_zero_points(spectra, iterations=2)
    diff = np.asarray(two.offsets["offset"]) - np.asarray(one.offsets["offset"])
    assert np.sqrt(np.mean(diff**2)) < 0.02
    with pytest.raises(InputError):
        rv_zero_points(spectra, iterations=0)


def test_small_plates_are_skipped_and_reported():
    fake = small_catalogue(seed=4, stars_per_spid=5, n_exposures=4)  # 320 spectra
    spectra = spectra_from_table(fake.table())
    zp = rv_zero_points(spectra)
    assert zp.skipped_plates() == [str(spectra.plates["planid"][0])]
    assert "fewer than 540" in zp.plates["status"][0]
    assert np.isnan(np.asarray(zp.offsets["offset"], dtype=float)).all()
    assert all("plate skipped" in s for s in zp.offsets["status"])
    # Only the lamp correction is applied there.
    assert set(np.round(zp.correction, 6)) <= {0.0}
    # With a lower threshold the plate is corrected.
    assert rv_zero_points(spectra, min_plate_spectra=100).skipped_plates() == []


def test_offsets_table_columns(plate):
    _, spectra = plate
    t = rv_zero_points(spectra).offsets
    for col in ("planid", "spid", "exposure", "offset", "error", "n_stars"):
        assert col in t.colnames
    assert len(t) == N_EXP * 16
    assert str(t["offset"].unit) == "km / s"


def test_reference_rv_zero_points(plate, tmp_path):
    fake, spectra = plate
    rng = np.random.default_rng(8)
    # Gaia-like reference RVs (σ 0.5 km/s) for a third of the stars, keyed by source_id.
    pick = rng.random(len(spectra.stars)) < 0.33
    true = dict(zip(fake.stars["uid"], fake.stars["rv"], strict=True))
    ref = Table()
    ref["source_id"] = np.asarray(spectra.stars["gaia_source_id"])[pick]
    ref["radial_velocity"] = [true[u] for u in np.asarray(spectra.stars["uid"])[pick]]
    ref["radial_velocity"] += rng.normal(0, 0.5, pick.sum())
    ref["radial_velocity_error"] = np.full(pick.sum(), 0.5)
    path = tmp_path / "gaia.csv"
    ref.write(path, format="ascii.csv")
    reference = read_reference_rvs(path)
    assert reference.meta["key_name"] == "gaia_source_id"
    zp = rv_zero_points_reference(spectra, reference)
    lmjm = np.unique(np.asarray(fake.offsets["lmjm"]))
    truth = _grid(fake.offsets, lmjm, "offset")  # absolute: no mean removed
    got = _grid(zp.offsets, lmjm, "offset")
    assert np.isfinite(got).all()
    assert np.sqrt(np.mean((got - truth) ** 2)) < 0.15  # ~80 stars per unit, σ ≈ 1.2 km/s
    assert (zp.offsets["n_stars"] >= 5).all()


def test_reference_needs_five_stars(plate):
    _, spectra = plate
    ref = Table()
    ref["uid"] = np.asarray(spectra.stars["uid"])[:4]  # 4 stars, all on spectrograph 1
    ref["rv"] = np.zeros(4)
    ref.meta["key_name"] = "uid"
    ref["key"] = ref["uid"]
    ref["rv_err"] = np.zeros(4)
    zp = rv_zero_points_reference(spectra, ref)
    assert np.isnan(np.asarray(zp.offsets["offset"], dtype=float)).all()
    assert set(zp.offsets["status"]) == {"fewer than 5 reference stars"}


def test_reference_file_without_rv_column_is_an_input_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("uid,vel\nG1,3.0\n")
    with pytest.raises(InputError, match="missing reference columns"):
        read_reference_rvs(path)


def test_min_presence_keeps_stars_missing_from_some_exposures():
    """Fibres missing 8 % of the time: hardly any star is in all 24 exposures."""
    fake = fake_catalogue(
        seed=41,
        n_plates=1,
        stars_per_spid=240,
        n_exposures=24,
        snr_range=(30.0, 300.0),
        rv_offset_sigma=0.3,
        presence=0.92,
    )
    spectra = spectra_from_table(fake.arrow())
    strict = rv_zero_points(spectra)
    loose = rv_zero_points(spectra, min_presence=0.8, iterations=2)
    assert np.median(strict.offsets["n_stars"]) < 40  # 0.92**24 ≈ 13 % of the stars
    assert np.median(loose.offsets["n_stars"]) > 150
    lmjm = np.unique(np.asarray(fake.offsets["lmjm"]))
    truth = _grid(fake.offsets, lmjm, "offset")
    truth -= truth.mean(axis=0)
    rms = np.sqrt(np.mean((_grid(loose.offsets, lmjm, "offset") - truth) ** 2))
    assert rms < 0.06, rms
    with pytest.raises(InputError):
        rv_zero_points(spectra, min_presence=0)
