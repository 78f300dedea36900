"""Run every reduction step in order, for real or synthetic catalogues alike.

    read → RV zero points (lamp shift first) → internal precision per parameter
         (Eq. 3–4) → per-star combination (Eq. 1–2; errors of the means from Eq. 4)
         → RV-variable candidates

:func:`reduce_spectra` works on a :class:`~lkmrs_sched.reduction.readers.SpectrumSet`;
:func:`reduce_files` reads catalogue files first. Writing the results is
:func:`lkmrs_sched.reduction.outputs.write_outputs`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.precision import published_laws
from lkmrs_sched.reduction import rv_zero_point as zp_mod
from lkmrs_sched.reduction.combine import combine_epochs
from lkmrs_sched.reduction.readers import PARAMETERS, UNITS, SpectrumSet, read_exposures
from lkmrs_sched.reduction.uncertainty import QUOTED_SNR, PrecisionFit, fit_internal_precision
from lkmrs_sched.reduction.variability import CRITERIA as VARIABILITY_CRITERIA
from lkmrs_sched.reduction.variability import rv_variability, variability_counts

#: Zero-point methods: common constant stars, external reference RVs, or lamp shift only.
ZERO_POINT_METHODS = ("common", "reference", "none")


@dataclass(frozen=True)
class ReductionConfig:
    """Options of the reduction (defaults follow the brief and the paper).

    Attributes
    ----------
    rv_column, rv_error_column : str
        Catalogue RV column (km/s) and its error column (default ``<rv_column>_err``).
    zero_point : str
        One of :data:`ZERO_POINT_METHODS`.
    reference_rv : str
        Reference RV file for ``zero_point="reference"``.
    iterations : int
        Iterations of the common-star two-way fit.
    max_excess : float
        A constant star's robust RV scatter is below this many σ_RV(S/N).
    min_plate_spectra : int
        Plates with fewer usable spectra are left out of the zero-point correction.
    min_exposure_fraction : float
        Exposures with fewer usable spectra than this share of the plate median are
        not used for zero points.
    min_zero_point_stars : int
        Constant stars needed per (spectrograph, exposure).
    zero_point_weighting : str
        "law" (1/σ_RV(S/N)², Table 4), "inverse-variance" (1/rv_err²) or "snr2".
    min_presence : float
        Share of a plate's considered exposures a common star must appear in (1 = all).
    lamp : str
        Alternate-lamp exposures: "detect" (from the RVs), "column" (``alt_lamp``) or
        "none".
    reference_floor : float
        Noise floor of the reference-RV fit, km/s.
    reference_min_stars : int
        Reference stars needed per (spectrograph, exposure).
    lamp_shift : float
        km/s subtracted from alternate-lamp exposures.
    min_snr : float
        Epochs below this S/N are not combined.
    recompute_means : bool
        See :func:`~lkmrs_sched.reduction.uncertainty.fit_internal_precision`.
    precision_parameters : tuple of str
        Parameters whose internal precision (Eq. 3–4) is fitted (default all four);
        the others' errors of the means use Table 4's law.
    variability_nsigma, variability_p : float
        Thresholds of the paper's range and the χ² RV-variability criteria.
    variability_alpha : float
        False-alarm probability of the robust RV-variability test.
    variability_tolerance : float
        Jitter a constant star may show in the robust test, in units of its σ_RV(S/N).
    variability_criterion : str
        Criterion behind ``rv_variable``: one of
        :data:`~lkmrs_sched.reduction.variability.CRITERIA` ("robust", "paper", "chi2").
    """

    rv_column: str = "rv_lasp0"
    rv_error_column: str | None = None
    zero_point: str = "common"
    reference_rv: str = ""
    iterations: int = 8
    max_excess: float = 2.0
    min_plate_spectra: int = 540
    min_exposure_fraction: float = 0.5
    min_zero_point_stars: int = 3
    zero_point_weighting: str = "law"
    min_presence: float = 0.5
    lamp: str = "detect"
    reference_floor: float = 1.0
    reference_min_stars: int = 5
    lamp_shift: float = zp_mod.LAMP_SHIFT
    min_snr: float = 0.0
    recompute_means: bool = True
    precision_parameters: tuple[str, ...] = PARAMETERS
    variability_nsigma: float = 3.0
    variability_p: float = 1e-3
    variability_alpha: float = 1e-3
    variability_tolerance: float = 0.4
    variability_criterion: str = "robust"

    def check(self) -> None:
        """Raise :class:`InputError` for impossible values."""
        if self.zero_point not in ZERO_POINT_METHODS:
            raise InputError("zero_point", self.zero_point, ", ".join(ZERO_POINT_METHODS))
        if self.zero_point == "reference" and not self.reference_rv:
            raise InputError(
                "reference_rv", ..., "a reference RV file", "needed for zero_point = reference"
            )
        if self.iterations < 1:
            raise InputError("iterations", self.iterations, "an integer >= 1")
        if self.zero_point_weighting not in zp_mod.WEIGHTINGS:
            raise InputError(
                "zero_point_weighting", self.zero_point_weighting, ", ".join(zp_mod.WEIGHTINGS)
            )
        if self.lamp not in zp_mod.LAMP_METHODS:
            raise InputError("lamp", self.lamp, ", ".join(zp_mod.LAMP_METHODS))
        for name in ("max_excess", "reference_floor", "variability_nsigma"):
            if not getattr(self, name) > 0:
                raise InputError(name, getattr(self, name), "> 0")
        if not 0 < self.min_presence <= 1:
            raise InputError("min_presence", self.min_presence, "0 < share <= 1")
        if not 0 < self.variability_p < 1:
            raise InputError("variability_p", self.variability_p, "0 < p < 1")
        if not 1e-4 <= self.variability_alpha < 0.5:
            raise InputError("variability_alpha", self.variability_alpha,
                             "1e-4 <= alpha < 0.5 (the Monte Carlo null resolves 1e-4)")
        if not 0 <= self.variability_tolerance <= 5:
            raise InputError("variability_tolerance", self.variability_tolerance,
                             "0 <= tolerance <= 5 (units of sigma_RV)")
        if self.variability_criterion not in VARIABILITY_CRITERIA:
            raise InputError("variability_criterion", self.variability_criterion,
                             ", ".join(VARIABILITY_CRITERIA))
        bad = [p for p in self.precision_parameters if p not in PARAMETERS]
        if bad:
            raise InputError("precision_parameters", bad, ", ".join(PARAMETERS))
        if self.min_plate_spectra < 0:
            raise InputError("min_plate_spectra", self.min_plate_spectra, ">= 0")
        if not 0 <= self.min_snr < float("inf"):
            raise InputError("min_snr", self.min_snr, "a finite S/N >= 0")


@dataclass
class ReductionResult:
    """Everything the reduction produced.

    Attributes
    ----------
    spectra : SpectrumSet
        Spectra with ``rv`` zero-point corrected; ``rv_raw`` as read, ``rv_correction``
        subtracted (km/s).
    zero_points : ZeroPoints
    catalogue : astropy.table.Table
        Table 3 (see :func:`~lkmrs_sched.reduction.combine.combine_epochs`).
    precision : dict of str to PrecisionFit
        Eq. 4 fit per parameter.
    variables : astropy.table.Table
        RV-variability statistics of every star with ≥ 2 RVs, with ``name`` and ``uid``.
    timings : dict of str to float
        Seconds per step.
    config : ReductionConfig
    """

    spectra: SpectrumSet
    zero_points: zp_mod.ZeroPoints
    catalogue: Table
    precision: dict[str, PrecisionFit]
    variables: Table
    timings: dict[str, float] = field(default_factory=dict)
    config: ReductionConfig = field(default_factory=ReductionConfig)

    def uncertainty_dict(self) -> dict[str, Any]:
        """``{parameter: {a, b, c, sigma_at_snr: {"10", "20", "50"}, outlier_fraction, …}}``."""
        return {p: f.to_dict() for p, f in self.precision.items()}

    def summary(self) -> dict[str, Any]:
        """Counts and headline numbers (JSON-ready)."""
        zp = self.zero_points
        ok_units = int(np.count_nonzero(np.isfinite(np.asarray(zp.offsets["offset"], float))))
        var = self.variables.meta
        return {
            "n_rows_read": self.spectra.report.n_rows_read,
            "n_rows_excluded": self.spectra.report.n_rows_excluded,
            "n_issues": len(self.spectra.report.issues),
            "n_spectra": len(self.spectra.spectra),
            "n_stars": len(self.catalogue),
            "n_plates": len(self.spectra.plates),
            "n_exposures": len(self.spectra.exposures),
            "zero_point_method": zp.method,
            "zero_point_units": len(zp.offsets),
            "zero_point_units_determined": ok_units,
            "plates_skipped": zp.skipped_plates() if zp.method == "common-constant-stars" else [],
            "n_alt_lamp_exposures": int(zp.lamp.get("n_exposures", 0)),
            "alt_lamp": zp.lamp,
            "zero_point_rms_kms": zp.plates.meta.get("rms_kms", {}),
            "sigma_at_snr20": {
                p: f.to_dict()["sigma_at_snr"]["20"] for p, f in self.precision.items()
            },
            "rv_variables": {
                "criterion": var.get("criterion", ""),
                **variability_counts(self.variables),
                "error_model": var.get("error_model", {}),
            },
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }

    def summary_line(self) -> str:
        """One line for the end of the command."""
        s = self.summary()
        sig = ", ".join(
            f"{p} {v:.3g} {UNITS[p]}" if v is not None else f"{p} n/a"
            for p, v in s["sigma_at_snr20"].items()
        )
        skipped = f", {len(s['plates_skipped'])} plates skipped" if s["plates_skipped"] else ""
        return (
            f"reduced {s['n_spectra']} spectra of {s['n_stars']} stars on {s['n_plates']} "
            f"plates ({s['n_exposures']} exposures); zero points {s['zero_point_method']}: "
            f"{s['zero_point_units_determined']}/{s['zero_point_units']} units{skipped}; "
            f"sigma at S/N 20: {sig}; RV variables of {s['rv_variables']['n_tested']}: "
            f"{s['rv_variables']['n_var_robust']} (robust), "
            f"{s['rv_variables']['n_var_paper']} (paper's range test), "
            f"{s['rv_variables']['n_var_chi2']} (chi2); "
            f"{s['n_rows_excluded']} input rows excluded"
        )


def _progress(total: int, enabled: bool, desc: str):
    from lkmrs_sched.core.progress import progress_bar

    return progress_bar(total, desc=desc, enabled=enabled, unit="step", leave=False)


def reduce_spectra(
    spectra: SpectrumSet,
    config: ReductionConfig | None = None,
    *,
    reference: Table | None = None,
    progress: bool = False,
) -> ReductionResult:
    """Run the reduction on spectra already read.

    Parameters
    ----------
    spectra : SpectrumSet
    config : ReductionConfig, optional
    reference : astropy.table.Table, optional
        Reference RVs (from :func:`~lkmrs_sched.reduction.rv_zero_point.read_reference_rvs`);
        read from ``config.reference_rv`` when needed and not given.
    progress : bool
        Show a progress bar over the steps (on a terminal or in a notebook only).

    Returns
    -------
    ReductionResult
    """
    cfg = config or ReductionConfig()
    cfg.check()
    timings: dict[str, float] = {}
    steps = 3 + len(cfg.precision_parameters)
    with _progress(steps, progress, "reduce") as bar:
        with _step(bar, timings, "zero_points", "RV zero points"):
            zp = _zero_points(spectra, cfg, reference)
            corrected = _corrected(spectra, zp)
        sp = corrected.spectra
        codes = np.asarray(sp["star"])
        n_stars = len(spectra.stars)
        precision: dict[str, PrecisionFit] = {}
        for p in cfg.precision_parameters:
            with _step(bar, timings, f"precision_{p}", f"internal precision {p}"):
                precision[p] = _precision_fit(sp, codes, n_stars, p, cfg)
        with _step(bar, timings, "combine", "per-star combination"):
            laws = {p: f.law for p, f in precision.items() if f.law.ok}
            catalogue = combine_epochs(corrected, min_snr=cfg.min_snr, laws=laws)
        with _step(bar, timings, "variability", "RV variables"):
            variables = _variables(sp, codes, spectra.stars, precision.get("rv"), cfg)
    return ReductionResult(corrected, zp, catalogue, precision, variables, timings, cfg)


@contextmanager
def _step(bar, timings: dict[str, float], key: str, label: str) -> Iterator[None]:
    """Time one reduction step as ``timings[key]`` and advance the progress bar."""
    t0 = time.perf_counter()
    bar.set_postfix_str(label)
    yield
    timings[key] = time.perf_counter() - t0
    bar.update()


def _zero_points(
    spectra: SpectrumSet, cfg: ReductionConfig, reference: Table | None
) -> zp_mod.ZeroPoints:
    """RV zero points by the configured method (reference RVs read when needed)."""
    if cfg.zero_point == "common":
        return zp_mod.rv_zero_points(
            spectra,
            iterations=cfg.iterations,
            max_excess=cfg.max_excess,
            min_plate_spectra=cfg.min_plate_spectra,
            min_exposure_fraction=cfg.min_exposure_fraction,
            min_stars=cfg.min_zero_point_stars,
            lamp=cfg.lamp,
            lamp_shift=cfg.lamp_shift,
            weighting=cfg.zero_point_weighting,
            min_presence=cfg.min_presence,
        )
    if cfg.zero_point == "reference":
        ref = reference if reference is not None else zp_mod.read_reference_rvs(cfg.reference_rv)
        return zp_mod.rv_zero_points_reference(
            spectra,
            ref,
            floor=cfg.reference_floor,
            min_stars=cfg.reference_min_stars,
            lamp=cfg.lamp,
            lamp_shift=cfg.lamp_shift,
        )
    return zp_mod.no_zero_points(spectra, lamp=cfg.lamp, lamp_shift=cfg.lamp_shift)


def _corrected(spectra: SpectrumSet, zp: zp_mod.ZeroPoints) -> SpectrumSet:
    """The spectra with ``rv`` corrected; ``rv_raw`` as read and ``rv_correction`` added."""
    sp = spectra.spectra.copy(copy_data=False)
    sp["rv_raw"] = sp["rv"]
    sp["rv"] = zp.apply(np.asarray(spectra.spectra["rv"]))
    sp["rv"].unit = "km / s"
    sp["rv_correction"] = zp.correction
    return SpectrumSet(
        sp, spectra.stars, spectra.exposures, spectra.plates, spectra.report, spectra.rv_column
    )


def _precision_fit(
    sp: Table, codes: np.ndarray, n_stars: int, p: str, cfg: ReductionConfig
) -> PrecisionFit:
    """Eq. 3–4 for parameter ``p`` (RV against the S/N of its arm)."""
    snr = np.asarray(sp["rv_snr"] if p == "rv" else sp["snr"], dtype=float)
    values = np.asarray(sp[p], dtype=float)
    if cfg.min_snr > 0:
        values = np.where(snr >= cfg.min_snr, values, np.nan)
    return fit_internal_precision(
        codes,
        values,
        snr,
        n_groups=n_stars,
        parameter=p,
        unit=UNITS[p],
        recompute_means=cfg.recompute_means,
    )


def _variables(
    sp: Table, codes: np.ndarray, stars: Table, rv_fit: PrecisionFit | None,
    cfg: ReductionConfig
) -> Table:
    """RV-variability statistics, against the fitted RV law (Table 4's if the fit failed
    or was not made)."""
    fitted = rv_fit is not None and rv_fit.law.ok
    law = rv_fit.law if fitted else published_laws()["rv"]
    rv = np.asarray(sp["rv"], dtype=float)
    if cfg.min_snr > 0:  # the same epochs as the catalogue: none below --min-snr
        rv = np.where(np.asarray(sp["rv_snr"], dtype=float) >= cfg.min_snr, rv, np.nan)
    variables = rv_variability(
        codes,
        rv,
        np.asarray(sp["rv_snr"]),
        law,
        len(stars),
        nsigma=cfg.variability_nsigma,
        p_threshold=cfg.variability_p,
        alpha=cfg.variability_alpha,
        tolerance=cfg.variability_tolerance,
        criterion=cfg.variability_criterion,
    )
    variables.meta["law_source"] = "fit" if fitted else "Table 4"
    star = np.asarray(variables["star"])
    variables.add_column(np.asarray(stars["designation"])[star], name="name", index=0)
    variables.add_column(np.asarray(stars["uid"])[star], name="uid", index=1)
    return variables


def reduce_files(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    config: ReductionConfig | None = None,
    *,
    column_map: Mapping[str, str] | Sequence[str] | None = None,
    strict: bool = False,
    progress: bool = False,
) -> ReductionResult:
    """Read catalogue files and reduce them (see :func:`reduce_spectra`)."""
    cfg = config or ReductionConfig()
    cfg.check()
    t0 = time.perf_counter()
    spectra = read_exposures(
        paths,
        column_map=column_map,
        rv_column=cfg.rv_column,
        rv_error_column=cfg.rv_error_column,
        strict=strict,
    )
    read_time = time.perf_counter() - t0
    result = reduce_spectra(spectra, cfg, progress=progress)
    result.timings = {"read": read_time, **result.timings}
    return result


def quoted_sigmas(result: ReductionResult) -> dict[str, dict[int, float]]:
    """σ at S/N 10, 20, 50 per parameter (Table 4's columns)."""
    return {p: {s: float(f.law(s)) for s in QUOTED_SNR} for p, f in result.precision.items()}
