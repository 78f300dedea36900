"""Run every ``benchmarks/bench_*.py`` and summarise; exit 1 if any target is missed.

Each benchmark module is imported and its ``main()`` called with no arguments, in a
child process of its own (so one benchmark's memory high-water mark or imports cannot
affect another's measurement). ``main()`` returns a list of
``(name, measured, target, passed)`` rows; see ``benchmarks/README.md``.

Usage::

    .venv/bin/python benchmarks/run_all.py              # all, in name order
    .venv/bin/python benchmarks/run_all.py almanac sim  # those whose name contains a word
    .venv/bin/python benchmarks/run_all.py --list
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

Row = tuple[str, float, float, bool]


def discover() -> list[Path]:
    """The benchmark modules, in name order."""
    return sorted(HERE.glob("bench_*.py"))


def normalise(result: Any) -> list[Row]:
    """Turn what a ``main()`` returned into rows.

    The contract is a list of ``(name, measured, target, passed)``. For compatibility, a
    dict is also accepted: each ``*_ratio`` entry (measured / target, lower is better)
    becomes a row with target 1.
    """
    if isinstance(result, dict):
        return [(k, float(v), 1.0, float(v) <= 1.0) for k, v in result.items()
                if k.endswith("_ratio")]
    if isinstance(result, (list, tuple)) and all(
            isinstance(r, (list, tuple)) and len(r) == 4 for r in result):
        return [(str(n), float(m), float(t), bool(p)) for n, m, t, p in result]
    raise TypeError(f"main() returned {type(result).__name__}, expected a list of "
                    "(name, measured, target, passed) rows")


def run_in_this_process(path: Path) -> list[Row]:
    """Import one benchmark module and call its ``main()``."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    # Registered under its own name, so pickling its functions (multiprocessing) works.
    sys.modules[path.stem] = module
    sys.path.insert(0, str(HERE))
    saved_argv = sys.argv
    sys.argv = [str(path)]  # benchmarks that parse arguments see none
    try:
        spec.loader.exec_module(module)
        return normalise(module.main())
    finally:
        sys.argv = saved_argv
        sys.path.remove(str(HERE))


def run_in_child(path: Path) -> tuple[list[Row], str | None]:
    """Run one benchmark in a fresh interpreter; its output goes straight to ours."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "rows.json"
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                               str(path), "--rows", str(out)], check=False)
        if out.exists():
            data = json.loads(out.read_text())
            return [tuple(r) for r in data["rows"]], data.get("error")
    return [], f"benchmark process exited with status {proc.returncode}"


def _child(path: Path, rows_file: Path) -> int:
    error = None
    rows: list[Row] = []
    try:
        rows = run_in_this_process(path)
    except Exception as exc:  # report every failure as a FAIL, keep the others running
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}"
    rows_file.write_text(json.dumps({"rows": rows, "error": error}))
    return 0


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def summary(results: list[tuple[str, list[Row], str | None, float]]) -> bool:
    """Print the summary table; return True if everything passed."""
    lines = []
    ok = True
    for bench, rows, error, seconds in results:
        if error is not None or not rows:
            ok = False
            text = error or "no rows returned"
            text = text if len(text) <= 70 else text[:67] + "..."
            lines.append((bench, text.splitlines()[0], "", "", "FAIL"))
        for name, measured, target, passed in rows:
            ok &= bool(passed)
            lines.append((bench, name, _fmt(measured), _fmt(target),
                          "PASS" if passed else "FAIL"))
        lines.append((bench, f"(wall time {seconds:.1f} s)", "", "", ""))
    head = ("benchmark", "measure", "measured", "target", "result")
    widths = [max(len(str(r[i])) for r in [head, *lines]) for i in range(5)]
    print()
    print("=" * (sum(widths) + 8))
    for r in [head, *lines]:
        print("  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    print("=" * (sum(widths) + 8))
    print("ALL PASS" if ok else "SOME BENCHMARKS FAILED")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("select", nargs="*", help="run only benchmarks whose name contains one")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, args.rows)
    paths = [p for p in discover()
             if not args.select or any(s in p.stem for s in args.select)]
    if args.list or not paths:
        for p in discover():
            print(p.stem)
        return 0 if args.list else 1
    results = []
    for path in paths:
        print(f"\n### {path.stem}", flush=True)
        t0 = time.perf_counter()
        rows, error = run_in_child(path)
        results.append((path.stem, rows, error, time.perf_counter() - t0))
    return 0 if summary(results) else 1


if __name__ == "__main__":
    sys.exit(main())
