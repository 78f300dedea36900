"""Calibration posterior draws kept with a scenario, and how a realization uses them.

``lkmrs-sched calibrate`` writes the kept ABC draws to a CSV next to the calibrated
scenario (``[scenario] posterior``). Columns: ``weight`` (normalised), one column per
calibrated parameter (:data:`~lkmrs_sched.ensembles.calibrate.FREE_PARAMETERS`; choices by
name), and the season structure of the usable-time scale:

``usable_scale``
    the calibrated season's scale (the season of the observed log, fitted to Table 2 and
    that season's release totals);
``usable_scale_later``
    the scale of the seasons of the next release window (fitted to its totals);
``usable_scale_mean``
    the mean over seasons, geometric and weighted by seasons;
``season_sigma``
    the season-to-season σ of ln(scale)
    (:func:`~lkmrs_sched.ensembles.calibrate.season_sigma_draws`).

Comment lines ``# key: value`` at the top carry ``season_first`` (the calibrated
season's July-1 year), ``later_first`` and ``later_last`` (the later window's dates).

:meth:`Posterior.realization` gives realization ``k`` its draw: one row picked by weight
with its own generator (``SeedSequence(seed, spawn_key=(k, 0x9057))``, independent of the
simulation's streams and of the worker count), its parameters applied, and one
``usable_scale`` per season as dated rules — the calibrated season's and the later
window's own, and for every other season ``usable_scale_mean · exp(σ z)`` with a fresh
``z ~ N(0, 1)`` per season (drawn for every season in order).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lkmrs_sched.core.config import RuleChange, Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.sim.schedule import season_of

#: Columns besides the calibrated parameters.
SEASON_COLUMNS = ("usable_scale_later", "usable_scale_mean", "season_sigma")
_META = ("season_first", "later_first", "later_last")
_STREAM = 0x9057


@dataclass(frozen=True)
class Posterior:
    """Posterior draws (see the module docstring).

    Attributes
    ----------
    columns : dict of str to ndarray
        ``weight`` and one array per column.
    meta : dict of str to str
        ``season_first``, ``later_first``, ``later_last`` and any other comment keys.
    source : str
        File it was read from.
    """

    columns: dict[str, np.ndarray]
    meta: dict[str, str]
    source: str = ""

    def __len__(self) -> int:
        return len(self.columns["weight"])

    @property
    def parameters(self) -> list[str]:
        """The calibrated-parameter columns."""
        from lkmrs_sched.ensembles.calibrate import FREE_PARAMETERS

        return [c for c in self.columns if c in FREE_PARAMETERS]

    def row(self, i: int) -> dict[str, Any]:
        """Draw ``i`` as a dict."""
        return {k: (v[i].item() if hasattr(v[i], "item") else v[i])
                for k, v in self.columns.items()}

    def pick(self, k: int, seed: int) -> tuple[int, np.random.Generator]:
        """Realization ``k``'s row index and its generator (for the season effects)."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, _STREAM)))
        w = np.asarray(self.columns["weight"], dtype=float)
        return int(rng.choice(len(w), p=w / w.sum())), rng

    def season_scales(self, row: dict[str, Any], first: int, last: int,
                      rng: np.random.Generator) -> dict[int, float]:
        """The usable-time scale of each season ``first`` .. ``last`` (July-1 years)."""
        calibrated = int(self.meta.get("season_first", "-1"))
        lo = _date(self.meta.get("later_first"))
        hi = _date(self.meta.get("later_last"))
        later = range(season_of(lo), season_of(hi) + 1) if lo and hi else range(0)
        out = {}
        for y in range(first, last + 1):
            z = rng.standard_normal()  # drawn for every season, used or not
            if y == calibrated:
                out[y] = float(row["usable_scale"])
            elif y in later and "usable_scale_later" in row:
                out[y] = float(row["usable_scale_later"])
            else:
                mean = float(row.get("usable_scale_mean", row["usable_scale"]))
                out[y] = mean * float(np.exp(float(row.get("season_sigma", 0.0)) * z))
        return out

    def realization(self, scenario: Scenario, k: int, seed: int) -> tuple[Scenario, dict]:
        """Realization ``k``'s scenario (its draw applied, seasons as dated rules) and draw.

        The scenario's own dated changes come after the seasons' (so a what-if that
        changes the weather by date still wins).
        """
        from lkmrs_sched.ensembles.calibrate import apply_parameters

        i, rng = self.pick(k, seed)
        row = self.row(i)
        params = {n: _as_value(n, row[n]) for n in self.parameters}
        fitted = apply_parameters(scenario, params)
        scales = self.season_scales(row, season_of(scenario.start), season_of(scenario.end),
                                    rng)
        changes = tuple(
            RuleChange(max(scenario.start, dt.date(y, 7, 1)),
                       min(scenario.end, dt.date(y + 1, 6, 30)),
                       (("weather", (("usable_scale", s),)),))
            for y, s in scales.items())
        drawn = {"row": i, **params, "season_scales": {str(y): s for y, s in scales.items()}}
        return dataclasses.replace(fitted, changes=changes + scenario.changes), drawn

    def write(self, path: str | Path, notes: dict[str, str] | None = None) -> Path:
        """Write the draws as CSV with ``# key: value`` comment lines (atomically)."""
        from lkmrs_sched.core.atomic import write_text

        names = list(self.columns)
        lines = [f"# {k}: {v}" for k, v in {**self.meta, **(notes or {})}.items()]
        lines.append(",".join(names))
        for i in range(len(self)):
            lines.append(",".join(_fmt(self.columns[n][i]) for n in names))
        write_text(Path(path), "\n".join(lines) + "\n")
        return Path(path)

    @classmethod
    def read(cls, path: str | Path) -> Posterior:
        """Read a posterior CSV.

        Raises
        ------
        InputError
            Unreadable file, no ``weight`` column, a non-numeric or negative value, an
            unknown choice (file, line, column, value).
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(str(p), ..., "a posterior-draws CSV written by calibrate",
                             getattr(exc, "strerror", None) or "unreadable") from None
        meta, body = {}, []
        for line in text.splitlines():
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                meta[key.strip()] = value.strip()
            elif line.strip():
                body.append(line)
        rows = list(csv.reader(body))
        if not rows or "weight" not in rows[0] or len(rows) < 2:
            raise InputError(str(p), ..., "a header with a weight column and one row per draw",
                             "not a posterior-draws file")
        return cls(_columns(p, rows), meta, str(p))


def _columns(p: Path, rows: list[list[str]]) -> dict[str, np.ndarray]:
    from lkmrs_sched.ensembles.calibrate import FREE_PARAMETERS

    header = [h.strip() for h in rows[0]]
    out: dict[str, list] = {h: [] for h in header}
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{p}: row {i}", row, f"{len(header)} values")
        for h, raw in zip(header, row, strict=True):
            choices = FREE_PARAMETERS[h].choices if h in FREE_PARAMETERS else ()
            if choices:
                if raw.strip() not in choices:
                    raise InputError(f"{p}: row {i} {h}", raw, "one of " + ", ".join(choices))
                out[h].append(raw.strip())
                continue
            try:
                value = float(raw)
            except ValueError:
                raise InputError(f"{p}: row {i} {h}", raw, "a number") from None
            if not np.isfinite(value) or (h == "weight" and value < 0):
                raise InputError(f"{p}: row {i} {h}", raw, "a finite number (weights >= 0)")
            out[h].append(value)
    return {h: np.array(v) for h, v in out.items()}


def _fmt(x: Any) -> str:
    return x if isinstance(x, str) else f"{float(x):.6g}"


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _as_value(name: str, value: Any) -> float:
    """A posterior value as :func:`apply_parameters` takes it (choices by index)."""
    from lkmrs_sched.ensembles.calibrate import FREE_PARAMETERS

    choices = FREE_PARAMETERS[name].choices
    return float(choices.index(value)) if choices else float(value)


def load_posterior(scenario: Scenario) -> Posterior | None:
    """The scenario's posterior draws, or ``None`` when it names none."""
    if not scenario.posterior:
        return None
    return Posterior.read(scenario.path(scenario.posterior))
