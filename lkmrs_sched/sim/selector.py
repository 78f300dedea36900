"""The randomized MRS plate selector: pure policy on a frozen snapshot, no SimPy.

The simulator (or a replay of a real log) builds a
:class:`~lkmrs_sched.sim.policy.Conditions` snapshot of the plates observable now and asks
:meth:`PlateSelector.choose` for a :class:`~lkmrs_sched.sim.policy.Decision`, passing its
own seeded generator; :class:`PlateSelector` implements the
:class:`~lkmrs_sched.sim.policy.Policy` protocol. The rules (brief §3):

1. **Startable plates.** A TD plate is startable if it has fewer than its goal's exposures
   and room for at least ``min_exposures_to_start`` exposures in what is left of its
   window; plates at their goal are dropped. The goal is ``goal_exposures`` for LK-MRS and
   ``other_td_goal_exposures`` for the other TD projects (0: none — their finished plates
   are replaced by new ones, so they keep using their time over the whole survey). NT
   plates are a pool of one-night plates: each NT pointing is a new plate, so an NT
   candidate is startable when ``nt_exposures_per_pointing`` exposures fit, whatever its
   name got before (the ``exposures_so_far`` of NT candidates is ignored).
2. **Mode.** NT or TD with the weights of the allocated-versus-used rule below, applied
   to the MRS hours (NT allocated ``nt_share``, TD the rest; ``u`` the hours of NT and
   the sum over the TD projects) — among the modes with a startable plate (for TD: in a
   project with a share above 0). If the drawn mode has none, the draw is repeated among
   the modes that do, i.e. the probabilities are renormalised over the available modes.
   A mode with share 0 is never drawn. With ``unavailable_project = "nt"``, a TD draw
   that falls on a project with no startable plate (step 3 over *all* TD projects)
   becomes an NT pointing instead of a redraw among the projects that have one (when no
   NT plate is startable, it is redrawn).
3. **TD project.** Project ``p`` (LK-MRS with allocated share ``lkmrs_share``; the other
   TD projects split the rest evenly) gets the allocated-versus-used weight::

       w_p = s_p · exp(gain · (s_p − f_p) / s_p),
       f_p = (u_p + H · s_p) / (U + H),

   where ``s_p`` is the allocated share, ``u_p`` the hours used so far
   (``Conditions.time_used_h[p]``, missing = 0), ``U`` the sum over the competitors
   (the TD projects; for the mode, NT and TD), ``H = rebalance_prior`` (h) a pseudo-usage
   at the allocated shares that damps the swings of the first hours, and
   ``gain = rebalance_gain``. An under-served project (f_p < s_p) is drawn more often,
   exponentially in its relative deficit, so over a season each gets close to its
   allocated share of the *hours*; gain 0 gives fixed draw shares. Only projects with a
   startable plate are drawn (renormalised as in 2); a project with share 0 is never
   drawn.
   A project already pointed at tonight (``Conditions.projects_tonight``) has its weight
   multiplied by ``same_night_weight`` (1: no effect); the weight it loses goes to NT when
   an NT plate is startable.
4. **Plate.** Uniform among the project's startable plates (NT: all NT plates), except
   that a started plate (``exposures_so_far > 0``) below its goal has weight
   ``started_plate_boost``.
5. **Exposures planned.** A TD pointing stays until its window ends:
   ``min(n_exposures_possible, max_exposures_per_pointing, goal − exposures_so_far)``
   (no goal term for a plate without a goal).
   An NT pointing plans ``nt_exposures_per_pointing``.
6. **End reason.** A pointing that took all its planned exposures ended at
   ``max_exposures`` (it planned the most a pointing may have), ``planned`` (NT),
   ``goal`` (the LK-MRS plate reached ``goal_exposures``), or else at its window or dawn
   (:meth:`PlateSelector.planned_end`).

Every call draws exactly three uniforms from ``rng`` (mode, project, plate), whatever
the branch, so two policies fed the same stream stay aligned call by call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import astropy.units as u
import numpy as np

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.sections import ObservingConfig, SelectorConfig
from lkmrs_sched.sim.policy import LKMRS, NT, Candidates, Conditions, Decision


def _pick(weights: list[float] | np.ndarray, u01: float) -> int:
    """Index drawn with probability proportional to ``weights`` (at least one > 0)."""
    total = 0.0
    cum = []
    for w in weights:
        total += w
        cum.append(total)
    x = u01 * total
    for i, c in enumerate(cum):
        if x < c:
            return i
    return max(i for i, w in enumerate(weights) if w > 0)  # u01 * total rounding to total


def rebalanced_weights(shares: list[float] | tuple[float, ...], used: list[float],
                       gain: float, prior_h: float) -> np.ndarray:
    """Allocated-versus-used draw weights (rule 3), scaled so the largest is 1.

    Parameters
    ----------
    shares : sequence of float
        Allocated shares ``s_p`` (summing to 1).
    used : sequence of float
        Hours used so far ``u_p`` (h; negative counts as 0).
    gain : float
        ``rebalance_gain``.
    prior_h : float
        ``rebalance_prior`` (h).
    """
    used = [max(0.0, float(x)) for x in used]
    total = sum(used) + prior_h
    logw = []
    for sp, up in zip(shares, used, strict=True):
        if sp <= 0:
            logw.append(-math.inf)
            continue
        fp = (up + prior_h * sp) / total if total > 0 else sp
        logw.append(math.log(sp) + gain * (sp - fp) / sp)
    top = max(logw)
    if top == -math.inf:
        return np.zeros(len(logw))
    return np.array([math.exp(x - top) if x > -math.inf else 0.0 for x in logw])


def td_shares(config: SelectorConfig) -> dict[str, float]:
    """Allocated share of TD time per TD project: LK-MRS's, the others splitting the rest.

    With no other TD project LK-MRS has all of it.
    """
    others = tuple(config.other_td_projects)
    if not others:
        return {LKMRS: 1.0}
    rest = (1.0 - float(config.lkmrs_share)) / len(others)
    return {LKMRS: float(config.lkmrs_share), **dict.fromkeys(others, rest)}


class PlateSelector:
    """The MRS plate selector (rules in the module docstring).

    Parameters
    ----------
    config : SelectorConfig
        The ``[selector]`` section.
    max_exposures_per_pointing : int
        Most exposures in one pointing (``[observing]``, default 8).
    min_exposures_to_start : int
        A TD pointing starts only with room for this many (``[observing]``, default 3).

    Raises
    ------
    InputError
        If a TD project name is repeated or clashes with ``"LK-MRS"``/``"NT"``, or the
        exposure limits are inconsistent.
    """

    def __init__(
        self,
        config: SelectorConfig,
        *,
        max_exposures_per_pointing: int = 8,
        min_exposures_to_start: int = 3,
    ):
        others = tuple(config.other_td_projects)
        names = (LKMRS, *others)
        for name in others:
            if name in (LKMRS, NT) or names.count(name) > 1:
                raise InputError(
                    "[selector] other_td_projects",
                    list(others),
                    f"distinct names other than {LKMRS!r} and {NT!r}",
                    f"bad project name {name!r}",
                )
        if not 1 <= min_exposures_to_start <= max_exposures_per_pointing:
            raise InputError(
                "[observing] min_exposures_to_start",
                min_exposures_to_start,
                f"between 1 and max_exposures_per_pointing ({max_exposures_per_pointing})",
            )
        self.config = config
        self.td_projects: tuple[str, ...] = names
        self.shares: tuple[float, ...] = tuple(td_shares(config).values())
        self.max_exposures_per_pointing = int(max_exposures_per_pointing)
        self.min_exposures_to_start = int(min_exposures_to_start)
        self._gain = float(config.rebalance_gain)
        self._prior = float(config.rebalance_prior.to_value(u.h))
        self._boost = float(config.started_plate_boost)
        self._goal = int(config.goal_exposures)
        self._other_goal = (float(config.other_td_goal_exposures)
                            if config.other_td_goal_exposures > 0 else math.inf)
        self._nt_n = int(config.nt_exposures_per_pointing)
        self._nt_share = float(config.nt_share)
        self._fallback_nt = config.unavailable_project == "nt"
        self._same_night = float(config.same_night_weight)

    @classmethod
    def from_config(cls, selector: SelectorConfig, observing: ObservingConfig) -> PlateSelector:
        """The selector of a scenario's ``[selector]`` and ``[observing]`` sections."""
        return cls(selector, max_exposures_per_pointing=observing.max_exposures_per_pointing,
                   min_exposures_to_start=observing.min_exposures_to_start)

    # -- the pieces of a draw -------------------------------------------------------

    def project_weights(self, time_used_h: Mapping[str, float]) -> np.ndarray:
        """Unnormalised draw weights of the TD projects (order of :attr:`td_projects`)."""
        used = [float(time_used_h.get(p, 0.0)) for p in self.td_projects]
        return rebalanced_weights(self.shares, used, self._gain, self._prior)

    def mode_weights(self, time_used_h: Mapping[str, float]) -> tuple[float, float]:
        """Unnormalised (NT, TD) draw weights from the MRS hours used (rule 2)."""
        used_td = sum(float(time_used_h.get(p, 0.0)) for p in self.td_projects)
        w = rebalanced_weights((self._nt_share, 1.0 - self._nt_share),
                               [float(time_used_h.get(NT, 0.0)), used_td],
                               self._gain, self._prior)
        return float(w[0]), float(w[1])

    def goals(self, c: Candidates) -> np.ndarray:
        """Each candidate's goal in exposures (``inf``: no goal; NT plates have none)."""
        return np.where(c.project == LKMRS, float(self._goal),
                        np.where(c.project == NT, math.inf, self._other_goal))

    def _startable(self, c: Candidates) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Group code per candidate (0: NT, k + 1: TD project k), startable mask, counts.

        ``counts[g]`` is the number of startable candidates in group ``g``.
        """
        proj, poss = c.project, c.n_exposures_possible
        is_nt = proj == NT
        so_far = self._so_far(c)
        code = np.full(proj.size, -1, dtype=np.int64)
        code[is_nt] = 0
        for k, p in enumerate(self.td_projects):
            code[proj == p] = k + 1
        if np.count_nonzero(code < 0):
            bad = sorted(set(proj[code < 0].tolist()))
            raise ValueError(f"candidates of unknown projects {bad}; known: NT, {self.td_projects}")
        ok = np.where(
            is_nt,
            poss >= self._nt_n,
            (so_far < self.goals(c)) & (poss >= self.min_exposures_to_start),
        )
        counts = np.bincount(code[ok], minlength=len(self.td_projects) + 1).tolist()
        return code, ok, counts

    @staticmethod
    def _so_far(c: Candidates) -> np.ndarray:
        """Exposures per candidate as the rules count them (0 for NT: a new plate)."""
        return np.where(c.project == NT, 0, c.exposures_so_far)

    def _plate_weights(
        self, code: np.ndarray, ok: np.ndarray, group: int, so_far: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate indices of a group's startable plates and their draw weights."""
        idx = np.flatnonzero(ok & (code == group))
        return idx, np.where(so_far[idx] > 0, self._boost, 1.0)

    def _mode_and_projects(
        self, c: Candidates, conditions: Conditions
    ) -> tuple[np.ndarray, np.ndarray, float, float, list[float]]:
        """Group codes, startable mask, mode weights and available project weights."""
        code, ok, counts = self._startable(c)
        pw = self.project_weights(conditions.time_used_h)
        avail = [float(w) if n else 0.0 for w, n in zip(pw, counts[1:], strict=True)]
        m_nt, m_td = self.mode_weights(conditions.time_used_h)
        w_nt = m_nt if counts[0] else 0.0
        w_td = m_td if sum(avail) > 0 else 0.0
        if self._fallback_nt and w_nt > 0 and w_td > 0:
            # A TD draw of a project with nothing startable becomes an NT pointing.
            lost = w_td * (1.0 - sum(avail) / float(sum(pw)))
            w_nt, w_td = w_nt + lost, w_td - lost
        if self._same_night < 1.0 and conditions.projects_tonight and w_td > 0:
            # A project already observed tonight keeps only part of its weight; with an NT
            # plate startable, the weight it loses goes to NT.
            damped = [a * (self._same_night if p in conditions.projects_tonight else 1.0)
                      for a, p in zip(avail, self.td_projects, strict=True)]
            if w_nt > 0:
                lost = w_td * (1.0 - sum(damped) / sum(avail))
                w_nt, w_td = w_nt + lost, w_td - lost
            if sum(damped) > 0:
                avail = damped
        return code, ok, w_nt, w_td, avail

    # -- the policy -----------------------------------------------------------------

    def choose(self, conditions: Conditions, rng: np.random.Generator) -> Decision | None:
        """Pick the next pointing, or ``None`` when nothing may be started now.

        Parameters
        ----------
        conditions : Conditions
            The snapshot.
        rng : numpy.random.Generator
            The selector's stream; exactly three uniforms are drawn per call.

        Returns
        -------
        Decision or None
            ``None`` if no candidate is startable, or only candidates of programmes or
            projects with share 0.
        """
        u_mode, u_proj, u_plate = rng.random(3)
        c = conditions.candidates
        if len(c) == 0:
            return None
        code, ok, w_nt, w_td, avail = self._mode_and_projects(c, conditions)
        if w_nt + w_td <= 0:
            return None
        so_far = self._so_far(c)
        if u_mode * (w_nt + w_td) < w_nt:
            idx, w = self._plate_weights(code, ok, 0, so_far)
            i = int(idx[_pick(w, u_plate)])
            return Decision(NT, NT, int(c.plate_index[i]), self._nt_n)
        k = _pick(avail, u_proj)
        idx, w = self._plate_weights(code, ok, k + 1, so_far)
        i = int(idx[_pick(w, u_plate)])
        left = self.goals(c)[i] - int(so_far[i])
        planned = min(int(c.n_exposures_possible[i]), self.max_exposures_per_pointing,
                      int(left) if math.isfinite(left) else self.max_exposures_per_pointing)
        return Decision("TD", self.td_projects[k], int(c.plate_index[i]), planned)

    def probabilities(self, conditions: Conditions) -> np.ndarray:
        """Probability that :meth:`choose` picks each candidate (same order; sums to 1 or 0).

        Useful to test the policy and to score a real log against it.
        """
        c = conditions.candidates
        out = np.zeros(len(c))
        if len(c) == 0:
            return out
        code, ok, w_nt, w_td, avail = self._mode_and_projects(c, conditions)
        if w_nt + w_td <= 0:
            return out
        so_far = self._so_far(c)
        if w_nt > 0:
            idx, w = self._plate_weights(code, ok, 0, so_far)
            out[idx] += w_nt / (w_nt + w_td) * w / w.sum()
        total = sum(avail)
        for k, a in enumerate(avail):
            if w_td > 0 and a > 0:
                idx, w = self._plate_weights(code, ok, k + 1, so_far)
                out[idx] += w_td / (w_nt + w_td) * a / total * w / w.sum()
        return out

    def planned_end(self, decision: Decision, exposures_after: int) -> str | None:
        """Why a pointing that took all its planned exposures ended (rule 6).

        ``None`` when the plan was set by the window or dawn (the simulator tells which).
        """
        if decision.planned_exposures >= self.max_exposures_per_pointing:
            return "max_exposures"
        if decision.programme == NT:
            return "planned"
        goal = self._goal if decision.project == LKMRS else self._other_goal
        if exposures_after >= goal:
            return "goal"
        return None
