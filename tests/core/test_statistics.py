"""Statistics are declared once and every report derives its list from the declarations."""

from __future__ import annotations

import pytest

from lkmrs_sched.core.statistics import Statistic, StatisticSet
from lkmrs_sched.ensembles import calibrate, compare, forecast, reproduce
from lkmrs_sched.sim import logstats


def test_reports_derive_from_the_declarations():
    stats = logstats.LOG_STATISTICS
    assert reproduce.HEADLINE == stats.names("scorecard") == logstats.HEADLINE
    assert calibrate.CALIBRATION_STATISTICS == stats.names("calibration")
    assert set(calibrate.CALIBRATION_STATISTICS) < set(reproduce.HEADLINE)
    assert forecast.TOTALS == (*forecast.PLATE_TOTALS, *forecast.STAR_TOTALS)
    assert set(compare.COMPARE_METRICS) < set(forecast.TOTALS)
    assert "plates_at_goal" in compare.COMPARE_METRICS
    assert "lkmrs_exposures_total" not in compare.COMPARE_METRICS
    table = stats.to_table()
    assert list(table["name"]) == list(stats)
    assert table["unit"][list(stats).index("median_seeing")] == "arcsec"


def test_statistics_of_a_log_are_the_declared_ones(table2_log):
    s = logstats.statistics(table2_log)
    assert list(s) == list(logstats.LOG_STATISTICS)
    # Table 2: 40 nights, 44 pointings, 222 exposures on 13 plates (brief §4)
    assert (s["nights"], s["pointings"], s["exposures"], s["plates_visited"]) == (40, 44, 222, 13)


def test_a_set_refuses_duplicates_and_unknown_reports():
    one = Statistic("x", lambda c: c, "", "x")
    with pytest.raises(ValueError, match="unique"):
        StatisticSet(one, one)
    with pytest.raises(ValueError, match="unknown reports"):
        Statistic("y", lambda c: c, "", "y", frozenset({"nowhere"}))
    assert StatisticSet(one).compute(3) == {"x": 3}


@pytest.fixture(scope="module")
def table2_log():
    from lkmrs_sched.sim.importers import import_table2

    return import_table2()
