"""Statistics declared once: name, function, unit, meaning, and the reports that use them.

A :class:`Statistic` is computed from a *context* (a log view, a realization's outcome);
a :class:`StatisticSet` holds the statistics of one kind, computes them all from one
context, and says which of them each report uses — the Table 2 scorecard, the
calibration distance, forecast totals, scenario comparisons. Reports never list
statistic names of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from astropy.table import Table

#: The reports a statistic may feed (``summary``: ``simulate``'s summary and the model-only
#: rows of the scorecard; ``releases``: the comparison with LAMOST's release totals).
REPORTS = ("scorecard", "calibration", "forecast", "compare", "summary", "releases")


@dataclass(frozen=True)
class Statistic:
    """One statistic.

    Attributes
    ----------
    name : str
        Key in results and JSON outputs.
    function : callable
        ``function(context) -> value`` (a number, or a list for vector statistics).
    unit : str
        astropy unit string (``""`` for counts and fractions).
    doc : str
        One line: what it measures.
    reports : frozenset of str
        Which of :data:`REPORTS` use it.
    """

    name: str
    function: Callable[[Any], Any]
    unit: str
    doc: str
    reports: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.reports) - set(REPORTS)
        if unknown:
            raise ValueError(f"statistic {self.name}: unknown reports {sorted(unknown)}")


class StatisticSet(Mapping[str, Statistic]):
    """An ordered set of statistics of one kind (computed from the same context)."""

    def __init__(self, *stats: Statistic):
        self._stats = {s.name: s for s in stats}
        if len(self._stats) != len(stats):
            raise ValueError("statistic names must be unique")

    def __getitem__(self, name: str) -> Statistic:
        return self._stats[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stats)

    def __len__(self) -> int:
        return len(self._stats)

    def names(self, report: str | None = None) -> tuple[str, ...]:
        """Names of the statistics a report uses (all, in order, when ``report`` is None)."""
        if report is not None and report not in REPORTS:
            raise ValueError(f"unknown report {report!r}; known: {REPORTS}")
        return tuple(n for n, s in self._stats.items() if report is None or report in s.reports)

    def compute(self, context: Any) -> dict[str, Any]:
        """Every statistic of ``context``, in order."""
        return {n: s.function(context) for n, s in self._stats.items()}

    def to_table(self) -> Table:
        """The declarations as a table: name, unit, reports, description."""
        return Table({"name": list(self._stats),
                      "unit": [s.unit for s in self._stats.values()],
                      "reports": [",".join(r for r in REPORTS if r in s.reports)
                                  for s in self._stats.values()],
                      "description": [s.doc for s in self._stats.values()]})
