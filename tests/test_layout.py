"""The package's layout rules (issue #10), checked on the source with ``ast``.

* No function (or method) longer than :data:`MAX_LINES` lines, counted from its ``def``
  line to its last line, docstring included; the ``register`` functions of
  ``commands/*`` (argparse set-up) are exempt.
* No module imports another module's private names (``from lkmrs_sched... import _x``,
  or a relative ``from . import _x``; dunders such as ``__version__`` are not private).
"""

from __future__ import annotations

import ast
from pathlib import Path

import lkmrs_sched

PACKAGE = Path(lkmrs_sched.__file__).resolve().parent
MAX_LINES = 80


def _modules(root: Path) -> list[tuple[str, ast.Module]]:
    return [
        (path.relative_to(root).as_posix(),
         ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for path in sorted(root.rglob("*.py"))
    ]


def _exempt(module: str, name: str) -> bool:
    return module.startswith("commands/") and name == "register"


def long_functions(root: Path = PACKAGE, max_lines: int = MAX_LINES) -> list[str]:
    """``module:line name (n lines)`` for every function over ``max_lines`` lines."""
    found = []
    for rel, tree in _modules(root):
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            n = node.end_lineno - node.lineno + 1
            if n > max_lines and not _exempt(rel, node.name):
                found.append(f"{rel}:{node.lineno} {node.name} ({n} lines)")
    return found


def private_imports(root: Path = PACKAGE) -> list[str]:
    """``module:line from X import _name`` for every import of a private package name."""
    found = []
    for rel, tree in _modules(root):
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = "." * node.level + (node.module or "")
            if node.level == 0 and source.split(".")[0] != "lkmrs_sched":
                continue
            for alias in node.names:
                dunder = alias.name.startswith("__") and alias.name.endswith("__")
                if alias.name.startswith("_") and not dunder:
                    found.append(f"{rel}:{node.lineno} from {source} import {alias.name}")
    return found


def test_the_package_is_found():
    assert len(_modules(PACKAGE)) > 20


def test_no_function_over_80_lines():
    assert long_functions() == []


def test_no_module_imports_private_names():
    assert private_imports() == []


def test_checks_flag_what_they_should(tmp_path):
    """A long function and private imports are flagged; ``commands/*.register`` is not."""
    (tmp_path / "commands").mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "long.py").write_text(f"def f():\n{body}\n\n\ndef g():\n    pass\n")
    (tmp_path / "commands" / "c.py").write_text(f"def register():\n{body}\n")
    (tmp_path / "priv.py").write_text(
        "from __future__ import annotations\n"
        "from lkmrs_sched.synth.synth import _x, ok\n"
        "from lkmrs_sched import __version__\n"
        "from os import _exit\n"
        "from . import _y\n")
    assert long_functions(tmp_path) == [f"long.py:1 f ({MAX_LINES + 1} lines)"]
    assert private_imports(tmp_path) == ["priv.py:2 from lkmrs_sched.synth.synth import _x",
                                         "priv.py:5 from . import _y"]
