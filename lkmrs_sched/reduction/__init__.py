"""Reduction shared by real LAMOST MRS catalogues and this project's synthetic ones.

Steps (one module each): :mod:`.readers` (DR8-layout catalogues → one
:class:`SpectrumSet`), :mod:`.rv_zero_point` (lamp shift and RV zero points),
:mod:`.combine` (Eq. 1–2, Table 3), :mod:`.uncertainty` (Eq. 3–4, Table 4),
:mod:`.variability` (RV-variable candidates), :mod:`.pipeline` (all steps in order),
:mod:`.outputs` and :mod:`.figures` (files). Nothing here imports the simulator.
"""

from lkmrs_sched.core.precision import PrecisionLaw, published_laws
from lkmrs_sched.reduction.combine import combine_epochs, combine_parameter
from lkmrs_sched.reduction.pipeline import (
    ReductionConfig,
    ReductionResult,
    reduce_files,
    reduce_spectra,
)
from lkmrs_sched.reduction.readers import (
    SpectrumSet,
    parse_column_map,
    read_exposures,
    spectra_from_table,
)
from lkmrs_sched.reduction.report import Issue, ReadReport
from lkmrs_sched.reduction.rv_zero_point import (
    ZeroPoints,
    read_reference_rvs,
    rv_zero_points,
    rv_zero_points_reference,
)
from lkmrs_sched.reduction.uncertainty import PrecisionFit, fit_internal_precision, internal_deltas
from lkmrs_sched.reduction.variability import rv_variability

__all__ = [
    "Issue",
    "PrecisionFit",
    "PrecisionLaw",
    "ReadReport",
    "ReductionConfig",
    "ReductionResult",
    "SpectrumSet",
    "ZeroPoints",
    "combine_epochs",
    "combine_parameter",
    "fit_internal_precision",
    "internal_deltas",
    "parse_column_map",
    "published_laws",
    "read_exposures",
    "read_reference_rvs",
    "reduce_files",
    "reduce_spectra",
    "rv_variability",
    "rv_zero_points",
    "rv_zero_points_reference",
    "spectra_from_table",
]
