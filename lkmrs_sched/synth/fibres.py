"""LAMOST fibres and the per-plate catalogue: which star sits on which fibre.

The instrument (:func:`draw_fibres`) has ``n_spectrographs`` × ``fibres_per_spectrograph``
(16 × 250) fibres whose throughput belongs to the hardware, so it is the same on every
plate: healthy fibres scatter log-normally around 1, a share ``weak_fibre_fraction`` is
inefficient (throughput log-uniform in 0.01–0.3) and a share ``dead_fibre_fraction``
carries almost no light (0–0.005). Each spectrograph arm also has its own efficiency.
With the default shares, about a fifth of all spectra end up with S/N < 2 (brief §5).

A plate (:func:`build_catalogue`) takes its targets and flux standards from
:mod:`lkmrs_sched.synth.population`, class by class with Table 1's counts (KO, KNO,
not in KIC/EPIC; flux standards among the KNO), cuts the field into ``n_spectrographs``
azimuthal sectors of equal object count (each LAMOST spectrograph serves one region of the
focal plane), and gives each object a fibre of its sector's spectrograph at random; every
other fibre of the spectrograph goes to sky (Table 1: 4000 fibres, n_total objects, the
rest sky), at least ``sky_fibres_per_spectrograph`` of them. The assignment is drawn from
a stream keyed by the plan ID (or by the plan ID given in ``assignment_ids``: a test
plate that reused a survey plate's configuration), so a target keeps its fibre at every
epoch of its plate.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.sky.footprints import PlateSet
from lkmrs_sched.synth.population import (
    POOL_GAIA,
    POOL_KNO,
    POOL_KO,
    POOL_STD,
    PopulationConfig,
    Stars,
    select_stars,
)

#: Spawn-key heads of the fibre streams ("FIB", "ASN").
FIBRES = 0x464942
ASSIGN = 0x41534E
STATUS_OK, STATUS_WEAK, STATUS_DEAD = 0, 1, 2


@dataclass(frozen=True)
class FibreSet:
    """Throughput of every fibre, indexed ``[spid − 1, fiberid − 1]``.

    Attributes
    ----------
    throughput : ndarray, shape (n_spec, n_fibre)
        Fibre transmission relative to a healthy fibre.
    status : ndarray of int8, same shape
        0 healthy, 1 inefficient, 2 dead.
    arm_efficiency : ndarray, shape (n_spec, 2)
        Blue and red efficiency of each spectrograph relative to nominal.
    """

    throughput: np.ndarray
    status: np.ndarray
    arm_efficiency: np.ndarray


def draw_fibres(cfg: PopulationConfig, seed: np.random.SeedSequence) -> FibreSet:
    """The instrument's fibres (one stream, independent of the plates)."""
    rng = np.random.default_rng(
        np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, FIBRES))
    )
    shape = (cfg.n_spectrographs, cfg.fibres_per_spectrograph)
    uu = rng.random((3, *shape))
    z = rng.standard_normal(shape)
    status = np.where(
        uu[0] < cfg.dead_fibre_fraction,
        STATUS_DEAD,
        np.where(uu[0] < cfg.dead_fibre_fraction + cfg.weak_fibre_fraction, STATUS_WEAK, STATUS_OK),
    ).astype(np.int8)
    healthy = np.exp(cfg.fibre_throughput_sigma * z - 0.5 * cfg.fibre_throughput_sigma**2)
    weak = 0.01 * 30.0 ** uu[1]
    dead = 0.005 * uu[2]
    thr = np.select([status == STATUS_DEAD, status == STATUS_WEAK], [dead, weak], healthy)
    arm = np.exp(cfg.spectrograph_sigma * rng.standard_normal((cfg.n_spectrographs, 2)))
    return FibreSet(thr, status, arm)


@dataclass(frozen=True)
class PlateLayouts:
    """How each plate of a plate set chose its objects and fibres (default: its own).

    Attributes
    ----------
    assignment_ids : ndarray of str
        Per plate, the plan ID whose fibre-assignment stream it uses: its own, or a survey
        plate's whose configuration it reused (then it also has that plate's stars).
    own_targets : ndarray of bool
        Per plate, whether it drew its own targets from the candidate pools
        (:func:`lkmrs_sched.synth.population.own_rank`) instead of the survey selection
        shared by all plates (a test plate with other fibre assignments).
    """

    assignment_ids: np.ndarray
    own_targets: np.ndarray

    @classmethod
    def survey(cls, plates: PlateSet) -> PlateLayouts:
        """Every plate its own fibres and the shared selection."""
        return cls(np.asarray(plates.plan_id).copy(), np.zeros(len(plates), bool))


@dataclass(frozen=True)
class Catalogue:
    """Every object on every plate: unique stars plus one row per (plate, object).

    Attributes
    ----------
    stars : Stars
        Unique stars (targets and flux standards of all plates).
    plate : ndarray of int
        Plate index (into the PlateSet) of each assignment.
    star : ndarray of int
        Star index (into ``stars``) of each assignment.
    spid, fiberid : ndarray of int16
        Spectrograph 1–16 and fibre 1–250 of each assignment.
    kic_id, epic_id : ndarray of int64
        The assignment's KIC ID (Kepler-field plates) or EPIC ID (K2 plates), 0 if none.
    fibres : FibreSet
        The instrument's fibres.
    sky_plate, sky_spid, sky_fiberid : ndarray
        Fibres given to sky on each plate.
    """

    stars: Stars
    plate: np.ndarray
    star: np.ndarray
    spid: np.ndarray
    fiberid: np.ndarray
    kic_id: np.ndarray
    epic_id: np.ndarray
    fibres: FibreSet
    sky_plate: np.ndarray
    sky_spid: np.ndarray
    sky_fiberid: np.ndarray

    def rows_of(self, plate: int) -> np.ndarray:
        """Assignment indices of one plate (sorted by spectrograph and fibre)."""
        return np.flatnonzero(self.plate == plate)


def assign_fibres(
    ra_deg: np.ndarray,
    dec_deg: np.ndarray,
    centre: tuple[float, float],
    cfg: PopulationConfig,
    rng: np.random.Generator,
    where: str = "plate",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spectrograph and fibre of each object, and the sky fibres.

    Returns
    -------
    spid, fiberid : ndarray of int16
        Per object (1-based).
    sky_spid, sky_fiberid : ndarray of int16
        Per sky fibre: every fibre without an object.

    Raises
    ------
    InputError
        If a spectrograph would keep fewer than ``sky_fibres_per_spectrograph`` sky fibres.
    """
    n = len(ra_deg)
    n_spec, n_fib = cfg.n_spectrographs, cfg.fibres_per_spectrograph
    n_sky = cfg.sky_fibres_per_spectrograph
    if -(-n // n_spec) > n_fib - n_sky:
        raise InputError(
            f"{where} n_target + n_flux_std", n,
            f"at most {n_spec * (n_fib - n_sky)} (fibres minus sky fibres)", "too many objects",
        )
    x = (np.asarray(ra_deg) - centre[0] + 180.0) % 360.0 - 180.0
    x = x * np.cos(np.radians(centre[1]))
    y = np.asarray(dec_deg) - centre[1]
    order = np.argsort(np.arctan2(y, x), kind="stable")
    spid = np.empty(n, np.int16)
    fiberid = np.empty(n, np.int16)
    sky_spid, sky_fib = [], []
    for s, members in enumerate(np.array_split(order, n_spec)):
        perm = rng.permutation(n_fib).astype(np.int16) + 1
        spid[members] = s + 1
        fiberid[members] = perm[:len(members)]
        sky = np.sort(perm[len(members):])
        sky_spid.append(np.full(len(sky), s + 1, np.int16))
        sky_fib.append(sky)
    return spid, fiberid, np.concatenate(sky_spid), np.concatenate(sky_fib)


def class_counts(plates: PlateSet, p: int, where: str = "plates") -> dict[int, int]:
    """Objects of each candidate pool on plate ``p`` from its Table 1 counts.

    KO = ``n_kepler_observed``, KNO targets = ``n_kepler_not_observed`` − ``n_flux_std``,
    Gaia fill = ``n_not_in_kic_epic``, standards = ``n_flux_std``; a plate file without
    the class columns gives every target to the KNO pool.

    Raises
    ------
    InputError
        Missing ``n_target``/``n_flux_std``, or class counts that do not add up to
        ``n_target + n_flux_std`` (or leave fewer KNO than flux standards).
    """
    c = plates.counts
    for key in ("n_target", "n_flux_std"):
        if key not in c:
            raise InputError(where, ..., f"a plate file with a {key} column (Table 1)",
                             f"missing {key}")
    n_t, n_s = int(c["n_target"][p]), int(c["n_flux_std"][p])
    keys = ("n_kepler_observed", "n_kepler_not_observed", "n_not_in_kic_epic")
    if not all(k in c for k in keys):
        return {POOL_KO: 0, POOL_KNO: n_t, POOL_GAIA: 0, POOL_STD: n_s}
    ko, kno, gaia = (int(c[k][p]) for k in keys)
    if ko + kno + gaia != n_t + n_s or kno < n_s:
        raise InputError(f"{where}: plate {plates.plate_name[p]} n_kepler_observed",
                         [ko, kno, gaia], f"KO + KNO + not-in-KIC/EPIC = n_target + n_flux_std"
                         f" = {n_t + n_s}, KNO >= n_flux_std", "Table 1 counts disagree")
    return {POOL_KO: ko, POOL_KNO: kno - n_s, POOL_GAIA: gaia, POOL_STD: n_s}


def _plate_objects(plates: PlateSet, p: int, cfg: PopulationConfig,
                   seed: np.random.SeedSequence, cache: dict, own: bool) -> Stars:
    """The objects of plate ``p``, pool by pool (KO, KNO, Gaia fill, flux standards)."""
    centre = (float(plates.ra_deg[p]), float(plates.dec_deg[p]))
    name = f"plate {plates.plate_name[p]}"
    counts = class_counts(plates, p)
    key = zlib.crc32(str(plates.plan_id[p]).encode()) if own else None
    return Stars.concat([select_stars(*centre, counts[pool], pool, cfg, seed, cache, name, key)
                         for pool in (POOL_KO, POOL_KNO, POOL_GAIA, POOL_STD)])


def _star_index(gp_id: np.ndarray, uniq: dict[int, int], n_stars: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Star index of each object (``uniq`` maps gp_id to it, updated) and the new ones."""
    idx = np.empty(len(gp_id), np.int64)
    new = []
    for i, g in enumerate(gp_id.tolist()):
        if g not in uniq:
            uniq[g] = n_stars + len(new)
            new.append(i)
        idx[i] = uniq[g]
    return idx, np.array(new, np.int64)


def build_catalogue(
    plates: PlateSet,
    cfg: PopulationConfig,
    seed: np.random.SeedSequence,
    where: str = "[population]",
    layouts: PlateLayouts | None = None,
) -> Catalogue:
    """Targets and flux standards of every plate, with their fibres.

    Parameters
    ----------
    plates : PlateSet
        Needs ``counts['n_target']`` and ``counts['n_flux_std']`` (Table 1), and the
        class counts ``n_kepler_observed, n_kepler_not_observed, n_not_in_kic_epic``
        (without them every target is a KNO star).
    cfg : PopulationConfig
    seed : SeedSequence
        The synthesis seed; streams are spawned from it by cell, plate and purpose.
    layouts : PlateLayouts, optional
        Test plates that reused a survey plate's configuration or drew their own targets
        (:func:`lkmrs_sched.synth.exposures.with_engineering`); default
        :meth:`PlateLayouts.survey`.

    Raises
    ------
    InputError
        Missing Table 1 counts, inconsistent settings, too few candidates or fibres.
    """
    for p in range(len(plates)):
        class_counts(plates, p, where)
    layouts = layouts or PlateLayouts.survey(plates)
    cache: dict = {}
    uniq: dict[int, int] = {}
    star_parts: list[Stars] = []
    n_stars = 0
    cols: dict[str, list] = {k: [] for k in ("plate", "star", "spid", "fiberid", "kic", "epic")}
    sky: dict[str, list] = {"plate": [], "spid": [], "fiberid": []}
    for p in range(len(plates)):
        centre = (float(plates.ra_deg[p]), float(plates.dec_deg[p]))
        name = f"plate {plates.plate_name[p]}"
        objs = _plate_objects(plates, p, cfg, seed, cache, bool(layouts.own_targets[p]))
        idx, new = _star_index(objs.gp_id, uniq, n_stars)
        n_stars += len(new)
        star_parts.append(objs.take(new))
        key = zlib.crc32(str(layouts.assignment_ids[p]).encode())
        rng = np.random.default_rng(
            np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, ASSIGN, key))
        )
        spid, fib, s_spid, s_fib = assign_fibres(objs.ra_deg, objs.dec_deg, centre, cfg, rng,
                                                 name)
        kepler = str(plates.field[p]).lower().startswith("kepler")
        order = np.lexsort((fib, spid))
        cols["plate"].append(np.full(len(objs), p))
        cols["star"].append(idx[order])
        cols["spid"].append(spid[order])
        cols["fiberid"].append(fib[order])
        cols["kic"].append(objs.kic_id[order] if kepler else np.zeros(len(objs), np.int64))
        cols["epic"].append(np.zeros(len(objs), np.int64) if kepler else objs.epic_id[order])
        sky["plate"].append(np.full(len(s_spid), p))
        sky["spid"].append(s_spid)
        sky["fiberid"].append(s_fib)
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    return Catalogue(
        stars=Stars.concat(star_parts),
        plate=cat["plate"],
        star=cat["star"],
        spid=cat["spid"],
        fiberid=cat["fiberid"],
        kic_id=cat["kic"].astype(np.int64),
        epic_id=cat["epic"].astype(np.int64),
        fibres=draw_fibres(cfg, seed),
        sky_plate=np.concatenate(sky["plate"]),
        sky_spid=np.concatenate(sky["spid"]),
        sky_fiberid=np.concatenate(sky["fiberid"]),
    )
