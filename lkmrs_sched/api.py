"""The Python API: load a scenario, simulate, forecast, compare, synthesize, reduce.

Exported from the package (``import lkmrs_sched as lk; lk.simulate(...)``). Every
function takes ``str`` or :class:`~pathlib.Path` for files and folders, runs with
astropy offline (:func:`lkmrs_sched.core.offline.offline`, settings restored after),
raises :class:`~lkmrs_sched.core.errors.InputError` (one line) on bad input, and returns
typed results whose tables carry units.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lkmrs_sched.core.offline import offline

if TYPE_CHECKING:  # pragma: no cover
    from astropy.table import Table

    from lkmrs_sched.core.config import Scenario
    from lkmrs_sched.ensembles.compare import Comparison
    from lkmrs_sched.ensembles.forecast import ForecastResult
    from lkmrs_sched.reduction.pipeline import ReductionResult
    from lkmrs_sched.sim.obslog import ObservationLog
    from lkmrs_sched.synth.synth import Truth

PathLike = str | os.PathLike[str]


def _scenario(scenario: Scenario | PathLike) -> Scenario:
    from lkmrs_sched.core.config import Scenario, load_scenario

    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def _log(log: ObservationLog | PathLike | None) -> ObservationLog:
    from lkmrs_sched.sim.importers import import_table2, read_any_log
    from lkmrs_sched.sim.obslog import ObservationLog

    if log is None:
        return import_table2()
    return log if isinstance(log, ObservationLog) else read_any_log(log)


@offline()
def simulate(scenario: Scenario | PathLike, seed: int | None = None, *,
             out: PathLike | None = None) -> ObservationLog:
    """One realization of a scenario.

    Parameters
    ----------
    scenario : Scenario or path
        A scenario, or its TOML file.
    seed : int, optional
        Master seed (default: the scenario's).
    out : path, optional
        Folder to write ``observations.sqlite`` into.

    Returns
    -------
    ObservationLog
        Pointings, exposures (with ``ra_deg``, ``dec_deg``, ``night_index``), nights,
        time ledger; :meth:`~lkmrs_sched.sim.obslog.ObservationLog.to_tables` gives them
        with units.
    """
    from lkmrs_sched.sim.simulator import Simulation

    log = Simulation(_scenario(scenario), seed).run()
    if out is not None:
        log.write(Path(out) / "observations.sqlite")
    return log


@offline()
def run_forecast(scenario: Scenario | PathLike, log: ObservationLog | PathLike | None = None,
                 realizations: int = 100, seed: int = 2019, *, out: PathLike | None = None,
                 workers: int | None = None, dask: Any = None, stars: bool = True,
                 progress: bool = True) -> ForecastResult:
    """Monte Carlo forecast of a scenario from an observed state.

    Parameters
    ----------
    scenario : Scenario or path
    log : ObservationLog or path, optional
        Observed starting state (default: the paper's Table 2).
    realizations, seed : int
        Ensemble size and master seed (realization k: ``SeedSequence(seed, spawn_key=(k,))``).
    out : path, optional
        Output folder: resumable per-realization results, logs, per-star arrays, and
        ``forecast.json`` and ``stars.ecsv`` (per-star medians, with units).
    workers : int, optional
        Local processes (default: all cores).
    dask : str or distributed.Client, optional
        A Dask scheduler address or client instead of local processes.
    stars : bool
        Per-star outcomes.
    progress : bool
        A progress bar on a terminal or in a notebook.

    Returns
    -------
    ForecastResult
        ``summary`` (``to_dict()``: the content of ``forecast.json``), ``to_table()``
        (one row per plate), ``format()`` (the text table).
    """
    from lkmrs_sched.core.atomic import write_json, write_table
    from lkmrs_sched.ensembles import forecast

    result = forecast.run_forecast(_scenario(scenario), _log(log), realizations, seed,
                                   out=out, workers=workers, dask_address=dask, stars=stars,
                                   progress=progress)
    if out is not None:
        folder = Path(out)
        write_json(folder / "forecast.json", result.to_dict())
        table = forecast.star_table(folder, result.summary["realizations"])
        if table is not None:
            write_table(table, folder / "stars.ecsv")
    return result


@offline()
def compare(scenarios: list[Scenario | PathLike] | dict[str, Scenario | PathLike],
            log: ObservationLog | PathLike | None = None, realizations: int = 100,
            seed: int = 2019, *, out: PathLike | None = None, workers: int | None = None,
            dask: Any = None, stars: bool = True, progress: bool = True) -> Comparison:
    """What-if scenarios against the first, paired by common random numbers.

    Parameters
    ----------
    scenarios : list or dict
        Scenarios or their files, the baseline first (a dict gives their names; a list
        is named by file stem or scenario name).
    log, realizations, seed, out, workers, dask, stars, progress
        As for :func:`run_forecast` (each scenario's ensemble goes to ``out/NAME``).

    Returns
    -------
    Comparison
        Totals per scenario and paired differences (``to_dict()``, ``to_table()``).
    """
    from lkmrs_sched.ensembles.compare import compare as run_compare
    from lkmrs_sched.ensembles.compare import unique_names

    if not isinstance(scenarios, dict):
        loaded = [_scenario(s) for s in scenarios]
        names = unique_names([s if isinstance(s, str | os.PathLike) else f"{sc.name}.toml"
                              for s, sc in zip(scenarios, loaded, strict=True)])
        scenarios = dict(zip(names, loaded, strict=True))
    return run_compare({k: _scenario(v) for k, v in scenarios.items()}, _log(log),
                       realizations, seed, out=Path(out) if out is not None else None,
                       workers=workers, dask_address=dask, stars=stars, progress=progress)


class Synthetic(NamedTuple):
    """Synthetic per-exposure measurements and the truth behind them.

    Attributes
    ----------
    measured : Table
        One row per spectrum and arm in the LAMOST DR8 MRS layout, with units.
    truth : Truth
        True stars, spectra and exposures (``truth.stars`` ...).
    """

    measured: Table
    truth: Truth


def _log_scenario(log: ObservationLog) -> Scenario:
    """The scenario stored in a log's provenance (the defaults if none)."""
    from lkmrs_sched.core.config import default_scenario, parse_scenario
    from lkmrs_sched.core.errors import InputError
    from lkmrs_sched.core.resources import SCENARIOS

    text = log.info.get("scenario_text", "")
    if not text:
        return default_scenario()
    src = log.info.get("source", "<defaults>")
    if not src.startswith("<") and not Path(src).is_file():
        src = str(SCENARIOS / Path(src).name)
    try:
        return parse_scenario(tomllib.loads(text), source=src, text=text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError("log info scenario_text", ..., "valid TOML",
                         f"TOML syntax error ({exc})") from None


@offline()
def synthesize(log: ObservationLog | PathLike, scenario: Scenario | PathLike | None = None,
               seed: int | None = None, *, out: PathLike | None = None) -> Synthetic:
    """Synthetic LAMOST MRS per-exposure measurements of a log's LK-MRS exposures.

    Parameters
    ----------
    log : ObservationLog or path
        A log, an ``observations.sqlite`` file or a ``simulate`` output folder.
    scenario : Scenario or path, optional
        Default: the scenario stored in the log.
    seed : int, optional
        Default: the log's seed, else the scenario's.
    out : path, optional
        Table file to write (``.fits``, ``.vot``/``.xml``, ``.ecsv``); the
        truth tables go beside it (``NAME_truth_stars.EXT`` ...).
    """
    from lkmrs_sched.sim.obslog import ObservationLog
    from lkmrs_sched.sky.footprints import load_plates
    from lkmrs_sched.synth.synth import synthesize as run_synth
    from lkmrs_sched.synth.synth import write_table

    if not isinstance(log, ObservationLog):
        p = Path(log)
        log = ObservationLog.read(p / "observations.sqlite" if p.is_dir() else p)
    sc = _scenario(scenario) if scenario is not None else _log_scenario(log)
    if seed is None:
        text = log.info.get("seed", "")
        seed = int(text) if text.isdigit() else sc.seed
    plates = load_plates(sc.path(sc.selector.lkmrs_footprints))
    nights = log.nights
    lunar = ({str(n): int(d) for n, d in zip(nights["night"], nights["lunar_day"], strict=True)}
             if len(nights) else None)
    measured, truth = run_synth(log.exposures, plates, sc, seed, lunar_days=lunar)
    if out is not None:
        target = Path(out)
        write_table(measured, target)
        for name in ("stars", "spectra", "exposures"):
            write_table(getattr(truth, name),
                        target.with_name(f"{target.stem}_truth_{name}{target.suffix}"))
    return Synthetic(measured, truth)


@offline()
def reduce(exposures: Table | PathLike | list[PathLike], *, out: PathLike | None = None,
           column_map: Any = None, strict: bool = False, figures: bool = False,
           **options: Any) -> ReductionResult:
    """Reduce LAMOST MRS per-exposure catalogues (real DR8 or synthetic).

    Parameters
    ----------
    exposures : Table, path or list of paths
        An in-memory table (e.g. ``synthesize(...).measured``) or FITS/ECSV/CSV/Parquet
        files in the DR8 layout.
    out : path, optional
        Folder for the products (``catalog.fits/.ecsv/.csv``, ``uncertainty.json`` ...).
    column_map : mapping, optional
        Catalogue column name → ours.
    strict : bool
        Stop at the first bad row instead of excluding and reporting it.
    figures : bool
        Also write the figures into ``out``.
    **options
        :class:`~lkmrs_sched.reduction.pipeline.ReductionConfig` fields (``rv_column``,
        ``zero_point``, ``iterations``, ``min_presence`` ...).

    Returns
    -------
    ReductionResult
        ``catalogue`` (Table 3, with units), ``precision`` (Eq. 4 fits), ``variables``,
        ``zero_points``, ``summary()``.
    """
    from astropy.table import Table

    from lkmrs_sched.reduction.outputs import write_outputs
    from lkmrs_sched.reduction.pipeline import ReductionConfig, reduce_files, reduce_spectra
    from lkmrs_sched.reduction.readers import spectra_from_table

    config = ReductionConfig(**options)
    config.check()
    if isinstance(exposures, Table):
        spectra = spectra_from_table(exposures, column_map=column_map,
                                     rv_column=config.rv_column,
                                     rv_error_column=config.rv_error_column, strict=strict)
        result = reduce_spectra(spectra, config)
    else:
        paths = exposures if isinstance(exposures, list | tuple) else [exposures]
        result = reduce_files([str(p) for p in paths], config, column_map=column_map,
                              strict=strict)
    if out is not None:
        write_outputs(result, out, figures=figures)
    return result
