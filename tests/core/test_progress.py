"""Progress bars: one place, off unless standard error is a terminal (issue #13)."""

from __future__ import annotations

import io
import sys

from lkmrs_sched.core import progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_is_off_in_a_pipe_and_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress.progress_bar(3, desc="x").disable
    monkeypatch.setattr(sys, "stderr", _Tty())
    bar = progress.progress_bar(3, desc="x", file=sys.stderr)
    assert not bar.disable
    bar.close()
    assert progress.progress_bar(3, enabled=False).disable


def test_no_module_imports_tqdm_but_the_progress_module():
    from pathlib import Path

    package = Path(progress.__file__).resolve().parents[1]
    users = [p for p in package.rglob("*.py") if "tqdm" in p.read_text(encoding="utf-8")
             and p.name != "progress.py"]
    assert users == []
