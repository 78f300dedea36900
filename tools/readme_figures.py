#!/usr/bin/env python3
"""Copy the README's figures from run folders into ``docs/figures/``, shrunk to stay small.

    .venv/bin/python tools/readme_figures.py runs/main /tmp/compare /tmp/reduction

Each known figure found in the folders (first folder that has it wins) is resized to at
most ``--width`` pixels wide, reduced to a 256-colour palette and written with PNG
optimisation; a file still above ``--max-kb`` is shrunk further until it fits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: The figures the README shows.
FIGURES = ("sky_map.png", "fan_chart.png", "exposures_forecast.png", "goal_dates.png",
           "season_calendar.png", "hours_per_month.png", "compare_plates.png",
           "rv_zero_points.png")


def shrink(src: Path, dst: Path, width: int, max_kb: int) -> int:
    """Write a smaller copy of ``src`` to ``dst``; return its size in bytes."""
    from PIL import Image

    image = Image.open(src).convert("RGB")
    while True:
        w = min(width, image.width)
        small = image.resize((w, round(image.height * w / image.width)), Image.LANCZOS)
        small = small.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        dst.parent.mkdir(parents=True, exist_ok=True)
        small.save(dst, format="PNG", optimize=True)
        size = dst.stat().st_size
        if size <= max_kb * 1024 or width < 400:
            return size
        width = int(width * 0.85)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--max-kb", type=int, default=140)
    args = parser.parse_args(argv)
    for name in FIGURES:
        src = next((f / name for f in args.folders if (f / name).is_file()), None)
        if src is None:
            print(f"  {name}: not found in the folders, skipped")
            continue
        size = shrink(src, args.out / name, args.width, args.max_kb)
        print(f"  {args.out / name}: {size / 1024:.0f} kB (from {src})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
