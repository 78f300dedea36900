"""``lkmrs-sched report``: one self-contained HTML page for a run folder.

Reads what a folder of ``forecast`` (or ``run``), ``compare``, ``reproduce-table2``,
``reduce`` or ``simulate`` holds and writes ``RUN_DIR/report.html``: figures embedded as
base64 PNGs, the results as tables, the scenario, provenance, realised shares of
telescope time and the scorecard or hindcast when present. It references nothing outside
itself, so it opens offline and can be passed around as one file.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of a run folder",
                       description=__doc__)
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder written by another command")
    p.add_argument("--out", metavar="FILE", help="HTML file (default: RUN_DIR/report.html)")
    p.set_defaults(func=run, flag_names={"run_dir": "RUN_DIR"})


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lkmrs_sched.core.outputs import prepare_file
    from lkmrs_sched.plots.report import write_report

    folder = Path(args.run_dir)
    target = Path(args.out) if args.out else folder / "report.html"
    if folder.is_dir():  # every file of the folder but an earlier report may be read
        inputs = [f for f in folder.rglob("*") if f.is_file() and f.name != "report.html"]
        prepare_file(target, "--out", inputs=inputs)
    path = write_report(args.run_dir, args.out)
    print(f"Report: {path}")
    return 0
