"""Fake LAMOST MRS per-exposure catalogues with known truth (tests, benchmarks, examples).

The tables have the real DR8 column layout (one row per spectrum and arm) so they go
through the same reader as real data. Measurement noise follows the Table 4 law
(:func:`~lkmrs_sched.core.precision.published_laws`); RV offsets per
(plate, spectrograph, exposure), the alternate-lamp shift, outliers and binaries can be
injected. This module is not the survey simulator (which writes the same layout from a
simulated observing log); it only needs NumPy and a seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.table import Table

from lkmrs_sched.core.geometry import designation
from lkmrs_sched.core.precision import PrecisionLaw, published_laws
from lkmrs_sched.core.timeconv import lmjm_to_mjd

_BASE_MJD = 58390  # 2018 September
#: Table 4 was fitted up to S/N 300; above it the noise is held at σ(300).
LAW_SNR_MAX = 300.0


@dataclass
class FakeCatalogue:
    """A fake catalogue and the truth behind it.

    Attributes
    ----------
    columns : dict of str to ndarray
        DR8-layout columns, one row per spectrum and arm (blue rows first).
    stars : astropy.table.Table
        Per star: ``uid``, ``plate``, ``spid``, true ``teff``, ``logg``, ``feh``, ``rv``,
        ``binary_k`` (km/s semi-amplitude, 0 for single stars), ``snr`` (median S/N).
    offsets : astropy.table.Table
        Per (plate, spectrograph, exposure): ``planid``, ``spid``, ``lmjm``, injected
        ``offset`` (km/s), ``alt_lamp``.
    spectra : astropy.table.Table
        Per spectrum: ``obsid``, ``star``, ``exposure`` (global index into ``offsets``'
        exposures), ``snr``, outlier flags ``outlier_teff`` …, true ``rv`` including the
        binary orbit.
    """

    columns: dict[str, np.ndarray]
    stars: Table
    offsets: Table
    spectra: Table

    def table(self) -> Table:
        """The catalogue as an astropy Table."""
        return Table(self.columns, copy=False)

    def arrow(self) -> Any:
        """The catalogue as a pyarrow Table."""
        import pyarrow as pa

        return pa.table(self.columns)


def _planid(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """``TD`` + RA hhmmss + N/S + Dec ddmmss + ``K01`` (truncated; one per plate)."""
    names = designation(ra, dec)
    return np.array([f"TD{x[1:7]}{'N' if x[10] == '+' else 'S'}{x[11:17]}K01" for x in names])


def fake_catalogue(
    *,
    seed: int = 0,
    n_plates: int = 1,
    first_plate: int = 0,
    n_spid: int = 16,
    stars_per_spid: int = 100,
    n_exposures: int = 8,
    snr_range: tuple[float, float] = (5.0, 200.0),
    snr_epoch_scatter: float = 0.25,
    exposure_scatter: float = 0.2,
    lasp_min_snr: float = 10.0,
    rv_offset_sigma: float = 0.0,
    lamp_exposures: int = 0,
    lamp_shift: float = 6.5,
    outlier_fraction: float = 0.0,
    outlier_range: tuple[float, float] = (8.0, 30.0),
    rv_outlier_fraction: float | None = None,
    outlier_model: str = "uniform",
    outlier_scale: float = 10.0,
    binary_fraction: float = 0.0,
    binary_k_range: tuple[float, float] = (5.0, 50.0),
    presence: float = 1.0,
    laws: dict[str, PrecisionLaw] | None = None,
    both_arms: bool = True,
) -> FakeCatalogue:
    """Make a fake per-exposure catalogue.

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.default_rng`` stream (no global state).
    n_plates, n_spid, stars_per_spid, n_exposures : int
        Survey size: every star sits on one fibre of one spectrograph of one plate.
    first_plate : int
        Number of the first plate, so that catalogues made in pieces (one call per
        plate) have distinct plates, stars, exposures and obsids.
    snr_range : (float, float)
        Range of the stars' median blue S/N (log-uniform).
    snr_epoch_scatter, exposure_scatter : float
        Log-normal scatter of S/N between a star's epochs and between exposures (dex-e).
    lasp_min_snr : float
        LASP parameters only for blue S/N at or above this.
    rv_offset_sigma : float
        σ of the injected per-(plate, spectrograph, exposure) RV offsets, km/s.
    lamp_exposures, lamp_shift : int, float
        The first this many exposures of each plate read ``lamp_shift`` km/s too high.
    outlier_fraction, rv_outlier_fraction : float
        Share of measurements (independently per parameter and epoch) that are outliers;
        for RVs ``rv_outlier_fraction`` (default ``outlier_fraction``).
    outlier_model, outlier_range, outlier_scale
        ``"uniform"``: an outlier gets an extra error uniform in ``outlier_range`` × σ
        with a random sign; ``"gaussian"``: its whole error is ``outlier_scale`` × σ wide
        (synth's model).
    binary_fraction : float
        Share of stars with a sinusoidal RV orbit of semi-amplitude in ``binary_k_range``.
    presence : float
        Chance that a star has a spectrum in a given exposure.
    laws : dict, optional
        σ(S/N) per parameter (default: Table 4).
    both_arms : bool
        Emit red-arm rows too (the real layout); else blue rows only.

    Returns
    -------
    FakeCatalogue
    """
    rng = np.random.default_rng(seed)
    size = _Size(n_plates, first_plate, n_spid, stars_per_spid, n_exposures)
    tails = _Tails.of(outlier_fraction, outlier_range, rv_outlier_fraction, outlier_model,
                      outlier_scale)
    # The draws below are made in this order from the one stream.
    st = _fake_stars(rng, size, snr_range, binary_fraction, binary_k_range)
    ex = _fake_exposures(rng, size, exposure_scatter, lamp_exposures, rv_offset_sigma)
    sp = _fake_spectra(rng, size, st, ex, presence, snr_epoch_scatter)
    ms = _fake_measurements(rng, laws or published_laws(), st, ex, sp, tails, lamp_shift)
    cols = _dr8_columns(size, st, ex, sp, ms, lasp_min_snr, both_arms)
    return FakeCatalogue(cols, *_truth_tables(size, st, ex, sp, ms))


def _truth_tables(size: _Size, st: _FakeStars, ex: _FakeExposures, sp: _FakeSpectra,
                  ms: _FakeMeasurements) -> tuple[Table, Table, Table]:
    """:class:`FakeCatalogue`'s ``stars``, ``offsets`` and ``spectra`` tables."""
    n_spid = size.n_spid
    stars = Table()
    stars["uid"] = st.uid
    stars["plate"] = st.plate
    stars["spid"] = st.spid
    stars["teff"], stars["logg"], stars["feh"], stars["rv"] = st.teff, st.logg, st.feh, st.rv0
    stars["binary_k"] = st.k_amp
    stars["snr"] = st.snr

    n_exp = size.n_plates * size.n_exposures
    offsets = Table()
    offsets["planid"] = np.repeat(st.planids[ex.plate], n_spid)
    offsets["exposure"] = np.repeat(np.arange(n_exp), n_spid)
    offsets["lmjm"] = np.repeat(ex.lmjm, n_spid)
    offsets["spid"] = np.tile(np.arange(1, n_spid + 1), n_exp)
    offsets["offset"] = ex.unit_offset.ravel()
    offsets["alt_lamp"] = np.repeat(ex.alt, n_spid)

    spectra = Table()
    spectra["obsid"] = sp.obsid
    spectra["star"] = sp.star
    spectra["exposure"] = sp.exposure
    spectra["snr"] = sp.snr
    spectra["rv"] = sp.rv_true
    for name, out in ms.outliers.items():
        spectra[f"outlier_{name}"] = out
    return stars, offsets, spectra


@dataclass(frozen=True)
class _Size:
    """Survey size of a fake catalogue (see :func:`fake_catalogue`)."""

    n_plates: int
    first_plate: int
    n_spid: int
    stars_per_spid: int
    n_exposures: int

    @property
    def per_plate(self) -> int:
        return self.n_spid * self.stars_per_spid


@dataclass(frozen=True)
class _FakeStars:
    """Per star: place (plate, spectrograph, fibre, position), truth and IDs."""

    plate: np.ndarray
    spid: np.ndarray
    fiber: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    planids: np.ndarray  # per plate
    teff: np.ndarray
    logg: np.ndarray
    feh: np.ndarray
    rv0: np.ndarray
    snr: np.ndarray
    k_amp: np.ndarray
    period: np.ndarray
    phase: np.ndarray
    uid: np.ndarray


@dataclass(frozen=True)
class _FakeExposures:
    """Per exposure: plate, lmjm, S/N factor, lamp flag; RV offset per spectrograph."""

    plate: np.ndarray
    lmjm: np.ndarray
    factor: np.ndarray
    alt: np.ndarray
    unit_offset: np.ndarray  # (n_exp, n_spid)


@dataclass(frozen=True)
class _FakeSpectra:
    """Per spectrum: star, exposure, S/N per arm and the true RV."""

    obsid: np.ndarray
    star: np.ndarray
    exposure: np.ndarray
    snr: np.ndarray
    snr_r: np.ndarray
    rv_true: np.ndarray


@dataclass(frozen=True)
class _Tails:
    """Outlier model of the fake measurements (see :func:`fake_catalogue`)."""

    fraction: float
    range: tuple[float, float]
    rv_fraction: float
    model: str
    scale: float

    @classmethod
    def of(cls, fraction: float, range_: tuple[float, float], rv_fraction: float | None,
           model: str, scale: float) -> _Tails:
        if model not in ("uniform", "gaussian"):
            raise ValueError(f"outlier_model {model!r}: 'uniform' or 'gaussian'")
        return cls(fraction, range_, fraction if rv_fraction is None else rv_fraction, model,
                   scale)


@dataclass(frozen=True)
class _FakeMeasurements:
    """Measured values, their errors and outlier flags per parameter; arm RVs."""

    measured: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    outliers: dict[str, np.ndarray]
    rv_b: np.ndarray
    rv_r: np.ndarray
    sig_r: np.ndarray


def _fake_stars(rng: np.random.Generator, size: _Size, snr_range: tuple[float, float],
                binary_fraction: float, binary_k_range: tuple[float, float]) -> _FakeStars:
    """Stars on their fibres, positions within 2.4° of their plate, truth and orbits."""
    n_star = size.n_plates * size.per_plate
    star = np.arange(n_star)
    plate_of = star // size.per_plate
    spid_of = (star // size.stars_per_spid) % size.n_spid + 1
    fiber_of = star % size.stars_per_spid + 1 + (250 - size.stars_per_spid) // 2

    plate_no = size.first_plate + np.arange(size.n_plates)
    plate_ra = (60.0 + 25.0 * plate_no) % 360.0
    plate_dec = 20.0 + 2.0 * (plate_no % 7)
    rad = 2.4 * np.sqrt(rng.random(n_star))
    ang = rng.uniform(0, 2 * np.pi, n_star)
    dec = plate_dec[plate_of] + rad * np.sin(ang)
    ra = (plate_ra[plate_of] + rad * np.cos(ang) / np.cos(np.radians(dec))) % 360.0

    giant = rng.random(n_star) < 0.4
    teff = np.where(giant, rng.normal(4800, 250, n_star), rng.normal(5800, 500, n_star))
    logg = np.where(giant, rng.normal(2.5, 0.3, n_star), rng.normal(4.2, 0.25, n_star))
    feh = rng.normal(-0.1, 0.25, n_star)
    rv0 = rng.normal(0.0, 40.0, n_star)
    lo, hi = np.log(snr_range[0]), np.log(snr_range[1])
    snr_star = np.exp(rng.uniform(lo, hi, n_star))
    binary = rng.random(n_star) < binary_fraction
    k_amp = np.where(binary, rng.uniform(*binary_k_range, n_star), 0.0)
    period = np.exp(rng.uniform(np.log(2.0), np.log(300.0), n_star))
    phase = rng.uniform(0, 2 * np.pi, n_star)
    gstar = star + size.first_plate * size.per_plate
    return _FakeStars(
        plate=plate_of, spid=spid_of, fiber=fiber_of, ra=ra, dec=dec,
        planids=_planid(plate_ra, plate_dec), teff=teff, logg=logg, feh=feh, rv0=rv0,
        snr=snr_star, k_amp=k_amp, period=period, phase=phase,
        uid=np.char.mod("G%013d", 1_000_000 + gstar).astype(str),
    )


def _fake_exposures(rng: np.random.Generator, size: _Size, exposure_scatter: float,
                    lamp_exposures: int, rv_offset_sigma: float) -> _FakeExposures:
    """Exposures: 4 per visit night, nights ~10 d apart, per plate."""
    n_exp = size.n_plates * size.n_exposures
    exp_plate = np.repeat(np.arange(size.n_plates), size.n_exposures)
    k = np.tile(np.arange(size.n_exposures), size.n_plates)
    day = _BASE_MJD + size.first_plate + exp_plate + 10 * (k // 4)
    lmjm = (day * 1440 + 20 * 60 + 23 * (k % 4)).astype(np.int64)
    exp_factor = np.exp(rng.normal(0.0, exposure_scatter, n_exp))
    unit_offset = (
        rng.normal(0.0, rv_offset_sigma, (n_exp, size.n_spid))
        if rv_offset_sigma
        else (np.zeros((n_exp, size.n_spid)))
    )
    return _FakeExposures(exp_plate, lmjm, exp_factor, k < lamp_exposures, unit_offset)


def _fake_spectra(rng: np.random.Generator, size: _Size, st: _FakeStars, ex: _FakeExposures,
                  presence: float, snr_epoch_scatter: float) -> _FakeSpectra:
    """Every star in every exposure of its plate (minus absences), with S/N and true RV."""
    n_plates, n_exposures, per_plate = size.n_plates, size.n_exposures, size.per_plate
    s_idx = np.repeat(np.arange(n_plates), per_plate * n_exposures) * per_plate + np.tile(
        np.repeat(np.arange(per_plate), n_exposures), n_plates
    )
    e_idx = np.repeat(np.arange(n_plates), per_plate * n_exposures) * n_exposures + np.tile(
        np.arange(n_exposures), per_plate * n_plates
    )
    if presence < 1.0:
        here = rng.random(s_idx.size) < presence
        s_idx, e_idx = s_idx[here], e_idx[here]
    n_spec = s_idx.size
    snr = st.snr[s_idx] * ex.factor[e_idx] * np.exp(rng.normal(0, snr_epoch_scatter, n_spec))
    snr_r = snr * np.exp(rng.normal(0.25, 0.1, n_spec))
    mjd = lmjm_to_mjd(ex.lmjm[e_idx])
    rv_true = st.rv0[s_idx] + st.k_amp[s_idx] * np.sin(
        2 * np.pi * mjd / st.period[s_idx] + st.phase[s_idx])
    obsid = 700_000_000 + size.first_plate * 10_000_000 + np.arange(n_spec, dtype=np.int64)
    return _FakeSpectra(obsid, s_idx, e_idx, snr, snr_r, rv_true)


def _fake_measurements(rng: np.random.Generator, laws: dict[str, PrecisionLaw], st: _FakeStars,
                       ex: _FakeExposures, sp: _FakeSpectra, tails: _Tails,
                       lamp_shift: float) -> _FakeMeasurements:
    """Noise from the laws (held at σ(300) above S/N 300), outliers, offsets, lamp shift."""
    s_idx, e_idx, snr, n_spec = sp.star, sp.exposure, sp.snr, sp.star.size
    truth = {"teff": st.teff[s_idx], "logg": st.logg[s_idx], "feh": st.feh[s_idx],
             "rv": sp.rv_true}
    measured: dict[str, np.ndarray] = {}
    errors: dict[str, np.ndarray] = {}
    outliers: dict[str, np.ndarray] = {}
    for name, law in laws.items():
        sigma = np.clip(law(np.minimum(snr, LAW_SNR_MAX)), 1e-6, None)
        z = rng.normal(0.0, 1.0, n_spec)
        value = truth[name] + z * sigma
        out = rng.random(n_spec) < (tails.rv_fraction if name == "rv" else tails.fraction)
        amp = rng.uniform(*tails.range, n_spec) * rng.choice([-1.0, 1.0], n_spec)
        if tails.model == "gaussian":  # the whole error is outlier_scale times wider
            amp = (tails.scale - 1.0) * z
        value = np.where(out, value + amp * sigma, value)
        measured[name], errors[name], outliers[name] = value, sigma, out
    shift = ex.unit_offset[e_idx, st.spid[s_idx] - 1] + np.where(ex.alt[e_idx], lamp_shift, 0.0)
    sig_r = np.clip(laws["rv"](np.minimum(sp.snr_r, LAW_SNR_MAX)), 1e-6, None)
    rv_r = sp.rv_true + shift + rng.normal(0, 1, n_spec) * sig_r
    return _FakeMeasurements(measured, errors, outliers, measured["rv"] + shift, rv_r, sig_r)


def _dr8_columns(size: _Size, st: _FakeStars, ex: _FakeExposures, sp: _FakeSpectra,
                 ms: _FakeMeasurements, lasp_min_snr: float, both_arms: bool
                 ) -> dict[str, np.ndarray]:
    """The DR8-layout columns: blue rows, then (``both_arms``) red rows."""
    s_idx, e_idx, snr = sp.star, sp.exposure, sp.snr
    n_spec = s_idx.size
    lasp = snr >= lasp_min_snr
    star = np.arange(st.plate.size)
    gstar = star + size.first_plate * size.per_plate
    names = designation(st.ra, st.dec)
    gaia = (1_000_000_000_000_000_000 + gstar.astype(np.int64) * 7919).astype(np.int64)
    kic = np.where(st.plate + size.first_plate == 0, 1_000_000 + gstar, 0).astype(np.int64)
    epic = np.where(st.plate + size.first_plate > 0, 200_000_000 + gstar, 0).astype(np.int64)
    lmjm = ex.lmjm[e_idx]

    def both(blue: np.ndarray, red: np.ndarray | None = None) -> np.ndarray:
        if not both_arms:
            return blue
        return np.concatenate([blue, blue if red is None else red])

    nan = np.full(n_spec, np.nan)

    def lasp_col(values: np.ndarray) -> np.ndarray:
        return both(np.where(lasp, values, np.nan), nan)

    def const(value: Any, dtype: Any = None) -> np.ndarray:
        return both(np.full(n_spec, value, dtype=dtype))

    m, err = ms.measured, ms.errors
    return {
        "obsid": both(sp.obsid),
        "uid": both(st.uid[s_idx]),
        "gp_id": both(star[s_idx].astype(np.int64) + 1),
        "designation": both(names[s_idx]),
        "obsdate": const("2018-10-01"),
        "lmjd": both((lmjm // 1440).astype(np.int32)),
        "mjd": both((lmjm // 1440 - 1).astype(np.int32)),
        "planid": both(st.planids[ex.plate[e_idx]]),
        "spid": both(st.spid[s_idx].astype(np.int16)),
        "fiberid": both(st.fiber[s_idx].astype(np.int16)),
        "lmjm": both(lmjm),
        "band": both(np.full(n_spec, "B"), np.full(n_spec, "R")),
        "ra_obs": both(st.ra[s_idx]),
        "dec_obs": both(st.dec[s_idx]),
        "snr": both(snr.astype(np.float32), sp.snr_r.astype(np.float32)),
        "gaia_source_id": both(gaia[s_idx]),
        "gaia_g_mean_mag": const(13.5, np.float32),
        "rv_b0": both(ms.rv_b, nan),
        "rv_b0_err": both(err["rv"], nan),
        "rv_r0": both(nan, ms.rv_r),
        "rv_r0_err": both(nan, ms.sig_r),
        "rv_lasp0": lasp_col(ms.rv_b),
        "rv_lasp0_err": lasp_col(err["rv"]),
        "teff_lasp": lasp_col(m["teff"]),
        "teff_lasp_err": lasp_col(err["teff"]),
        "logg_lasp": lasp_col(m["logg"]),
        "logg_lasp_err": lasp_col(err["logg"]),
        "feh_lasp": lasp_col(m["feh"]),
        "feh_lasp_err": lasp_col(err["feh"]),
        "moon_angle": const(60.0, np.float32),
        "lunardate": const(12, np.int16),
        "moon_flg": const(0, np.int16),
        "bad_b": const(0, np.int16),
        "bad_r": const(0, np.int16),
        "fibermask": const(0, np.int32),
        "alt_lamp": both(ex.alt[e_idx]),
        "kic_id": both(kic[s_idx]),
        "epic_id": both(epic[s_idx]),
        "objtype": const("target"),
    }
