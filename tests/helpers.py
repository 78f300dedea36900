"""Helpers shared by tests (importable: ``tests/`` is on the test path)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def wait_for_results(proc: subprocess.Popen, store: Path, n_done: int,
                     timeout: float = 120.0) -> None:
    """Block until an ensemble run's ``store`` holds ``n_done`` realization results.

    Raises AssertionError if ``proc`` ends first or nothing arrives within ``timeout`` s.
    """
    t0 = time.monotonic()
    while len(list(store.glob("realization-*.json"))) < n_done:
        if proc.poll() is not None:
            raise AssertionError("finished before it could be interrupted: "
                                 + (proc.stderr.read() if proc.stderr else ""))
        if time.monotonic() - t0 > timeout:
            raise AssertionError("no realization finished in time")
        time.sleep(0.01)


@contextmanager
def cache_dir(folder: Path) -> Iterator[Path]:
    """Point ``LKMRS_CACHE_DIR`` at ``folder`` (read at call time), restoring it after."""
    old = os.environ.get("LKMRS_CACHE_DIR")
    os.environ["LKMRS_CACHE_DIR"] = str(folder)
    try:
        yield folder
    finally:
        if old is None:
            os.environ.pop("LKMRS_CACHE_DIR", None)
        else:
            os.environ["LKMRS_CACHE_DIR"] = old
