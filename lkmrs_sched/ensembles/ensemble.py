"""Monte Carlo ensembles on local processes or a Dask cluster, resumable.

Realization ``k`` of an ensemble with master seed ``S`` uses
``SeedSequence(S, spawn_key=(k,))`` (what ``SeedSequence(S).spawn(n)[k]`` gives), so its
result depends on (scenario, S, k) only: not on the number of workers, the backend or the
order in which realizations finish. Realization ``k`` of two scenarios shares its weather
and seeing streams (common random numbers).

Each realization's result is written to ``STORE/realization-NNNN.json`` (atomically) as
soon as it finishes; a rerun with the same manifest loads those and computes only the
missing ones, so an interrupted ensemble resumes where it stopped. The manifest
(``STORE/manifest.json``) names the ensemble by content (:mod:`lkmrs_sched.core.identity`:
the scenario's settings, the bytes of the files it names, the result layout and the
package version) and records the structure of a result; a store of another ensemble is
refused, a stored result of another structure is recomputed, and locks keep two
processes from claiming one store for different ensembles (see :class:`_Store`).


Results travel back to this process, which alone writes files: a task returns its
result dict, or an :class:`Outcome` with the files it made as bytes (a realization's
log, its per-star arrays), which are written atomically under ``files`` before the
result is stored. Workers never write, so a Dask cluster needs no shared disk and a
relative output folder means the client's folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lkmrs_sched.core.atomic import write_bytes, write_json
from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.progress import progress_bar
from lkmrs_sched.sim.policy import LKMRS, NT

#: Seconds to wait for a Dask scheduler to answer before giving up.
DASK_CONNECT_TIMEOUT_S = 10.0


def realization_seed(master: int, k: int) -> np.random.SeedSequence:
    """Seed of realization ``k`` (random access into ``SeedSequence(master).spawn``)."""
    return np.random.SeedSequence(master, spawn_key=(k,))


@dataclass(frozen=True)
class Job:
    """One realization to run: picklable, so it travels to worker processes.

    Attributes
    ----------
    index : int
        Realization number ``k``.
    scenario : Scenario
    master_seed : int
    options : dict
        Task-specific settings (for example the initial state of a forecast).
    """

    index: int
    scenario: Scenario
    master_seed: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def seed(self) -> np.random.SeedSequence:
        return realization_seed(self.master_seed, self.index)


@dataclass(frozen=True)
class Outcome:
    """A task's result with the files it made, for the client to write.

    Attributes
    ----------
    result : dict
        JSON-serialisable values (stored as ``realization-NNNN.json``).
    files : dict of str to bytes
        Path relative to the ensemble's ``files`` folder → file content.
    """

    result: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def _deliver(outcome: dict[str, Any] | Outcome, folder: Path | None) -> dict[str, Any]:
    """Write an outcome's files under ``folder`` (atomically); return its result."""
    if not isinstance(outcome, Outcome):
        return outcome
    if folder is not None:
        for name, data in outcome.files.items():
            write_bytes(folder / name, data)
    return outcome.result


def _portable(job: Job) -> Job:
    """The job with its scenario's folder absolute, so a worker in another working folder
    finds the files the scenario names (resolved against the client's folder)."""
    import dataclasses

    source = job.scenario.source
    if source.startswith("<") or Path(source).is_absolute():
        return job
    scenario = job.scenario.replace(source=str(Path(source).resolve()))
    return dataclasses.replace(job, scenario=scenario)


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _die_with_parent() -> None:
    """Worker initializer: the parent owns interruption; a worker dies with its parent.

    Ctrl-C reaches the whole process group: workers ignore it and the parent, on its
    ``KeyboardInterrupt``, terminates them (default SIGTERM action, no traceback). On Linux
    a worker also gets SIGTERM when its parent dies, even by SIGKILL, so none is orphaned.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):  # pragma: no cover - not Linux/glibc
        pass


def _result_path(store: Path, k: int) -> Path:
    return store / f"realization-{k:04d}.json"


# ------------------------------------------------------------------ result stores
#: Refusal text shared by the store checks.
_OTHER = ("the same scenario (and the files it names), seed, task and package version as "
          "the run that made this folder, or another --out folder")


def result_shape(obj: Any) -> Any:
    """The structure of a JSON result: dict keys, list elements, leaf types (None: any)."""
    if isinstance(obj, dict):
        return {"{}": {str(k): result_shape(v) for k, v in obj.items()}}
    if isinstance(obj, list):
        inner = [result_shape(v) for v in obj]
        return {"[]": inner[0] if inner and all(x == inner[0] for x in inner) else "any"}
    if obj is None:
        return "any"
    if isinstance(obj, bool):
        return "bool"
    if isinstance(obj, int | float):
        return "num"
    return "str" if isinstance(obj, str) else "any"


def fits_shape(obj: Any, shape: Any) -> bool:
    """Whether a stored result has the structure :func:`result_shape` recorded."""
    if shape == "any" or (obj is None and isinstance(shape, str)):
        return True
    if isinstance(shape, dict) and "{}" in shape:
        keys = shape["{}"]
        return (isinstance(obj, dict) and obj.keys() == keys.keys()
                and all(fits_shape(obj[k], v) for k, v in keys.items()))
    if isinstance(shape, dict) and "[]" in shape:
        return isinstance(obj, list) and all(fits_shape(v, shape["[]"]) for v in obj)
    if shape == "bool":
        return isinstance(obj, bool)
    if shape == "num":
        return isinstance(obj, int | float) and not isinstance(obj, bool)
    return shape == "str" and isinstance(obj, str)


def _identity(manifest: dict[str, Any], jobs: Sequence[Job]) -> dict[str, Any]:
    """The manifest with the content identity of every scenario the jobs use."""
    from lkmrs_sched.core.identity import scenario_identity

    seen: dict[str, dict[str, Any]] = {}
    for job in jobs:
        if job.scenario.hash not in seen:
            seen[job.scenario.hash] = scenario_identity(job.scenario)
    return {**manifest, "identity": [seen[h] for h in sorted(seen)]}


class _Store:
    """A claimed result store, shared by the processes that run the same ensemble.

    Two locks (``flock``) make the check of the manifest and its write one atomic claim:

    * ``STORE/.claim``, held exclusively for the few milliseconds of a claim;
    * ``STORE/.lock``, held shared by every process using the store for its whole run.

    A process whose manifest equals the stored one joins (results are identical whoever
    computes them). A different manifest may replace the stored one only when the store
    holds no result and no process is using it — the leftover of a run that failed
    before storing anything does not block the corrected rerun — otherwise it is refused:
    of two processes claiming one folder for different ensembles, exactly one wins.
    The structure of a result (``STORE/result-shape.json``) is recorded when the first
    result lands; a stored result of another structure is recomputed.
    """

    def __init__(self, store: Path, manifest: dict[str, Any]):
        import fcntl

        self.store = store
        self.path = store / "manifest.json"
        self.shape_path = store / "result-shape.json"
        self.manifest = manifest
        self._fd: int | None = None
        try:
            store.mkdir(parents=True, exist_ok=True)
            claim = os.open(store / ".claim", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(str(store), ..., "a folder this user can write to",
                             exc.strerror or "unwritable") from None
        try:
            fcntl.flock(claim, fcntl.LOCK_EX)
            self._fd = os.open(store / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            self._claim(fcntl)
            self.shape = self._read_shape()
        except BaseException:
            self.close()
            raise
        finally:
            os.close(claim)  # releases the claim lock

    def _stored(self) -> list[Path]:
        return sorted(self.store.glob("realization-*.json"))

    def _claim(self, fcntl: Any) -> None:
        old = None
        if self.path.exists():
            try:
                old = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = None
        if old == self.manifest:
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            return
        if self._stored():
            if not self.path.exists():
                raise InputError(str(self.store), ..., _OTHER,
                                 "the folder holds results without a manifest")
            raise InputError(str(self.path), ..., _OTHER,
                             "the folder holds results of a different ensemble")
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(str(self.store), ..., "a folder no other lkmrs-sched run is "
                             "using (wait for that run to finish, or use another --out "
                             "folder)", "in use by another run") from None
        self.shape_path.unlink(missing_ok=True)
        write_json(self.path, self.manifest)
        fcntl.flock(self._fd, fcntl.LOCK_SH)  # safe: claims are serialised by .claim

    def _read_shape(self) -> Any:
        try:
            return json.loads(self.shape_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def load(self, job: Job) -> dict[str, Any] | None:
        """A stored result, or None (absent, damaged or of the wrong shape: recomputed)."""
        path = _result_path(self.store, job.index)
        if not path.exists():
            return None
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = None
        if (not isinstance(result, dict) or self.shape is None
                or not fits_shape(result, self.shape)):
            path.unlink(missing_ok=True)  # a damaged result is recomputed
            return None
        return result

    def save(self, job: Job, result: dict[str, Any]) -> None:
        if self.shape is None:
            self.shape = result_shape(result)
            write_json(self.shape_path, self.shape)
        write_json(_result_path(self.store, job.index), result)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the run lock
            self._fd = None


def run_ensemble(task: Callable[[Job], dict[str, Any] | Outcome], jobs: Sequence[Job], *,
                 store: Path | None = None, manifest: dict[str, Any] | None = None,
                 workers: int | None = None, dask_address: Any = None,
                 progress: bool = True, label: str = "realizations",
                 files: Path | None = None) -> list[dict[str, Any]]:
    """Run ``task`` on every job; return the results in job order.

    Parameters
    ----------
    task : callable
        Top-level (picklable) function ``Job -> dict`` of JSON-serialisable values, or
        ``Job -> Outcome`` (the dict and files to write).
    jobs : sequence of Job
    store : Path, optional
        Folder for per-realization results (resume); none: keep in memory only.
    manifest : dict, optional
        What identifies this ensemble (scenario hash, seed, task...); a store made by a
        different ensemble is refused rather than mixed.
    workers : int, optional
        Local worker processes (default: all cores); 1 runs in this process.
    dask_address : str, optional
        Scheduler address of a Dask distributed cluster, or a ``distributed.Client``;
        overrides ``workers``.
    progress : bool
        Show a progress bar (on a terminal or in a notebook only).
    label : str
        The progress bar's label.
    files : Path, optional
        Folder the :class:`Outcome` files are written under (none: not written).

    Raises
    ------
    InputError
        A malformed or unreachable Dask scheduler address, or a scheduler lost mid-run
        (finished realizations are kept).
    """
    results: dict[int, dict[str, Any]] = {}
    client = None
    if dask_address is not None:  # connect first: a bad address claims no store
        client = _dask_client(dask_address)
    claim = _Store(store, _identity(manifest or {}, jobs)) if store is not None else None
    if claim is not None:
        for job in jobs:
            stored = claim.load(job)
            if stored is not None:
                results[job.index] = stored
    todo = [_portable(job) for job in jobs if job.index not in results]
    bar = progress_bar(len(jobs), initial=len(jobs) - len(todo), desc=label, unit="run",
                       enabled=progress)

    def done(job: Job, outcome: dict[str, Any] | Outcome) -> None:
        result = _deliver(outcome, files)
        results[job.index] = result
        if claim is not None:
            claim.save(job, result)
        bar.update(1)

    try:
        if client is not None and todo:
            _run_dask(task, todo, client, done)
        elif (workers or default_workers()) <= 1 or len(todo) <= 1:
            for job in todo:
                done(job, task(job))
        elif todo:
            _run_processes(task, todo, min(workers or default_workers(), len(todo)), done)
    finally:
        bar.close()
        if claim is not None:
            claim.close()
        if client is not None and client is not dask_address:
            client.close()
    return [results[job.index] for job in jobs]


def _run_processes(task: Callable[[Job], Any], todo: list[Job], workers: int,
                   done: Callable[[Job, Any], None]) -> None:
    """Run the jobs on local worker processes; results come back to ``done`` here."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent)
    futures = {pool.submit(task, job): job for job in todo}
    try:
        for fut in as_completed(futures):
            done(futures[fut], fut.result())
    except BaseException:
        # Interrupted or failed: stop at once; finished results are already stored.
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()
        raise
    pool.shutdown()


def _dask_client(address: Any):
    """A client of the scheduler at ``address`` (or ``address`` itself, a Client).

    A malformed address, or one where nothing answers within
    :data:`DASK_CONNECT_TIMEOUT_S`, is an :class:`InputError` (checked before a Client
    exists, so no half-made client reports the failure again at exit).
    """
    import socket

    from distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    if isinstance(address, Client):
        return address
    allowed = "the address of a running Dask scheduler, e.g. tcp://HOST:8786"
    try:
        scheme, loc = parse_address(str(address))
        if scheme not in backends:
            raise ValueError(f"unknown scheme {scheme!r}; known: {', '.join(sorted(backends))}")
        host, port = parse_host_port(loc) if scheme in ("tcp", "tls") else (None, None)
    except (ValueError, TypeError) as exc:
        raise InputError("dask_address", address, allowed, f"malformed address ({exc})") from None
    if host is not None:
        try:
            socket.create_connection((host, port), timeout=DASK_CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            raise InputError("dask_address", address, allowed,
                             f"cannot connect ({exc.strerror or exc})") from None
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, ValueError) as exc:
        raise InputError("dask_address", address, allowed,
                         f"no Dask scheduler answered ({exc})") from None


def _run_dask(task: Callable[[Job], Any], todo: list[Job], client: Any,
              done: Callable[[Job, Any], None]) -> None:
    """Run the jobs on a Dask cluster; every result (and its files) comes back here."""
    from distributed import as_completed as dask_completed

    with client.as_current():
        futures = client.map(task, todo, pure=False)
        index = {f.key: job for f, job in zip(futures, todo, strict=True)}
        try:
            for fut in dask_completed(futures):
                done(index[fut.key], fut.result())
        except OSError as exc:  # the scheduler went away (CommClosedError is an OSError)
            raise InputError("dask_address", str(client.scheduler.address),
                             "a Dask scheduler that stays up",
                             f"connection lost during the run ({exc}); finished "
                             "realizations are kept, a rerun resumes") from None
        finally:
            client.cancel(futures)


def percentile_summary(values: Sequence[float], observed: float | None = None
                       ) -> dict[str, float | bool | None]:
    """Median, 5–95 % range and, with an observed value, its percentile and whether inside.

    The percentile counts ties as half (mid-rank), so a discrete statistic equal to the
    ensemble's median sits at 50 %.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    out: dict[str, float | bool | None] = {
        "median": float(np.median(x)) if len(x) else None,
        "p05": float(np.percentile(x, 5)) if len(x) else None,
        "p95": float(np.percentile(x, 95)) if len(x) else None,
    }
    if observed is not None and len(x):
        pct = 100.0 * (np.sum(x < observed) + 0.5 * np.sum(x == observed)) / len(x)
        out.update(observed=float(observed), percentile=float(pct),
                   within=bool(out["p05"] <= observed <= out["p95"]))
    return out


#: The hours a realised share is a fraction of (keys of a realization's shares record):
#: LK-MRS's and each TD project's share are of the TD hours, NT's of the MRS hours.
SHARE_DENOMINATORS = {"lkmrs_share_of_td_hours": ("td_hours",),
                      "nt_share_of_mrs_hours": ("td_hours", "nt_hours")}


def _pooled(values: Sequence[float], weights: Sequence[float]) -> float | None:
    """The share of the pooled hours: the hours-weighted mean of per-realization shares."""
    v, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    ok = np.isfinite(v) & np.isfinite(w)
    return float(np.sum(v[ok] * w[ok]) / np.sum(w[ok])) if np.sum(w[ok]) > 0 else None


def allocated_shares(scenario: Scenario) -> dict[str, float]:
    """Allocated fractions: each TD project's of the TD time, ``NT``'s of the MRS time."""
    from lkmrs_sched.sim.selector import td_shares

    return {**td_shares(scenario.selector), NT: float(scenario.selector.nt_share)}


def share_summary(records: Sequence[dict[str, Any]],
                  allocated: dict[str, float] | None = None) -> dict[str, Any]:
    """The realised shares of an ensemble: median, 5–95 % and pooled value of each.

    Parameters
    ----------
    records : sequence of dict
        One per realization, as :func:`~lkmrs_sched.sim.logstats.reported_shares` gives
        them: scalar shares (fractions) and hours (h), and ``td_hour_shares`` (each TD
        project's fraction of the TD hours).
    allocated : dict, optional
        Allocated fraction of the TD time per TD project (and ``NT``: of the MRS time),
        copied into the rows as ``allocated``.

    Returns
    -------
    dict
        Each scalar → :func:`percentile_summary` (shares also with ``pooled``: the share
        of all realizations' hours together); ``td_hour_shares`` → project → the same.
        A project with no hours in a realization counts there as a share of 0.
    """
    if not records:
        return {}
    allocated = allocated or {}
    out: dict[str, Any] = {}
    for name in (k for k in records[0] if k != "td_hour_shares"):
        row: dict[str, Any] = percentile_summary([r[name] for r in records])
        if name in SHARE_DENOMINATORS:
            row["pooled"] = _pooled([r[name] for r in records],
                                    [sum(r[d] for d in SHARE_DENOMINATORS[name])
                                     for r in records])
        out[name] = row
    if "nt_share_of_mrs_hours" in out and NT in allocated:
        out["nt_share_of_mrs_hours"]["allocated"] = allocated[NT]
    if "lkmrs_share_of_td_hours" in out and LKMRS in allocated:
        out["lkmrs_share_of_td_hours"]["allocated"] = allocated[LKMRS]
    projects = sorted({p for r in records for p in r.get("td_hour_shares", {})},
                      key=lambda p: (p != LKMRS, p))
    per: dict[str, Any] = {}
    for p in projects:
        values = [r.get("td_hour_shares", {}).get(p, 0.0) for r in records]
        per[p] = {**percentile_summary(values),
                  "pooled": _pooled(values, [r.get("td_hours", 0.0) for r in records])}
        if p in allocated:
            per[p]["allocated"] = allocated[p]
    if per:
        out["td_hour_shares"] = per
    return out


def format_shares(summary: dict[str, Any], indent: str = "  ") -> list[str]:
    """Text lines of a :func:`share_summary`: median [5–95 %], pooled, allocated."""

    def line(label: str, r: dict[str, Any], pct: bool) -> str:
        if r.get("median") is None:
            return f"{indent}{label:<30} -"
        f = ".1%" if pct else ".0f"
        text = f"{indent}{label:<30} {r['median']:7{f}} [{r['p05']:{f}}-{r['p95']:{f}}]"
        if r.get("pooled") is not None:
            text += f"  pooled {r['pooled']:.1%}"
        if r.get("allocated") is not None:
            text += f"  (allocated {r['allocated']:.1%})"
        return text

    lines = [line(f"{p} share of TD hours", r, True)
             for p, r in summary.get("td_hour_shares", {}).items()]
    if not lines and "lkmrs_share_of_td_hours" in summary:
        lines.append(line(f"{LKMRS} share of TD hours", summary["lkmrs_share_of_td_hours"], True))
    if "nt_share_of_mrs_hours" in summary:
        lines.append(line(f"{NT} share of MRS hours", summary["nt_share_of_mrs_hours"], True))
    lines += [line(k.replace("_", " ") + " (h)", r, False) for k, r in summary.items()
              if k.endswith("_hours") and "share" not in k]
    return lines
