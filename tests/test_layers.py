"""The package's layers, held by a test: each room imports only the rooms below it.

Dependencies point one way (README, Architecture): core ← sky ← sim ← ensembles;
core ← synth ← ensembles; the reduction depends on core only, so real catalogues are
reduced without the simulator. The plate-selection policy never imports SimPy.
Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lkmrs_sched"

#: Rooms each room may import from (besides itself).
ALLOWED = {
    "core": set(),
    "sky": {"core"},
    "reduction": {"core"},
    "sim": {"core", "sky"},
    "synth": {"core", "sky", "reduction"},
    "plots": {"core", "sky", "sim", "synth", "reduction"},
    "ensembles": {"core", "sky", "sim", "synth", "reduction", "plots"},
    "commands": {"core", "sky", "sim", "synth", "reduction", "plots", "ensembles"},
}
#: Top-level modules: the entry points only (the command line and the Python API).
ENTRY_POINTS = {"__init__.py", "__main__.py", "cli.py", "api.py"}


def imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names), at any depth."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "lkmrs_sched" and len(parts) > 1 else None


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_rooms_import_only_the_rooms_below(room):
    bad = []
    for path in sorted((PACKAGE / room).rglob("*.py")):
        for module in imports(path):
            other = room_of(module)
            if other in ALLOWED and other != room and other not in ALLOWED[room]:
                bad.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not bad, "\n".join(bad)


def test_policy_and_reduction_never_import_the_engine():
    for path in (PACKAGE / "sim" / "selector.py", PACKAGE / "sim" / "policy.py"):
        assert not {m for m in imports(path) if m.split(".")[0] == "simpy"}, path
    for path in (PACKAGE / "reduction").rglob("*.py"):
        assert not {m for m in imports(path) if m.split(".")[0] == "simpy"}, path


def test_only_entry_points_at_the_top():
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top <= ENTRY_POINTS, top - ENTRY_POINTS
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms == set(ALLOWED)
