"""``lkmrs-sched reduce`` end to end on a DR8-layout catalogue with bad rows."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from astropy.table import Table
from reduction_fakes import BAD_ROWS, dr8_table_with_bad_rows

from lkmrs_sched.commands import reduce as reduce_cmd
from lkmrs_sched.core.errors import InputError


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    reduce_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["reduce", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def dr8_files(tmp_path_factory):
    """The same bad DR8 table as FITS (numeric S/N) and as CSV (S/N as text)."""
    folder = tmp_path_factory.mktemp("dr8")
    t, fake = dr8_table_with_bad_rows(
        seed=9, stars_per_spid=40, n_exposures=8, rv_offset_sigma=0.3, lamp_exposures=2
    )
    csv_path = folder / "mrs_dr8.csv"
    t.write(csv_path, format="ascii.csv")
    return csv_path, t, fake


def test_reduce_writes_every_product_and_reports_bad_rows(dr8_files, tmp_path, capsys):
    csv_path, t, _ = dr8_files
    out = tmp_path / "out"
    assert _run([str(csv_path), "--out", str(out), "--quiet"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("reduced ") and "input rows excluded" in line
    for name in (
        "catalog.fits",
        "catalog.ecsv",
        "uncertainty.json",
        "uncertainty.ecsv",
        "rv_zero_points.ecsv",
        "rv_zero_point_plates.ecsv",
        "rv_variables.ecsv",
        "read_report.json",
        "summary.json",
        "rv_zero_points.png",
        "uncertainty.png",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not list(out.glob(".*tmp*"))  # atomic writes leave no temporaries
    assert not (out / "catalog.csv").exists()  # CSV would lose the units

    unc = json.loads((out / "uncertainty.json").read_text())
    assert set(unc) == {"teff", "logg", "feh", "rv"}
    for entry in unc.values():
        assert set(entry["sigma_at_snr"]) == {"10", "20", "50"}
        assert entry["a"] is not None and 0 <= entry["outlier_fraction"] < 0.05
    report = json.loads((out / "read_report.json").read_text())
    excluded = sum(v for k, v in BAD_ROWS.items() if k != "teff_sentinel")
    assert report["n_rows_excluded"] == excluded
    assert report["n_rows_read"] == len(t)
    problems = {i["problem"] for i in report["issues"]}
    assert {"negative S/N", "S/N missing or NaN", "S/N not a number"} <= problems

    cat = Table.read(out / "catalog.fits")
    cat_ecsv = Table.read(out / "catalog.ecsv")
    assert len(cat) == len(cat_ecsv) == 16 * 40
    assert np.allclose(cat["teff"], cat_ecsv["teff"], equal_nan=True)
    assert str(cat_ecsv["rv"].unit) == "km / s"
    zp = Table.read(out / "rv_zero_points.ecsv")
    assert {"planid", "spid", "exposure", "offset", "error", "n_stars"} <= set(zp.colnames)
    assert len(zp) == 16 * 8
    assert (zp["lamp_shift"][zp["exposure_index"] <= 2] == 6.5).all()


def test_reduce_reference_option_and_fits_input(dr8_files, tmp_path, capsys):
    _, t, fake = dr8_files
    good = t[np.asarray(t["snr"]) != "bad"]
    good["snr"] = np.asarray(good["snr"]).astype(float)
    fits_path = tmp_path / "cat.fits"
    good.write(fits_path)
    ref = Table()
    ref["uid"] = fake.stars["uid"]
    ref["rv"] = fake.stars["rv"]
    ref_path = tmp_path / "ref.ecsv"
    ref.write(ref_path)
    out = tmp_path / "ref_out"
    code = _run(
        [
            str(fits_path),
            "--out",
            str(out),
            "--reference-rv",
            str(ref_path),
            "--no-figures",
            "--quiet",
        ]
    )
    assert code == 0
    assert "zero points reference" in capsys.readouterr().out
    zp = Table.read(out / "rv_zero_points.ecsv")
    assert zp.meta["method"] == "reference"
    assert np.isfinite(np.asarray(zp["offset"], float)).all()
    assert not (out / "uncertainty.png").exists()


def test_reduce_bad_options_are_input_errors(dr8_files, tmp_path):
    csv_path, _, _ = dr8_files
    with pytest.raises(SystemExit):  # argparse: --iterations is an integer >= 1
        _run([str(csv_path), "--out", str(tmp_path), "--iterations", "0", "--quiet"])
    with pytest.raises(InputError, match="missing required columns"):
        _run([str(csv_path), "--rv-column", "rv_nope", "--out", str(tmp_path), "--quiet"])
    with pytest.raises(InputError, match="--column-map"):
        _run([str(csv_path), "--column-map", "oops", "--out", str(tmp_path), "--quiet"])


def test_main_entry_point_exit_codes(dr8_files, tmp_path, capsys):
    from lkmrs_sched import cli

    csv_path, _, _ = dr8_files
    assert cli.main(["reduce", str(tmp_path / "absent.csv"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert (
        cli.main(["reduce", str(csv_path), "--out", str(tmp_path / "o"), "--quiet", "--no-figures"])
        == 0
    )
