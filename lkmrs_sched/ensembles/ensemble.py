"""Monte Carlo ensembles on local processes or a Dask cluster, resumable.

Realization ``k`` of an ensemble with master seed ``S`` uses
``SeedSequence(S, spawn_key=(k,))`` (what ``SeedSequence(S).spawn(n)[k]`` gives), so its
result depends on (scenario, S, k) only: not on the number of workers, the backend or the
order in which realizations finish. Realization ``k`` of two scenarios shares its weather
and seeing streams (common random numbers).

Each realization's result is written to ``STORE/realization-NNNN.json`` (atomically) as
soon as it finishes; a rerun with the same manifest loads those and computes only the
missing ones, so an interrupted ensemble resumes where it stopped.

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


def _check_manifest(store: Path, manifest: dict[str, Any]) -> None:
    path = store / "manifest.json"
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if old != manifest:
            raise InputError(str(path), ..., "the same scenario, seed and task as the run that "
                             "made this folder (or another --out folder)",
                             "the folder holds results of a different ensemble")
    else:
        write_json(path, manifest)


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
    if store is not None:
        store.mkdir(parents=True, exist_ok=True)
        _check_manifest(store, manifest or {})
        for job in jobs:
            path = _result_path(store, job.index)
            if path.exists():
                try:
                    results[job.index] = json.loads(path.read_text())
                except (OSError, json.JSONDecodeError):
                    path.unlink()  # a damaged result is recomputed
    todo = [_portable(job) for job in jobs if job.index not in results]
    bar = progress_bar(len(jobs), initial=len(jobs) - len(todo), desc=label, unit="run",
                       enabled=progress)

    def done(job: Job, outcome: dict[str, Any] | Outcome) -> None:
        result = _deliver(outcome, files)
        results[job.index] = result
        if store is not None:
            write_json(_result_path(store, job.index), result)
        bar.update(1)

    try:
        if dask_address is not None and todo:
            _run_dask(task, todo, dask_address, done)
        elif (workers or default_workers()) <= 1 or len(todo) <= 1:
            for job in todo:
                done(job, task(job))
        elif todo:
            _run_processes(task, todo, min(workers or default_workers(), len(todo)), done)
    finally:
        bar.close()
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


def _run_dask(task: Callable[[Job], Any], todo: list[Job], address: Any,
              done: Callable[[Job, Any], None]) -> None:
    """Run the jobs on a Dask cluster; every result (and its files) comes back here."""
    from distributed import as_completed as dask_completed

    client = _dask_client(address)
    try:
        with client.as_current():
            futures = client.map(task, todo, pure=False)
            index = {f.key: job for f, job in zip(futures, todo, strict=True)}
            try:
                for fut in dask_completed(futures):
                    done(index[fut.key], fut.result())
            except OSError as exc:  # the scheduler went away (CommClosedError is an OSError)
                raise InputError("dask_address", address, "a Dask scheduler that stays up",
                                 f"connection lost during the run ({exc}); finished "
                                 "realizations are kept, a rerun resumes") from None
            finally:
                client.cancel(futures)
    finally:
        if client is not address:
            client.close()


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
