"""LAMOST release totals: reading, windows, the counting interpretation, and a log counted
the way a release counts it (issue #11, items 2-3)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import lkmrs_sched  # noqa: F401
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import RELEASES
from lkmrs_sched.core.sections import ReleasesConfig
from lkmrs_sched.sim.importers import import_table2
from lkmrs_sched.sim.logstats import (
    RELEASE_STATISTICS,
    RELEASE_WINDOWS,
    ReleaseLog,
    observed_release_statistics,
    shares,
)
from lkmrs_sched.sim.releases import log_output, read_releases, release_windows

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "lamost_mrs_releases.csv"


def test_shipped_table_is_the_shared_one_and_its_windows():
    if SHARED.exists():
        assert SHARED.read_text() == RELEASES.read_text()
    rel = read_releases(RELEASES)
    assert [r.name for r in rel] == ["DR6 v2", "DR7 v1", "DR9 v1.0"]
    w = release_windows(rel)
    assert [(x.tag, x.first, x.last, x.seasons) for x in w] == [
        ("dr7", dt.date(2018, 7, 1), dt.date(2019, 6, 30), 1),
        ("dr9", dt.date(2019, 7, 1), dt.date(2021, 6, 30), 2)]
    assert (w[0].td, w[0].nt) == (2878717 - 860302, 1010666 - 506387)
    obs = observed_release_statistics()
    assert obs["td_spectra_dr9"] == 6384475 - 2878717 and np.isnan(obs["lkmrs_td_spectra_dr7"])
    assert set(obs) == set(RELEASE_STATISTICS) and w == RELEASE_WINDOWS


def test_the_survey_columns_count_one_spectrum_per_target():
    """The releases' own arithmetic (releases.py docstring): per target, NT plates get
    ~3 exposures per plate-night in every release; per arm they would get 9.6."""
    rows = list(csv.DictReader(RELEASES.open()))
    prev = {k: 0 for k in rows[0] if k not in ("release", "covers_until", "note")}
    for r in rows:
        d = {k: int(r[k]) - prev[k] for k in prev}
        prev = {k: int(r[k]) for k in prev}
        nt_pn = d["nt_coadded_spectra"]  # NT target plate-nights (one coadd per target)
        td_pn = d["fits_files"] - nt_pn  # a FITS file per target and plate-night
        assert 1.9 < d["coadded_spectra_all"] / d["fits_files"] <= 2.0  # both arms
        # target-exposures: the all-spectra column counts both arms
        nt_exp = d["single_exposure_spectra_all"] / 2 - d["td_single_exposure_spectra"]
        assert 2.7 < nt_exp / nt_pn < 3.1, r["release"]
        assert 3.5 < d["td_single_exposure_spectra"] / td_pn < 6.5, r["release"]
        # read per arm instead, NT would have ~10 exposures per plate-night
        per_arm = (d["single_exposure_spectra_all"] - d["td_single_exposure_spectra"]) / nt_pn
        assert per_arm > 5


@pytest.mark.parametrize(("text", "where"), [
    ("release,covers_until\nDR1,2019-01-01\n", "header"),
    ("release,covers_until,td_single_exposure_spectra,nt_coadded_spectra\n"
     "DR1,2019-13-01,1,1\n", "covers_until"),
    ("release,covers_until,td_single_exposure_spectra,nt_coadded_spectra\n"
     "DR1,2019-01-01,x,1\n", "td_single_exposure_spectra"),
    ("release,covers_until,td_single_exposure_spectra,nt_coadded_spectra\n"
     "DR1,2019-01-01,5,1\nDR2,2020-01-01,4,2\n", "line 3"),
])
def test_bad_releases_table(tmp_path, text, where):
    p = tmp_path / "r.csv"
    p.write_text(text)
    with pytest.raises(InputError) as info:
        read_releases(p)
    assert str(p) in info.value.where and where in info.value.where


def test_a_log_is_counted_as_a_release_counts_it():
    """Table 2's LK-MRS exposures at 0.863 spectra per Table-1 target (the paper's year-1
    counts: 597,280 red spectra of 692,201 target-exposures incl. the May-2018 test)."""
    from lkmrs_sched.core.config import default_scenario
    from lkmrs_sched.ensembles.calibrate import lkmrs_targets

    log = import_table2()
    targets = lkmrs_targets(default_scenario())
    cfg = ReleasesConfig()
    out = log_output(log, dt.date(2018, 7, 1), dt.date(2019, 6, 30), cfg, targets)
    assert out.lkmrs == pytest.approx(0.863 * 594221)
    assert out.td == out.lkmrs and out.nt == 0 and out.td_exposures == 222
    k1a1 = 30 * targets["K1a1"]
    assert cfg.lkmrs_per_target == pytest.approx(597280 / (594221 + k1a1), abs=5e-4)
    # nothing outside the window
    assert log_output(log, dt.date(2019, 7, 1), dt.date(2021, 6, 30), cfg, targets).td == 0
    stats = RELEASE_STATISTICS.compute(ReleaseLog(log, cfg, targets))
    assert stats["lkmrs_td_spectra_dr7"] == pytest.approx(out.lkmrs)


def test_shares_of_an_imported_log_come_from_its_pointings():
    s = shares(import_table2())
    assert s["nt_hours"] == 0 and s["lkmrs_share_of_td_hours"] == 1.0
    assert 95 < s["lkmrs_hours"] < 120  # the paper: ~107 h
