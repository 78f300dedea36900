"""Figures: the geometry of the sky maps, and what each figure shows (read back from the
matplotlib figure before it is saved): colours that match their legend, labelled axes,
whole-number ticks on count axes, the lines and marks the figure promises."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from lkmrs_sched.plots import compare, forecast, logs, sky, style
from lkmrs_sched.sim.obslog import ObservationLog

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def captured(monkeypatch):
    """Figures handed to ``save`` by the plotting modules (and still written)."""
    figures = []

    def keep(fig, path, dpi=style.DPI):
        figures.append(fig)
        return real(fig, path, dpi)

    real = style.save
    for module in (compare, forecast, logs, sky):
        monkeypatch.setattr(module, "save", keep)
    return figures


def separation_deg(ra1, dec1, ra2, dec2):
    """Great-circle distance (haversine), degrees."""
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(h)))


def fake_summary(plates, goal=60, realizations=6, start="2019-06-15", end="2021-06-30"):
    """A forecast.json-shaped summary over the given plates."""
    rng = np.random.default_rng(1)
    months = [f"{y}-{m:02d}-28" for y in (2019, 2020, 2021) for m in range(1, 13)]
    months = [m for m in months if "2018-09" <= m <= end]
    out = {}
    for k, name in enumerate(sorted(map(str, plates.plate_name))):
        med = float(min(goal, 3 * k))
        c = np.minimum(np.linspace(0, med, len(months)), goal)
        reach = k >= 12
        out[name] = {"observed_exposures": k % 5,
                     "exposures": {"median": med, "p05": max(0.0, med - 5), "p95": med + 3},
                     "nights": {"median": 4.0, "p05": 2.0, "p95": 6.0},
                     "p_reach_goal": 1.0 if reach else 0.0,
                     "goal_date": ({"median": "2020-12-01", "p05": "2020-06-01",
                                    "p95": "2021-03-01"} if reach else
                                   {"median": None, "p05": None, "p95": None}),
                     "p_reach_goal_by": {"2020-06-30": 0.25 if reach else 0.0,
                                         "2021-06-30": 1.0 if reach else 0.0},
                     "cumulative": {"months": months, "median": c.tolist(),
                                    "p05": (c * 0.8).tolist(), "p95": (c * 1.1).tolist()}}
    bins = [{"log10_period_lo": lo, "log10_period_hi": hi, "n_binaries": 100.0 + i,
             "median": 0.9 - 0.1 * i, "p05": 0.8 - 0.1 * i, "p95": 0.95 - 0.1 * i}
            for i, (lo, hi) in enumerate([(None, 1.0), (1.0, 2.0), (2.0, None)])]
    real = [{"index": r, "plates": {n: {"exposures": int(p["exposures"]["median"]) + r,
                                        "goal_date": f"2020-11-0{r + 1}"
                                        if p["p_reach_goal"] else None}
                                    for n, p in out.items()}}
            for r in range(realizations)]
    return ({"scenario": "test", "scenario_hash": "0" * 16, "start": start, "end": end,
             "from_log": "table2.csv", "realizations": realizations, "seed": 1,
             "goal_exposures": goal, "plates": out,
             "totals": {"plates_at_goal": {"median": 8.0, "p05": 7.0, "p95": 9.0}},
             "completeness_vs_period": {"criterion": "range", "bins": bins}}, real, rng)


def ticks_are_integers(axis) -> bool:
    values = [t for t in axis.get_ticklocs() if axis.get_view_interval()[0] <= t
              <= axis.get_view_interval()[1]]
    return bool(values) and all(float(v).is_integer() for v in values)


# ------------------------------------------------------------------------ sky geometry
@pytest.mark.parametrize("dec", [0.0, 44.0, 80.0, -60.0])
def test_plate_circle_is_round_on_the_sphere(dec):
    ra, d = sky.sphere_circle(290.0, dec, 2.5)
    assert np.allclose(separation_deg(290.0, dec, ra, d), 2.5, atol=1e-9)
    # its RA half-width grows as 1/cos(dec): a circle drawn without cos(dec) would not
    half_width = (ra.max() - ra.min()) / 2
    assert half_width == pytest.approx(np.degrees(np.arcsin(np.sin(np.radians(2.5))
                                                            / np.cos(np.radians(dec)))),
                                       rel=1e-3)


def test_ra_increases_to_the_left_and_edge_plates_are_drawn_twice():
    assert sky.sky_x(10.0) > sky.sky_x(20.0) > sky.sky_x(170.0)
    assert sky.sky_x(sky.CENTRE_RA_DEG) == 0
    polys, owner = sky.footprint_polygons([0.5, 90.0], [10.0, 10.0])
    assert owner.tolist() == [0, 0, 1]  # RA 0.5 straddles the map's edge at RA 0/360
    for p in polys:
        assert np.ptp(np.degrees(p[:, 0])) < 10


def test_reference_curves_are_the_galactic_plane_and_the_ecliptic():
    c = sky.reference_curves()
    ra, dec = c["galactic"]
    # the Galactic plane reaches +62.87 deg (at the north Galactic pole's RA + 180 deg)
    assert dec.max() == pytest.approx(90 - 27.128, abs=0.05)
    assert separation_deg(192.85948, 27.12825, ra, dec) == pytest.approx(90.0, abs=1e-4)
    _, edec = c["ecliptic"]
    assert edec.max() == pytest.approx(23.44, abs=0.01)
    gra, gdec = c["galactic_centre"]
    assert (gra[0], gdec[0]) == pytest.approx((266.405, -28.936), abs=0.01)


# -------------------------------------------------------------------------- log figures
def small_log(plates) -> ObservationLog:
    from astropy.table import Table

    names = ["K2b1"] * 5 + ["K2d4"] * 3 + ["K1a1"]
    nights = ["2018-10-01"] * 5 + ["2018-12-24"] * 3 + ["2019-05-01"]
    log = ObservationLog()
    log.exposures = Table({"project": ["LK-MRS"] * len(names), "plate_name": names,
                           "night": nights})
    log.pointings = Table({"project": ["LK-MRS"] * 3, "plate_name": ["K2b1", "K2d4", "K1a1"],
                           "night": ["2018-10-01", "2018-12-24", "2019-05-01"],
                           "n_exposures": [5, 3, 1]})
    return log


def test_exposures_per_plate_legend_colours_match_the_bars(captured, lkmrs_plates, tmp_path):
    path = logs.exposures_per_plate(small_log(lkmrs_plates), lkmrs_plates, tmp_path / "e.png",
                                    goal=60)
    assert path.read_bytes().startswith(PNG)
    ax = captured[-1].axes[0]
    field = dict(zip(map(str, lkmrs_plates.plate_name), map(str, lkmrs_plates.field),
                     strict=True))
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == sorted(field)
    bar_colour = {n: p.get_facecolor() for n, p in zip(names, ax.patches, strict=False)}
    legend = {t.get_text(): h.get_facecolor() for t, h in
              zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles, strict=True)}
    from matplotlib.colors import to_rgba

    assert set(legend) == set(field.values())
    for name, colour in bar_colour.items():
        assert legend[field[name]] == pytest.approx(to_rgba(style.FIELD_COLOURS[field[name]]))
        assert colour == pytest.approx(legend[field[name]])
    assert ax.get_xlabel() and ax.get_ylabel() and ticks_are_integers(ax.yaxis)
    heights = {n: p.get_height() for n, p in zip(names, ax.patches, strict=False)}
    assert heights["K2b1"] == 5 and heights["K2d4"] == 3 and heights["K2c1"] == 0


def test_hours_per_month_adds_up_the_ledger(tmp_path):
    ledger = {"night": np.array(["2018-10-01", "2018-10-20", "2018-12-03", "2018-12-03"]),
              "programme": np.array(["TD", "NT", "TD", "TD"]),
              "project": np.array(["LK-MRS", "NT", "TD-B", "LK-MRS"]),
              "hours": np.array([2.0, 1.0, 0.5, 1.5])}
    months, projects, hours = logs.monthly_hours([ledger, ledger])
    assert months == ["2018-10", "2018-11", "2018-12"]
    assert projects == ["LK-MRS", "TD-B", "NT"]
    assert hours.shape == (2, 3, 3) and hours.sum() == pytest.approx(10.0)
    assert hours[0, 0].tolist() == [2.0, 0.0, 1.5]
    assert logs.hours_per_month([ledger], tmp_path / "h.png").read_bytes().startswith(PNG)


def test_season_calendar_shows_modes_moon_and_window_hours(captured, lkmrs_plates,
                                                           tmp_path):
    from lkmrs_sched.core.config import default_scenario
    from lkmrs_sched.sky.almanac import compute_almanac
    from lkmrs_sched.sky.visibility import compute_windows

    scn = default_scenario("2018-11-20", "2019-01-10")
    windows = compute_windows(lkmrs_plates, compute_almanac(scn), scn.observing)
    logs.season_calendar(windows, ["K2b1", "K2d4"], tmp_path / "s.png")
    top, moon, heat, _ = captured[-1].axes
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert any(t.startswith("MRS nights") for t in labels)
    assert "Moon illumination" in labels and moon.get_ylabel()
    grid = heat.collections[0].get_array().reshape(2, -1)
    edges, expected = logs._window_hours_by_month(
        windows, np.array([windows.plates.index("K2b1"), windows.plates.index("K2d4")]),
        windows.almanac.mrs_night & ~windows.almanac.shutdown)
    np.testing.assert_allclose(grid, expected)
    assert len(edges) == 4 and expected.sum() > 0  # Nov, Dec, Jan


# --------------------------------------------------------------------- forecast figures
def test_fan_chart_has_labels_start_marker_and_integer_axis(captured, lkmrs_plates,
                                                            tmp_path):
    some = lkmrs_plates.subset(np.arange(7))  # two rows of panels, the second half empty
    summary, _, _ = fake_summary(some)
    forecast.fan_chart(summary, small_log(some), some, tmp_path / "f.png")
    fig = captured[-1]
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 7 and len(fig.axes) == 10
    assert all(ax.get_ylabel() for ax in visible[::5])
    assert all(ax.get_xlabel() for ax in visible[-5:])
    for ax in visible:
        xs = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"]
        assert dt.date(2019, 6, 15) in xs
    assert ticks_are_integers(visible[0].yaxis)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("forecast start" in t for t in legend) and "observed" in legend


def test_figure3_forecast_has_observed_median_and_error_bars(captured, lkmrs_plates,
                                                             tmp_path):
    summary, _, _ = fake_summary(lkmrs_plates)
    forecast.exposures_forecast(summary, lkmrs_plates, tmp_path / "x.png")
    ax = captured[-1].axes[0]
    names = [t.get_text() for t in ax.get_xticklabels()]
    bars = ax.patches
    median = {n: b.get_height() for n, b in zip(names, bars[:20], strict=True)}
    observed = {n: b.get_height() for n, b in zip(names, bars[20:40], strict=True)}
    for n in names:
        assert median[n] == summary["plates"][n]["exposures"]["median"]
        assert observed[n] == summary["plates"][n]["observed_exposures"]
    segments = ax.collections[0].get_segments()  # the 5-95 % error bars
    lo_hi = {n: (s[0][1], s[1][1]) for n, s in zip(names, segments, strict=True)}
    assert lo_hi["K2e4"] == (summary["plates"]["K2e4"]["exposures"]["p05"],
                             summary["plates"]["K2e4"]["exposures"]["p95"])
    assert ticks_are_integers(ax.yaxis) and ax.get_ylabel()


def test_goal_chances_layers_every_season_visibly(captured, lkmrs_plates, tmp_path):
    summary, _, _ = fake_summary(lkmrs_plates)
    forecast.goal_chances(summary, tmp_path / "g.png")
    ax = captured[-1].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["by 2021-06-30 (end)", "by 2020-06-30"]
    first, second = ax.containers
    # the later season is drawn first (behind) and taller; colours differ
    assert all(b.get_height() >= a.get_height() for a, b in
               zip(second.patches, first.patches, strict=True))
    assert first.patches[0].get_facecolor() != second.patches[0].get_facecolor()
    assert any(a.get_height() > 0 for a in second.patches)


def test_goal_dates_plot_every_realization_and_plates_at_goal(captured, lkmrs_plates,
                                                              tmp_path):
    summary, real, _ = fake_summary(lkmrs_plates)
    forecast.goal_dates(summary, tmp_path / "d.png", real)
    strips, top = captured[-1].axes
    dots = [line for line in strips.lines if line.get_marker() == "o"]
    assert sum(len(d.get_xdata()) for d in dots) == 8 * len(real)  # 8 plates reach it
    n = forecast._plates_at_goal(real, np.array(["2020-10-31", "2020-11-03"],
                                                dtype="datetime64[D]"))
    assert n[:, 0].tolist() == [0] * 6 and n[:, 1].tolist() == [8, 8, 8, 0, 0, 0]
    assert ticks_are_integers(top.yaxis)
    without = forecast.goal_dates(summary, tmp_path / "d0.png")  # summary quantiles only
    assert without.read_bytes().startswith(PNG)


def test_epochs_per_star_labels_its_thresholds(captured, tmp_path):
    stars = {"n_good_median": np.array([0, 5, 12, 31, 31, 65, 70], dtype=float)}
    forecast.epochs_per_star(stars, tmp_path / "e.png")
    ax = captured[-1].axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["≥ 10 epochs: 5 stars\n≥ 30 epochs: 4 stars\n≥ 60 epochs: 2 stars"]
    assert [line.get_xdata()[0] for line in ax.lines] == [10, 30, 60]


def test_completeness_vs_period(captured, lkmrs_plates, tmp_path):
    summary, _, _ = fake_summary(lkmrs_plates)
    assert forecast.completeness_vs_period(summary, tmp_path / "c.png") is not None
    ax, hist = captured[-1].axes
    assert ax.get_xscale() == "log" and ax.get_ylim() == (0, 1.05)
    assert [p.get_height() for p in hist.patches] == [100.0, 101.0, 102.0]
    del summary["completeness_vs_period"]
    assert forecast.completeness_vs_period(summary, tmp_path / "c2.png") is None


def test_completion_map_is_a_mollweide_map_with_zoom_panels(captured, lkmrs_plates,
                                                            tmp_path):
    summary, _, _ = fake_summary(lkmrs_plates)
    sky.completion_map(summary, lkmrs_plates, tmp_path / "m.png")
    fig = captured[-1]
    allsky = fig.axes[0]
    assert allsky.name == "mollweide"
    hours = [int(t.get_text()[:-1]) for t in allsky.get_xticklabels()]
    assert hours == sorted(hours, reverse=True)  # RA labels decrease left to right
    labels = [t.get_text() for t in allsky.get_legend().get_texts()]
    assert labels == ["Galactic plane", "ecliptic"]
    zooms = [ax for ax in fig.axes[1:] if ax.get_aspect() == 1.0]
    assert len(zooms) == 5 and all(ax.xaxis_inverted() for ax in zooms)


def test_footprint_map_draws_every_plate(captured, tmp_path):
    from lkmrs_sched.core.config import default_scenario
    from lkmrs_sched.sim.sky import load_all_plates

    plates = load_all_plates(default_scenario())
    sky.footprint_map(plates, tmp_path / "fp.png")
    ax = captured[-1].axes[0]
    drawn = sum(len(c.get_paths()) for c in ax.collections)
    straddle = len(sky.footprint_polygons(plates.ra_deg, plates.dec_deg)[0]) - len(plates)
    assert drawn == len(plates) + straddle


# ---------------------------------------------------------------------- compare figures
def test_plate_differences_are_paired_by_realization(captured, lkmrs_plates, tmp_path):
    _, base, _ = fake_summary(lkmrs_plates, realizations=4)
    other = [{"plates": {n: {"exposures": p["exposures"] + (k if n == "K2b1" else 0),
                             "goal_date": p["goal_date"] or ("2021-01-01" if k == 3 else None)}
                         for n, p in r["plates"].items()}} for k, r in enumerate(base)]
    d = compare.plate_differences(base, other)
    assert d["K2b1"]["exposures"].tolist() == [0, 1, 2, 3]
    assert d["K1a1"]["reached"].tolist() == [0, 0, 0, 1]
    compare.compare_plates({"base": base, "what-if": other}, tmp_path / "p.png")
    top, bottom = captured[-1].axes
    assert "what-if − base" in top.get_title() and ticks_are_integers(top.yaxis)
    assert bottom.patches[0].get_height() == pytest.approx(0.25)  # K1a1: +1 of 4


def test_compare_totals_one_panel_per_metric(captured, tmp_path):
    diff = {"mean": 5.0, "ci95_lo": 1.0, "ci95_hi": 9.0, "median": 5.0, "p05": -2.0,
            "p95": 12.0, "share_positive": 0.75}
    cmp = {"baseline": "b", "realizations": 4, "seed": 1,
           "differences": {"x": {"a": diff, "b": diff}, "y": {"a": diff}}}
    compare.compare_totals(cmp, tmp_path / "t.png")
    axes = captured[-1].axes
    assert len(axes) == 2 and [t.get_text() for t in axes[0].get_yticklabels()] == ["x", "y"]
    assert "Δ a" in axes[0].get_xlabel()


def test_load_realizations_in_order(tmp_path):
    for k in (1, 0, 2):
        (tmp_path / f"realization-{k:04d}.json").write_text(f'{{"index": {k}}}')
    assert [r["index"] for r in compare.load_realizations(tmp_path)] == [0, 1, 2]
    assert compare.load_realizations(tmp_path / "none") == []


def test_style_helpers():
    assert style.plate_groups(["K2b2", "K1a1", "K2b1"]) == {"K1a": ["K1a1"],
                                                            "K2b": ["K2b1", "K2b2"]}
    assert [h.get_label() for h in style.field_handles(["C8", "Kepler", "X"])] == \
        ["Kepler", "C8", "X"]
    assert style.as_dates(["2020-01-02"])[0] == dt.date(2020, 1, 2)
