"""Column maps: match a catalogue's column names to ours.

A map is ``{"CATALOGUE_NAME": "our_name"}``, given as ``NAME=ours`` pairs on the command
line or as a JSON/TOML file. Names without an entry also match case-insensitively.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.reduction import columns as C


def parse_column_map(items: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Parse a column map: ``theirs=ours`` pairs and/or JSON/TOML files of such pairs.

    Parameters
    ----------
    items : sequence of str, mapping or None
        Each item is ``"CATALOGUE_NAME=our_name"``, comma-separated lists of those, or the
        path of a ``.json`` / ``.toml`` file holding ``{"CATALOGUE_NAME": "our_name"}``
        (TOML: top-level keys or a ``[columns]`` table).

    Returns
    -------
    dict
        Catalogue name → our name.
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return _check_map(dict(items), "column map")
    out: dict[str, str] = {}
    for item in items:
        if item.lower().endswith((".json", ".toml")) and "=" not in item:
            out.update(_read_map_file(Path(item)))
            continue
        for pair in filter(None, (p.strip() for p in item.split(","))):
            if pair.count("=") != 1 or not all(s.strip() for s in pair.split("=")):
                raise InputError(
                    "--column-map", pair, "CATALOGUE_NAME=our_name pairs or a .json/.toml file"
                )
            theirs, ours = (s.strip() for s in pair.split("="))
            out[theirs] = ours
    return _check_map(out, "--column-map")


def _read_map_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise InputError(
            "--column-map", str(path), "an existing .json or .toml file", "no such file"
        )
    from lkmrs_sched.core.textio import read_text

    text = read_text(path, "a .json or .toml file of column-name pairs")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
            data = data.get("columns", data)
    except (ValueError, TypeError) as exc:
        raise InputError(str(path), ..., "a JSON/TOML table of name pairs", str(exc)) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputError(str(path), ..., '{"CATALOGUE_NAME": "our_name", ...}', "not a name map")
    return {str(k): v for k, v in data.items()}


def _check_map(mapping: dict[str, str], where: str) -> dict[str, str]:
    targets = list(mapping.values())
    for ours in targets:
        if not _known_column(ours):
            raise InputError(
                where,
                ours,
                "one of " + ", ".join(sorted(C.KINDS)) + " or an rv_* column",
                "unknown target column",
            )
    dupes = {t for t in targets if targets.count(t) > 1}
    if dupes:
        raise InputError(where, sorted(dupes), "each of our columns mapped once", "mapped twice")
    return mapping


def _known_column(name: str) -> bool:
    return name in C.KINDS or name.startswith("rv_")


def resolve_columns(
    available: Iterable[str], wanted: Iterable[str], column_map: Mapping[str, str], where: str
) -> dict[str, str]:
    """Match our column names to a catalogue's.

    Parameters
    ----------
    available : iterable of str
        Column names in the catalogue.
    wanted : iterable of str
        Our names to look for.
    column_map : mapping
        Catalogue name → our name, applied first.
    where : str
        Catalogue label for error messages.

    Returns
    -------
    dict
        Our name → catalogue name, for the wanted columns found.
    """
    names = list(available)
    lower: dict[str, list[str]] = {}
    for n in names:
        lower.setdefault(n.lower(), []).append(n)
    found: dict[str, str] = {}
    for theirs, ours in column_map.items():
        if theirs not in names:
            hits = lower.get(theirs.lower(), [])
            if len(hits) != 1:
                raise InputError(
                    f"{where}: --column-map {theirs}={ours}",
                    theirs,
                    "a column of the catalogue: " + ", ".join(names[:60]),
                    "no such column",
                )
            theirs = hits[0]
        found[ours] = theirs
    taken = set(found.values())
    for ours in wanted:
        if ours in found:
            continue
        if ours in names and ours not in taken:
            found[ours] = ours
            continue
        hits = [h for h in lower.get(ours.lower(), []) if h not in taken]
        if len(hits) == 1:
            found[ours] = hits[0]
    return found
