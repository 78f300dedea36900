"""Monte Carlo ensembles on local processes or a Dask cluster, resumable.

Realization ``k`` of an ensemble with master seed ``S`` uses
``SeedSequence(S, spawn_key=(k,))`` (what ``SeedSequence(S).spawn(n)[k]`` gives), so its
result depends on (scenario, S, k) only: not on the number of workers, the backend or the
order in which realizations finish. Realization ``k`` of two scenarios shares its weather
and seeing streams (common random numbers).

Each realization's result is written to ``STORE/realization-NNNN.json`` (atomically) as
soon as it finishes; a rerun with the same manifest loads those and computes only the
missing ones, so an interrupted ensemble resumes where it stopped.
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
from tqdm import tqdm

from lkmrs_sched.core.atomic import write_json
from lkmrs_sched.core.config import Scenario
from lkmrs_sched.core.errors import InputError


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


def run_ensemble(task: Callable[[Job], dict[str, Any]], jobs: Sequence[Job], *,
                 store: Path | None = None, manifest: dict[str, Any] | None = None,
                 workers: int | None = None, dask_address: str | None = None,
                 progress: bool = True, label: str = "realizations") -> list[dict[str, Any]]:
    """Run ``task`` on every job; return the results in job order.

    Parameters
    ----------
    task : callable
        Top-level (picklable) function ``Job -> dict`` of JSON-serialisable values.
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
        Show a progress bar.
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
    todo = [job for job in jobs if job.index not in results]
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=label, unit="run",
               disable=not progress, dynamic_ncols=True)

    def done(job: Job, result: dict[str, Any]) -> None:
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
            pool = ProcessPoolExecutor(max_workers=min(workers or default_workers(), len(todo)),
                                       initializer=_die_with_parent)
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
    finally:
        bar.close()
    return [results[job.index] for job in jobs]


def _run_dask(task: Callable[[Job], dict[str, Any]], todo: list[Job], address: Any,
              done: Callable[[Job, dict[str, Any]], None]) -> None:
    from distributed import Client
    from distributed import as_completed as dask_completed

    client = address if isinstance(address, Client) else Client(address)
    try:
        futures = client.map(task, todo, pure=False)
        index = {f.key: job for f, job in zip(futures, todo, strict=True)}
        for fut in dask_completed(futures):
            done(index[fut.key], fut.result())
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
