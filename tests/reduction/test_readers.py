"""Readers: DR8-layout catalogues in every format, column maps, bad rows reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table
from reduction_fakes import BAD_ROWS, dr8_table_with_bad_rows, small_catalogue

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.reduction import parse_column_map, read_exposures, spectra_from_table


def _issues(spectra):
    return {(i.column, i.problem): i.n_rows for i in spectra.report.issues}


def test_joins_arms_into_one_spectrum_per_obsid():
    fake = small_catalogue(seed=1)
    t = fake.table()
    spectra = spectra_from_table(t)
    n_spec = len(t) // 2
    assert len(spectra) == n_spec
    sp = spectra.spectra
    assert np.isfinite(sp["snr"]).all() and np.isfinite(sp["snr_r"]).all()
    assert (np.asarray(sp["snr_r"]) > np.asarray(sp["snr"]) * 0.9).mean() > 0.9
    assert len(spectra.stars) == 16 * 12 and len(spectra.exposures) == 6
    assert spectra.report.n_rows_read == spectra.report.n_rows_used == len(t)
    assert spectra.report.issues == []
    # lmjm → UTC MJD = lmjm/1440 − 8/24
    e = spectra.exposures
    assert np.asarray(e["mjd"]) == pytest.approx(np.asarray(e["lmjm"]) / 1440 - 1 / 3)


def test_rv_column_choice_takes_the_right_arm():
    t = small_catalogue(seed=1).table()
    red = spectra_from_table(t, rv_column="rv_r0")
    blue = spectra_from_table(t, rv_column="rv_b0")
    assert np.isfinite(red.spectra["rv"]).all() and np.isfinite(blue.spectra["rv"]).all()
    assert np.asarray(red.spectra["rv_snr"]) == pytest.approx(np.asarray(red.spectra["snr_r"]))
    assert not np.allclose(red.spectra["rv"], blue.spectra["rv"])


@pytest.mark.parametrize("suffix", [".fits", ".csv", ".csv.gz", ".parquet", ".ecsv"])
def test_every_format_reads_the_same(tmp_path, suffix):
    t = small_catalogue(seed=3, stars_per_spid=4).table()
    path = tmp_path / f"cat{suffix}"
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(small_catalogue(seed=3, stars_per_spid=4).arrow(), path)
    elif suffix == ".csv.gz":
        import gzip

        plain = tmp_path / "plain.csv"
        t.write(plain, format="ascii.csv")
        path.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        t.write(path, format={".fits": "fits", ".csv": "ascii.csv", ".ecsv": "ascii.ecsv"}[suffix])
    ref = spectra_from_table(t)
    got = read_exposures(path)
    assert len(got) == len(ref)
    for col in ("obsid", "star", "spid", "snr", "teff", "rv", "rv_err"):
        assert np.allclose(
            np.asarray(got.spectra[col], float), np.asarray(ref.spectra[col], float), equal_nan=True
        ), col
    assert list(got.stars["uid"]) == list(ref.stars["uid"])
    assert list(got.stars["designation"]) == list(ref.stars["designation"])
    assert (np.asarray(got.exposures["alt_lamp"]) == np.asarray(ref.exposures["alt_lamp"])).all()
    assert got.report.issues == []


def test_bad_rows_are_excluded_and_reported(tmp_path):
    t, _ = dr8_table_with_bad_rows(seed=5)
    path = tmp_path / "dr8.csv"
    t.write(path, format="ascii.csv")
    spectra = read_exposures(path)
    issues = _issues(spectra)
    assert issues[("snr", "S/N missing or NaN")] == BAD_ROWS["snr_nan"]
    assert issues[("snr", "negative S/N")] == BAD_ROWS["snr_negative"]
    assert issues[("snr", "S/N not a number")] == BAD_ROWS["snr_text"]
    assert issues[("uid", "missing value")] == BAD_ROWS["uid_missing"]
    assert issues[("spid", "spectrograph ID outside 1-16")] == BAD_ROWS["spid_out_of_range"]
    dup = [k for k in issues if k[0] == "obsid" and "duplicate" in k[1]]
    assert dup and issues[dup[0]] == BAD_ROWS["duplicate"]
    assert issues[("teff_lasp", "LAMOST no-value mark -9999")] == BAD_ROWS["teff_sentinel"]
    excluded = sum(v for k, v in BAD_ROWS.items() if k != "teff_sentinel")
    assert spectra.report.n_rows_excluded == excluded
    assert all(i.where == str(path) for i in spectra.report.issues)
    # Sentinel Teff values are missing, not -9999.
    assert np.nanmin(np.asarray(spectra.spectra["teff"])) > 3000
    # Strict mode stops at the first problem, naming file and column.
    with pytest.raises(
        InputError, match=r"dr8\.csv: column spid: 1 rows: spectrograph ID outside 1-16"
    ):
        read_exposures(path, strict=True)


def test_missing_required_columns_raise_with_all_names(tmp_path):
    t = small_catalogue(seed=1, stars_per_spid=2).table()
    t.remove_columns(["snr", "lmjm"])
    path = tmp_path / "cut.fits"
    t.write(path)
    with pytest.raises(InputError) as exc:
        read_exposures(path)
    msg = str(exc.value)
    assert "cut.fits" in msg and "'snr'" in msg and "'lmjm'" in msg
    assert "missing required columns" in msg and "--column-map" in msg


def test_column_map_and_case_insensitive_names(tmp_path):
    t = small_catalogue(seed=1, stars_per_spid=2).table()
    t.rename_column("snr", "SNR_MEDIAN")
    t.rename_column("teff_lasp", "TEFF_LASP")
    t.rename_column("obsid", "ObsID")
    with pytest.raises(InputError):
        spectra_from_table(t)
    spectra = spectra_from_table(t, column_map=["SNR_MEDIAN=snr"])
    assert len(spectra) == len(t) // 2
    mapfile = tmp_path / "map.json"
    mapfile.write_text(json.dumps({"SNR_MEDIAN": "snr"}))
    assert parse_column_map([str(mapfile)]) == {"SNR_MEDIAN": "snr"}
    toml = tmp_path / "map.toml"
    toml.write_text('[columns]\nSNR_MEDIAN = "snr"\n')
    assert parse_column_map([str(toml)]) == {"SNR_MEDIAN": "snr"}
    with pytest.raises(InputError, match="unknown target column"):
        parse_column_map(["X=not_a_column"])
    with pytest.raises(InputError):
        parse_column_map(["no-equals-sign"])
    with pytest.raises(InputError, match="no such column"):
        spectra_from_table(t, column_map={"NOPE": "snr"})


def test_star_twice_in_one_exposure_keeps_best_snr():
    t = small_catalogue(seed=1, stars_per_spid=2).table()
    extra = t[:1].copy()  # a blue row with a new obsid but the same star and exposure
    extra["obsid"] = 999
    extra["snr"] = 1.0
    from astropy.table import vstack

    spectra = spectra_from_table(vstack([t, extra]))
    issues = _issues(spectra)
    assert issues[("uid", "star observed twice in one exposure (two fibres)")] == 1
    assert 999 not in set(np.asarray(spectra.spectra["obsid"]))


def test_bad_parameter_values_become_missing_with_a_warning():
    t = small_catalogue(seed=1, stars_per_spid=2).table()
    blue = np.flatnonzero(np.asarray(t["band"]) == "B")
    t["teff_lasp_err"][blue[:2]] = -5.0
    t["bad_b"][blue[2]] = 1
    spectra = spectra_from_table(t)
    issues = {(i.column, i.problem): (i.n_rows, i.severity) for i in spectra.report.issues}
    assert issues[("teff_lasp_err", "error not positive")] == (2, "warning")
    assert issues[("teff_lasp", "arm flagged bad by LAMOST (bad_b != 0)")][0] == 1
    assert spectra.report.n_rows_excluded == 0


def test_unknown_format_and_missing_file_are_input_errors(tmp_path):
    bad = tmp_path / "cat.txt"
    bad.write_text("x")
    with pytest.raises(InputError, match="unknown table format"):
        read_exposures(bad)
    with pytest.raises(InputError, match="no such file"):
        read_exposures(tmp_path / "absent.fits")
    garbage = tmp_path / "g.fits"
    garbage.write_bytes(b"not a fits file")
    with pytest.raises(InputError, match="readable FITS"):
        read_exposures(garbage)


def test_blue_only_table_without_band_column():
    fake = small_catalogue(seed=1, stars_per_spid=2, both_arms=False)
    t = Table(fake.columns)
    t.remove_column("band")
    spectra = spectra_from_table(t)
    assert len(spectra) == len(t)
    assert ("band", "no band column") in _issues(spectra)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".fits"])
def test_several_files_in_small_batches_match_one_table(tmp_path, suffix):
    """Two files (the second repeats 3 rows of the first), read 200 rows at a time."""
    t, _ = dr8_table_with_bad_rows(seed=6)
    half = len(t) // 2
    first, second = t[:half], t[half - 3 :]
    paths = [tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"]
    for part, path in zip((first, second), paths, strict=True):
        if suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({c: np.asarray(part[c]) for c in part.colnames}), path)
        else:
            part.write(path, format="fits" if suffix == ".fits" else "ascii.csv")
    together = read_exposures(paths, batch_rows=200)
    whole = spectra_from_table(t)
    assert len(together) == len(whole)
    assert list(together.stars["uid"]) == list(whole.stars["uid"])
    assert np.allclose(
        np.asarray(together.spectra["teff"]), np.asarray(whole.spectra["teff"]), equal_nan=True
    )
    issues = _issues(together)
    # Batches add up: each problem appears once per file with the total count.
    assert issues[("snr", "negative S/N")] == BAD_ROWS["snr_negative"]
    dup = {(i.where, i.n_rows) for i in together.report.issues if "duplicate" in i.problem}
    assert sum(n for _, n in dup) == BAD_ROWS["duplicate"] + 3
    assert together.report.n_rows_read == len(t) + 3
