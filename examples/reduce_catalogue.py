"""Reduce a LAMOST MRS per-exposure catalogue (real DR8 or synthetic) from Python.

Run: .venv/bin/python examples/reduce_catalogue.py CATALOGUE.fits [OUT_DIR]
(the same as `lkmrs-sched reduce CATALOGUE.fits --out OUT_DIR`).
"""

import sys
from pathlib import Path

from lkmrs_sched.reduction import read_exposures, reduce_spectra
from lkmrs_sched.reduction.outputs import write_outputs

spectra = read_exposures([sys.argv[1]])  # bad rows are reported, never dropped silently
result = reduce_spectra(spectra)  # RV zero points, Eq. 1-2, Eq. 3-4, RV variables
write_outputs(result, Path(sys.argv[2] if len(sys.argv) > 2 else "reduction"))
for name, fit in result.precision.items():
    law = fit.law
    print(f"{name}: sigma = {law.a:.3g} * (S/N)^{law.b:.3g} + {law.c:.3g}")
