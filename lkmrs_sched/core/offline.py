"""Keep astropy offline inside our own calls, and only there.

``with offline():`` (or ``@offline()`` on a function) switches astropy's IERS
auto-download off, forbids downloads (``allow_internet = False``), lets times beyond the
IERS tables pass with a warning and silences the two warnings that such times give;
on leaving, every setting and warning filter is back to what it was. The command line
(:func:`lkmrs_sched.cli.main`), the public API (:mod:`lkmrs_sched.api`) and the code
that calls astropy's time machinery (the ephemerides, ISO time conversion) enter it, so
a user's own astropy calls in the same Python session keep astropy's settings: importing
:mod:`lkmrs_sched` changes nothing.

The IERS-A/B tables shipped with ``astropy-iers-data`` cover UT1−UTC and polar motion
for the survey years; beyond them astropy extrapolates with a warning, which is
harmless at the precision we need (seconds of time).

Nesting and threads: the settings are process-wide (astropy's configuration is), so the
context is counted: the first entry (in any thread) saves and sets them, the last exit
restores them. Threads that run our code at the same time (a Dask worker's) are all
offline until the last of them leaves.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

#: The settings held while offline: (configuration object, item) → value.
SETTINGS: tuple[tuple[str, str, object], ...] = (
    ("iers", "auto_download", False),
    ("iers", "auto_max_age", None),
    ("iers", "iers_degraded_accuracy", "warn"),
    ("data", "allow_internet", False),
)
#: Warnings that times beyond the shipped IERS tables give (harmless here).
QUIET = (".*Tried to get polar motions.*",
         r".*\(some\) times are outside of range covered by IERS.*")

_lock = threading.Lock()
_depth = 0
_exit_stack: contextlib.ExitStack | None = None


def _conf(name: str):
    if name == "iers":
        from astropy.utils import iers

        return iers.conf
    from astropy.utils.data import conf

    return conf


def _enter() -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    for conf, item, value in SETTINGS:
        stack.enter_context(_conf(conf).set_temp(item, value))
    stack.enter_context(warnings.catch_warnings())
    for message in QUIET:
        warnings.filterwarnings("ignore", message=message)
    return stack


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Context (and decorator) in which astropy never downloads; restores on exit.

    Examples
    --------
    >>> from lkmrs_sched.core.offline import offline
    >>> with offline():
    ...     pass  # astropy.utils.data.conf.allow_internet is False in here
    """
    global _depth, _exit_stack
    with _lock:
        if _depth == 0:
            _exit_stack = _enter()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _exit_stack is not None:
                stack, _exit_stack = _exit_stack, None
                stack.close()


def is_offline() -> bool:
    """Whether astropy's settings are the offline ones right now."""
    return all(getattr(_conf(conf), item) == value for conf, item, value in SETTINGS)


def configure() -> None:
    """Switch astropy offline for the rest of the session (opt-in; not done at import).

    For a script or notebook that wants astropy itself never to download. The library
    does not need it: its own calls are offline anyway.
    """
    for conf, item, value in SETTINGS:
        setattr(_conf(conf), item, value)
    for message in QUIET:
        warnings.filterwarnings("ignore", message=message)
