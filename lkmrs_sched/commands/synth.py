"""``lkmrs-sched synth``: synthetic LAMOST MRS per-exposure measurements of a simulated run."""

from __future__ import annotations

import argparse
from pathlib import Path

from lkmrs_sched.commands.common import scenario_inputs, seed_type


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthetic per-exposure measurements of a simulate run",
                       description=__doc__)
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="output folder of `lkmrs-sched simulate` (with observations.sqlite)")
    p.add_argument("--out", metavar="FILE",
                   help="exposures table: .fits (DR8's format), .vot/.xml (VOTable) or .ecsv "
                        "(default: RUN_DIR/synth_exposures.fits)")
    p.add_argument("--scenario", metavar="FILE",
                   help="scenario TOML (default: the one stored in the run's log)")
    p.add_argument("--seed", type=seed_type, help="master seed (default: the run's seed)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--no-engineering", action="store_true",
                   help="leave out the engineering exposures (K1a1 May-2018 test, K02 test "
                        "plates) that synth adds up to the log's last night")
    p.set_defaults(func=run, flag_names={"path": "--out"})


def load_run(run_dir: str | Path, scenario_file: str | None = None):
    """The observation log of a run and the scenario it was made with.

    Raises
    ------
    InputError
        No such folder, no log in it, or an unreadable scenario.
    """
    from lkmrs_sched.core.config import default_scenario, load_scenario, scenario_from_text
    from lkmrs_sched.core.errors import InputError
    from lkmrs_sched.sim.obslog import ObservationLog

    d = Path(run_dir)
    allowed = "a run folder written by `lkmrs-sched simulate` (with observations.sqlite)"
    if not d.is_dir():
        raise InputError(str(d), ..., allowed, "no such folder")
    log_path = d / "observations.sqlite"
    if not log_path.is_file():
        raise InputError(str(log_path), ..., allowed, "no observation log")
    log = ObservationLog.read(log_path)
    if scenario_file:
        scenario = load_scenario(scenario_file)
    elif log.info.get("scenario_text"):
        src = log.info.get("source", str(log_path))
        scenario = scenario_from_text(log.info["scenario_text"], src,
                                      f"{log_path}: info scenario_text")
    else:
        scenario = default_scenario()
    return log, scenario


def _run_seed(log, scenario, seed: int | None) -> int:
    import re

    if seed is not None:
        return seed
    text = log.info.get("seed", "")
    return int(text) if re.fullmatch(r"[0-9]+", text) else scenario.seed


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from lkmrs_sched.core.atomic import write_json
    from lkmrs_sched.core.outputs import prepare_file
    from lkmrs_sched.sky.footprints import load_plates
    from lkmrs_sched.synth.reference import reference_rvs
    from lkmrs_sched.synth.synth import check_table_path, summarize, synthesize, write_table

    log, scenario = load_run(args.run_dir, args.scenario)
    seed = _run_seed(log, scenario, args.seed)
    out = check_table_path(args.out or Path(args.run_dir) / "synth_exposures.fits", "--out")
    inputs = [Path(args.run_dir) / "observations.sqlite", *scenario_inputs(scenario)]
    for path in output_paths(out, figures=not args.no_figures):
        prepare_file(path, "--out", inputs=inputs)
    plates = load_plates(scenario.path(scenario.selector.lkmrs_footprints))
    nights = log.nights
    lunar = ({str(n): int(d) for n, d in zip(nights["night"], nights["lunar_day"], strict=True)}
             if len(nights) else None)
    measured, truth = synthesize(log.exposures, plates, scenario, seed, lunar_days=lunar,
                                 engineering=not args.no_engineering)
    stem, ext = out.stem, out.suffix
    write_table(measured, out)
    paths = [out]
    for name in ("stars", "spectra", "exposures"):
        p = out.with_name(f"{stem}_truth_{name}{ext}")
        write_table(getattr(truth, name), p)
        paths.append(p)
    # Gaia-like reference RVs (for reduce --reference-rv): the reduction may read these.
    paths.append(out.with_name(f"{stem}_reference_rv{ext}"))
    write_table(reference_rvs(truth.stars, scenario.snr, np.random.SeedSequence(seed)),
                paths[-1])
    n_eng = int(np.count_nonzero(truth.exposures["engineering"]))
    summary = {"run_dir": str(args.run_dir), "seed": seed, "scenario": scenario.name,
               "scenario_hash": scenario.hash, "engineering_exposures": n_eng,
               **summarize(measured)}
    write_json(out.parent / "synth_summary.json", summary)
    paths.append(out.parent / "synth_summary.json")
    if not args.no_figures and len(measured):
        paths += figures(measured, out.parent)
    sp, per = summary["spectra"], summary["spectra_per_exposure"]
    print(f"{scenario.name}, seed {seed}: {summary['exposures']} LK-MRS exposures "
          f"({n_eng} engineering) on {summary['plates']} plates, {sp['B']} blue and "
          f"{sp['R']} red spectra ({per['B']:.0f} / {per['R']:.0f} per exposure); "
          f"{summary['spectra_snr_gt_10']['B']} blue with S/N > 10 "
          f"({100 * summary['share_snr_gt_10']['B']:.1f} %; red "
          f"{100 * summary['share_snr_gt_10']['R']:.1f} %; "
          f"{summary['targets_blue_snr_gt_10']} targets), LASP parameters for "
          f"{summary['spectra_with_lasp']} spectra of {summary['targets_with_lasp']} targets; "
          f"{100 * summary['share_snr_lt_2']['B']:.1f} % blue spectra with S/N < 2.")
    print("Wrote " + ", ".join(str(p) for p in paths) + ".")
    return 0


def output_paths(out: Path, figures: bool = True) -> list[Path]:
    """Every file ``synth`` writes for the exposures table ``out``."""
    paths = [out, *(out.with_name(f"{out.stem}_truth_{n}{out.suffix}")
                    for n in ("stars", "spectra", "exposures")),
             out.parent / "synth_summary.json"]
    if figures:
        paths += [out.parent / "synth_snr_hist.png", out.parent / "synth_kiel.png"]
    return paths


def figures(measured, folder: Path) -> list[Path]:
    """S/N histograms per arm (like the paper's Figure 4) and the LASP Kiel diagram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lkmrs_sched.core.atomic import atomic_path

    band = np.asarray(measured["band"]).astype("U1")
    snr = np.asarray(measured["snr"], float)
    top = 300.0
    bins = np.linspace(0, top, 151)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, arm, label, colour in zip(axes, "BR", ("blue arm", "red arm"), ("C0", "C3"),
                                      strict=True):
        s = snr[band == arm]
        ax.hist(s, bins=bins, color=colour, alpha=0.8)
        ax.axvline(10, color="k", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("S/N")
        ax.set_title(f"{label}: {np.mean(s > 10):.0%} with S/N > 10, {np.mean(s < 2):.0%} < 2"
                     f", {np.sum(s > top)} > {top:g}", fontsize=9)
    axes[0].set_ylabel("spectra")
    fig.tight_layout()
    paths = [folder / "synth_snr_hist.png", folder / "synth_kiel.png"]
    with atomic_path(paths[0]) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)

    teff = np.asarray(measured["teff_lasp"], float)
    logg = np.asarray(measured["logg_lasp"], float)
    ok = np.isfinite(teff) & np.isfinite(logg)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    if ok.any():
        h = ax.hexbin(teff[ok], logg[ok], gridsize=80, bins="log", mincnt=1, cmap="viridis",
                      extent=(3000, 8800, 0, 5.5))
        fig.colorbar(h, ax=ax, label="spectra")
    ax.set_xlim(8800, 3000)
    ax.set_ylim(5.5, 0)
    ax.set_xlabel("Teff (LASP) [K]")
    ax.set_ylabel("log g (LASP) [dex]")
    ax.set_title(f"{ok.sum()} blue spectra with LASP parameters", fontsize=9)
    fig.tight_layout()
    with atomic_path(paths[1]) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return paths
