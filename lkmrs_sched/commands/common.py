"""Argument plumbing shared by the sub-commands: scenarios, dates, JSON output."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from lkmrs_sched.core.errors import InputError


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
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(option, value, "an ISO date YYYY-MM-DD") from None


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


