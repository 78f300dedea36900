"""The exposures' RA/Dec and night index (issue #13, schema version 2), and logs of
version 1 read with them filled in."""

from __future__ import annotations

import datetime as dt
import sqlite3

import numpy as np
import pytest

from lkmrs_sched.core.config import default_scenario
from lkmrs_sched.sim.importers import import_table2
from lkmrs_sched.sim.obslog import DERIVED_COLUMNS, SCHEMA_VERSION, ObservationLog
from lkmrs_sched.sim.simulator import Simulation
from lkmrs_sched.sky.footprints import load_lkmrs


@pytest.fixture(scope="module")
def sim_log() -> ObservationLog:
    return Simulation(default_scenario("2018-12-01", "2018-12-31"), 5).run()


def _mjd(night: str) -> int:
    return (dt.date.fromisoformat(night) - dt.date(1858, 11, 17)).days


def test_simulated_exposures_carry_plate_centres_and_night_index(sim_log):
    e = sim_log.exposures
    assert len(e) > 20
    plates = Simulation(default_scenario("2018-12-01", "2018-12-31"), 5).plates
    for row in e[:: max(1, len(e) // 15)]:
        i = list(plates.plan_id).index(row["plan_id"])
        assert row["ra_deg"] == pytest.approx(plates.ra_deg[i], abs=0)
        assert row["dec_deg"] == pytest.approx(plates.dec_deg[i], abs=0)
        assert row["night_index"] == _mjd(row["night"])
    assert e["night_index"].dtype.kind == "i"
    assert ((e["ra_deg"] >= 0) & (e["ra_deg"] < 360)).all()


def test_table2_import_carries_them(table2_rows):
    e = import_table2().exposures
    lk = load_lkmrs()
    first = table2_rows[0]
    rows = e[e["plate_name"] == first["plate_name"]]
    i = lk.index(first["plate_name"])
    assert np.all(rows["ra_deg"] == lk.ra_deg[i]) and np.all(rows["dec_deg"] == lk.dec_deg[i])
    assert rows["night_index"][0] == _mjd(first["night"].isoformat())


def test_written_log_has_schema_2_and_round_trips(sim_log, tmp_path):
    path = tmp_path / "log.sqlite"
    sim_log.write(path)
    back = ObservationLog.read(path)
    assert back.info["schema_version"] == SCHEMA_VERSION == "2"
    for c in DERIVED_COLUMNS:
        np.testing.assert_array_equal(back.exposures[c], sim_log.exposures[c])


def test_version_1_log_is_read_with_the_columns_filled(sim_log, tmp_path):
    path = tmp_path / "v1.sqlite"
    sim_log.write(path)
    con = sqlite3.connect(path)
    for c in DERIVED_COLUMNS:
        con.execute(f"ALTER TABLE exposures DROP COLUMN {c}")
    con.execute("UPDATE info SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    old = ObservationLog.read(path)
    assert old.exposures.colnames == sim_log.exposures.colnames
    for c in DERIVED_COLUMNS:
        np.testing.assert_array_equal(old.exposures[c], sim_log.exposures[c], err_msg=c)


def test_unknown_plates_get_nan_coordinates():
    log = ObservationLog()
    e = log.exposures
    assert all(c in e.colnames for c in DERIVED_COLUMNS)
    from lkmrs_sched.sim.obslog import derived_columns

    d = derived_columns(["nowhere"], ["2019-01-02"])
    assert np.isnan(d["ra_deg"][0]) and np.isnan(d["dec_deg"][0])
    assert d["night_index"][0] == _mjd("2019-01-02")
