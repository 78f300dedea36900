"""Scenario schema: TOML loading and validation with clear messages.

A scenario is a TOML file whose quantities carry units (``"1200 s"``, ``"-18 deg"``,
``"2 h"``). Each ``[section]`` maps onto a frozen dataclass of
:mod:`lkmrs_sched.core.sections`; every field declares its unit (for quantities) and its
allowed range in the field metadata, and one generic parser checks them all. Unknown
keys, wrong units, out-of-range values and an end date before the start raise
:class:`~lkmrs_sched.core.errors.InputError` naming the file, key, value and what is
allowed.

Relative paths inside a scenario are resolved against the scenario file's folder.

**Time-dependent rules.** A scenario may change some rules from a date on, optionally until
a date (inclusive), with an array of ``[[changes]]`` tables::

    [[changes]]
    from = "2021-09-01"
    selector = { lkmrs_share = 0.40 }

    [[changes]]                      # an extra shutdown in one year
    from = "2021-07-01"
    until = "2021-09-30"
    night = { shutdown = [["07-01", "09-30"]] }

Changes apply in order on top of the scenario's own settings (a later one wins);
:meth:`Scenario.at` gives the rules in force on a date and :meth:`Scenario.regimes` the
spans with constant rules. Only keys that do not reshape the sky may change
(:data:`DATED_KEYS`); the others raise :class:`~lkmrs_sched.core.errors.InputError`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from lkmrs_sched.core import schema
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import SCENARIOS
from lkmrs_sched.core.sections import (
    NightConfig,
    ObservingConfig,
    PopulationConfig,
    ReleasesConfig,
    SeeingConfig,
    SelectorConfig,
    SiteConfig,
    SNRConfig,
    WeatherConfig,
)
from lkmrs_sched.core.validate import check_night

#: Keys a ``[[changes]]`` entry may change, per section (the rest shape the sky or the plate
#: sets, which are computed once per scenario).
DATED_KEYS: dict[str, tuple[str, ...]] = {
    "selector": ("nt_share", "lkmrs_share", "rebalance_gain", "rebalance_prior",
                 "unavailable_project", "same_night_weight", "started_plate_boost",
                 "goal_exposures", "other_td_goal_exposures", "nt_exposures_per_pointing"),
    "observing": ("readout_time", "overhead", "max_exposures_per_pointing",
                  "min_exposures_to_start", "min_exposure_time"),
    "night": ("mrs_lunar_days", "shutdown", "lunar_day_tolerance", "edge_night_share"),
    "weather": ("usable_night_fraction", "usable_scale", "open_fraction"),
}


@dataclass(frozen=True)
class RuleChange:
    """Rules that change from ``start`` on (until ``until``, inclusive, if given).

    ``overrides`` holds validated values as ``((section, ((key, value), ...)), ...)``.
    """

    start: dt.date
    until: dt.date | None
    overrides: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]

    def applies(self, date: dt.date) -> bool:
        """Whether the change is in force on ``date``."""
        return self.start <= date and (self.until is None or date <= self.until)

    def plain(self) -> dict[str, Any]:
        """Plain data in the TOML layout (quantities as ``"value unit"`` strings)."""
        out: dict[str, Any] = {"from": self.start.isoformat()}
        if self.until is not None:
            out["until"] = self.until.isoformat()
        for section, items in self.overrides:
            out[section] = {k: _plain(v) for k, v in items}
        return out


def _plain(obj: Any) -> Any:
    """Plain data of a setting (quantities as ``"value unit"`` strings, tuples as lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.name not in ("source", "text")}
    if isinstance(obj, u.Quantity):
        value = obj.value.tolist() if obj.isscalar else obj.value
        return f"{value!r} {obj.unit}"
    if isinstance(obj, tuple):
        return [_plain(x) for x in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dt.date):
        return obj.isoformat()
    return obj


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Build with :func:`load_scenario` or :func:`default_scenario`.

    Attributes
    ----------
    posterior : str
        Calibration posterior draws kept with the scenario (a CSV written by
        ``lkmrs-sched calibrate``; relative to the scenario's folder), or ``""``.
    changes : tuple of RuleChange
        Time-dependent rules (module docstring).
    """

    name: str
    start: dt.date
    end: dt.date
    seed: int
    description: str = ""
    site: SiteConfig = field(default_factory=SiteConfig)
    night: NightConfig = field(default_factory=NightConfig)
    observing: ObservingConfig = field(default_factory=ObservingConfig)
    selector: SelectorConfig = field(default_factory=SelectorConfig)
    weather: WeatherConfig = field(default_factory=WeatherConfig)
    seeing: SeeingConfig = field(default_factory=SeeingConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    snr: SNRConfig = field(default_factory=SNRConfig)
    releases: ReleasesConfig = field(default_factory=ReleasesConfig)
    posterior: str = ""
    changes: tuple[RuleChange, ...] = ()
    source: str = "<defaults>"
    text: str = ""

    @property
    def hash(self) -> str:
        """SHA-256 of the scenario's canonical content (first 16 hex digits)."""
        return hashlib.sha256(repr(self.canonical()).encode()).hexdigest()[:16]

    def canonical(self) -> dict[str, Any]:
        """Plain-data view of every setting (quantities as ``"value unit"`` strings)."""
        out = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
               if f.name not in ("source", "text", "changes")}
        if self.changes:
            out["changes"] = [c.plain() for c in self.changes]
        return out

    def at(self, date: dt.date) -> Scenario:
        """The scenario with the rules in force on ``date`` (no changes left in it)."""
        sections: dict[str, Any] = {}
        for change in self.changes:
            if change.applies(date):
                for name, items in change.overrides:
                    current = sections.get(name, getattr(self, name))
                    sections[name] = dataclasses.replace(current, **dict(items))
        return dataclasses.replace(self, changes=(), **sections)

    def regimes(self) -> list[tuple[dt.date, dt.date, Scenario]]:
        """Spans ``(first, last, rules)`` of constant rules covering start..end, in order."""
        cuts = {self.start}
        for c in self.changes:
            for d in (c.start, c.until + dt.timedelta(days=1) if c.until else None):
                if d is not None and self.start < d <= self.end:
                    cuts.add(d)
        starts = sorted(cuts)
        ends = [d - dt.timedelta(days=1) for d in starts[1:]] + [self.end]
        return [(a, b, self.at(a)) for a, b in zip(starts, ends, strict=True)]

    def path(self, value: str) -> Path:
        """Resolve a path written in the scenario against the scenario's folder.

        A relative path that names no file there but names a shipped one from the packaged
        scenarios' folder (the defaults: ``../footprints/lkmrs.csv``,
        ``../tables/lamost_mrs_releases.csv``) resolves to the shipped file, so a scenario
        of one's own may leave the defaults out.
        """
        p = Path(value)
        if p.is_absolute():
            return p
        base = Path(self.source).parent if self.source != "<defaults>" else SCENARIOS
        here = (base / p).resolve()
        shipped = (SCENARIOS / p).resolve()
        return shipped if not here.exists() and shipped.is_file() else here

    def files(self) -> dict[str, Path]:
        """Every file the settings name, resolved: ``{"section.key": path}`` (empty skipped)."""
        out = {}
        for section, cls in _SECTIONS.items():
            for f in dataclasses.fields(cls):
                value = getattr(getattr(self, section), f.name)
                if f.metadata.get("kind") == "path" and value:
                    out[f"{section}.{f.name}"] = self.path(value)
        return out

    def replace(self, **sections: Any) -> Scenario:
        """Return a copy with top-level fields or whole sections replaced."""
        return dataclasses.replace(self, **sections)


_SECTIONS: dict[str, type] = {
    "site": SiteConfig,
    "night": NightConfig,
    "observing": ObservingConfig,
    "selector": SelectorConfig,
    "weather": WeatherConfig,
    "seeing": SeeingConfig,
    "population": PopulationConfig,
    "snr": SNRConfig,
    "releases": ReleasesConfig,
}


def _parse_date(raw: Any, where: str) -> dt.date:
    if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
        return raw
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise InputError(where, raw, "an ISO date YYYY-MM-DD") from None


def parse_scenario(data: dict[str, Any], source: str = "<defaults>", text: str = "") -> Scenario:
    """Validate a scenario given as nested dictionaries (as read from TOML).

    Parameters
    ----------
    data : dict
        ``{"scenario": {...}, "site": {...}, ...}``.
    source : str
        File name used in error messages and to resolve relative paths.
    text : str
        The scenario's original text, kept for provenance.
    """
    _check_top_level(data, source)
    head = data.get("scenario", {})
    allowed_head = {"name", "description", "start", "end", "seed", "posterior"}
    for key in head:
        if key not in allowed_head:
            raise InputError(
                f"{source}: [scenario] {key}",
                head[key],
                "one of " + ", ".join(sorted(allowed_head)),
                "unknown key",
            )
    for key in ("start", "end"):
        if key not in head:
            raise InputError(
                f"{source}: [scenario] {key}", ..., "an ISO date YYYY-MM-DD", "missing key"
            )
    start = check_night(_parse_date(head["start"], f"{source}: [scenario] start"),
                        f"{source}: [scenario] start")
    end = check_night(_parse_date(head["end"], f"{source}: [scenario] end"),
                      f"{source}: [scenario] end")
    if end < start:
        raise InputError(
            f"{source}: [scenario] end",
            end.isoformat(),
            f"a date on or after start ({start.isoformat()})",
            "end before start",
        )
    seed = head.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"{source}: [scenario] seed", seed, "a non-negative integer")
    posterior = head.get("posterior", "")
    if not isinstance(posterior, str):
        raise InputError(f"{source}: [scenario] posterior", posterior,
                         "the path of a posterior-draws CSV, or \"\"")
    sections = {
        name: schema.parse_section(cls, data[name], f"{source}: [{name}]")
        for name, cls in _SECTIONS.items()
        if name in data
    }
    scenario = Scenario(
        name=str(head.get("name", Path(source).stem)),
        start=start,
        end=end,
        seed=seed,
        description=str(head.get("description", "")),
        posterior=posterior,
        source=source,
        text=text,
        **sections,
    )
    return _with_changes(scenario, data.get("changes", []), source)


def _check_top_level(data: dict[str, Any], source: str) -> None:
    """Only known sections, each a table (``[[changes]]``: an array of tables)."""
    top_keys = {"scenario", "changes", *_SECTIONS}
    for key in data:
        if key in top_keys and key != "changes" and not isinstance(data[key], dict):
            raise InputError(f"{source}: {key}", data[key], f"a table [{key}] of settings",
                             "top-level value that is not a table")
        if key not in top_keys:
            raise InputError(
                f"{source}: [{key}]",
                ...,
                "sections " + ", ".join(sorted(top_keys)),
                "unknown section",
            )


def _with_changes(scenario: Scenario, raw_changes: Any, source: str) -> Scenario:
    """The scenario with its dated ``[[changes]]``, each checked on its start date."""
    if not isinstance(raw_changes, list):
        raise InputError(f"{source}: changes", raw_changes, "an array of [[changes]] tables")
    changes = tuple(_parse_change(raw, f"{source}: [[changes]][{i}]")
                    for i, raw in enumerate(raw_changes))
    scenario = dataclasses.replace(scenario, changes=changes)
    for change in changes:  # cross-field checks of the rules in force on each change date
        try:
            scenario.at(change.start)
        except InputError as exc:
            raise InputError(f"{source}: [[changes]] from {change.start} {exc.where}",
                             exc.value, exc.allowed, exc.problem) from None
    return scenario


def _parse_change(raw: Any, where: str) -> RuleChange:
    """One ``[[changes]]`` table: ``from``, optional ``until``, and section overrides."""
    if not isinstance(raw, dict):
        raise InputError(where, raw, "a table with from = DATE and section overrides")
    if "from" not in raw:
        raise InputError(f"{where} from", ..., "an ISO date YYYY-MM-DD", "missing key")
    start = _parse_date(raw["from"], f"{where} from")
    until = _parse_date(raw["until"], f"{where} until") if "until" in raw else None
    if until is not None and until < start:
        raise InputError(f"{where} until", until.isoformat(),
                         f"a date on or after from ({start.isoformat()})", "until before from")
    overrides = []
    for section, table in raw.items():
        if section in ("from", "until"):
            continue
        if section not in DATED_KEYS:
            raise InputError(f"{where} {section}", ..., "from, until, or a section of "
                             + ", ".join(DATED_KEYS), "unknown key")
        if not isinstance(table, dict) or not table:
            raise InputError(f"{where} {section}", table, "a table of settings to change")
        fields = {f.name: f for f in dataclasses.fields(_SECTIONS[section])}
        items = []
        for key, value in table.items():
            if key not in DATED_KEYS[section]:
                raise InputError(f"{where} {section}.{key}", value,
                                 "one of " + ", ".join(DATED_KEYS[section]),
                                 "not a rule that may change by date")
            items.append((key, schema._parse_value(value, fields[key].metadata,
                                                   f"{where} {section}.{key}")))
        overrides.append((section, tuple(items)))
    if not overrides:
        raise InputError(where, raw, "at least one section override")
    return RuleChange(start, until, tuple(overrides))


def load_scenario(path: str | Path, *, _seen: tuple[Path, ...] | None = None) -> Scenario:
    """Read and validate a scenario TOML file.

    A scenario may name a ``base`` in its ``[scenario]`` table: it then takes every
    setting of the base (recursively) and overrides only the keys it writes.

    ``path`` may also name a shipped scenario (``"year1-2018"`` or ``"year1-2018.toml"``)
    when no such file exists: see :func:`find_scenario`.

    Raises
    ------
    InputError
        If the file is missing, is not valid TOML, or any setting is invalid.
    """
    from lkmrs_sched.core.textio import load_toml

    p = find_scenario(path)
    shipped = ", ".join(s.stem for s in sorted(SCENARIOS.glob("*.toml")))
    data, text = load_toml(p, "a readable TOML scenario file, or a shipped scenario: "
                           + shipped, tables=False)
    head = data.get("scenario", {})
    if isinstance(head, dict) and "base" in head:
        data, text = _with_base(p, data, text, _seen or ())
    return parse_scenario(data, source=str(p), text=text)


def find_scenario(path: str | Path) -> Path:
    """The scenario file ``path`` names: the file itself, else a shipped scenario.

    A missing file whose name (with or without ``.toml``) is a shipped scenario's resolves
    to the packaged copy, so ``lkmrs-sched simulate year1-2018`` works from any folder and
    a copied what-if finds its ``base`` among the shipped ones.
    """
    p = Path(path)
    if p.exists():
        return p
    name = p.name if p.suffix == ".toml" else p.name + ".toml"
    shipped = SCENARIOS / name
    return shipped if shipped.is_file() else p


#: Marks where a scenario's stored text (``Scenario.text``) continues with its base's text.
BASE_MARK = "\n# ---- base: "


def _with_base(p: Path, data: dict[str, Any], text: str, seen: tuple[Path, ...]
               ) -> tuple[dict[str, Any], str]:
    """Merge a scenario over its ``[scenario] base`` (a what-if changes only what it names).

    Relative paths written in the base are kept relative to the base's folder.
    """
    raw = data["scenario"].pop("base")
    if not isinstance(raw, str):
        raise InputError(f"{p}: [scenario] base", raw, "the path of another scenario file")
    base_path = find_scenario(p.parent / raw).resolve()
    if base_path in seen or base_path == p.resolve():
        raise InputError(f"{p}: [scenario] base", raw, "a chain of bases without a loop",
                         "circular base")
    base = load_scenario(base_path, _seen=(*seen, p.resolve()))
    return _merge_over(base, data), f"{text}{BASE_MARK}{base_path} ----\n{base.text}"


def _merge_over(base: Scenario, data: dict[str, Any]) -> dict[str, Any]:
    """The settings of ``base`` overridden by the tables of ``data``."""
    merged = {"scenario": {k: v for k, v in base.canonical().items()
                           if k in ("name", "description", "start", "end", "seed")}}
    if base.posterior:
        merged["scenario"]["posterior"] = str(base.path(base.posterior))
    merged["changes"] = [c.plain() for c in base.changes]
    for section, cls in _SECTIONS.items():
        table = dict(base.canonical()[section])
        for f in dataclasses.fields(cls):
            value = table.get(f.name)
            if f.metadata.get("kind") == "path" and value and not Path(value).is_absolute():
                table[f.name] = str(base.path(value))
        merged[section] = table
    for section, table in data.items():
        if section == "changes" and isinstance(table, list):
            merged["changes"] = merged["changes"] + table  # the base's first, then these
            continue
        if not isinstance(table, dict):
            merged[section] = table
            continue
        merged.setdefault(section, {}).update(table)
    return merged


def scenario_from_text(text: str, source: str, where: str) -> Scenario:
    """A scenario from its stored text (``Scenario.text``, e.g. a log's provenance).

    The text of a scenario with a ``base`` carries its bases' texts after
    :data:`BASE_MARK` lines, so the chain is rebuilt without reading the base files.
    ``source`` resolves relative paths (a missing source folder falls back to the
    shipped scenarios' folder); ``where`` names the text in error messages.
    """
    import tomllib

    own, mark, rest = text.partition(BASE_MARK)
    try:
        data = tomllib.loads(own)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(where, ..., "valid TOML", f"TOML syntax error ({exc})") from None
    if not Path(source).is_file():
        source = str(SCENARIOS / Path(source).name)
    head = data.get("scenario", {})
    if isinstance(head, dict) and "base" in head:
        raw = head.pop("base")
        if mark:
            base_source, _, base_text = rest.partition(" ----\n")
            base = scenario_from_text(base_text, base_source, where)
        elif isinstance(raw, str):
            base = load_scenario((Path(source).parent / raw).resolve())
        else:
            raise InputError(f"{where}: [scenario] base", raw,
                             "the path of another scenario file")
        data = _merge_over(base, data)
    return parse_scenario(data, source=source, text=text)


def default_scenario(
    start: dt.date | str = "2018-09-01", end: dt.date | str = "2019-06-30", seed: int = 0
) -> Scenario:
    """A scenario with every default, for the given dates."""
    return parse_scenario(
        {"scenario": {"name": "defaults", "start": str(start), "end": str(end), "seed": seed}}
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def scenario_to_toml(scenario: Scenario, comments: dict[str, str] | None = None,
                     header: str = "", folder: Path | None = None) -> str:
    """A complete TOML text for ``scenario`` (every key), readable by :func:`load_scenario`.

    Parameters
    ----------
    comments : dict, optional
        ``{"section.key": "comment"}`` written at the end of that key's line.
    header : str
        Comment lines for the top of the file (without ``#``).
    folder : Path, optional
        Folder the text will be written to: file paths in the scenario are rewritten
        relative to it (a scenario's paths resolve from its own folder).
    """
    comments = comments or {}
    canon = scenario.canonical()
    if folder is not None:
        for section, cls in _SECTIONS.items():
            for f in dataclasses.fields(cls):
                value = canon[section][f.name]
                if f.metadata.get("kind") == "path" and value:
                    canon[section][f.name] = os.path.relpath(scenario.path(value),
                                                             Path(folder).resolve())
    if folder is not None and scenario.posterior:
        canon["posterior"] = os.path.relpath(scenario.path(scenario.posterior),
                                             Path(folder).resolve())
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += ["", "[scenario]"]
    for key in ("name", "description", "start", "end", "seed", "posterior"):
        if key != "posterior" or canon[key]:
            note = comments.get(f"scenario.{key}")
            lines.append(f"{key} = {_toml_value(canon[key])}" + (f"  # {note}" if note else ""))
    for section in _SECTIONS:
        lines += ["", f"[{section}]"]
        for key, value in canon[section].items():
            note = comments.get(f"{section}.{key}")
            lines.append(f"{key} = {_toml_value(value)}" + (f"  # {note}" if note else ""))
    for change in canon.get("changes", []):
        lines += ["", "[[changes]]"]
        for key, value in change.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
