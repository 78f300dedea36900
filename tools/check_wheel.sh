#!/usr/bin/env bash
# Build the wheel, install it (not editable) into a fresh venv and run every command from
# an empty folder: what a user who pip-installs lkmrs-sched gets. Exits non-zero on the
# first failure. Usage: tools/check_wheel.sh [PYTHON]  (default python3)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "build the wheel"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$here"
wheel=$(ls "$work"/dist/lkmrs_sched-*.whl)
echo "$wheel"

step "install it into a fresh venv"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet "$wheel" 2>&1 | grep -v "^WARNING: Location" || true
mkdir "$work/empty"
cd "$work/empty"
# The wheel carries its data: nothing may come from the source tree.
"$work/venv/bin/python" - <<'PY'
import lkmrs_sched, pathlib
root = pathlib.Path(lkmrs_sched.__file__).parent
assert "site-packages" in str(root), root
for sub in ("data/footprints/lkmrs.csv", "data/scenarios/year1-2018.toml",
            "data/tables/table2_observation_log.csv",
            "data/tables/table4_uncertainty_coefficients.csv"):
    assert (root / sub).is_file(), sub
print("package data present in", root)
PY

export LKMRS_CACHE_DIR="$work/cache" MPLBACKEND=Agg
lk="$work/venv/bin/lkmrs-sched"
run() { step "lkmrs-sched $*"; "$lk" "$@" > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; };
        tail -n 3 "$work/out.txt"; }

run almanac --start 2018-12-01 --end 2018-12-03
run visibility --start 2018-12-01 --end 2018-12-02 --plates K2d4,K2b3
run simulate year1-2018 --seed 3 --out sim
run synth sim --out sim/exposures.fits
run reduce sim/exposures.fits --out reduced
run reproduce-table2 --realizations 4 --out rt2
run forecast forecast-2019 --realizations 2 --out fc
run compare forecast-2019 whatif-lkmrs40 --realizations 2 --no-stars --out cmp
run run --realizations 2 --out main
run report fc
step "the reports render in headless Chromium"
"$work/venv/bin/python" "$here/tools/check_report.py" main/report.html fc/report.html
test -z "$(ls -A "$work/empty" | grep -v -e '^sim$' -e '^reduced$' -e '^rt2$' -e '^fc$' -e '^cmp$' -e '^main$')" \
  || { echo "unexpected files in the working folder:"; ls -A "$work/empty"; exit 1; }
step "the installed wheel ran every command from an empty folder"
