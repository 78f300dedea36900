"""Table outputs carry units, descriptions and UCDs in every format (issue #13)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.table import Table

from lkmrs_sched.core.atomic import write_table
from lkmrs_sched.core.tablemeta import COLUMNS, annotate


def _table() -> Table:
    t = Table({"logg_lasp": np.array([4.1, 2.5], "f4"), "rv_b0": [1.0, -3.0],
               "teff_lasp": [5800.0, 4800.0], "ra_obs": [280.1, 290.2],
               "uid": np.array([b"A1", b"B22"]), "snr": [12.0, 3.0], "mine": [1, 2],
               "spid": np.array([1, 16], "i1")})
    t.meta["SCENHASH"] = "abc"
    return t


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITS: 'dex' is read as an unrecognised unit
        return Table.read(path)


@pytest.mark.parametrize("ext", ["fits", "ecsv", "vot", "xml"])
def test_units_descriptions_and_ucds_survive_every_format(ext, tmp_path):
    back = _read(write_table(_table(), tmp_path / f"t.{ext}"))
    assert str(back["logg_lasp"].unit) == "dex"
    assert back["rv_b0"].unit == "km/s" and back["teff_lasp"].unit == "K"
    assert back["ra_obs"].unit == "deg" and back["snr"].unit is None
    assert back["rv_b0"].meta["ucd"] == "phys.veloc;spect"
    assert back["logg_lasp"].meta["ucd"] == "phys.gravity"
    assert back["ra_obs"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert back["snr"].meta["ucd"] == "stat.snr"
    assert back["teff_lasp"].description == COLUMNS["teff_lasp"][2]
    assert "ucd" not in back["mine"].meta
    np.testing.assert_array_equal(np.asarray(back["uid"]).astype(str), ["A1", "B22"])
    np.testing.assert_array_equal(back["rv_b0"], [1.0, -3.0])
    np.testing.assert_array_equal(back["spid"], [1, 16])  # int8 (VOTable: widened)


def test_fits_writes_dex_as_lamost_does(tmp_path):
    from astropy.io import fits

    path = write_table(_table(), tmp_path / "t.fits")
    header = fits.getheader(path, 1)
    units = {header[f"TTYPE{i}"]: header.get(f"TUNIT{i}") for i in range(1, 8)}
    assert units["logg_lasp"] == "dex" and units["rv_b0"] == "km s-1"


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_formats_that_lose_units_or_need_pandas_are_not_written(ext, tmp_path):
    with pytest.raises(ValueError, match=r"no table format.*allowed \['ascii.ecsv', 'fits'"):
        write_table(_table(), tmp_path / f"t.{ext}")
    assert not list(tmp_path.iterdir())


def test_annotate_keeps_what_a_column_has():
    t = _table()
    t["rv_b0"].unit = "m/s"
    t["rv_b0"].description = "mine"
    annotate(t)
    assert t["rv_b0"].unit == "m/s" and t["rv_b0"].description == "mine"


def test_observation_log_tables_have_units(tmp_path):
    from lkmrs_sched.sim.importers import import_table2

    log = import_table2()
    paths = log.to_ecsv(tmp_path) + log.to_ecsv(tmp_path, ext="vot")
    for p in paths:
        t = _read(p)
        if p.stem == "exposures":
            assert t["exptime_s"].unit == "s" and t["ra_deg"].unit == "deg"
            assert t["seeing_arcsec"].unit == "arcsec" and t["start_mjd"].unit == "d"
            assert t["ra_deg"].meta["ucd"] == "pos.eq.ra;meta.main"
        if p.stem == "nights":
            assert t["dark_h"].unit == "h"
