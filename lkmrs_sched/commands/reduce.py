"""``lkmrs-sched reduce``: reduce LAMOST MRS per-exposure catalogues (real or synthetic).

Reads one or more DR8-layout catalogues (FITS, ECSV, CSV, Parquet), corrects RV zero
points, combines epochs per star (Eq. 1–2), fits the internal precision (Eq. 3–4) and
lists RV-variable candidates. Writes ``catalog.fits/.ecsv/.csv``, ``uncertainty.json``,
``rv_zero_points.ecsv``, ``rv_variables.ecsv``, figures and reports into ``--out``.
"""

from __future__ import annotations

import argparse
import sys

from lkmrs_sched.commands.common import float_range, int_range

#: What ``reduce`` writes into ``--out`` (an input matching one is refused).
WRITES = ("catalog.fits", "catalog.ecsv", "uncertainty.json", "uncertainty.ecsv",
          "rv_zero_points.ecsv", "rv_zero_point_plates.ecsv", "rv_variables.ecsv",
          "catalog.vot", "read_report.json", "summary.json", "*.png")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``reduce`` sub-command."""
    p = subparsers.add_parser(
        "reduce",
        help="reduce LAMOST MRS per-exposure catalogues: zero points, per-star parameters, "
        "precision, RV variables",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "exposures",
        nargs="+",
        metavar="EXPOSURES",
        help="catalogue file(s): .fits, .ecsv, .csv(.gz), .parquet",
    )
    p.add_argument(
        "--out", default="reduction", metavar="DIR", help="output folder (default: %(default)s)"
    )
    p.add_argument(
        "--column-map",
        action="append",
        default=None,
        metavar="NAME=OURS",
        help="rename catalogue columns: CATALOGUE_NAME=our_name pairs "
        "(comma-separated or repeated) or a .json/.toml file of pairs",
    )
    p.add_argument(
        "--rv-column",
        default="rv_lasp0",
        help="RV column to reduce, e.g. rv_lasp0, rv_b0, rv_r0 (default: %(default)s)",
    )
    p.add_argument(
        "--rv-error-column", default=None, help="its error column (default: RV column + _err)"
    )
    p.add_argument(
        "--zero-point",
        choices=("common", "reference", "none"),
        default=None,
        help="RV zero points from common constant stars (default), from "
        "--reference-rv, or none (lamp shift only)",
    )
    p.add_argument(
        "--reference-rv",
        default="",
        metavar="FILE",
        help="reference RVs (uid or gaia_source_id/source_id, rv or "
        "radial_velocity [, error]); implies --zero-point reference",
    )
    p.add_argument(
        "--iterations",
        type=int_range(1, 100, "a number of iterations"),
        default=8,
        help="iterations of the robust common-star zero-point fit (default: %(default)s)",
    )
    p.add_argument(
        "--max-excess",
        type=float_range(0, 1e4, lo_open=True),
        default=2.0,
        help="constant stars for the zero points have a robust RV scatter below this many "
        "sigma_RV(S/N) (default: %(default)s)",
    )
    p.add_argument(
        "--min-plate-spectra",
        type=int_range(0, None, "a number of spectra"),
        default=540,
        help="plates with fewer usable spectra get no zero points (default: %(default)s)",
    )
    p.add_argument(
        "--min-presence",
        type=float_range(0, 1, lo_open=True),
        default=0.5,
        help="share of a plate's exposures a common star must appear in (default: "
        "%(default)s; 1 = every exposure, the paper's rule)",
    )
    p.add_argument(
        "--lamp",
        choices=("detect", "column", "none"),
        default=None,
        help="alternate-lamp (+6.5 km/s) exposures: detect them from the RVs (default), "
        "take them from the alt_lamp column (or --lamp-column), or apply no shift",
    )
    p.add_argument(
        "--lamp-column",
        default=None,
        metavar="NAME",
        help="catalogue column flagging alternate-lamp exposures (true/false, 1/0); "
        "implies --lamp column",
    )
    p.add_argument(
        "--lamp-shift",
        type=float_range(-1e3, 1e3),
        default=6.5,
        help="km/s subtracted from alternate-lamp exposures (default: %(default)s)",
    )
    p.add_argument(
        "--zero-point-weighting",
        choices=("law", "inverse-variance", "snr2"),
        default="law",
        help="errors behind the zero-point fit: Table 4's sigma_RV(S/N), the catalogue's "
        "RV errors, or (S/N)^2 weights (default: %(default)s)",
    )
    p.add_argument(
        "--min-snr",
        type=float_range(0, 1e4),
        default=0.0,
        help="leave out epochs below this S/N (default: %(default)s)",
    )
    p.add_argument(
        "--rv-variability",
        choices=("robust", "paper", "chi2"),
        default="robust",
        help="criterion of rv_variable: the robust likelihood-ratio test (default), the "
        "paper's 3-sigma range test, or the Gaussian chi-square test; all three are "
        "computed and written",
    )
    p.add_argument(
        "--alpha",
        type=float_range(0, 1, lo_open=True, hi_open=True),
        default=1e-3,
        help="false-alarm probability per star of the robust test (default: %(default)s)",
    )
    p.add_argument(
        "--jitter-tolerance",
        type=float_range(0, 5),
        default=0.4,
        help="RV jitter a constant star may show in the robust test, in units of its "
        "sigma_RV(S/N) (default: %(default)s)",
    )
    p.add_argument(
        "--chi2-p",
        type=float_range(0, 1, lo_open=True, hi_open=True),
        default=1e-3,
        help="chi-square RV-variability threshold (default: %(default)s)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad row instead of excluding and reporting it",
    )
    p.add_argument(
        "--format",
        action="append",
        choices=("fits", "ecsv", "votable"),
        default=None,
        help="catalogue format, repeatable (default: fits and ecsv; votable writes "
        "catalog.vot); each keeps the units (ECSV is CSV with a YAML header)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress bars or issue lines")
    p.set_defaults(func=run, flag_names={
        "variability_p": "--chi2-p", "variability_alpha": "--alpha",
        "variability_tolerance": "--jitter-tolerance",
        "variability_criterion": "--rv-variability"})


def run(args: argparse.Namespace) -> int:
    """Run the reduction and write its products."""
    from lkmrs_sched.core.outputs import prepare_folder
    from lkmrs_sched.reduction.outputs import DEFAULT_FORMATS, write_outputs
    from lkmrs_sched.reduction.pipeline import ReductionConfig, reduce_spectra
    from lkmrs_sched.reduction.readers import parse_column_map, read_exposures

    method = args.zero_point or ("reference" if args.reference_rv else "common")
    lamp = args.lamp or ("column" if args.lamp_column else "detect")
    column_map = list(args.column_map or [])
    if args.lamp_column:
        column_map.append(f"{args.lamp_column}=alt_lamp")
    config = ReductionConfig(
        rv_column=args.rv_column,
        rv_error_column=args.rv_error_column,
        zero_point=method,
        reference_rv=args.reference_rv,
        iterations=args.iterations,
        max_excess=args.max_excess,
        min_plate_spectra=args.min_plate_spectra,
        lamp_shift=args.lamp_shift,
        zero_point_weighting=args.zero_point_weighting,
        min_presence=args.min_presence,
        lamp=lamp,
        min_snr=args.min_snr,
        variability_p=args.chi2_p,
        variability_alpha=args.alpha,
        variability_tolerance=args.jitter_tolerance,
        variability_criterion=args.rv_variability,
    )
    config.check()
    map_files = [m for m in args.column_map or [] if "=" not in m]
    column_map = parse_column_map(column_map or None)
    prepare_folder(args.out, inputs=[*args.exposures, args.reference_rv, *map_files],
                   writes=WRITES)
    progress = not args.quiet and sys.stderr.isatty()
    spectra = read_exposures(
        args.exposures,
        column_map=column_map,
        rv_column=args.rv_column,
        rv_error_column=args.rv_error_column,
        strict=args.strict,
    )
    if not args.quiet:
        for line in spectra.report.lines():
            if not line.startswith("info"):
                print(f"lkmrs-sched reduce: {line}", file=sys.stderr)
    result = reduce_spectra(spectra, config, progress=progress)
    formats = tuple(dict.fromkeys(args.format)) if args.format else DEFAULT_FORMATS
    write_outputs(result, args.out, figures=not args.no_figures, progress=progress,
                  formats=formats)
    print(f"{result.summary_line()}; outputs in {args.out}")
    return 0
