"""What the reader found wrong with its input, and what it did about it.

Nothing is dropped silently: every excluded row and every value treated as missing is
counted in an :class:`Issue` naming the file, the column and the number of rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lkmrs_sched.core.errors import InputError

#: Severity levels: "error" rows are excluded from the reduction, "warning" values are
#: treated as missing, "info" is bookkeeping (e.g. LAMOST's -9999 "no value" marks).
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Issue:
    """One kind of problem in one column of one input.

    Attributes
    ----------
    where : str
        Input file (or a label for an in-memory table).
    column : str
        Column name as our reader knows it (after any column mapping).
    n_rows : int
        Number of rows affected.
    problem : str
        What is wrong, e.g. ``"negative S/N"``.
    action : str
        What the reader did, e.g. ``"rows excluded"``.
    severity : str
        One of :data:`SEVERITIES`.
    """

    where: str
    column: str
    n_rows: int
    problem: str
    action: str
    severity: str = "error"

    def __str__(self) -> str:
        return (
            f"{self.where}: column {self.column}: {self.n_rows} rows: {self.problem}; {self.action}"
        )


@dataclass
class ReadReport:
    """All issues found while reading, plus row counts.

    Attributes
    ----------
    issues : list of Issue
    n_rows_read : int
        Rows (spectrum × arm) in all inputs.
    n_rows_used : int
        Rows that survived the checks.
    absent : dict of str to list of str
        Optional columns (e.g. ``alt_lamp``) missing from inputs: the inputs without each.
    """

    issues: list[Issue] = field(default_factory=list)
    n_rows_read: int = 0
    n_rows_used: int = 0
    absent: dict[str, list[str]] = field(default_factory=dict)

    def add(
        self,
        where: str,
        column: str,
        mask: np.ndarray | int,
        problem: str,
        action: str,
        severity: str = "error",
    ) -> None:
        """Record an issue if ``mask`` (bool array, or a count) selects any rows."""
        n = int(np.count_nonzero(mask)) if isinstance(mask, np.ndarray) else int(mask)
        if not n:
            return
        for k, old in enumerate(self.issues):  # same problem again (next batch): add up
            if (old.where, old.column, old.problem, old.action, old.severity) == (
                where,
                column,
                problem,
                action,
                severity,
            ):
                self.issues[k] = Issue(where, column, old.n_rows + n, problem, action, severity)
                return
        self.issues.append(Issue(where, column, n, problem, action, severity))

    def add_absent(self, column: str, where: str) -> None:
        """Record that the input ``where`` has no column ``column``."""
        inputs = self.absent.setdefault(column, [])
        if where not in inputs:
            inputs.append(where)

    @property
    def n_rows_excluded(self) -> int:
        """Rows excluded from the reduction."""
        return self.n_rows_read - self.n_rows_used

    def by_severity(self, severity: str) -> list[Issue]:
        """Issues of one severity."""
        return [i for i in self.issues if i.severity == severity]

    def raise_if_errors(self) -> None:
        """Raise :class:`InputError` for the first "error" issue (strict reading)."""
        errors = self.by_severity("error")
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
            raise InputError(
                f"{first.where}: column {first.column}",
                ...,
                "a clean catalogue (or run without --strict to exclude such rows)",
                f"{first.n_rows} rows: {first.problem}{more}",
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "n_rows_read": self.n_rows_read,
            "n_rows_used": self.n_rows_used,
            "n_rows_excluded": self.n_rows_excluded,
            "absent_columns": {k: list(v) for k, v in self.absent.items()},
            "issues": [asdict(i) for i in self.issues],
        }

    def lines(self) -> list[str]:
        """One human-readable line per issue, errors first."""
        order = {s: k for k, s in enumerate(SEVERITIES)}
        return [f"{i.severity}: {i}" for i in sorted(self.issues, key=lambda i: order[i.severity])]
