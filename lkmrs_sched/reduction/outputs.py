"""Write the products of a reduction (all files atomically).

DIR/catalog.fits, catalog.ecsv                Table 3: per-star parameters (and
                                              catalog.vot with ``formats`` "votable")
DIR/uncertainty.json, uncertainty.ecsv        Table 4: Eq. 4 per parameter
DIR/rv_zero_points.ecsv                       offsets per (plate, spid, exposure)
DIR/rv_zero_point_plates.ecsv                 per-plate status of the correction
DIR/rv_variables.ecsv                         RV-variable candidates (either test)
DIR/read_report.json                          rows excluded / values set missing
DIR/summary.json                              counts, headline numbers, timings
DIR/rv_zero_points.png, uncertainty.png       Figure A1 and Figure 8 analogues
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.atomic import write_json
from lkmrs_sched.core.atomic import write_table as write_annotated
from lkmrs_sched.core.precision import published_laws
from lkmrs_sched.reduction.pipeline import ReductionResult
from lkmrs_sched.reduction.uncertainty import precision_table

#: Catalogue formats: name → (extension, astropy format). Each keeps the units, and
#: astropy's ``Table.read`` reads it back without pandas (plain CSV would lose the units:
#: ECSV is CSV with a YAML header that pandas and spreadsheets skip as comments).
CATALOGUE_FORMATS = {"fits": ("fits", "fits"), "ecsv": ("ecsv", "ascii.ecsv"),
                     "votable": ("vot", "votable")}
#: Formats written by default.
DEFAULT_FORMATS = ("fits", "ecsv")


def write_table(table: Table, path: str | os.PathLike[str], fmt: str) -> Path:
    """Write one astropy table atomically in the given astropy format, with units,
    descriptions and UCDs (:func:`lkmrs_sched.core.atomic.write_table`)."""
    return write_annotated(table, path, fmt)


def _plain(table: Table) -> Table:
    """Copy with JSON/YAML-safe metadata (plain Python numbers)."""
    out = table.copy(copy_data=False)

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, np.generic):
            return v.item()
        return v

    out.meta = clean(dict(table.meta))
    return out


def _fits_ready(table: Table) -> Table:
    """Copy for FITS: short header keywords (``dex`` goes to TUNIT as in LAMOST's files)."""
    out = table.copy(copy_data=False)
    out.meta = {
        "ORIGIN": "lkmrs-sched reduce",
        "RVCOL": str(table.meta.get("rv_column", "")),
        "WEIGHTS": "(S/N)^2",
    }
    return out


def write_outputs(
    result: ReductionResult,
    out_dir: str | os.PathLike[str],
    *,
    figures: bool = True,
    progress: bool = False,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
) -> list[Path]:
    """Write every product of ``result`` into ``out_dir`` (created if needed).

    ``formats``: catalogue formats, names of :data:`CATALOGUE_FORMATS`.

    Returns
    -------
    list of Path
        Files written.
    """
    from lkmrs_sched.core.progress import progress_bar

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    catalogue = _plain(result.catalogue)
    catalogue.meta["config"] = {k: v for k, v in vars(result.config).items()}
    jobs = [(f"catalog.{CATALOGUE_FORMATS[f][0]}", CATALOGUE_FORMATS[f][1]) for f in formats]
    bar = progress_bar(len(jobs) + 6 + (2 if figures else 0), desc="write", unit="file",
                       enabled=progress, leave=False)
    with bar:
        for name, fmt in jobs:
            t = catalogue
            if fmt == "fits":
                t = _fits_ready(catalogue)
            elif fmt != "ascii.ecsv":  # VOTable cannot hold nested meta
                t = catalogue.copy(copy_data=False)
                t.meta = {}
            written.append(write_table(t, out / name, fmt))
            bar.update()
        write_json(out / "uncertainty.json", result.uncertainty_dict())
        written.append(out / "uncertainty.json")
        written.append(
            write_table(precision_table(result.precision), out / "uncertainty.ecsv", "ascii.ecsv")
        )
        bar.update(2)
        written.append(
            write_table(
                _plain(result.zero_points.offsets), out / "rv_zero_points.ecsv", "ascii.ecsv"
            )
        )
        written.append(
            write_table(
                _plain(result.zero_points.plates), out / "rv_zero_point_plates.ecsv", "ascii.ecsv"
            )
        )
        bar.update(2)
        var = result.variables
        flags = [np.asarray(var[c]) for c in ("var_robust", "var_paper", "var_chi2")]
        cand = _plain(var[np.logical_or.reduce(flags)])
        written.append(write_table(cand, out / "rv_variables.ecsv", "ascii.ecsv"))
        write_json(out / "read_report.json", result.spectra.report.to_dict())
        written.append(out / "read_report.json")
        write_json(out / "summary.json", result.summary())
        written.append(out / "summary.json")
        bar.update(2)
        if figures:
            from lkmrs_sched.reduction.figures import plot_precision, plot_zero_points

            plot_zero_points(result.zero_points, out / "rv_zero_points.png")
            written.append(out / "rv_zero_points.png")
            bar.update()
            plot_precision(result.precision, out / "uncertainty.png", published=published_laws())
            written.append(out / "uncertainty.png")
            bar.update()
    return written
