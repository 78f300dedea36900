"""Plate files: the 20 LK-MRS footprints (Table 1) and every check of the loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import FOOTPRINTS
from lkmrs_sched.sky.footprints import PlateSet, load_lkmrs, load_plates, plan_id_for

HEADER = "plan_id,ra_j2000,dec_j2000,n_target,n_flux_std,plate_name,field"
GOOD = [
    "TD005004N074006K01,00:50:04.30,+07:40:06.42,2065,78,K2b1,C8",
    "TD005501N004722K01,00:55:01.40,+00:47:22.40,2091,78,K2b2,C8",
]
SHARED_TABLE1 = Path(__file__).resolve().parents[3] / "shared" / "data" / "table1_footprints.csv"


def write(tmp_path: Path, lines: list[str], header: str = HEADER) -> Path:
    p = tmp_path / "plates.csv"
    p.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return p


def error_of(path: Path, **kw) -> str:
    with pytest.raises(InputError) as info:
        load_plates(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and "allowed:" in msg
    return msg


# --- The real footprints ----------------------------------------------------------------

def test_lkmrs_footprints_are_table1(lkmrs_plates):
    p = lkmrs_plates
    assert len(p) == 20
    assert sorted(p.plate_name) == sorted(
        [f"K1a{i}" for i in range(1, 5)]
        + [f"K2{g}{i}" for g in "bcde" for i in range(1, 5)])
    assert set(p.project) == {"LK-MRS"}
    assert sorted(set(p.field)) == ["C13", "C14", "C4", "C5C16", "C8", "Kepler"]
    assert int(p.counts["n_target"].sum()) == 52715
    assert int(p.counts["n_flux_std"].sum()) == 1570
    np.testing.assert_array_equal(p.counts["n_total"],
                                  p.counts["n_target"] + p.counts["n_flux_std"])
    assert (p.dec_deg > -10).all()
    # Sexagesimal parsed right: K2b1 is at 00:50:04.30 +07:40:06.42.
    i = p.index("K2b1")
    assert p.ra_deg[i] == pytest.approx((50 * 60 + 4.30) / 3600 * 15, abs=1e-9)
    assert p.dec_deg[i] == pytest.approx(7 + 40 / 60 + 6.42 / 3600, abs=1e-9)
    for pid, ra, dec in zip(p.plan_id, p.ra_deg, p.dec_deg, strict=True):
        assert plan_id_for(ra, dec) == pid


@pytest.mark.skipif(not SHARED_TABLE1.exists(), reason="shared data folder not present")
def test_shipped_footprints_equal_the_shared_table1():
    assert (FOOTPRINTS / "lkmrs.csv").read_text() == SHARED_TABLE1.read_text()


def test_plan_id_truncates_not_rounds():
    # RA 00:50:04.99 and Dec −00:30:59.99 truncate to 005004 and 003059.
    ra = (50 * 60 + 4.99) / 3600 * 15
    dec = -(30 / 60 + 59.99 / 3600)
    assert plan_id_for(ra, dec, "NT", "X01") == "NT005004S003059X01"


def test_decimal_degrees_and_other_projects(tmp_path):
    ra, dec = 150.0, 30.5
    pid = plan_id_for(ra, dec, "TD", "B01")
    path = write(tmp_path, [f"{pid},{ra},{dec},TD-B 1"],
                 header="plan_id,ra_j2000,dec_j2000,plate_name")
    ps = load_plates(path, project="TD-B")
    assert ps.ra_deg[0] == ra and ps.dec_deg[0] == dec and ps.project[0] == "TD-B"
    assert ps.counts == {}


def test_select_subset_and_concat(lkmrs_plates):
    sel = lkmrs_plates.select(["K2d4", "TD192102N424113K01"])
    assert list(sel.plate_name) == ["K2d4", "K1a1"]
    assert lkmrs_plates.select(None) is lkmrs_plates
    with pytest.raises(InputError, match=r"^--plates: unknown plate: 'K9z9'; allowed: .*K2b1"):
        lkmrs_plates.select(["K9z9"])
    both = PlateSet.concat([sel, lkmrs_plates.subset([0])])
    assert list(both.plate_name) == ["K2d4", "K1a1", "K2b1"]
    assert set(both.counts) == set(lkmrs_plates.counts)
    with pytest.raises(ValueError, match="K9z9"):
        lkmrs_plates.index("K9z9")


def test_load_lkmrs_default_path():
    assert list(load_lkmrs().plan_id) == list(
        load_plates(FOOTPRINTS / "lkmrs.csv").plan_id)


# --- Every loader check: file, line, column, value, what is allowed ---------------------

@pytest.mark.parametrize(("lines", "header", "expect"), [
    # wrong number of values
    ([GOOD[0], "TD005501N004722K01,00:55:01.40,+00:47:22.40,2091,K2b2,C8"], HEADER,
     ["line 3:", "wrong number of values", "7 comma-separated values"]),
    # malformed coordinates
    ([GOOD[0].replace("00:50:04.30", "0h50m")], HEADER,
     ["line 2 ra_j2000:", "'0h50m'", "sexagesimal"]),
    ([GOOD[0].replace("+07:40:06.42", "north")], HEADER,
     ["line 2 dec_j2000:", "'north'", "decimal degrees"]),
    (["TD005004N074006K01,365.0,+07:40:06.42,1,1,K2b1,C8"], HEADER,
     ["line 2 ra_j2000:", "'365.0'", "0h <= RA < 24h"]),
    # Dec below LAMOST's limit (plan ID consistent with the coordinates)
    ([GOOD[0], "TD005501S102000K01,00:55:01.40,-10:20:00.0,2091,78,K2b2,C8"], HEADER,
     ["line 3 dec_j2000:", "'-10:20:00.0'", "Dec above -10 deg"]),
    # plan ID that disagrees with the coordinates
    ([GOOD[0].replace("TD005004N074006K01", "TD005005N074006K01")], HEADER,
     ["line 2 plan_id:", "'TD005005N074006K01'", "TD005004N074006K01",
      "disagrees with the coordinates"]),
    ([GOOD[0].replace("TD005004N074006K01", "TD5004N74006K01")], HEADER,
     ["line 2 plan_id:", "malformed plan ID", "TD|NT + hhmmss"]),
    ([GOOD[0].replace("K01", "K02")], HEADER,
     ["line 2 plan_id:", "'TD005004N074006K02'", "ending in K01"]),
    # LK-MRS plate names
    ([GOOD[0].replace("K2b1", "K3b1")], HEADER,
     ["line 2 plate_name:", "'K3b1'", "K1|K2 + group a-e + number 1-4"]),
    # duplicates
    ([GOOD[0], GOOD[1].replace("K2b2", "K2b1")], HEADER,
     ["line 3 plate_name:", "duplicate", "'K2b1'", "line 2 has it too"]),
    ([GOOD[0], GOOD[0].replace("K2b1", "K2b3")], HEADER,
     ["line 3 plan_id:", "duplicate", "'TD005004N074006K01'", "line 2 has it too"]),
    # counts
    ([GOOD[0].replace(",2065,", ",-5,")], HEADER,
     ["line 2 n_target:", "'-5'", "a non-negative integer"]),
    ([GOOD[0].replace(",78,", ",7.5,")], HEADER,
     ["line 2 n_flux_std:", "'7.5'", "a non-negative integer"]),
    # missing column
    ([",".join(GOOD[0].split(",")[:5] + GOOD[0].split(",")[6:])],
     HEADER.replace(",plate_name", ""),
     ["header:", "missing column(s) plate_name", "columns plan_id, ra_j2000, dec_j2000, "
      "plate_name"]),
    # empty
    ([], HEADER, ["empty plate file", "at least one plate row"]),
])
def test_loader_reports_each_problem_precisely(tmp_path, lines, header, expect):
    path = write(tmp_path, lines, header)
    msg = error_of(path)
    assert msg.startswith(str(path)), msg
    for piece in expect:
        assert piece in msg, (piece, msg)


def test_missing_file(tmp_path):
    msg = error_of(tmp_path / "none.csv")
    assert msg.startswith(str(tmp_path / "none.csv")) and "a readable plate CSV" in msg


def test_non_lkmrs_files_skip_lkmrs_name_rules(tmp_path):
    pid = plan_id_for(120.0, 10.0, "NT", "N01")
    path = write(tmp_path, [f"{pid},08:00:00,+10:00:00,1,1,nt-1,x"])
    assert list(load_plates(path, project="NT").plate_name) == ["nt-1"]
    assert "malformed LK-MRS plate name" in error_of(path)  # default project is LK-MRS
