"""Progress bars, in one place: ``tqdm.auto`` on a terminal or in a notebook, off otherwise.

A bar asked for (``enabled=True``) still stays off when standard error is neither a
terminal nor a Jupyter kernel's output (a pipe, a log file, a batch job), so logs never
fill with carriage-return noise.
"""

from __future__ import annotations

import sys
from typing import Any


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except AttributeError:  # pragma: no cover - an unusual IPython
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def interactive() -> bool:
    """Whether progress can be shown: standard error is a terminal, or in a notebook."""
    try:
        tty = sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced stream
        tty = False
    return tty or _in_notebook()


def progress_bar(total: int | None = None, *, desc: str = "", unit: str = "it",
                 enabled: bool = True, **kwargs: Any):
    """A ``tqdm.auto.tqdm`` bar, disabled unless ``enabled`` and :func:`interactive`.

    Parameters
    ----------
    total : int, optional
        Number of steps.
    desc, unit : str
        Label and step unit.
    enabled : bool
        Whether the caller wants a bar at all (``--quiet``, ``progress=False``).
    **kwargs
        Passed to ``tqdm`` (``initial``, ``leave``...).
    """
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not (enabled and interactive()),
                dynamic_ncols=True, **kwargs)
