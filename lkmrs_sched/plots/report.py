"""The run report: one self-contained HTML page for a run folder.

:func:`write_report` reads what a folder of ``forecast``, ``compare``,
``reproduce-table2``, ``reduce`` or ``simulate`` holds and writes ``report.html``: the
figures embedded as base64 PNGs, the results as tables, the scenario text, provenance,
the realised share of telescope time per project, and the scorecard or hindcast when
present. The page references nothing outside itself (no scripts, fonts or style sheets
from anywhere), so it opens offline and can be mailed as one file.

New outputs appear without code changes: every top-level JSON file is rendered (known
ones with dedicated tables first), keys of known files that have no dedicated table are
rendered generically, any dict whose entries carry ``observed``/``median``/``p05``/``p95``
is shown as a scorecard, and every PNG in the folder is embedded (known ones with a
caption from :data:`CAPTIONS`, in that order).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lkmrs_sched.core.atomic import write_text
from lkmrs_sched.core.errors import InputError

#: Known figures, in the order the report shows them, with their captions.
CAPTIONS: dict[str, str] = {
    "fan_chart.png": "Cumulative LK-MRS exposures per plate: forecast median and 5–95 % band "
                     "of the realizations, the observed log in black, the goal in red, the "
                     "forecast start dashed.",
    "exposures_forecast.png": "Figure 3 of Zong et al. (2020) as a forecast: observed "
                              "exposures per plate (solid) and the forecast median by the "
                              "end (light) with 5–95 % error bars, coloured by field.",
    "goal_chances.png": "Chance that each plate reaches the goal by each June 30 and by the "
                        "end (layered: each colour adds what that season adds).",
    "goal_dates.png": "When each plate reaches the goal: one dot per realization, median "
                      "and 5–95 % range; on top, the number of plates at the goal over time.",
    "epochs_per_star.png": "Good epochs (blue S/N > 10) per star, with the 10/30/60 "
                           "thresholds and the number of stars reaching each.",
    "completeness_vs_period.png": "RV-variable detection completeness of true binaries "
                                  "against orbital period, for each detection criterion.",
    "sky_map.png": "LK-MRS footprints (true 2.5° circles) on a Mollweide map with the "
                   "Galactic plane and ecliptic, coloured by forecast completion; below, "
                   "each field in the tangent plane.",
    "compare_plates.png": "Per-plate paired differences of each what-if against the "
                          "baseline (same weather and seeing in realization k).",
    "compare_totals.png": "Paired differences of the survey totals: mean with 95 % "
                          "confidence interval and 5–95 % range of the differences.",
    "table2_exposures_per_plate.png": "Table 2 against the year-1 ensemble: exposures per "
                                      "plate, sorted.",
    "table2_exposures_per_month.png": "Table 2 against the year-1 ensemble: exposures per "
                                      "month.",
    "exposures_per_plate.png": "Exposures per plate (Figure 3 of Zong et al. 2020), "
                               "coloured by field.",
    "visit_calendar.png": "When each plate was visited (marker area ∝ exposures).",
    "hours_per_month.png": "Telescope hours per project and month (science, overhead and "
                           "read-out); the realised share of time per project in the legend.",
    "season_calendar.png": "Season calendar: MRS, LRS and shutdown nights with their dark "
                           "hours and the Moon; each plate's window hours per month.",
    "footprints.png": "Every plate on the sky: LK-MRS by K2 campaign / Kepler field, the "
                      "other time-domain projects and the non-time-domain plates.",
    "rv_zero_points.png": "RV zero points per spectrograph and exposure for each plate "
                          "(like Figure A1), and their spread per spectrograph.",
    "uncertainty.png": "Internal precision from repeat measurements against S/N with the "
                       "fitted law (Eq. 3–4, like Figure 8).",
    "synth_snr_hist.png": "Synthetic spectra: S/N per arm.",
    "synth_kiel.png": "Synthetic stars: Kiel diagram (Teff, log g).",
}
#: JSON files with a dedicated section (other JSON files are rendered generically).
KNOWN_JSON = ("forecast.json", "comparison.json", "scorecard.json", "hindcast.json")
#: Folder kinds, by the file that marks them (first match wins).
KINDS = (("forecast.json", "forecast"), ("comparison.json", "compare"),
         ("hindcast.json", "hindcast"), ("scorecard.json", "reproduce-table2"),
         ("uncertainty.json", "reduce"), ("observations.sqlite", "simulate"))
MAX_ROWS = 200
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Section:
    """One section of the page: anchor, heading and body HTML."""

    anchor: str
    title: str
    body: str


# ----------------------------------------------------------------------------- HTML bits
def esc(value: Any) -> str:
    """HTML-escaped text."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A value for a table cell: 4 significant digits, yes/no, – for nothing."""
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if not np.isfinite(v):
            return str(v)
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    if isinstance(value, list | tuple):
        if not value:
            return "(none)"
        shown = ", ".join(fmt(v) for v in value[:24])
        return shown + (f", … ({len(value)} in all)" if len(value) > 24 else "")
    return str(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | np.generic)


def _is_flat(value: Any) -> bool:
    """A scalar or a list of scalars: fits in one table cell."""
    return _is_scalar(value) or (isinstance(value, list) and all(map(_is_scalar, value)))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = "") -> str:
    """An HTML table; numbers right-aligned; at most :data:`MAX_ROWS` rows shown."""
    rows = list(rows)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows[:MAX_ROWS]:
        cells = "".join(
            f'<td class="num">{esc(fmt(c))}</td>' if isinstance(c, int | float | np.number)
            and not isinstance(c, bool) else f"<td>{esc(fmt(c))}</td>" for c in row)
        body.append(f"<tr>{cells}</tr>")
    more = (f'<p class="note">{len(rows) - MAX_ROWS} more rows not shown.</p>'
            if len(rows) > MAX_ROWS else "")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            f"</table>{more}")


def _range(d: Mapping[str, Any], digits: str = ".4g") -> str:
    """``median [p05–p95]`` of a percentile summary."""
    if d.get("median") is None:
        return "–"
    return f"{d['median']:{digits}} [{d['p05']:{digits}}–{d['p95']:{digits}}]"


def is_scorecard(d: Any) -> bool:
    """A dict of statistics each with observed, median, p05 and p95."""
    return (isinstance(d, dict) and bool(d) and all(
        isinstance(v, dict) and {"observed", "median", "p05", "p95"} <= set(v)
        for v in d.values()))


def scorecard_table(d: Mapping[str, Mapping[str, Any]]) -> str:
    """Observed value against the ensemble, one row per statistic."""
    inside = sum(bool(r.get("within")) for r in d.values())
    rows = [(name, r["observed"], r["median"], f"{fmt(r['p05'])}–{fmt(r['p95'])}",
             r.get("percentile"), r.get("within")) for name, r in d.items()]
    return (f"<p><strong>{inside} of {len(d)}</strong> statistics inside the ensemble's "
            "5–95 % range.</p>"
            + table(("statistic", "observed", "median", "5–95 %", "percentile",
                     "inside 5–95 %"), rows))


def render(value: Any, depth: int = 0) -> str:
    """Any JSON value as HTML: tables for flat dicts and records, nested otherwise."""
    if _is_flat(value):
        return f"<p>{esc(fmt(value))}</p>"
    if isinstance(value, list):
        if all(isinstance(v, dict) and all(map(_is_flat, v.values())) for v in value):
            keys = list(dict.fromkeys(k for v in value for k in v))
            return table(keys, ([v.get(k) for k in keys] for v in value))
        return "".join(render(v, depth + 1) for v in value[:MAX_ROWS])
    if not isinstance(value, dict) or not value:
        return '<p class="note">(empty)</p>'
    if is_scorecard(value):
        return scorecard_table(value)
    if all(isinstance(v, dict) and v for v in value.values()):
        return _rows_of_dicts(value, depth)
    flat = [(k, v) for k, v in value.items() if _is_flat(v)]
    out = [table(("key", "value"), flat)] if flat else []
    for k, v in value.items():
        if _is_flat(v):
            continue
        inner = (render(v, depth + 1) if depth < 6
                 else f"<pre>{esc(json.dumps(v, indent=1)[:20000])}</pre>")
        out.append(f"<details{' open' if depth < 1 else ''}><summary>{esc(k)}</summary>"
                   f"{inner}</details>")
    return "".join(out)


def _rows_of_dicts(value: Mapping[str, Mapping[str, Any]], depth: int) -> str:
    """Dicts of dicts: one row per entry for the flat keys; each nested key pivoted into
    its own block (``{entry: inner[key]}``), e.g. a precision law per parameter."""
    keys = list(dict.fromkeys(k for v in value.values() for k in v))
    flat = [k for k in keys if all(_is_flat(v.get(k)) for v in value.values())]
    out = [table(["", *flat], ([name, *(v.get(k) for k in flat)]
                               for name, v in value.items()))] if flat else []
    for k in keys:
        if k in flat:
            continue
        inner = {name: v[k] for name, v in value.items() if k in v}
        body = (render(inner, depth + 1) if depth < 6
                else f"<pre>{esc(json.dumps(inner, indent=1)[:20000])}</pre>")
        out.append(f"<details open><summary>{esc(k)}</summary>{body}</details>")
    return "".join(out)


def figure_html(path: Path, caption: str) -> str:
    """A PNG embedded as a data: URI with its caption."""
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        return f'<p class="note">{esc(path.name)}: not a PNG file, left out.</p>'
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (f'<figure id="fig-{esc(path.stem)}"><img src="{uri}" alt="{esc(path.name)}">'
            f"<figcaption><strong>{esc(path.name)}</strong>: {esc(caption)}</figcaption>"
            "</figure>")


# ----------------------------------------------------------------------------- the folder
def read_json(path: Path) -> Any:
    """A JSON file of the folder (``InputError`` naming it if unreadable)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), ..., "a JSON file written by lkmrs-sched",
                         f"unreadable ({exc})") from None


def kind_of(run: Path) -> str:
    """What made the folder (see :data:`KINDS`)."""
    for marker, kind in KINDS:
        if (run / marker).exists():
            return kind
    raise InputError(str(run), ..., "a folder written by lkmrs-sched forecast, run, compare, "
                     "reproduce-table2, reduce or simulate",
                     "no forecast.json, comparison.json, scorecard.json, hindcast.json, "
                     "uncertainty.json or observations.sqlite in it")


def log_files(run: Path) -> list[Path]:
    """The observation logs of a folder: its own, or its realizations' (in order).

    A forecast folder may keep logs of an earlier, larger run with the same settings;
    only the realizations its ``forecast.json`` counts are taken.
    """
    own = run / "observations.sqlite"
    if own.exists():
        return [own]
    logs = sorted((run / "logs").glob("realization-*.sqlite"))
    try:
        n = int(json.loads((run / "forecast.json").read_text(encoding="utf-8"))["realizations"])
    except (OSError, ValueError, KeyError, TypeError):
        return logs
    wanted = {f"realization-{k:04d}.sqlite" for k in range(n)}
    return [p for p in logs if p.name in wanted]


def log_info(path: Path) -> dict[str, str]:
    """The provenance table of a log (read-only; nothing else is read)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return dict(con.execute("SELECT key, value FROM info").fetchall())
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return {}


def manifests(run: Path) -> dict[str, dict[str, Any]]:
    """Ensemble manifests of the folder and its sub-folders (name → manifest)."""
    out = {}
    for path in sorted(run.glob("**/realizations/manifest.json")):
        rel = path.parent.parent.relative_to(run)
        out[str(rel) if str(rel) != "." else run.name] = read_json(path)
    return out


def shipped_scenario_text(name: str, digest: str, start: str | None, end: str | None
                          ) -> tuple[str, str] | None:
    """Text and file of the shipped scenario whose hash is ``digest`` (also when the run
    moved its start and end, as a forecast does); files named ``name`` are tried first."""
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.resources import shipped_scenarios

    for path in sorted(shipped_scenarios(), key=lambda p: p.stem != name):
        try:
            sc = load_scenario(path)
        except InputError:
            continue
        same = sc.hash == digest
        if not same and start and end:
            try:
                moved = sc.replace(start=dt.date.fromisoformat(str(start)),
                                   end=dt.date.fromisoformat(str(end)))
            except ValueError:
                continue
            same = moved.hash == digest
        if same:
            return sc.text, str(path.name)
    return None


# ----------------------------------------------------------------------------- sections
def _goal_date(q: Mapping[str, Any]) -> str:
    return f"{q['median']} [{q['p05']} – {q['p95']}]" if q.get("median") else "–"


def _period_bin(b: Mapping[str, Any]) -> str:
    """A period bin's label from its log10 edges (open at either end)."""
    lo, hi = b.get("log10_period_lo"), b.get("log10_period_hi")
    if lo is None:
        return f"< {10 ** hi:g}"
    if hi is None:
        return f"> {10 ** lo:g}"
    return f"{10 ** lo:g} – {10 ** hi:g}"


def forecast_sections(fc: dict[str, Any]) -> list[Section]:
    """Per-plate outcomes, survey totals, completeness, and any further keys."""
    goal = fc["goal_exposures"]
    rows = [(name, p["observed_exposures"], _range(p["exposures"], ".0f"),
             _range(p["nights"], ".0f"), f"{p['p_reach_goal']:.0%}", _goal_date(p["goal_date"]))
            for name, p in sorted(fc["plates"].items())]
    plates = table(("plate", "observed", f"exposures by {fc['end']}", "nights",
                    f"P(≥ {goal})", f"date of the {goal}th exposure"), rows,
                   "median [5–95 %] over realizations")
    totals = table(("total", "median", "5 %", "95 %"),
                   [(k, v["median"], v["p05"], v["p95"]) for k, v in fc["totals"].items()],
                   f"survey totals by {fc['end']}")
    out = [Section("plates", "Per-plate forecast", plates),
           Section("totals", "Survey totals", totals)]
    for key in ("completeness_vs_period", "completeness_vs_period_chi2"):
        if key in fc:
            bins = fc[key]["bins"]
            out.append(Section(key, f"Detection completeness against period "
                               f"({fc[key]['criterion']})", table(
                ("orbital period (days)", "binaries", "median", "5 %", "95 %"),
                [(_period_bin(b), b["n_binaries"], b["median"], b["p05"], b["p95"])
                 for b in bins])))
    known = {"scenario", "scenario_hash", "start", "end", "from_log", "realizations", "seed",
             "goal_exposures", "plates", "totals", "completeness_vs_period",
             "completeness_vs_period_chi2"}
    if isinstance(fc.get("shares"), dict) and fc["shares"]:
        out.append(ensemble_shares_section(fc["shares"], "forecast.json"))
        known.add("shares")
    return out + _extra("forecast.json", fc, known)


def _extra(name: str, data: Mapping[str, Any], known: set[str]) -> list[Section]:
    """Keys of a known file that have no dedicated table, rendered generically."""
    rest = {k: v for k, v in data.items() if k not in known}
    if not rest:
        return []
    return [Section(f"more-{Path(name).stem}", f"Further results in {name}", render(rest))]


def compare_sections(cmp: dict[str, Any]) -> list[Section]:
    """Paired differences against the baseline and each scenario's totals."""
    rows = [(name, metric, f"{d['mean']:+.4g}", f"[{d['ci95_lo']:+.4g}, {d['ci95_hi']:+.4g}]",
             d["median"], f"{d['p05']:+.4g} … {d['p95']:+.4g}", f"{d['share_positive']:.0%}")
            for name, diffs in cmp["differences"].items() for metric, d in diffs.items()]
    diff = table(("scenario", "metric", "mean difference", "95 % CI", "median",
                  "5–95 % of differences", "share > 0"), rows,
                 f"what-if − {cmp['baseline']}, paired by realization "
                 f"({cmp['realizations']} realizations, common random numbers)")
    metrics = list(dict.fromkeys(m for t in cmp["totals"].values() for m in t))
    totals = table(["scenario", *metrics],
                   [[name, *(_range(t[m]) if m in t else "–" for m in metrics)]
                    for name, t in cmp["totals"].items()], "median [5–95 %]")
    known = {"baseline", "realizations", "seed", "totals", "differences"}
    return [Section("differences", "Paired differences", diff),
            Section("scenario-totals", "Totals per scenario", totals),
            *_extra("comparison.json", cmp, known)]


def _pct(x: Any) -> str:
    """A fraction as a percentage, or a dash."""
    return "–" if x is None else f"{x:.1%}"


def ensemble_shares_section(shares: Mapping[str, Any], name: str) -> Section:
    """Realised shares per project of an ensemble's summary (``shares`` of
    ``scorecard.json`` or ``forecast.json``): median [5–95 %], pooled, allocated."""
    rows = [(f"{p} share of TD hours", _range(r, ".1%"), _pct(r.get("pooled")),
             _pct(r.get("allocated")))
            for p, r in shares.get("td_hour_shares", {}).items()]
    scalars = [("nt_share_of_mrs_hours", "NT share of MRS hours")]
    if not rows:  # no per-project shares (an older file): LK-MRS's alone
        scalars.insert(0, ("lkmrs_share_of_td_hours", "LK-MRS share of TD hours"))
    for key, label in scalars:
        if key in shares:
            r = shares[key]
            rows.append((label, _range(r, ".1%"), _pct(r.get("pooled")),
                         _pct(r.get("allocated"))))
    rows += [(f"{k.replace('_', ' ')} (h)", _range(r, ".0f"), "–", "–")
             for k, r in shares.items() if k.endswith("_hours") and "share" not in k]
    return Section(f"shares-{Path(name).stem}", f"Realised shares per project ({name})", table(
        ("share", "median [5–95 %]", "pooled", "allocated"), rows,
        "over the realizations; pooled: the share of all realizations' hours together; "
        "hours are overhead + exposures + read-outs"))


def scorecard_sections(card: dict[str, Any], name: str) -> list[Section]:
    """A scorecard file (``scorecard.json``, ``hindcast.json``): its statistics table(s)."""
    title = "Scorecard" if name == "scorecard.json" else f"Hindcast ({name})"
    stats = card.get("statistics")
    body = scorecard_table(stats) if is_scorecard(stats) else render(stats or {})
    head = {k: v for k, v in card.items() if _is_flat(v)}
    known = {"statistics", *head}
    head_html = table(("key", "value"), head.items()) if head else ""
    out = [Section(Path(name).stem, title, head_html + body)]
    if isinstance(card.get("shares"), dict) and card["shares"]:
        out.append(ensemble_shares_section(card["shares"], name))
        known.add("shares")
    return out + _extra(name, card, known)


def figures_section(run: Path) -> Section | None:
    """Every PNG of the folder, known ones first (in :data:`CAPTIONS` order)."""
    pngs = {p.name: p for p in run.glob("*.png") if p.is_file()}
    if not pngs:
        return None
    order = [n for n in CAPTIONS if n in pngs] + sorted(set(pngs) - set(CAPTIONS))
    body = "".join(figure_html(pngs[n], CAPTIONS.get(n, "figure written into the folder."))
                   for n in order)
    return Section("figures", f"Figures ({len(order)})", body)


def _quantiles(x: Sequence[float], spec: str = ".3g") -> str:
    """One value, or median [5–95 %] of several, formatted with ``spec``."""
    a = np.asarray(x, dtype=float)
    if len(a) == 1:
        return f"{a[0]:{spec}}"
    return (f"{np.median(a):{spec}} [{np.percentile(a, 5):{spec}}–"
            f"{np.percentile(a, 95):{spec}}]")


def shares_section(run: Path, scenario: Any = None) -> Section | None:
    """Realised telescope time per project from the folder's time ledgers.

    Hours are science + overhead + read-out; shares are of all projects' hours and of the
    time-domain (TD) projects' hours; several logs give median [5–95 %].
    """
    from lkmrs_sched.plots.logs import read_ledger

    files = log_files(run)
    if not files:
        return None
    ledgers = [read_ledger(f) for f in files]
    programme = {p: g for led in ledgers for p, g in zip(led["project"], led["programme"],
                                                          strict=True)}
    if not programme:
        return None
    projects = sorted(programme, key=lambda p: (p != "LK-MRS", p == "NT", p))
    hours = np.array([[led["hours"][led["project"] == p].sum() for p in projects]
                      for led in ledgers])
    td = np.array([programme[p] == "TD" for p in projects])
    total = np.maximum(hours.sum(axis=1), 1e-12)
    td_total = np.maximum(hours[:, td].sum(axis=1), 1e-12)
    allocated: dict[str, str] = {}
    if scenario is not None:
        from lkmrs_sched.sim.selector import td_shares

        allocated = {p: f"{v:.1%} of TD" for p, v in td_shares(scenario.selector).items()}
        allocated["NT"] = f"{float(scenario.selector.nt_share):.1%} of MRS draws"
    rows = [(p, programme[p], _quantiles(hours[:, j], ".0f"),
             _quantiles(hours[:, j] / total, ".1%"),
             _quantiles(hours[:, j] / td_total, ".1%") if td[j] else "–",
             allocated.get(p, "–"))
            for j, p in enumerate(projects)]
    what = (f"median [5–95 %] over {len(files)} realization logs" if len(files) > 1
            else "one log")
    return Section("shares", "Realised shares of telescope time", table(
        ("project", "programme", "hours", "share of all hours", "share of TD hours",
         "allocated"), rows,
        f"{what}; hours are science + overhead + read-out over the simulated nights"))


def scenario_refs(run: Path, kind: str, data: Any) -> list[tuple[str, str, str | None,
                                                                 str | None]]:
    """(name, hash, start, end) of every scenario the folder's results came from."""
    found = manifests(run)
    if kind == "compare":
        return [(n, str(m.get("scenario_hash", "")), m.get("start"), m.get("end"))
                for n, m in found.items() if isinstance(m, dict)]
    if isinstance(data, dict) and isinstance(data.get("scenario_hash"), str):
        m = next((m for m in found.values() if isinstance(m, dict)), {})
        return [(str(data.get("scenario", "")), data["scenario_hash"],
                 data.get("start", m.get("start")), data.get("end", m.get("end")))]
    return []


def scenario_section(run: Path, kind: str, data: Any) -> tuple[Section | None, Any]:
    """The scenario text(s), from the folder's own log or the matching shipped file.

    Returns the section and the scenario object of the first one matched to a shipped
    file (for the allocated shares), or ``None``.
    """
    from lkmrs_sched.core.config import load_scenario
    from lkmrs_sched.core.resources import SCENARIOS

    parts, first = [], None
    logs = log_files(run)
    info = log_info(logs[0]) if logs else {}
    refs = scenario_refs(run, kind, data)
    if info.get("scenario_text") and not refs:
        refs = [(info.get("scenario_name", ""), info.get("scenario_hash", ""),
                 info.get("start"), info.get("end"))]
    for name, digest, start, end in refs:
        match = shipped_scenario_text(name, digest, start, end) if digest else None
        if match and first is None:
            first = load_scenario(SCENARIOS / match[1])
        if info.get("scenario_text") and info.get("scenario_hash") == digest:
            text, where = info["scenario_text"], f"stored in {logs[0].relative_to(run)}"
        elif match:
            text, where = match[0], f"shipped scenario {match[1]} (same hash)"
        else:
            text, where = "", "text not stored in this folder and no shipped scenario matches"
        parts.append(f"<h3>{esc(name)} <small>hash {esc(digest)}; {esc(start)} … {esc(end)}; "
                     f"{esc(where)}</small></h3>"
                     + (f"<details open><summary>scenario TOML</summary><pre>{esc(text)}</pre>"
                        "</details>" if text else ""))
    if not parts:
        return None, None
    return Section("scenario", "Scenario", "".join(parts)), first


def provenance_section(run: Path, kind: str) -> Section:
    """Who made the folder, when, with what: log provenance and ensemble manifests."""
    from lkmrs_sched import __version__

    rows = [("folder", str(run.resolve())), ("kind", kind),
            ("report written (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")),
            ("lkmrs_sched (report)", __version__)]
    logs = log_files(run)
    if logs:
        info = log_info(logs[0])
        rows += [(f"log: {k}", v) for k, v in sorted(info.items()) if k != "scenario_text"]
        rows.append(("logs in folder", len(logs)))
    body = table(("item", "value"), rows)
    found = manifests(run)
    if found:
        keys = list(dict.fromkeys(k for m in found.values() for k in m))
        body += "<h3>Ensemble manifests</h3>" + table(
            ["ensemble", *keys], [[n, *(m.get(k) for k in keys)] for n, m in found.items()])
    return Section("provenance", "Provenance", body)


def other_json_sections(run: Path) -> list[Section]:
    """Every top-level JSON file without a dedicated section, rendered generically."""
    out = []
    for path in sorted(run.glob("*.json")):
        if path.name in KNOWN_JSON:
            continue
        out.append(Section(f"json-{path.stem}", path.name, render(read_json(path))))
    return out


#: ECSV files up to this size are shown as tables (larger ones are only listed).
MAX_ECSV_BYTES = 64 * 1024


def ecsv_sections(run: Path) -> list[Section]:
    """Small ECSV tables of the folder (per-plate statuses, precision laws …) as tables."""
    from astropy.table import Table

    out = []
    for path in sorted(run.glob("*.ecsv")):
        if path.stat().st_size > MAX_ECSV_BYTES:
            continue
        try:
            t = Table.read(path, format="ascii.ecsv")
        except Exception as exc:  # any unreadable table is noted, never fatal
            out.append(Section(f"ecsv-{path.stem}", path.name,
                               f'<p class="note">unreadable: {esc(exc)}</p>'))
            continue
        header = [f"{c} ({t[c].unit})" if t[c].unit is not None else c for c in t.colnames]
        rows = [[v.item() if hasattr(v, "item") else v for v in row] for row in t.iterrows()]
        out.append(Section(f"ecsv-{path.stem}", path.name,
                           table(header, rows, f"{len(t)} rows")))
    return out


def files_section(run: Path) -> Section:
    """The folder's files (sub-folders summarised)."""
    rows = []
    for p in sorted(run.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir():
            n = sum(1 for q in p.rglob("*") if q.is_file())
            rows.append((p.name + "/", f"{n} files", ""))
        else:
            rows.append((p.name, f"{p.stat().st_size / 1024:,.1f} kB",
                         CAPTIONS.get(p.name, "")[:80]))
    return Section("files", "Files in the folder", table(("file", "size", "what"), rows))


#: Keys of a folder's main JSON shown at a glance, when present.
GLANCE_KEYS = ("scenario", "baseline", "start", "end", "realizations", "seed", "from_log",
               "goal_exposures", "lkmrs_exposures", "plates_visited", "nights_with_lkmrs",
               "n_spectra", "n_stars", "n_plates", "n_exposures", "zero_point_method")
MAIN_JSON = {"forecast": "forecast.json", "compare": "comparison.json",
             "hindcast": "hindcast.json", "reproduce-table2": "scorecard.json",
             "reduce": "summary.json", "simulate": "summary.json"}


def glance_section(kind: str, data: Any) -> Section:
    """The headline facts of the folder's main result."""
    data = data if isinstance(data, dict) else {}
    rows = [(k, data[k]) for k in GLANCE_KEYS if k in data and _is_flat(data[k])]
    try:
        if kind == "forecast":
            for k in ("plates_at_goal", "lkmrs_exposures_total", "stars_ge_60_good_epochs"):
                if k in data.get("totals", {}):
                    # counts: the interpolated percentiles are shown to the whole number
                    rows.append((f"{k} (median [5–95 %])", _range(data["totals"][k], ".0f")))
        elif kind == "compare":
            rows.append(("what-ifs", ", ".join(data.get("differences", {}))))
        elif is_scorecard(data.get("statistics")):
            stats = data["statistics"]
            rows.append(("inside the 5–95 % range",
                         f"{sum(bool(r.get('within')) for r in stats.values())} of "
                         f"{len(stats)}"))
    except (KeyError, TypeError, ValueError, AttributeError):
        pass  # the dedicated section says what is wrong with the file
    return Section("glance", "At a glance", table(("item", "value"), rows))


def _dedicated(name: str, data: Any, sections: Any) -> list[Section]:
    """The dedicated sections of a known file, or the file rendered as is (with a note)
    when it lacks the layout they expect."""
    try:
        return sections(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        note = (f'<p class="note">{esc(name)} does not have the layout this report '
                f"expects ({esc(type(exc).__name__)}: {esc(exc)}); shown as is.</p>")
        return [Section(Path(name).stem, name, note + render(data))]


def kind_sections(run: Path) -> list[Section]:
    """The dedicated sections of the folder's known JSON files."""
    out: list[Section] = []
    for name, sections in (("forecast.json", forecast_sections),
                           ("comparison.json", compare_sections),
                           ("scorecard.json", lambda d: scorecard_sections(d, "scorecard.json")),
                           ("hindcast.json", lambda d: scorecard_sections(d, "hindcast.json"))):
        if (run / name).exists():
            out += _dedicated(name, read_json(run / name), sections)
    return out


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa;line-height:1.4}
header,main,nav,footer{max-width:1240px;margin:0 auto;padding:0 16px}
header{padding-top:16px}h1{font-size:1.6em;margin:.3em 0}h2{border-bottom:2px solid #ddd;
padding-bottom:.2em;margin-top:1.6em}h3 small{font-weight:normal;color:#666}
.meta,.note,caption{color:#555;font-size:.9em}caption{text-align:left;padding:.3em 0}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em;background:#fff}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.2em 0;background:#fff;border:1px solid #e4e4e4;padding:8px}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:.9em;color:#444;margin-top:.4em}
pre{background:#fff;border:1px solid #ddd;padding:8px;overflow:auto;max-height:32em;
font-size:.82em}details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
nav ul{columns:3;list-style:none;padding:0}nav a{color:#0b5394}
"""


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole HTML document."""
    toc = "".join(f'<li><a href="#{esc(s.anchor)}">{esc(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{esc(s.anchor)}"><h2>{esc(s.title)}</h2>{s.body}</section>'
                   for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><p class=\"meta\">{esc(subtitle)}</p></header>"
            f"<nav><h2>Contents</h2><ul>{toc}</ul></nav><main>{body}</main>"
            "<footer><p class=\"note\">Written by lkmrs-sched report; self-contained "
            "(no external resources).</p></footer></body></html>\n")


def build_report(run_dir: str | os.PathLike[str]) -> str:
    """The report page of a run folder, as HTML text.

    Raises
    ------
    InputError
        If the folder is missing, holds no known result, or a JSON file is unreadable.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise InputError(str(run), ..., "a run folder written by lkmrs-sched", "no such folder")
    kind = kind_of(run)
    main = run / MAIN_JSON[kind]
    data = read_json(main) if main.exists() else {}
    scenario, matched = scenario_section(run, kind, data)
    sections = [glance_section(kind, data), *kind_sections(run)]
    sections += [s for s in (figures_section(run), shares_section(run, matched), scenario)
                 if s is not None]
    sections += [*other_json_sections(run), *ecsv_sections(run), provenance_section(run, kind),
                 files_section(run)]
    name = (data.get("scenario") or data.get("baseline") or run.name
            if isinstance(data, dict) else run.name)
    return page(f"LK-MRS {kind} report: {name}", f"{run.resolve()}", sections)


def write_report(run_dir: str | os.PathLike[str], path: str | os.PathLike[str] | None = None
                 ) -> Path:
    """Write :func:`build_report` to ``path`` (default ``RUN_DIR/report.html``) atomically."""
    out = Path(path) if path is not None else Path(run_dir) / "report.html"
    write_text(out, build_report(run_dir))
    return out
