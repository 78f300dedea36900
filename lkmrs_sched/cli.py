"""The ``lkmrs-sched`` command.

Each sub-command lives in its own module under :mod:`lkmrs_sched.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the function that
runs it. Modules import their heavy dependencies inside that function, so ``--help``
stays fast.

Exit codes: 0 success, 2 bad input or an unusable file location (one clear line on
stderr, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from lkmrs_sched import __version__
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.offline import offline

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "run",
    "almanac",
    "visibility",
    "simulate",
    "reduce",
    "reproduce-table2",
    "calibrate",
    "forecast",
    "hindcast",
    "compare",
    "synth",
    "report",
)


class _Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors exit with code 2 and one line."""

    def error(self, message: str) -> None:  # pragma: no cover - argparse plumbing
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered sub-command."""
    parser = _Parser(prog="lkmrs-sched", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"lkmrs_sched.commands.{name.replace('-', '_')}").register(sub)
    return parser


def _in_flags(exc: InputError, args: argparse.Namespace) -> InputError:
    """The error with a library parameter name replaced by the command's option.

    Library functions name their parameters (``realizations``); the command line knows
    them as options (``--realizations``). A command may map names that differ from its
    options' destinations with ``set_defaults(flag_names={...})``.
    """
    flags = {**{k: "--" + k.replace("_", "-") for k in vars(args)}, "dask_address": "--dask",
             **getattr(args, "flag_names", {})}
    flag = flags.get(exc.where)
    if flag is None:
        return exc
    return InputError(flag, exc.value, exc.allowed, exc.problem)


def _private_caches() -> None:
    """Keep third-party caches inside ours: matplotlib's font cache goes to the cache folder
    (unless the user chose a place with ``MPLCONFIGDIR``), never into the home folder."""
    from lkmrs_sched.core.resources import cache_dir

    os.environ.setdefault("MPLCONFIGDIR", str(cache_dir() / "matplotlib"))


def _os_error_line(exc: OSError) -> str:
    """One line for an operating-system error that escaped the input checks."""
    if exc.filename is not None:
        err = InputError(str(exc.filename), ..., "a location this user can read and write "
                         "(check permissions, free space and the path)",
                         exc.strerror or str(exc))
    else:
        err = InputError("system", ..., "working files and connections (check free space, "
                         "permissions and addresses)", exc.strerror or str(exc))
    return f"lkmrs-sched: error: {err}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (one line, code 2)
        return exc.code if isinstance(exc.code, int) else 2
    _private_caches()
    if threading.current_thread() is threading.main_thread():
        # `kill PID` ends a run like Ctrl-C: workers stopped, finished results kept.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with offline():  # astropy never downloads during a command
            return int(args.func(args) or 0)
    except InputError as exc:
        print(f"lkmrs-sched: error: {_in_flags(exc, args)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except OSError as exc:  # e.g. the disk filled up while writing: one line, no traceback
        print(_os_error_line(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "lkmrs-sched: interrupted; finished work is kept and a rerun resumes.", file=sys.stderr
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
