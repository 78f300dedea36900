#!/usr/bin/env bash
# Every table the package writes reads back with astropy's Table.read, units included,
# in a fresh venv without pandas (issue #13).
#
#   bash tools/check_tables_without_pandas.sh [PYTHON]
#
# Creates a venv in a temporary folder, installs this checkout (`pip install .`, not
# editable, so the installed wheel's package data are used), makes sure pandas is
# absent, runs a tiny simulate -> synth -> reduce -> forecast there plus the log's table
# exports, then Table.reads every table output and checks each known column's unit
# against lkmrs_sched.core.tablemeta. No output may be Parquet (astropy's reader needs
# pandas), and a CSV output (the posterior draws) may hold no column that has a unit.
# Exit 0 when every check passes.
set -euo pipefail
PYTHON=${1:-python3}
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lkmrs-tables.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "venv and runs in $WORK"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
"$VPY" -m pip install --quiet "$REPO" 2>&1 | grep -v -e "^WARNING: Location" -e "^ *$" || true
if "$VPY" -c "import pandas" 2>/dev/null; then
    echo "pandas came in with the dependencies; removing it"
    "$VPY" -m pip uninstall --quiet -y pandas
fi
"$VPY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('pandas') is not None)"
echo "pandas: absent"
cd "$WORK"
export LKMRS_CACHE_DIR="$WORK/cache"
LK="$WORK/venv/bin/lkmrs-sched"
SCEN=$("$VPY" -c "from lkmrs_sched.core.resources import SCENARIOS; print(SCENARIOS)")
printf '[scenario]\nbase = "%s/year1-2018.toml"\nname = "tiny"\nstart = "2018-12-01"\nend = "2018-12-20"\n' \
    "$SCEN" > tiny.toml
printf '[scenario]\nbase = "%s/forecast-2019.toml"\nname = "tiny-forecast"\nend = "2019-09-30"\n' \
    "$SCEN" > tiny-forecast.toml
"$LK" simulate tiny.toml --seed 3 --out sim --no-figures > /dev/null
"$LK" synth sim --scenario tiny.toml --no-figures > /dev/null
"$LK" synth sim --scenario tiny.toml --out sim/exposures.vot --no-figures > /dev/null
"$LK" synth sim --scenario tiny.toml --out sim/exposures.ecsv --no-figures > /dev/null
"$LK" reduce sim/synth_exposures.fits --out red --format fits --format ecsv \
    --format votable --no-figures --quiet > /dev/null
"$LK" forecast tiny-forecast.toml --realizations 2 --workers 1 --out fc > /dev/null
"$VPY" - <<'PY'
from lkmrs_sched.sim.obslog import ObservationLog

log = ObservationLog.read("sim/observations.sqlite")
for ext in ("ecsv", "fits", "vot"):
    log.to_ecsv("log", ext=ext)
PY
"$VPY" - <<'PY'
import sys
import warnings
from pathlib import Path

from astropy.table import Table

from lkmrs_sched.core.tablemeta import COLUMNS

failures, checked = [], 0
paths = sorted(p for p in Path(".").rglob("*") if p.is_file() and "venv" not in p.parts
               and p.suffix in (".fits", ".ecsv", ".vot", ".xml", ".csv", ".parquet"))
for path in paths:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITS: 'dex' is read as an unrecognised unit
        if path.suffix == ".parquet":
            failures.append(f"{path}: Parquet output (astropy's Table.read needs pandas)")
            continue
        table = Table.read(path)
    units = 0
    for name in table.colnames:
        want = COLUMNS.get(name, (None,))[0]
        if want is None:
            continue
        got = table[name].unit
        checked += 1
        if path.suffix == ".csv":
            failures.append(f"{path}: {name} wants unit {want!r}, which CSV cannot hold")
            continue
        units += 1
        if got is None or (str(got) != want and got != want):
            failures.append(f"{path}: {name} has unit {got!r}, want {want!r}")
    print(f"ok     {path} ({len(table)} rows, {units} columns with units)")
print(f"{len(paths)} tables, {checked} units checked, {len(failures)} wrong")
for f in failures:
    print("WRONG  " + f)
sys.exit(1 if failures or not checked else 0)
PY
