"""LAMOST MRS data-release totals, and the same quantities counted in a simulated log.

The releases table (``tables/lamost_mrs_releases.csv``, from the releases' MRS
data-description pages) gives cumulative counts; differences between consecutive releases
are the output of the seasons in between (:func:`release_windows`).

**What a count counts** (the interpretation this module uses; README, "Release totals").
The two survey columns count *one spectrum per target*, both arms together:
``td_single_exposure_spectra`` one per target and TD exposure, ``nt_coadded_spectra`` one
per target and NT plate-night. The evidence is the releases' own arithmetic: the number of
FITS files (one per target and plate-night) minus the NT coadds leaves the TD target
plate-nights, and with it every release gives 2.8–3.0 exposures per NT plate-night (NT
plates get ~3 exposures, brief §2) and 3.9–6.0 per TD plate-night, while
``single_exposure_spectra_all`` ≈ 2 × 0.97 × (TD + NT target-exposures) and
``coadded_spectra_all`` ≈ 2 × 0.95–0.99 × FITS files count both arms. Read as one per arm,
the survey columns would give 9.6 exposures per NT plate-night and 1.6 per TD plate-night.

A simulated log is counted the same way (:func:`log_output`): each LK-MRS exposure gives
``lkmrs_per_target`` × the plate's Table-1 targets (incl. standards), each other TD
exposure ``other_td_per_exposure``, each NT plate-night (pointing with an exposure)
``nt_per_plate``.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.sections import ReleasesConfig
from lkmrs_sched.sim.obslog import ObservationLog
from lkmrs_sched.sim.policy import LKMRS, NT

_COLUMNS = ("release", "covers_until", "td_single_exposure_spectra", "nt_coadded_spectra")


@dataclass(frozen=True)
class Release:
    """One release's cumulative totals."""

    name: str
    covers_until: dt.date
    td: int
    nt: int
    note: str = ""


@dataclass(frozen=True)
class ReleaseWindow:
    """The output between two releases (``first`` .. ``last`` local dates, inclusive).

    Attributes
    ----------
    tag : str
        Short name of the later release (``"dr7"``), used in statistic names.
    td, nt : int
        TD single-exposure and NT coadded spectra released for the window.
    seasons : int
        Observing seasons (July–June) in the window.
    """

    tag: str
    name: str
    first: dt.date
    last: dt.date
    td: int
    nt: int
    seasons: int


def read_releases(path: str | Path) -> list[Release]:
    """Read the cumulative releases table (in time order).

    Raises
    ------
    InputError
        Missing columns, a bad date or count, dates or totals that do not increase.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputError(str(p), ..., "a readable releases CSV", exc.strerror or "unreadable"
                         ) from None
    if not rows or any(c not in rows[0] for c in _COLUMNS):
        raise InputError(f"{p}: header", list(rows[0]) if rows else [],
                         "columns " + ", ".join(_COLUMNS), "missing columns")
    out: list[Release] = []
    for i, r in enumerate(rows, start=2):
        where = f"{p}: line {i}"
        try:
            until = dt.date.fromisoformat(r["covers_until"].strip())
        except ValueError:
            raise InputError(f"{where} covers_until", r["covers_until"], "an ISO date") from None
        counts = []
        for c in _COLUMNS[2:]:
            raw = r[c].strip()
            if not raw.isdigit():
                raise InputError(f"{where} {c}", raw, "a non-negative integer")
            counts.append(int(raw))
        rel = Release(r["release"].strip(), until, *counts, note=(r.get("note") or "").strip())
        if out and (rel.covers_until <= out[-1].covers_until or rel.td < out[-1].td
                    or rel.nt < out[-1].nt):
            raise InputError(f"{where}", rel.name, "later dates and totals not smaller than "
                             f"the previous release ({out[-1].name})", "not cumulative")
        out.append(rel)
    return out


def _seasons(first: dt.date, last: dt.date) -> int:
    from lkmrs_sched.sim.schedule import season_of

    return season_of(last) - season_of(first) + 1


def release_windows(releases: list[Release]) -> list[ReleaseWindow]:
    """Increments between consecutive releases (the first release is the baseline).

    The first release of the shipped table, DR6, is the MRS commissioning survey
    (2017-10 .. 2018-06), before the LAMOST-II allocation the selector implements: it is
    subtracted, not modelled.
    """
    out = []
    for a, b in itertools.pairwise(releases):
        first = a.covers_until + dt.timedelta(days=1)
        tag = b.name.split()[0].lower()
        out.append(ReleaseWindow(tag, b.name, first, b.covers_until, b.td - a.td, b.nt - a.nt,
                                 _seasons(first, b.covers_until)))
    return out


@dataclass(frozen=True)
class Output:
    """Released-spectra equivalents of a log's exposures in one window."""

    td: float
    nt: float
    lkmrs: float
    td_exposures: int
    nt_plate_nights: int


def log_output(log: ObservationLog, first: dt.date, last: dt.date, config: ReleasesConfig,
               lkmrs_targets: dict[str, int]) -> Output:
    """TD and NT spectra a release would count for the log's nights ``first`` .. ``last``.

    Parameters
    ----------
    lkmrs_targets : dict
        Table-1 targets + standards (``n_total``) per LK-MRS plate name.
    """
    e = log.exposures
    nights = np.asarray(e["night"], dtype="datetime64[D]")
    inside = (nights >= np.datetime64(first)) & (nights <= np.datetime64(last))
    project = np.asarray(e["project"], dtype=str)[inside]
    names = np.asarray(e["plate_name"], dtype=str)[inside]
    lk = project == LKMRS
    other = ~lk & (project != NT)
    lk_spec = config.lkmrs_per_target * float(sum(lkmrs_targets.get(n, 0) for n in names[lk]))
    p = log.pointings
    pn = np.asarray(p["night"], dtype="datetime64[D]")
    nt_pn = int(np.sum((np.asarray(p["project"], dtype=str) == NT)
                       & (np.asarray(p["n_exposures"]) > 0)
                       & (pn >= np.datetime64(first)) & (pn <= np.datetime64(last))))
    td = lk_spec + config.other_td_per_exposure * float(other.sum())
    return Output(td, config.nt_per_plate * nt_pn, lk_spec, int(lk.sum() + other.sum()), nt_pn)
