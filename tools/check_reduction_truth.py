"""Score a reduction of synthetic exposures against synth's own truth tables.

    .venv/bin/python tools/check_reduction_truth.py EXPOSURES.fits [--drop-lamp]
        [--lamp detect|column|none] [--json F]

Reads ``EXPOSURES.fits`` (from ``lkmrs-sched synth``; any format synth writes) and the
truth tables written beside it (``<stem>_truth_stars/_spectra``, same suffix), runs the
reduction with default options (optionally after removing the ``alt_lamp`` column, as in
real DR8 files, or with another ``--lamp`` method) and prints:

* false RV variables among truly constant stars (neither a binary with K > 0 nor a
  variable, ``truth_stars.variable``) per criterion, by the number of RV epochs, and the
  same for the variables alone (they are detections, not false ones);
* completeness of true binaries by log10 period and by K (also without the binaries that
  are variables too);
* the per-spectrum zero-point residual against the truth, before and after the
  correction (the injected zero point plus lamp offset minus the applied correction,
  each star's own mean removed, RMS over spectra, km/s);
* σ at S/N 10/20/50 per parameter (Table 4 has 101/55/29 K, 0.15/0.08/0.04 dex,
  0.091/0.048/0.024 dex, 1.00/0.90/0.75 km/s), and its ratio to Table 4's law (the a, b,
  c of ``table4_uncertainty_coefficients.csv``; the printed σ are rounded, by up to 5 %).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

EPOCH_BINS = ((2, 2), (3, 4), (5, 9), (10, 19), (20, 39), (40, 59), (60, 99), (100, 10**6))


def _read(path: Path):
    import warnings

    from astropy.table import Table

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITS: 'dex' is read as an unrecognised unit
        return Table.read(path)


def _truth(path: Path):
    stem, ext = path.with_suffix(""), path.suffix
    stars = _read(Path(f"{stem}_truth_stars{ext}"))
    spectra = _read(Path(f"{stem}_truth_spectra{ext}"))
    return ({k: np.asarray(stars[k]) for k in stars.colnames},
            {k: np.asarray(spectra[k]) for k in spectra.colnames})


def _reduce(path: Path, drop_lamp: bool, lamp: str = "detect"):
    from lkmrs_sched.reduction import ReductionConfig, reduce_spectra, spectra_from_table

    t = _read(path)
    if drop_lamp:
        t.remove_column("alt_lamp")
    t0 = time.perf_counter()
    spectra = spectra_from_table(t, where=str(path))
    return reduce_spectra(spectra, ReductionConfig(lamp=lamp)), time.perf_counter() - t0


def fpr_table(var, constant: np.ndarray, criteria: list[str]) -> list[dict]:
    """Flagged share among the stars ``constant`` per epoch-count bin and criterion."""
    n_rv = np.asarray(var["n_rv"])
    rows = []
    for lo, hi in EPOCH_BINS:
        sel = constant & (n_rv >= lo) & (n_rv <= hi)
        row = {"epochs": f"{lo}-{hi}" if hi != lo else str(lo), "n_constant": int(sel.sum())}
        for c in criteria:
            row[c] = float(np.mean(np.asarray(var[c])[sel])) if sel.any() else float("nan")
        rows.append(row)
    sel = constant
    rows.append({"epochs": "all", "n_constant": int(sel.sum()),
                 **{c: float(np.mean(np.asarray(var[c])[sel])) for c in criteria}})
    return rows


def completeness(var, binary, period, k1, criteria) -> dict:
    """Share of true binaries flagged, by log10(P/d) and by K (km/s)."""
    out = {}
    for name, x, edges in (("log10_period", np.log10(np.where(binary, period, 1.0)),
                            (-np.inf, 1, 2, 3, 4, 5, 6, np.inf)),
                           ("k_kms", k1, (0, 1, 3, 10, 30, np.inf))):
        rows = []
        for lo, hi in itertools.pairwise(edges):
            sel = binary & (x >= lo) & (x < hi)
            rows.append({"lo": lo, "hi": hi, "n": int(sel.sum()),
                         **{c: float(np.mean(np.asarray(var[c])[sel])) if sel.any()
                            else float("nan") for c in criteria}})
        out[name] = rows
    return out


def zero_point_residual(result, truth_spectra) -> dict:
    """RMS of (true zero point + lamp − applied correction) with star means removed."""
    sp = result.spectra.spectra
    obsid = np.asarray(sp["obsid"])
    order = np.argsort(truth_spectra["obsid"])
    pos = order[np.searchsorted(truth_spectra["obsid"], obsid, sorter=order)]
    zp = truth_spectra["rv_zero_point"][pos].astype(float)
    lamp = np.where(truth_spectra["alt_lamp"][pos], 6.5, 0.0)
    corr = np.asarray(sp["rv_correction"], float)
    use = np.isfinite(np.asarray(sp["rv"], float))
    star = np.asarray(sp["star"])[use]
    n = int(star.max()) + 1

    def rms(e):
        mean = np.bincount(star, e, n) / np.maximum(np.bincount(star, minlength=n), 1)
        d = e - mean[star]
        return float(np.sqrt(np.mean(d**2)))

    return {"before": rms(zp[use]), "after_lamp_only": rms((zp + lamp - np.where(
        np.asarray(result.spectra.exposures["alt_lamp"])[np.asarray(sp["exposure"])], 6.5, 0.0
    ))[use]), "after": rms((zp + lamp - corr)[use])}


def _table4_ratios(result) -> dict:
    """σ_fit(S/N) / σ_Table4(S/N) at S/N 10, 20, 50 (Table 4's law, not its rounding)."""
    from lkmrs_sched.core.precision import published_laws

    laws = published_laws()
    return {p: {str(s): float(f.law(s) / laws[p](s)) for s in (10, 20, 50)}
            for p, f in result.precision.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exposures")
    p.add_argument("--drop-lamp", action="store_true", help="remove the alt_lamp column")
    p.add_argument("--lamp", default="detect", choices=("detect", "column", "none"),
                   help="how the reduction finds the alternate-lamp exposures")
    p.add_argument("--json", default="", help="write the numbers to this JSON file")
    args = p.parse_args(argv)
    path = Path(args.exposures)
    stars, spectra = _truth(path)
    result, seconds = _reduce(path, args.drop_lamp, args.lamp)
    var = result.variables
    criteria = [c for c in var.colnames if c.startswith("var_")]
    index = {u: i for i, u in enumerate(stars["uid"].astype(str).tolist())}
    k = np.array([index[u] for u in np.asarray(var["uid"]).astype(str).tolist()])
    binary = stars["binary"][k].astype(bool) & (stars["k1_kms"][k] > 0)
    variable = stars["variable"][k].astype(bool)
    report = {
        "reduce_seconds": seconds,
        "false_positive_rate": fpr_table(var, ~binary & ~variable, criteria),
        "variables_flagged": fpr_table(var, variable & ~binary, criteria),
        "completeness": completeness(var, binary, stars["period_d"][k], stars["k1_kms"][k],
                                     criteria),
        # The same without the binaries that are variables too (flagged for their scatter).
        "completeness_non_variable": completeness(var, binary & ~variable,
                                                  stars["period_d"][k], stars["k1_kms"][k],
                                                  criteria),
        "zero_point_residual_kms": zero_point_residual(result, spectra),
        "sigma_at_snr": {p: f.to_dict()["sigma_at_snr"] for p, f in result.precision.items()},
        "sigma_over_table4": _table4_ratios(result),
        "summary": result.summary(),
    }
    print(json.dumps(report, indent=1, default=float))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
