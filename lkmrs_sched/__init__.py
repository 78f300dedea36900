"""lkmrs-sched: survey simulator and reduction toolkit for LAMOST LK-MRS.

The public names (see the README's "Python API")::

    import lkmrs_sched as lk
    scenario = lk.load_scenario("scenarios/forecast-2019.toml")
    log = lk.simulate(scenario, seed=1)
    result = lk.run_forecast(scenario, realizations=8, out="runs/my-forecast")

They are imported on first use (PEP 562), so ``import lkmrs_sched`` stays fast. Importing
the package changes nothing in astropy: our own calls run offline
(:func:`lkmrs_sched.core.offline.offline`), a user's keep astropy's settings.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name → module it lives in.
_EXPORTS = {
    "load_scenario": "lkmrs_sched.core.config",
    "default_scenario": "lkmrs_sched.core.config",
    "Scenario": "lkmrs_sched.core.config",
    "scenario_file": "lkmrs_sched.core.resources",
    "InputError": "lkmrs_sched.core.errors",
    "offline": "lkmrs_sched.core.offline",
    "Simulation": "lkmrs_sched.sim.simulator",
    "ObservationLog": "lkmrs_sched.sim.obslog",
    "import_table2": "lkmrs_sched.sim.importers",
    "read_any_log": "lkmrs_sched.sim.importers",
    "simulate": "lkmrs_sched.api",
    "run_forecast": "lkmrs_sched.api",
    "compare": "lkmrs_sched.api",
    "synthesize": "lkmrs_sched.api",
    "Synthetic": "lkmrs_sched.api",
    "reduce": "lkmrs_sched.api",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lkmrs_sched' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
