"""What a plate-selection policy sees, what it returns, and the contract it keeps.

The simulator (or a replay of a real log) builds a frozen :class:`Conditions` snapshot of
the plates observable now and asks a :class:`Policy` for a :class:`Decision`. A policy
never sees the engine (no SimPy here), in the style of Rubin's ``rubin_scheduler``
``Conditions``.

**Random-number contract.** :meth:`Policy.choose` takes the simulation's *selection*
stream and must draw a fixed number of values from it per call, whatever the branch
(:class:`~lkmrs_sched.sim.selector.PlateSelector` draws exactly three uniforms), so that
two policies fed the same stream stay aligned call by call and a change of policy leaves
every other stream (weather, seeing) untouched. :meth:`Policy.probabilities` draws
nothing and gives the exact probability that ``choose`` picks each candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

#: The LK-MRS project's name, and the non-time-domain programme's.
LKMRS = "LK-MRS"
NT = "NT"


@dataclass(frozen=True)
class Candidates:
    """Plates observable now, as parallel arrays (one entry per plate).

    Attributes
    ----------
    plate_index : ndarray of int
        Index into the combined :class:`~lkmrs_sched.sky.footprints.PlateSet`.
    project : ndarray of str
        ``"NT"``, ``"LK-MRS"`` or another TD project's name.
    remaining_window_h : ndarray of float
        Hours left in the plate's observing window from now (h). Informational: the
        rules use ``n_exposures_possible``.
    n_exposures_possible : ndarray of int
        Exposures that fit in what is left of the window (computed by the caller,
        including the pointing overhead).
    exposures_so_far : ndarray of int
        Exposures the plate already has.
    """

    plate_index: np.ndarray
    project: np.ndarray
    remaining_window_h: np.ndarray
    n_exposures_possible: np.ndarray
    exposures_so_far: np.ndarray

    def __post_init__(self) -> None:
        conv = (
            ("plate_index", np.int64),
            ("project", str),
            ("remaining_window_h", float),
            ("n_exposures_possible", np.int64),
            ("exposures_so_far", np.int64),
        )
        n = None
        for name, dtype in conv:
            a = np.asarray(getattr(self, name), dtype=dtype)
            if a.ndim != 1 or (n is not None and a.size != n):
                raise ValueError("Candidates arrays must be 1-d and of equal length")
            n = a.size
            object.__setattr__(self, name, a)

    def __len__(self) -> int:
        return int(self.plate_index.size)

    @classmethod
    def empty(cls) -> Candidates:
        """No candidates."""
        return cls(*([],) * 5)


@dataclass(frozen=True)
class Conditions:
    """What the selector may see: a frozen snapshot of the moment.

    Attributes
    ----------
    mjd : float
        Now (UTC MJD, days).
    night : int
        Night index.
    candidates : Candidates
        Plates observable now.
    time_used_h : Mapping of str to float
        Hours used so far per project (``"LK-MRS"``, ``"TD-B"``, …, and ``"NT"``); the TD
        projects' entries drive the project draw, NT's against their sum the mode draw.
        Not modified.
    projects_tonight : frozenset of str
        TD projects already pointed at tonight (for ``same_night_weight``).
    """

    mjd: float
    night: int
    candidates: Candidates
    time_used_h: Mapping[str, float] = field(default_factory=dict)
    projects_tonight: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    """The selector's choice.

    Attributes
    ----------
    programme : {"NT", "TD"}
    project : str
    plate_index : int
        Index into the combined plate set (as in :attr:`Candidates.plate_index`).
    planned_exposures : int
        Exposures to take in this pointing, weather permitting.
    """

    programme: str
    project: str
    plate_index: int
    planned_exposures: int


@runtime_checkable
class Policy(Protocol):
    """A plate-selection policy (see the module docstring for the random-number contract)."""

    def choose(self, conditions: Conditions, rng: np.random.Generator) -> Decision | None:
        """The next pointing, or ``None`` when nothing may be started now."""
        ...

    def probabilities(self, conditions: Conditions) -> np.ndarray:
        """Probability that :meth:`choose` picks each candidate (sums to 1 or 0)."""
        ...

    def planned_end(self, decision: Decision, exposures_after: int) -> str | None:
        """Why a pointing that took all its planned exposures ended, if the policy knows.

        ``"max_exposures"``, ``"goal"`` or ``"planned"``; ``None`` when the plan was set by
        the sky (the window or dawn), which the simulator tells apart.
        """
        ...
