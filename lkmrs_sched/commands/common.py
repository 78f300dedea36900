"""Argument plumbing shared by the sub-commands: scenarios, dates, JSON output."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from lkmrs_sched.core.errors import InputError

#: Most realizations (or ABC draws) one ensemble may ask for: results are kept in memory.
MAX_REALIZATIONS = 100_000
#: Largest master seed (NumPy's SeedSequence takes any non-negative integer; 2**64 - 1
#: keeps seeds storable as one SQLite/JSON integer).
MAX_SEED = 2**64 - 1
#: Most local worker processes.
MAX_WORKERS = 1024


def int_range(lo: int, hi: int | None = None, what: str = "an integer",
              hi_text: str | None = None):
    """An argparse ``type``: an integer in ``[lo, hi]`` (one-line error otherwise)."""
    allowed = (f"{what} from {lo} to {hi_text or hi}" if hi is not None
               else f"{what} >= {lo}")

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}; allowed: {allowed}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"out of range: {text!r}; allowed: {allowed}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                hi_open: bool = False, what: str = "a number"):
    """An argparse ``type``: a finite number within the given bounds."""
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    allowed = f"a finite number {' and '.join(parts)}" if parts else "a finite number"

    def parse(text: str) -> float:
        import math

        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}; allowed: {allowed}") from None
        bad = not math.isfinite(value)
        if lo is not None:
            bad |= value <= lo if lo_open else value < lo
        if hi is not None:
            bad |= value >= hi if hi_open else value > hi
        if bad:
            raise argparse.ArgumentTypeError(f"out of range: {text!r}; allowed: {allowed}")
        return value

    parse.__name__ = "number"
    return parse


#: ``--seed``: a non-negative integer.
seed_type = int_range(0, MAX_SEED, "an integer", "2**64 - 1")
#: ``--realizations``: 1 .. :data:`MAX_REALIZATIONS`.
realizations_type = int_range(1, MAX_REALIZATIONS, "a whole number of realizations")
#: ``--workers``: 1 .. :data:`MAX_WORKERS`.
workers_type = int_range(1, MAX_WORKERS, "a number of processes")


def add_scenario_argument(parser: argparse.ArgumentParser) -> None:
    """``--scenario FILE`` (default: the built-in defaults)."""
    parser.add_argument("--scenario", metavar="FILE",
                        help="scenario TOML (default: built-in defaults)")


def add_date_range(parser: argparse.ArgumentParser) -> None:
    """``--start DATE --end DATE`` (local evening dates, ISO)."""
    parser.add_argument("--start", metavar="DATE", help="first night (local evening date)")
    parser.add_argument("--end", metavar="DATE", help="last night (local evening date)")


def parse_date(value: str | None, option: str) -> dt.date | None:
    """An ISO date from the command line, or an InputError naming the option."""
    if value is None:
        return None
    from lkmrs_sched.core.validate import check_night

    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(option, value, "an ISO date YYYY-MM-DD") from None
    return check_night(date, option)


def scenario_from_args(args: argparse.Namespace):  # -> Scenario (lazy import)
    """The scenario named by ``--scenario``, with ``--start/--end`` applied if given."""
    from lkmrs_sched.core.config import default_scenario, load_scenario

    start = parse_date(getattr(args, "start", None), "--start")
    end = parse_date(getattr(args, "end", None), "--end")
    scenario = load_scenario(args.scenario) if getattr(args, "scenario", None) else None
    if scenario is None:
        scenario = default_scenario()  # dates are checked below, naming --start/--end
    start, end = start or scenario.start, end or scenario.end
    if end < start:
        raise InputError("--end", end.isoformat(), f"a date on or after --start ({start})",
                         "end before start")
    return scenario.replace(start=start, end=end)


def print_json(obj: Any) -> None:
    """Print JSON to stdout."""
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")




def scenario_inputs(scenario) -> list:
    """Every file a scenario was read from or names (its file, bases, footprints, replay)."""
    from pathlib import Path

    from lkmrs_sched.core.identity import referenced_files

    files = list(referenced_files(scenario).values())
    if scenario.source != "<defaults>":
        files.insert(0, Path(scenario.source))
    return files


def read_observed(path: str | None, option: str):
    """The observed log named by ``option`` (default: Table 2), with a note on skipped rows."""
    from lkmrs_sched.sim.importers import import_table2, read_any_log

    log = read_any_log(path) if path else import_table2()
    skipped = int(log.info.get("skipped_rows", "0") or 0)
    if skipped:
        print(f"note: {option} {path}: {skipped} row(s) of other projects' or test plates "
              "left out")
    return log


def check_log_plates(log, scenario, where: str) -> None:
    """Every LK-MRS exposure of an observed log is on a plate of the scenario's footprints."""
    import numpy as np

    from lkmrs_sched.sky.footprints import load_plates

    lk = load_plates(scenario.path(scenario.selector.lkmrs_footprints))
    e = log.exposures
    names = np.unique(np.asarray(e["plate_name"][e["project"] == "LK-MRS"], dtype=str))
    unknown = sorted(set(names.tolist()) - set(lk.plate_name.tolist()))
    if unknown:
        raise InputError(f"{where}: plate_name", unknown[0], "an LK-MRS plate of the "
                         f"scenario's footprints ({scenario.selector.lkmrs_footprints})",
                         "unknown plate")


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    """``--workers W`` or ``--dask ADDRESS``: where an ensemble's realizations run."""
    backend = p.add_mutually_exclusive_group()
    backend.add_argument("--workers", type=workers_type, metavar="W",
                         help="local processes (default: all cores)")
    backend.add_argument("--dask", metavar="ADDRESS",
                         help="Dask scheduler address (e.g. tcp://host:8786)")
