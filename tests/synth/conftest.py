"""Fixtures shared by the synth tests (one copy per test module, as before)."""

from __future__ import annotations

import pytest

from lkmrs_sched.core.config import default_scenario
from lkmrs_sched.sky.footprints import load_lkmrs


@pytest.fixture(scope="module")
def plates():
    """The 20 LK-MRS plates."""
    return load_lkmrs()


@pytest.fixture(scope="module")
def scenario():
    """The default scenario."""
    return default_scenario()
