"""Declarative fields for scenario sections, and their generic validating parser.

A section is a frozen dataclass whose fields are declared with :func:`quantity`,
:func:`number`, :func:`choice`, :func:`items`, :func:`text`, :func:`path` or :func:`flag`;
each records its unit and allowed range in the field metadata. :func:`parse_section`
checks a TOML table against the dataclass: unknown keys, wrong units, wrong types and
out-of-range values raise :class:`~lkmrs_sched.core.errors.InputError` naming file, key, value
and what is allowed. Modules that own a section (weather, S/N, population, ...) declare
it next to their code with these helpers and register it in :mod:`lkmrs_sched.core.config`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import field
from typing import Any

import astropy.units as u

from lkmrs_sched.core.errors import InputError


def quantity(
    default: str, unit: str, lo: float | None = None, hi: float | None = None, doc: str = ""
) -> Any:
    """A quantity field: stored as an astropy Quantity in ``unit``."""
    return field(
        default=u.Quantity(default).to(unit),
        metadata={"kind": "quantity", "unit": unit, "lo": lo, "hi": hi, "doc": doc},
    )


def number(
    default: float,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
    doc: str = "",
) -> Any:
    """A plain number field (dimensionless)."""
    return field(
        default=default,
        metadata={"kind": "int" if integer else "float", "lo": lo, "hi": hi, "doc": doc},
    )


def choice(default: str, choices: tuple[str, ...], doc: str = "") -> Any:
    return field(default=default, metadata={"kind": "choice", "choices": choices, "doc": doc})


def items(
    default: tuple,
    kind: str,
    n: int | None = None,
    lo: float | None = None,
    hi: float | None = None,
    doc: str = "",
) -> Any:
    return field(
        default=default,
        metadata={"kind": "list", "item": kind, "n": n, "lo": lo, "hi": hi, "doc": doc},
    )


def text(default: str, doc: str = "") -> Any:
    return field(default=default, metadata={"kind": "text", "doc": doc})


def path(default: str, doc: str = "") -> Any:
    return field(default=default, metadata={"kind": "path", "doc": doc})


def flag(default: bool, doc: str = "") -> Any:
    return field(default=default, metadata={"kind": "bool", "doc": doc})


def _range_text(lo: float | None, hi: float | None, unit: str = "") -> str:
    unit = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}{unit}"
    if lo is not None:
        return f"at least {lo:g}{unit}"
    if hi is not None:
        return f"at most {hi:g}{unit}"
    return f"any value{unit}"


def _check_range(x: float, meta: dict, where: str, raw: Any, unit: str = "") -> None:
    lo, hi = meta.get("lo"), meta.get("hi")
    if (lo is not None and x < lo) or (hi is not None and x > hi) or x != x:
        raise InputError(where, raw, _range_text(lo, hi, unit), "out of range")


def parse_quantity(raw: Any, unit: str, where: str) -> u.Quantity:
    """Parse ``"1200 s"`` into a Quantity convertible to ``unit``.

    Raises
    ------
    InputError
        If ``raw`` is not a string with a number and a unit, or the unit has the wrong
        physical type.
    """
    allowed = f'a quantity with a unit convertible to {unit}, e.g. "{u.Quantity(1, unit)}"'
    if not isinstance(raw, str):
        raise InputError(where, raw, allowed, "quantity without a unit")
    try:
        q = u.Quantity(raw)
    except (TypeError, ValueError):
        raise InputError(where, raw, allowed, "not a quantity") from None
    if q.unit == u.dimensionless_unscaled and u.Unit(unit) != u.dimensionless_unscaled:
        raise InputError(where, raw, allowed, "quantity without a unit")
    try:
        return q.to(unit)
    except u.UnitConversionError:
        raise InputError(where, raw, allowed, "wrong unit") from None


def _parse_mmdd(raw: Any, where: str) -> str:
    try:
        dt.datetime.strptime(f"2000-{raw}", "%Y-%m-%d")
    except (TypeError, ValueError):
        raise InputError(where, raw, 'a month-day string "MM-DD"') from None
    return str(raw)


def _parse_value(raw: Any, meta: dict, where: str) -> Any:
    kind = meta["kind"]
    if kind == "quantity":
        q = parse_quantity(raw, meta["unit"], where)
        _check_range(q.value, meta, where, raw, meta["unit"])
        return q
    if kind in ("int", "float"):
        ok = isinstance(raw, int) if kind == "int" else isinstance(raw, (int, float))
        if not ok or isinstance(raw, bool):
            raise InputError(where, raw, "an integer" if kind == "int" else "a number")
        _check_range(raw, meta, where, raw)
        return int(raw) if kind == "int" else float(raw)
    if kind == "choice":
        if raw not in meta["choices"]:
            raise InputError(where, raw, "one of " + ", ".join(map(repr, meta["choices"])))
        return raw
    if kind in ("text", "path"):
        if not isinstance(raw, str):
            raise InputError(where, raw, "a string")
        return raw
    if kind == "bool":
        if not isinstance(raw, bool):
            raise InputError(where, raw, "true or false")
        return raw
    if kind == "list":
        if not isinstance(raw, list):
            raise InputError(where, raw, "a list")
        if meta["n"] is not None and len(raw) != meta["n"]:
            raise InputError(where, raw, f"a list of {meta['n']} items", "wrong length")
        item = meta["item"]
        out = []
        for i, x in enumerate(raw):
            w = f"{where}[{i}]"
            if item == "mmdd-range":
                if not (isinstance(x, list) and len(x) == 2):
                    raise InputError(w, x, 'a pair ["MM-DD", "MM-DD"]')
                out.append((_parse_mmdd(x[0], w), _parse_mmdd(x[1], w)))
            else:
                out.append(_parse_value(x, {**meta, "kind": item}, w))
        return tuple(out)
    raise AssertionError(kind)  # pragma: no cover


def parse_section(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise InputError(where, table, "a table of settings")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            raise InputError(
                f"{where} {key}", table[key], "one of " + ", ".join(fields), "unknown key"
            )
    values = {k: _parse_value(v, fields[k].metadata, f"{where} {k}") for k, v in table.items()}
    try:
        return cls(**values)
    except InputError as exc:
        # A section's own cross-field check names "[section] key"; add the file.
        if not exc.where.startswith("["):
            raise
        key = exc.where.split("]", 1)[1]
        raise InputError(f"{where}{key}", exc.value, exc.allowed, exc.problem) from None
