"""The HTML run report: well-formed, self-contained (every image a data: URI that decodes
to the folder's PNG, no external resource, no script), with the sections each folder kind
promises, new JSON outputs shown without code changes, and bad folders refused clearly.
The headless-Chromium check runs when Chromium is installed."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from astropy.table import Table

from lkmrs_sched.cli import main
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import SCENARIOS
from lkmrs_sched.plots import report, style
from lkmrs_sched.sim.obslog import LEDGER_COLUMNS, ObservationLog

PNG = b"\x89PNG\r\n\x1a\n"
VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "wbr", "area", "base"}
CHECK = Path(__file__).resolve().parents[2] / "tools" / "check_report.py"


class Page(HTMLParser):
    """Parses a page, checking that every element is closed in order."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.images: list[dict[str, str]] = []
        self.urls: list[str] = []
        self.tags: dict[str, int] = {}
        self.headings: list[str] = []
        self._heading: list[str] | None = None
        self.feed(text)
        self.close()
        if self.stack:
            self.problems.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "img":
            self.images.append(a)
        self.urls += [a[k] for k in ("src", "href") if k in a]
        if tag in ("h1", "h2", "h3"):
            self._heading = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def check_page(text: str, folder: Path) -> Page:
    """Well-formed and self-contained; images are the folder's PNGs, byte for byte."""
    assert text.startswith("<!DOCTYPE html>")
    page = Page(text)
    assert not page.problems, page.problems
    assert page.tags.get("script", 0) == 0 and page.tags.get("link", 0) == 0
    for url in page.urls:
        assert url.startswith(("data:image/png;base64,", "#")), url[:60]
    pngs = [p.read_bytes() for p in folder.glob("*.png")]
    for img in page.images:
        data = base64.b64decode(img["src"].split(",", 1)[1], validate=True)
        assert data.startswith(PNG) and data in pngs and img.get("alt")
    assert len(page.images) == len(pngs)
    assert page.tags.get("h1") == 1 and page.tags.get("table", 0) >= 2
    return page


def png(path: Path) -> None:
    fig = style.figure(2, 1.5)
    fig.add_subplot().plot([0, 1], [1, 0])
    style.save(fig, path)


def write_log(path: Path, rows: list[tuple], **info: str) -> None:
    log = ObservationLog()
    log.ledger = Table(rows=rows, names=list(LEDGER_COLUMNS))
    log.info = info
    log.write(path)


def forecast_folder(tmp_path: Path) -> Path:
    run = tmp_path / "fc"
    (run / "logs").mkdir(parents=True)
    plate = {"observed_exposures": 4, "exposures": {"median": 50.0, "p05": 40.0, "p95": 60.0},
             "nights": {"median": 9.0, "p05": 7.0, "p95": 11.0}, "p_reach_goal": 0.25,
             "goal_date": {"median": "2022-01-01", "p05": "2021-06-01", "p95": "2023-01-01"}}
    fc = {"scenario": "baseline", "scenario_hash": "abc", "start": "2019-06-15",
          "end": "2023-06-30", "from_log": "t.csv", "realizations": 2, "seed": 7,
          "goal_exposures": 60, "plates": {"K2b1": plate, "K2b2": plate},
          "totals": {"plates_at_goal": {"median": 13.5, "p05": 9.0, "p95": 16.0}},
          "completeness_vs_period": {"criterion": "range", "bins": [
              {"log10_period_lo": None, "log10_period_hi": 1.0, "n_binaries": 5.0,
               "median": 0.9, "p05": 0.8, "p95": 1.0}]},
          "realised_shares": {"LK-MRS": {"median": 0.31, "p05": 0.28, "p95": 0.35}}}
    (run / "forecast.json").write_text(json.dumps(fc))
    (run / "hindcast.json").write_text(json.dumps({"scenario": "year1", "statistics": {
        "nights": {"observed": 40, "median": 39, "p05": 30, "p95": 50, "percentile": 56,
                   "within": True},
        "pointings": {"observed": 80, "median": 44, "p05": 33, "p95": 55, "percentile": 100,
                      "within": False}}}))
    (run / "new_output.json").write_text(json.dumps({"brand_new_statistic": 123.25}))
    png(run / "fan_chart.png")
    png(run / "zzz_unknown.png")
    for k, extra in enumerate((0.0, 2.0, 100.0)):  # the third: left by an earlier, larger run
        write_log(run / "logs" / f"realization-{k:04d}.sqlite",
                  [("2019-10-01", "TD", "LK-MRS", 2.0 + extra, 0.5, 0.5),
                   ("2019-10-01", "TD", "TD-B", 1.0, 0.0, 0.0),
                   ("2019-10-02", "NT", "NT", 4.0, 0.0, 0.0)],
                  scenario_name="baseline", scenario_hash="abc",
                  scenario_text="[scenario]\nname = 'baseline' # <b>not markup</b>\n",
                  kind="simulated", version_lkmrs_sched="0.1.0")
    return run


def test_forecast_report_is_self_contained_and_shows_every_output(tmp_path):
    run = forecast_folder(tmp_path)
    path = report.write_report(run)
    assert path == run / "report.html"
    text = path.read_text(encoding="utf-8")
    page = check_page(text, run)
    for heading in ("At a glance", "Per-plate forecast", "Survey totals", "Figures (2)",
                    "Realised shares of telescope time", "Scenario", "Provenance",
                    "Further results in forecast.json", "Hindcast (hindcast.json)",
                    "new_output.json", "Files in the folder"):
        assert heading in page.headings, heading
    assert "brand_new_statistic" in text and "123.2" in text  # unknown files appear
    assert "realised_shares" in text  # unknown keys of known files appear
    assert "<strong>1 of 2</strong> statistics inside" in text  # hindcast as a scorecard
    assert "&lt;b&gt;not markup&lt;/b&gt;" in text  # the scenario text is escaped
    assert "2022-01-01 [2021-06-01 – 2023-01-01]" in text and "&lt; 10" in text
    # realised shares: LK-MRS 3 h and 5 h of 8 h and 10 h in all, of 4 h and 6 h of TD
    shares = text.split('<section id="shares">', 1)[1]
    row = shares.split("<td>LK-MRS</td>", 1)[1].split("</tr>", 1)[0]
    assert "4 [3–5]" in row and "43.8% [38.1%–49.4%]" in row and "79.2% [75.4%–82.9%]" in row
    # known figures first, with captions; unknown ones after
    assert text.index('alt="fan_chart.png"') < text.index('alt="zzz_unknown.png"')
    assert report.CAPTIONS["fan_chart.png"] in text


def test_reports_of_compare_reproduce_reduce_and_simulate_folders(tmp_path):
    cmp = tmp_path / "cmp"
    (cmp / "forecast-2019" / "realizations").mkdir(parents=True)
    d = {"mean": 61.0, "ci95_lo": 7.7, "ci95_hi": 114.3, "median": 38.5, "p05": 19.5,
         "p95": 131.8, "share_positive": 1.0}
    t = {"lkmrs_exposures_new": {"median": 722.5, "p05": 592.5, "p95": 768.0}}
    (cmp / "comparison.json").write_text(json.dumps(
        {"baseline": "forecast-2019", "realizations": 6, "seed": 2019,
         "totals": {"forecast-2019": t, "whatif-lkmrs40": t},
         "differences": {"whatif-lkmrs40": {"lkmrs_exposures_new": d}}}))
    from lkmrs_sched.core.config import load_scenario

    shipped = load_scenario(SCENARIOS / "forecast-2019.toml")
    (cmp / "forecast-2019" / "realizations" / "manifest.json").write_text(json.dumps(
        {"task": "forecast", "scenario_hash": shipped.hash, "seed": 2019,
         "start": "2019-06-15", "end": "2023-06-30"}))
    png(cmp / "compare_totals.png")
    text = report.build_report(cmp)
    page = check_page(text, cmp)
    assert {"Paired differences", "Totals per scenario", "Scenario"} <= set(page.headings)
    assert "[+7.7, +114.3]" in text and "shipped scenario forecast-2019.toml" in text

    rt2 = tmp_path / "rt2"
    rt2.mkdir()
    (rt2 / "scorecard.json").write_text(json.dumps({"scenario": "year1-2018", "statistics": {
        "nights": {"observed": 40, "median": 38, "p05": 31, "p95": 48, "percentile": 67.5,
                   "within": True}}, "shares": {
        "nt_share_of_mrs_hours": {"median": 0.4, "p05": 0.35, "p95": 0.45, "pooled": 0.41,
                                  "allocated": 0.375},
        "td_hour_shares": {p: {"median": v, "p05": v - 0.05, "p95": v + 0.05, "pooled": v,
                               "allocated": a}
                           for p, v, a in (("LK-MRS", 0.32, 0.3), ("TD-B", 0.23, 0.2333))}}}))
    png(rt2 / "table2_exposures_per_plate.png")
    text = report.build_report(rt2)
    page = check_page(text, rt2)
    assert "Scorecard" in page.headings
    assert "Realised shares per project (scorecard.json)" in page.headings
    section = text.split('<section id="shares-scorecard">', 1)[1].split("</section>", 1)[0]
    row = section.split("<td>TD-B share of TD hours</td>", 1)[1].split("</tr>", 1)[0]
    assert "23.0% [18.0%–28.0%]" in row and "23.3%" in row
    assert "<td>NT share of MRS hours</td>" in section and "37.5%" in section

    red = tmp_path / "red"
    red.mkdir()
    (red / "summary.json").write_text(json.dumps({"n_spectra": 647411, "n_stars": 25749,
                                                  "sigma_at_snr20": {"rv": 1.06}}))
    law = {"a": 1.0, "b": -0.5, "sigma_at_snr": {"10": 0.3, "20": 0.2}}
    (red / "uncertainty.json").write_text(json.dumps({"rv": law, "teff": law}))
    Table({"planid": ["TD1", "TD2"], "n_usable": [900, 12]}).write(
        red / "rv_zero_point_plates.ecsv", format="ascii.ecsv")
    png(red / "rv_zero_points.png")
    text = report.build_report(red)
    page = check_page(text, red)
    assert {"uncertainty.json", "summary.json", "rv_zero_point_plates.ecsv"} <= \
        set(page.headings)
    assert "LK-MRS reduce report" in text and "647411" in text
    # one row per parameter; the nested law values pivoted into their own table
    section = text.split('<section id="json-uncertainty">', 1)[1].split("</section>", 1)[0]
    assert "<th>a</th><th>b</th>" in section and "<th>10</th><th>20</th>" in section
    assert section.count("<td>rv</td>") == 2 and "<td>TD2</td>" in text

    sim = tmp_path / "sim"
    sim.mkdir()
    write_log(sim / "observations.sqlite", [("2018-10-01", "TD", "LK-MRS", 1.0, 0.0, 0.0)],
              scenario_name="s", scenario_hash="h", scenario_text="[scenario]\n")
    (sim / "summary.json").write_text(json.dumps({"scenario": "s", "lkmrs_exposures": 9}))
    png(sim / "exposures_per_plate.png")
    page = check_page(report.build_report(sim), sim)
    assert {"Realised shares of telescope time", "Scenario"} <= set(page.headings)


def test_bad_folders_are_refused_or_shown_as_they_are(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        report.build_report(tmp_path / "missing")
    with pytest.raises(InputError, match=r"no forecast\.json"):
        report.build_report(tmp_path)
    (tmp_path / "forecast.json").write_text("{not json")
    with pytest.raises(InputError, match=r"forecast\.json: unreadable"):
        report.build_report(tmp_path)
    (tmp_path / "forecast.json").write_text(json.dumps({"plates": 3, "totals": [1]}))
    text = report.build_report(tmp_path)  # the wrong layout is shown with a note
    assert not Page(text).problems
    assert "does not have the layout this report expects" in text


def test_report_command(tmp_path, capsys):
    run = forecast_folder(tmp_path)
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert capsys.readouterr().out.strip() == f"Report: {tmp_path / 'r.html'}"
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such folder" in err[0]


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser")
                    is None, reason="Chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium_and_the_check_catches_a_broken_image(tmp_path):
    run = forecast_folder(tmp_path)
    good = report.write_report(run)
    done = subprocess.run([sys.executable, str(CHECK), str(good)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 images (2 decoded, 2 laid out)" in done.stdout and "ok" in done.stdout
    broken = tmp_path / "broken.html"
    text = good.read_text(encoding="utf-8")
    head, rest = text.split("data:image/png;base64,", 1)
    broken.write_text(head + 'data:image/png;base64,iVBORw0KGgo="' + rest.split('"', 1)[1],
                      encoding="utf-8")
    done = subprocess.run([sys.executable, str(CHECK), str(broken)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1 and "broken images: 1 not decoded" in done.stdout
