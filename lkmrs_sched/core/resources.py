"""Packaged data and the per-user cache folder.

The footprints, scenarios and tables ship inside the package (``lkmrs_sched/data``), so
an installed wheel runs every command from any folder; nothing here depends on a source
checkout. A wheel installs as plain files, so the packaged data are real paths on disk
(scenarios name their footprints by relative path).

* ``data/footprints/`` — LK-MRS footprints (Table 1) and the assumed other plate sets.
* ``data/scenarios/`` — the shipped scenarios (year 1, the baseline forecast, what-ifs).
* ``data/tables/`` — Table 2 (first-year log), Table 4 (precision law), release totals.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import platformdirs

#: The packaged data folder.
DATA = Path(str(resources.files("lkmrs_sched") / "data"))
FOOTPRINTS = DATA / "footprints"
SCENARIOS = DATA / "scenarios"
TABLES = DATA / "tables"

#: Table 2 of Zong et al. (2020): the first-year LK-MRS observation log.
TABLE2 = TABLES / "table2_observation_log.csv"
#: Table 4 of Zong et al. (2020): the internal-precision law per parameter.
TABLE4 = TABLES / "table4_uncertainty_coefficients.csv"
#: LAMOST MRS data-release totals (cumulative spectra per release).
RELEASES = TABLES / "lamost_mrs_releases.csv"


def scenario_file(name: str) -> Path:
    """Path of a shipped scenario, by file name (``"year1-2018.toml"``)."""
    return SCENARIOS / name


def shipped_scenarios() -> list[Path]:
    """Every shipped scenario file, sorted by name."""
    return sorted(SCENARIOS.glob("*.toml"))


def cache_dir() -> Path:
    """The disk cache folder: ``$LKMRS_CACHE_DIR``, else the per-user cache folder."""
    env = os.environ.get("LKMRS_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("lkmrs-sched"))
