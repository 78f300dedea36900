"""Every shipped data file is declared as package data, so the wheel carries it.

The wheel check (``make check-wheel``) finds a missing file only when a command needs it;
this test finds it from the declaration in ``pyproject.toml``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import lkmrs_sched

PACKAGE = Path(lkmrs_sched.__file__).resolve().parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"


def test_every_data_file_is_declared_package_data():
    globs = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["lkmrs_sched"]
    declared = {p for pattern in globs for p in PACKAGE.glob(pattern)}
    shipped = {p for p in (PACKAGE / "data").rglob("*") if p.is_file()
               and "__pycache__" not in p.parts}
    missing = sorted(str(p.relative_to(PACKAGE)) for p in shipped - declared)
    assert not missing, f"data files the wheel would leave out: {missing}"
