"""User-facing input errors.

Every problem with user input (files, scenario keys, command-line values) is raised as
:class:`InputError`, which names where the problem is, the offending value and what is
allowed. The command line turns it into one line on stderr and exit code 2.
"""

from __future__ import annotations

from typing import Any


class InputError(Exception):
    """Bad user input, reported without a traceback.

    Parameters
    ----------
    where : str
        File, and row/key/column inside it, e.g. ``"scenarios/x.toml: [site] twilight"``.
    value : Any
        The offending value (use ``...`` when there is no single value).
    allowed : str
        What would have been accepted.
    problem : str, optional
        A short statement of what is wrong, when "invalid value" says too little.
    """

    def __init__(self, where: str, value: Any, allowed: str, problem: str = "invalid value"):
        self.where = where
        self.value = value
        self.allowed = allowed
        self.problem = problem
        super().__init__(str(self))

    def __reduce__(self) -> tuple:
        # Picklable, so an error raised in a worker process reaches the parent intact.
        return (type(self), (self.where, self.value, self.allowed, self.problem))

    def __str__(self) -> str:
        value = "" if self.value is ... else f" {self.value!r};"
        return f"{self.where}: {self.problem}:{value} allowed: {self.allowed}"
