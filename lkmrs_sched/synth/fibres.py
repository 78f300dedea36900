"""LAMOST fibres and the per-plate catalogue: which star sits on which fibre.

The instrument (:func:`draw_fibres`) has ``n_spectrographs`` × ``fibres_per_spectrograph``
(16 × 250) fibres whose throughput belongs to the hardware, so it is the same on every
plate: healthy fibres scatter log-normally around 1, a share ``weak_fibre_fraction`` is
inefficient (throughput log-uniform in 0.01–0.3) and a share ``dead_fibre_fraction``
carries almost no light (0–0.005). Each spectrograph arm also has its own efficiency.
With the default shares, about a fifth of all spectra end up with S/N < 2 (brief §5).

A plate (:func:`build_catalogue`) takes its targets and flux standards from
:mod:`lkmrs_sched.synth.population`, cuts the field into ``n_spectrographs`` azimuthal sectors
of equal object count (each LAMOST spectrograph serves one region of the focal plane),
and gives each object a fibre of its sector's spectrograph at random; ``sky_fibres``
fibres per spectrograph go to sky. The assignment is drawn from a stream keyed by the
plan ID, so a target keeps its fibre at every epoch of its plate.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.sky.footprints import PlateSet
from lkmrs_sched.synth.population import (
    KIND_STD,
    KIND_TARGET,
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
        Per sky fibre.

    Raises
    ------
    InputError
        If the plate has more objects than non-sky fibres.
    """
    n = len(ra_deg)
    n_spec, n_fib = cfg.n_spectrographs, cfg.fibres_per_spectrograph
    n_sky = cfg.sky_fibres_per_spectrograph
    if n > n_spec * (n_fib - n_sky):
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
        sky_spid.append(np.full(n_sky, s + 1, np.int16))
        sky_fib.append(perm[:n_sky])
        spid[members] = s + 1
        fiberid[members] = perm[n_sky : n_sky + len(members)]
    return spid, fiberid, np.concatenate(sky_spid), np.concatenate(sky_fib)


def build_catalogue(
    plates: PlateSet,
    cfg: PopulationConfig,
    seed: np.random.SeedSequence,
    where: str = "[population]",
) -> Catalogue:
    """Targets and flux standards of every plate, with their fibres.

    Parameters
    ----------
    plates : PlateSet
        Needs ``counts['n_target']`` and ``counts['n_flux_std']`` (Table 1).
    cfg : PopulationConfig
    seed : SeedSequence
        The synthesis seed; streams are spawned from it by cell, plate and purpose.

    Raises
    ------
    InputError
        Missing Table 1 counts, inconsistent settings, too few candidates or fibres.
    """
    for key in ("n_target", "n_flux_std"):
        if key not in plates.counts:
            raise InputError("plates", ..., f"a plate file with a {key} column (Table 1)",
                             f"missing {key}")
    cache: dict = {}
    uniq: dict[int, int] = {}
    star_parts: list[Stars] = []
    n_stars = 0
    cols: dict[str, list] = {k: [] for k in ("plate", "star", "spid", "fiberid", "kic", "epic")}
    sky: dict[str, list] = {"plate": [], "spid": [], "fiberid": []}
    for p in range(len(plates)):
        centre = (float(plates.ra_deg[p]), float(plates.dec_deg[p]))
        name = f"plate {plates.plate_name[p]}"
        objs = Stars.concat([
            select_stars(*centre, int(plates.counts["n_target"][p]), KIND_TARGET, cfg, seed,
                         cache, name),
            select_stars(*centre, int(plates.counts["n_flux_std"][p]), KIND_STD, cfg, seed,
                         cache, name),
        ])
        idx = np.empty(len(objs), np.int64)
        new = []
        for i, g in enumerate(objs.gp_id.tolist()):
            if g not in uniq:
                uniq[g] = n_stars + len(new)
                new.append(i)
            idx[i] = uniq[g]
        n_stars += len(new)
        star_parts.append(objs.take(np.array(new, np.int64)))
        key = zlib.crc32(str(plates.plan_id[p]).encode())
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
