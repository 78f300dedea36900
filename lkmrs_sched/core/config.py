"""Scenario schema: TOML loading and validation with clear messages.

A scenario is a TOML file whose quantities carry units (``"1200 s"``, ``"-18 deg"``,
``"2 h"``). Each ``[section]`` maps onto a frozen dataclass of
:mod:`lkmrs_sched.core.sections`; every field declares its unit (for quantities) and its
allowed range in the field metadata, and one generic parser checks them all. Unknown
keys, wrong units, out-of-range values and an end date before the start raise
:class:`~lkmrs_sched.core.errors.InputError` naming the file, key, value and what is
allowed.

Relative paths inside a scenario are resolved against the scenario file's folder.
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
    SeeingConfig,
    SelectorConfig,
    SiteConfig,
    SNRConfig,
    WeatherConfig,
)
from lkmrs_sched.core.validate import check_night


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Build with :func:`load_scenario` or :func:`default_scenario`."""

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
    source: str = "<defaults>"
    text: str = ""

    @property
    def hash(self) -> str:
        """SHA-256 of the scenario's canonical content (first 16 hex digits)."""
        return hashlib.sha256(repr(self.canonical()).encode()).hexdigest()[:16]

    def canonical(self) -> dict[str, Any]:
        """Plain-data view of every setting (quantities as ``"value unit"`` strings)."""

        def plain(obj: Any) -> Any:
            if dataclasses.is_dataclass(obj):
                return {
                    f.name: plain(getattr(obj, f.name))
                    for f in dataclasses.fields(obj)
                    if f.name not in ("source", "text")
                }
            if isinstance(obj, u.Quantity):
                value = obj.value.tolist() if obj.isscalar else obj.value
                return f"{value!r} {obj.unit}"
            if isinstance(obj, tuple):
                return [plain(x) for x in obj]
            if isinstance(obj, np.generic):
                return obj.item()
            if isinstance(obj, dt.date):
                return obj.isoformat()
            return obj

        return plain(self)

    def path(self, value: str) -> Path:
        """Resolve a path written in the scenario against the scenario's folder."""
        p = Path(value)
        if p.is_absolute():
            return p
        base = Path(self.source).parent if self.source != "<defaults>" else SCENARIOS
        return (base / p).resolve()

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
    top_keys = {"scenario", *_SECTIONS}
    for key in data:
        if key in top_keys and not isinstance(data[key], dict):
            raise InputError(f"{source}: {key}", data[key], f"a table [{key}] of settings",
                             "top-level value that is not a table")
        if key not in top_keys:
            raise InputError(
                f"{source}: [{key}]",
                ...,
                "sections " + ", ".join(sorted(top_keys)),
                "unknown section",
            )
    head = data.get("scenario", {})
    allowed_head = {"name", "description", "start", "end", "seed"}
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
    sections = {
        name: schema.parse_section(cls, data[name], f"{source}: [{name}]")
        for name, cls in _SECTIONS.items()
        if name in data
    }
    return Scenario(
        name=str(head.get("name", Path(source).stem)),
        start=start,
        end=end,
        seed=seed,
        description=str(head.get("description", "")),
        source=source,
        text=text,
        **sections,
    )


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
    for section, cls in _SECTIONS.items():
        table = dict(base.canonical()[section])
        for f in dataclasses.fields(cls):
            value = table.get(f.name)
            if f.metadata.get("kind") == "path" and value and not Path(value).is_absolute():
                table[f.name] = str(base.path(value))
        merged[section] = table
    for section, table in data.items():
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
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += ["", "[scenario]"]
    for key in ("name", "description", "start", "end", "seed"):
        lines.append(f"{key} = {_toml_value(canon[key])}")
    for section in _SECTIONS:
        lines += ["", f"[{section}]"]
        for key, value in canon[section].items():
            note = comments.get(f"{section}.{key}")
            lines.append(f"{key} = {_toml_value(value)}" + (f"  # {note}" if note else ""))
    return "\n".join(lines) + "\n"
