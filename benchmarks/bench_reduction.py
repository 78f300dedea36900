"""Benchmark: reduce a full-survey-sized catalogue (3 million spectra, both arms).

Targets: at most 30 s and 4 GB for reading the Parquet catalogue, the whole reduction
(zero points, Eq. 1–2, Eq. 3–4 for four parameters, RV variables) and writing every
product including the figures; and at most 5 s for the reduction alone
(``reduce_spectra`` on the spectra already read: what every realization of a
``forecast --per-star full`` pays; issue #12 measured 16.7 s).

The catalogue (20 plates × 16 spectrographs × 188 stars × 50 exposures ≈ 3.0 million
spectra = 6.0 million arm rows, DR8 layout) is made in a child process and written to a
temporary Parquet file, so the peak memory measured here (``ru_maxrss`` of this
process) is that of the reduction alone. Run standalone::

    .venv/bin/python benchmarks/bench_reduction.py [--plates 20] [--keep DIR]

or call :func:`main` (``benchmarks/run_all.py`` does), which returns
``(name, measured, target, passed)`` rows.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_SECONDS = 30.0
TARGET_REDUCE_SECONDS = 5.0
TARGET_BYTES = 4 * 1024**3
STARS_PER_SPID = 188
N_EXPOSURES = 50


def _make_catalogue(path: str, n_plates: int, seed: int) -> int:
    """Write the benchmark catalogue, one plate per Parquet row group; return spectra."""
    import numpy as np
    import pyarrow.parquet as pq

    from lkmrs_sched.reduction.fakes import fake_catalogue

    seeds = np.random.SeedSequence(seed).spawn(n_plates)
    writer = None
    n_spectra = 0
    try:
        for p in range(n_plates):
            fake = fake_catalogue(
                seed=int(seeds[p].generate_state(1)[0]),
                first_plate=p,
                stars_per_spid=STARS_PER_SPID,
                n_exposures=N_EXPOSURES,
                snr_range=(1.0, 300.0),
                lasp_min_snr=10.0,
                rv_offset_sigma=0.3,
                lamp_exposures=4 if p < 5 else 0,
                outlier_fraction=0.02,
                binary_fraction=0.1,
                presence=1.0,
            )
            table = fake.arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            n_spectra += table.num_rows // 2
    finally:
        if writer is not None:
            writer.close()
    return n_spectra


def _peak_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def main(argv: Sequence[str] | None = None) -> list[tuple[str, float, float, bool]]:
    """Run the benchmark; print time, peak memory and their ratios to the targets.

    Returns
    -------
    list of (name, measured, target, passed)
        The ``benchmarks/run_all.py`` contract: time in s, peak memory in GB.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=20, help="plates (150k spectra each)")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--keep", default="", help="folder to keep the outputs in")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-reduction-") as tmp:
        catalogue = str(Path(tmp) / "mrs_catalogue.parquet")
        t0 = time.perf_counter()
        ctx = mp.get_context("spawn")  # keeps the generator's memory out of this process
        with ctx.Pool(1) as pool:
            n_spectra = pool.apply(_make_catalogue, (catalogue, args.plates, args.seed))
        make_s = time.perf_counter() - t0
        size_mb = Path(catalogue).stat().st_size / 1e6
        print(
            f"catalogue: {n_spectra:,} spectra ({2 * n_spectra:,} arm rows), "
            f"{size_mb:.0f} MB Parquet, made in {make_s:.1f} s (not timed)"
        )

        from lkmrs_sched.reduction.outputs import write_outputs
        from lkmrs_sched.reduction.pipeline import reduce_spectra
        from lkmrs_sched.reduction.readers import read_exposures

        out_dir = Path(args.keep) if args.keep else Path(tmp) / "out"
        rss_before = _peak_rss_bytes()
        t0 = time.perf_counter()
        spectra = read_exposures(catalogue)
        t_read = time.perf_counter() - t0
        result = reduce_spectra(spectra)
        t_reduce = time.perf_counter() - t0 - t_read
        write_outputs(result, out_dir)
        total = time.perf_counter() - t0
        t_write = total - t_read - t_reduce
        peak = _peak_rss_bytes()

    steps = ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items())
    print(f"read {t_read:.1f} s; reduce {t_reduce:.1f} s ({steps}); write {t_write:.1f} s")
    print(result.summary_line())
    print(
        f"time {total:.1f} s (target {TARGET_SECONDS:.0f} s, ratio {total / TARGET_SECONDS:.2f}); "
        f"peak memory {peak / 1024**3:.2f} GB (target {TARGET_BYTES / 1024**3:.0f} GB, ratio "
        f"{peak / TARGET_BYTES:.2f}; {rss_before / 1024**3:.2f} GB before reading)"
    )
    print(f"reduce_spectra alone {t_reduce:.1f} s (target {TARGET_REDUCE_SECONDS:.0f} s, "
          f"ratio {t_reduce / TARGET_REDUCE_SECONDS:.2f})")
    return [
        (
            f"reduce_spectra {n_spectra / 1e6:.1f} M spectra, read spectra: time (s)",
            t_reduce,
            TARGET_REDUCE_SECONDS,
            t_reduce <= TARGET_REDUCE_SECONDS,
        ),
        (
            f"reduce {n_spectra / 1e6:.1f} M spectra: time (s)",
            total,
            TARGET_SECONDS,
            total <= TARGET_SECONDS,
        ),
        (
            f"reduce {n_spectra / 1e6:.1f} M spectra: peak memory (GB)",
            peak / 1024**3,
            TARGET_BYTES / 1024**3,
            peak <= TARGET_BYTES,
        ),
    ]


if __name__ == "__main__":
    sys.exit(0 if all(row[3] for row in main()) else 1)
