"""The LK-MRS exposures as the synthesis sees them: rows, random streams, conditions.

The full path (:func:`lkmrs_sched.synth.synth.synthesize`) and the per-star fast path
(:func:`lkmrs_sched.synth.outcomes.plate_snr`) must give every spectrum the same S/N,
bit for bit. Both take from here the pieces that fix it: the checked LK-MRS rows of an
exposures table, the named random streams, the per-night effects, an exposure's
transparency and conditions, and the fibres' jittered throughput, put together for a
plate's exposures by :func:`exposure_block`.

Random streams
    Every stream is ``SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, SYNTH,
    purpose, *key))`` (:func:`stream_seed`), so an exposure's noise does not depend on
    which other exposures are synthesized. Purposes: :data:`NOISE` (one stream per
    exposure, key = (CRC-32 of the plan ID, lmjm)), :data:`NIGHT` (per night, key = the
    night's MJD) and :data:`ZP` (per spectrograph, key = spid).

The per-exposure stream (:func:`exposure_noise`) is drawn in a fixed order
    one uniform (cloud extinction of the exposure), one normal per spectrograph (its
    zero-point jitter), two uniforms per spectrograph (lost arms, below),
    :data:`NORMAL_ROWS` × n normals and :data:`UNIFORM_ROWS` × n uniforms for the plate's
    n objects. Row 0 of the normals is the fibre's throughput jitter;
    :func:`lkmrs_sched.synth.synth.measure` uses the others. Drawing fewer rows gives the
    same leading rows (NumPy fills arrays in order), which the fast path uses.

Lost spectrograph arms
    Not every spectrum reaches the catalogue: the paper's year-1 totals (568,372 blue and
    597,280 red spectra, brief §8) are ~2,100–2,200 per exposure against ~2,700 objects
    on a plate. A (spectrograph, exposure) unit has no spectra in either arm with chance
    ``[population] spectrograph_loss_fraction`` and, otherwise, none in the blue arm with
    chance ``blue_loss_fraction`` (:attr:`ExposureBlock.catalogued`). Synth leaves those
    rows out; the fast path must not count them either.

Engineering exposures
    :func:`with_engineering` adds the exposures that are not LK-MRS survey time but gave
    the stars epochs (``[population] engineering_exposures``, by default the packaged
    ``tables/engineering_exposures.csv``: the K1a1 May-2018 test plate and the four K02
    test plates, brief §4), with their plates.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.timeconv import iso_date_to_mjd
from lkmrs_sched.sky.footprints import PlateSet
from lkmrs_sched.synth.fibres import STATUS_DEAD, Catalogue, PlateLayouts
from lkmrs_sched.synth.snr import Conditions, SNRLike

#: Spawn-key head of every synthesis stream ("SYN").
SYNTH = 0x53594E
#: Stream purposes (second spawn-key entry after :data:`SYNTH`).
NOISE, NIGHT, ZP = 1, 2, 3
#: Normal and uniform rows per object in the per-exposure stream.
NORMAL_ROWS, UNIFORM_ROWS = 13, 7
#: Columns an exposures table needs (obslog ``exposures`` schema).
REQUIRED_COLUMNS = (
    "exposure_id", "project", "plan_id", "plate_name", "night", "start_mjd", "lmjm",
    "exptime_s", "airmass", "moon_illumination", "moon_separation_deg", "moon_altitude_deg",
    "seeing_arcsec",
)
#: Checked condition columns and their allowed ranges.
CONDITION_RANGES = (
    ("exptime_s", 0, 7200), ("airmass", 1, 40), ("seeing_arcsec", 0, 30),
    ("moon_illumination", 0, 1), ("moon_separation_deg", 0, 180),
    ("moon_altitude_deg", -90, 90),
)
#: Index of each arm in ``FibreSet.arm_efficiency``.
ARM_INDEX = {"blue": 0, "red": 1}


# --- streams --------------------------------------------------------------------------


def stream_seed(seed: np.random.SeedSequence, purpose: int, *key: int
                ) -> np.random.SeedSequence:
    """The seed of the synthesis stream named ``(purpose, *key)`` under ``seed``."""
    return np.random.SeedSequence(seed.entropy,
                                  spawn_key=(*seed.spawn_key, SYNTH, purpose, *key))


def plan_key(plan_id: str) -> int:
    """Stream key of a plate: the CRC-32 of its plan ID."""
    return zlib.crc32(str(plan_id).encode())


@dataclass(frozen=True)
class ExposureNoise:
    """Deviates of the per-exposure streams of ``n_e`` exposures of one plate.

    Attributes
    ----------
    cloud_u : ndarray, shape (n_e,)
        Uniform of the exposure's cloud extinction.
    zp_z : ndarray, shape (n_e, n_sp)
        Normal of each spectrograph's zero-point jitter.
    unit_u : ndarray, shape (n_e, n_sp, 2)
        Uniforms of each spectrograph's lost arms (both; blue only).
    zs : ndarray, shape (normal_rows, n_e, n)
        Normals per object (row 0: fibre throughput jitter).
    us : ndarray, shape (uniform_rows, n_e, n)
        Uniforms per object.
    """

    cloud_u: np.ndarray
    zp_z: np.ndarray
    unit_u: np.ndarray
    zs: np.ndarray
    us: np.ndarray


def exposure_noise(
    seed: np.random.SeedSequence,
    plan_keys: np.ndarray,
    lmjm: np.ndarray,
    n_sp: int,
    n: int,
    normal_rows: int = NORMAL_ROWS,
    uniform_rows: int = UNIFORM_ROWS,
) -> ExposureNoise:
    """Draw the per-exposure streams (module docstring) of exposures of one plate.

    Parameters
    ----------
    plan_keys, lmjm : ndarray of int
        :func:`plan_key` and local modified Julian minute of each exposure.
    n_sp, n : int
        Spectrographs and objects of the plate.
    normal_rows, uniform_rows : int
        Rows per object to draw (fewer than the full stream give its leading rows).
    """
    n_e = len(lmjm)
    cloud_u = np.empty(n_e)
    zp_z = np.empty((n_e, n_sp))
    unit_u = np.empty((n_e, n_sp, 2))
    zs = np.empty((normal_rows, n_e, n))
    us = np.empty((uniform_rows, n_e, n))
    for j in range(n_e):
        rng = np.random.default_rng(stream_seed(seed, NOISE, int(plan_keys[j]), int(lmjm[j])))
        cloud_u[j] = rng.random()
        zp_z[j] = rng.standard_normal(n_sp)
        unit_u[j] = rng.random((n_sp, 2))
        zs[:, j] = rng.standard_normal((normal_rows, n))
        us[:, j] = rng.random((uniform_rows, n))
    return ExposureNoise(cloud_u, zp_z, unit_u, zs, us)


# --- nights ---------------------------------------------------------------------------


def iso_date_mjd(iso: np.ndarray, where: str) -> np.ndarray:
    """MJD (int) of the dates ``YYYY-MM-DD…`` (str or bytes; the first 10 characters).

    Raises
    ------
    InputError
        Naming ``where`` and the first value that is not an ISO date.
    """
    out = np.empty(len(iso), np.int64)
    cache: dict[str, int] = {}
    for i, s in enumerate(iso.tolist()):
        s = s.decode() if isinstance(s, bytes) else str(s)
        if s not in cache:
            try:
                cache[s] = iso_date_to_mjd(s)
            except ValueError:
                raise InputError(where, s, "an ISO date YYYY-MM-DD") from None
        out[i] = cache[s]
    return out


def night_effects(
    night_mjd: np.ndarray, seed: np.random.SeedSequence, cfg, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per night: alternate-lamp flag and the night's cloud extinction (mag)."""
    until = None
    if cfg.alt_lamp_until.strip():
        try:
            until = iso_date_to_mjd(cfg.alt_lamp_until.strip())
        except ValueError:
            raise InputError(f"{where} alt_lamp_until", cfg.alt_lamp_until,
                             'an ISO date "YYYY-MM-DD" or ""') from None
    uniq, inv = np.unique(night_mjd, return_inverse=True)
    lamp = np.zeros(len(uniq), bool)
    cloud = np.zeros(len(uniq))
    for i, d in enumerate(uniq.tolist()):
        uu = np.random.default_rng(stream_seed(seed, NIGHT, int(d))).random(2)
        lamp[i] = until is not None and d < until and uu[0] < cfg.alt_lamp_fraction
        cloud[i] = -cfg.cloud_night_mean * np.log1p(-uu[1])
    return lamp[inv], cloud[inv]


def exposure_nights(lk: Table, seed: np.random.SeedSequence, cfg, where: str
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``lk``: its night's MJD, alternate-lamp flag and cloud extinction (mag)."""
    night_mjd = iso_date_mjd(np.asarray(lk["night"]).astype(str), f"{where}: exposures night")
    return (night_mjd, *night_effects(night_mjd, seed, cfg, f"{where}: [snr]"))


# --- exposures ------------------------------------------------------------------------


def lkmrs_exposures(exposures: Table, plates: PlateSet, where: str
                    ) -> tuple[Table, np.ndarray]:
    """The LK-MRS rows of an exposures table, checked, and each row's plate index.

    Raises
    ------
    InputError
        Missing columns (:data:`REQUIRED_COLUMNS`), a plan ID not in ``plates``, or a
        condition outside :data:`CONDITION_RANGES`.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in exposures.colnames]
    if missing:
        raise InputError(f"{where}: exposures", ..., "columns " + ", ".join(REQUIRED_COLUMNS),
                         "missing column(s) " + ", ".join(missing))
    lk = exposures[np.asarray(exposures["project"]).astype(str) == "LK-MRS"]
    plan = np.asarray(lk["plan_id"]).astype(str)
    index = {str(p): i for i, p in enumerate(plates.plan_id)}
    plate = np.empty(len(lk), np.int64)
    for i, p in enumerate(plan.tolist()):
        if p not in index:
            raise InputError(f"{where}: exposures plan_id", p,
                             "plan IDs of the plate set: " + ", ".join(plates.plan_id),
                             "unknown LK-MRS plate")
        plate[i] = index[p]
    for col, lo, hi in CONDITION_RANGES:
        v = np.asarray(lk[col], float)
        bad = ~((v >= lo) & (v <= hi))
        if np.any(bad):
            raise InputError(f"{where}: exposures {col}", float(v[bad][0]),
                             f"between {lo} and {hi}", "out of range")
    return lk, plate


def mid_exposure_mjd(lk: Table) -> np.ndarray:
    """UTC MJD at mid-exposure of every row."""
    return np.asarray(lk["start_mjd"], float) + 0.5 * np.asarray(lk["exptime_s"], float) / 86400.0


def exposure_transparency(lk: Table, e_idx: np.ndarray, cfg, cloud_night: np.ndarray | None,
                          cloud_u: np.ndarray) -> np.ndarray:
    """Cloud transmission of the exposures ``e_idx``.

    A ``transparency`` column of the log wins; else the nominal value
    (``transparency_model = "clear"``); else the cloud model: the night's extinction
    (``cloud_night``, per row of ``lk``) plus the exposure's, an exponential of mean
    ``cloud_exposure_mean`` drawn from ``cloud_u``.
    """
    if "transparency" in lk.colnames:
        return np.asarray(lk["transparency"], float)[e_idx]
    if cfg.transparency_model == "clear":
        return np.full(len(e_idx), cfg.nominal_transparency)
    a_exp = -cfg.cloud_exposure_mean * np.log1p(-cloud_u)
    return 10.0 ** (-0.4 * (cloud_night[e_idx] + a_exp))


def needs_night_clouds(lk: Table, cfg) -> bool:
    """Whether :func:`exposure_transparency` uses the nights' cloud extinction."""
    return "transparency" not in lk.colnames and cfg.transparency_model != "clear"


def exposure_conditions(lk: Table, e_idx: np.ndarray, transparency: np.ndarray) -> Conditions:
    """Conditions of the exposures ``e_idx`` as a column (shape (n_e, 1) each)."""

    def col(name: str) -> np.ndarray:
        return np.asarray(lk[name], float)[e_idx, None]

    return Conditions(
        exptime_s=col("exptime_s"), seeing_arcsec=col("seeing_arcsec"), airmass=col("airmass"),
        moon_illumination=col("moon_illumination"),
        moon_separation_deg=col("moon_separation_deg"),
        moon_altitude_deg=col("moon_altitude_deg"), transparency=transparency[:, None],
    )


# --- fibres ---------------------------------------------------------------------------


def fibre_indices(cat: Catalogue, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based spectrograph and fibre of the catalogue assignments ``rows``."""
    return cat.spid[rows].astype(np.int64) - 1, cat.fiberid[rows].astype(np.int64) - 1


def dead_fibres(cat: Catalogue, rows: np.ndarray) -> np.ndarray:
    """Whether the fibre of each assignment ``rows`` is dead (``STATUS_DEAD``)."""
    return cat.fibres.status[fibre_indices(cat, rows)] == STATUS_DEAD


def jittered_throughput(cat: Catalogue, rows: np.ndarray, z: np.ndarray,
                        jitter: float) -> np.ndarray:
    """Fibre throughput of ``rows`` times a log-normal jitter of mean 1, shape (n_e, n).

    ``z`` are the standard normals (n_e, n) (row 0 of :attr:`ExposureNoise.zs`), ``jitter``
    the scenario's ``fibre_jitter``.
    """
    spid0, fib0 = fibre_indices(cat, rows)
    return cat.fibres.throughput[spid0, fib0][None, :] * np.exp(jitter * z - 0.5 * jitter**2)


def catalogued_spectra(cat: Catalogue, rows: np.ndarray, unit_u: np.ndarray, cfg
                       ) -> dict[str, np.ndarray]:
    """Which spectra of ``rows`` reach the catalogue, per arm, shape (n_e, n) each.

    ``unit_u`` are :attr:`ExposureNoise.unit_u`; ``cfg`` the ``[population]`` section
    (``spectrograph_loss_fraction``, ``blue_loss_fraction``; module docstring).
    """
    spid0, _ = fibre_indices(cat, rows)
    lost = unit_u[..., 0] < cfg.spectrograph_loss_fraction
    lost_blue = lost | (unit_u[..., 1] < cfg.blue_loss_fraction)
    return {"blue": ~lost_blue[:, spid0], "red": ~lost[:, spid0]}


def nominal_snr(model: SNRLike, cat: Catalogue, rows: np.ndarray, cfg) -> np.ndarray:
    """Blue S/N of the objects ``rows`` on their fibres at the nominal conditions, (n,).

    The star's magnitude and Teff, its fibre's throughput and its spectrograph's blue
    efficiency, no jitter; ``cfg`` the ``[snr]`` section (its nominal conditions). How
    good a star's spectra typically are (LASP's success depends on it).
    """
    spid0, fib0 = fibre_indices(cat, rows)
    st = cat.star[rows]
    thr = cat.fibres.throughput[spid0, fib0] * cat.fibres.arm_efficiency[spid0, ARM_INDEX[
        "blue"]]
    return np.asarray(model.snr("blue", cat.stars.gmag[st], Conditions.nominal(cfg),
                                cat.stars.teff[st], thr), float)


def arm_snr(model: SNRLike, arm: str, cat: Catalogue, rows: np.ndarray, cond: Conditions,
            throughput: np.ndarray) -> np.ndarray:
    """S/N of one arm for the objects ``rows`` in the exposures of ``cond``, (n_e, n)."""
    spid0, _ = fibre_indices(cat, rows)
    st = cat.star[rows]
    eff = cat.fibres.arm_efficiency[spid0]
    return model.snr(arm, cat.stars.gmag[st][None, :], cond, cat.stars.teff[st][None, :],
                     throughput * eff[None, :, ARM_INDEX[arm]])


# --- a plate's exposures --------------------------------------------------------------


@dataclass(frozen=True)
class ExposureBlock:
    """The exposures ``e_idx`` × objects ``rows`` of one plate, up to their S/N.

    Attributes
    ----------
    noise : ExposureNoise
        The per-exposure streams' deviates.
    transparency : ndarray, shape (n_e,)
        Cloud transmission of each exposure.
    throughput : ndarray, shape (n_e, n)
        Jittered fibre throughput.
    snr : dict of str to ndarray, shape (n_e, n)
        S/N per arm asked for.
    catalogued : dict of str to ndarray of bool, shape (n_e, n)
        Per arm asked for: the spectrum is in the catalogue (its spectrograph arm was not
        lost, :func:`catalogued_spectra`). Synth writes only these rows.
    """

    noise: ExposureNoise
    transparency: np.ndarray
    throughput: np.ndarray
    snr: dict[str, np.ndarray]
    catalogued: dict[str, np.ndarray]


def exposure_block(
    model: SNRLike,
    cat: Catalogue,
    rows: np.ndarray,
    lk: Table,
    e_idx: np.ndarray,
    plan_keys: np.ndarray,
    seed: np.random.SeedSequence,
    scenario,
    cloud_night: np.ndarray | None,
    arms: tuple[str, ...] = ("blue", "red"),
    normal_rows: int = NORMAL_ROWS,
    uniform_rows: int = UNIFORM_ROWS,
) -> ExposureBlock:
    """Streams, transparency, throughput and S/N of exposures ``e_idx`` of one plate.

    Parameters
    ----------
    model : SNRLike
    cat : Catalogue
    rows : ndarray of int
        The plate's catalogue assignments (``cat.rows_of(plate)``).
    lk : Table
        The LK-MRS exposures (:func:`lkmrs_exposures`); ``e_idx`` are rows of it.
    plan_keys : ndarray of int
        :func:`plan_key` of each row of ``lk``.
    scenario : Scenario
        ``[snr]`` (transparency) and ``[population] fibre_jitter``.
    cloud_night : ndarray, optional
        Night cloud extinction per row of ``lk`` (needed by the cloud model only).
    arms : tuple of str
        Arms to compute the S/N of.
    normal_rows, uniform_rows : int
        Rows of the per-exposure streams to draw (:func:`exposure_noise`).
    """
    noise = exposure_noise(seed, plan_keys[e_idx], np.asarray(lk["lmjm"], np.int64)[e_idx],
                           cat.fibres.throughput.shape[0], len(rows), normal_rows, uniform_rows)
    tr = exposure_transparency(lk, e_idx, scenario.snr, cloud_night, noise.cloud_u)
    cond = exposure_conditions(lk, e_idx, tr)
    thr = jittered_throughput(cat, rows, noise.zs[0], scenario.population.fibre_jitter)
    kept = catalogued_spectra(cat, rows, noise.unit_u, scenario.population)
    return ExposureBlock(noise, tr, thr,
                         {arm: arm_snr(model, arm, cat, rows, cond, thr) for arm in arms},
                         {arm: kept[arm] for arm in arms})


# --- engineering exposures ------------------------------------------------------------

#: Columns of the engineering-exposures CSV (one row per exposure; conditions at
#: mid-exposure as in the obslog ``exposures`` table).
ENGINEERING_COLUMNS = (
    "plan_id", "plate_name", "twin_plate", "fibres", "night", "start_mjd", "exptime_s",
    "seeing_arcsec", "airmass", "hour_angle_h", "moon_illumination", "moon_separation_deg",
    "moon_altitude_deg",
)
#: Exposure ID of the first engineering exposure (then one up per CSV row).
ENGINEERING_ID0 = 9_000_001


def engineering_path(scenario) -> Path | None:
    """The engineering-exposures CSV of a scenario (None when the key is empty).

    A relative path is resolved beside the scenario; if no such file exists there, the
    packaged table of the same name is used (so scenarios kept in any folder find it).
    """
    value = scenario.population.engineering_exposures.strip()
    if not value:
        return None
    p = scenario.path(value)
    if not p.is_file():
        from lkmrs_sched.core.resources import TABLES

        packaged = TABLES / Path(value).name
        p = packaged if packaged.is_file() else p
    return p


def read_engineering(path: str | Path) -> Table:
    """Read and check an engineering-exposures CSV (:data:`ENGINEERING_COLUMNS`).

    Raises
    ------
    InputError
        Naming the file, line and column of a missing column or a bad value.
    """
    import csv

    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputError(f"[population] engineering_exposures {p}", ..., "a readable CSV",
                         exc.strerror or "unreadable") from None
    header = list(rows[0]) if rows else []
    missing = [c for c in ENGINEERING_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{p}: header", header, "columns " + ", ".join(ENGINEERING_COLUMNS),
                         "missing column(s) " + ", ".join(missing))
    text = ("plan_id", "plate_name", "twin_plate", "fibres", "night")
    out: dict[str, list] = {c: [] for c in ENGINEERING_COLUMNS}
    for i, row in enumerate(rows, start=2):
        for c in ENGINEERING_COLUMNS:
            raw = (row[c] or "").strip()
            if c in text:
                out[c].append(raw)
                continue
            try:
                out[c].append(float(raw))
            except ValueError:
                raise InputError(f"{p}: line {i} {c}", raw, "a number") from None
        if out["fibres"][-1] not in ("same", "own"):
            raise InputError(f"{p}: line {i} fibres", out["fibres"][-1], "'same' or 'own'")
        iso_date_mjd(np.array([out["night"][-1]]), f"{p}: line {i} night")
    t = Table({c: np.array(v, dtype=str if c in text else float) for c, v in out.items()})
    t.meta["source"] = str(p)
    return t


def engineering_plates(eng: Table, plates: PlateSet) -> tuple[PlateSet, PlateLayouts]:
    """The test plates of ``eng`` (centre and Table 1 counts of their twin survey plate).

    Returns
    -------
    PlateSet
        One plate per distinct ``plan_id`` (in first-seen order).
    PlateLayouts
        ``fibres = "same"``: the twin's configuration (its stars on its fibres);
        ``"own"``: other fibre assignments, i.e. its own target draw (the same classes
        and counts from the same candidate pools, so partly the twin's stars) on its own
        fibres.

    Raises
    ------
    InputError
        A ``twin_plate`` that is not a plate of ``plates``.
    """
    where = eng.meta.get("source", "engineering exposures")
    plan = np.asarray(eng["plan_id"]).astype(str)
    _, first = np.unique(plan, return_index=True)
    first = np.sort(first)
    twins = []
    for i in first.tolist():
        name = str(eng["twin_plate"][i])
        if name not in set(plates.plate_name.tolist()):
            raise InputError(f"{where}: twin_plate", name,
                             "a plate of the plate set: " + ", ".join(plates.plate_name),
                             "unknown plate")
        twins.append(plates.index(name))
    t = plates.subset(twins)
    test = PlateSet(plan[first], np.asarray(eng["plate_name"]).astype(str)[first], t.project,
                    t.field, t.ra_deg, t.dec_deg, dict(t.counts))
    same = np.asarray(eng["fibres"]).astype(str)[first] == "same"
    return test, PlateLayouts(np.where(same, t.plan_id, test.plan_id), ~same)


def with_engineering(exposures: Table, plates: PlateSet, scenario
                     ) -> tuple[Table, PlateSet, PlateLayouts]:
    """A log's exposures plus the engineering exposures up to its last night.

    The engineering rows (:func:`read_engineering` of :func:`engineering_path`) become
    LK-MRS rows of their test plates with ``exposure_id`` from :data:`ENGINEERING_ID0`
    and an ``engineering`` column (True; False on the log's rows). They give stars
    epochs but no LK-MRS time (the log's ledger is not touched). Columns of the log that
    the CSV lacks get zeros / empty strings (``transparency``: the nominal value).

    Returns
    -------
    exposures : Table
        The log's rows, then the engineering rows with night ≤ the log's last night.
    plates : PlateSet
        ``plates`` followed by the test plates.
    layouts : PlateLayouts
        For :func:`lkmrs_sched.synth.fibres.build_catalogue`.

    Raises
    ------
    InputError
        An unreadable CSV, unknown twin plates or exposure IDs that collide.
    """
    from lkmrs_sched.core.timeconv import mjd_to_lmjm

    path = engineering_path(scenario)
    out = exposures.copy(copy_data=False)
    out["engineering"] = np.zeros(len(out), bool)
    if path is None or len(exposures) == 0:
        return out, plates, PlateLayouts.survey(plates)
    eng = read_engineering(path)
    last = max(np.asarray(exposures["night"]).astype(str).tolist())
    eng = eng[np.asarray(eng["night"]).astype(str) <= last]
    test, layouts = engineering_plates(eng, plates)
    all_plates = PlateSet.concat([plates, test])
    ids = ENGINEERING_ID0 + np.arange(len(eng))
    if "exposure_id" in out.colnames and np.isin(ids, np.asarray(out["exposure_id"])).any():
        raise InputError(f"{path}: exposure_id", int(ids[0]),
                         f"log exposure IDs below {ENGINEERING_ID0}", "IDs collide")
    start = np.asarray(eng["start_mjd"], float)
    given = {"exposure_id": ids, "programme": "TD", "project": "LK-MRS",
             "plan_id": eng["plan_id"], "plate_name": eng["plate_name"], "night": eng["night"],
             "start_mjd": start, "lmjm": mjd_to_lmjm(start), "engineering": True,
             "transparency": scenario.snr.nominal_transparency, "time_estimated": 1,
             **{c: eng[c] for c in ENGINEERING_COLUMNS[6:]}, "exptime_s": eng["exptime_s"]}
    if "start_utc" in out.colnames:
        from lkmrs_sched.core.timeconv import iso_times

        given["start_utc"] = iso_times(start)
    add = Table()
    for c in out.colnames:
        col = np.asarray(out[c])
        value = np.broadcast_to(np.asarray(given.get(c, "" if col.dtype.kind in "SU" else 0)),
                                (len(eng),))
        # Strings keep their kind at their own width (vstack widens the column).
        add[c] = value.astype({"S": "S", "U": str}.get(col.dtype.kind, col.dtype))
    from astropy.table import vstack

    survey = PlateLayouts.survey(plates)
    both = PlateLayouts(np.concatenate([survey.assignment_ids, layouts.assignment_ids]),
                        np.concatenate([survey.own_targets, layouts.own_targets]))
    return vstack([out, add], join_type="exact", metadata_conflicts="silent"), all_plates, both
