"""The scenario's sections: one frozen dataclass per ``[section]``, validated once.

Each field declares its unit (quantities), allowed range and meaning with the
:mod:`lkmrs_sched.core.schema` helpers; :func:`lkmrs_sched.core.schema.parse_section`
checks them, and each class's ``__post_init__`` does its cross-field checks, so a section
that exists is valid. The modules that use a section (named in each docstring) never
re-validate it.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u

from lkmrs_sched.core import schema
from lkmrs_sched.core.errors import InputError

# ---- [sky] --------------------------------------------------------------------

@dataclass(frozen=True)
class SiteConfig:
    """The observatory (default: LAMOST at Xinglong)."""

    name: str = schema.text("Xinglong")
    latitude: u.Quantity = schema.quantity(
        "40.393333 deg", "deg", -90, 90, "geodetic latitude, 40°23′36″N"
    )
    longitude: u.Quantity = schema.quantity(
        "117.577222 deg", "deg", -180, 360, "east longitude, 117°34′38″E"
    )
    elevation: u.Quantity = schema.quantity("960 m", "m", -500, 9000)
    utc_offset: u.Quantity = schema.quantity(
        "8 h", "h", -12, 14, "local civil time minus UTC (Beijing)"
    )


@dataclass(frozen=True)
class NightConfig:
    """What counts as an MRS night and its dark time."""

    twilight: u.Quantity = schema.quantity(
        "-18 deg", "deg", -24, 0, "Sun altitude at dusk/dawn (astronomical twilight)"
    )
    mrs_lunar_days: tuple = schema.items((7, 22), "int", 2, 1, 30, "first and last MRS lunar day")
    shutdown: tuple = schema.items(
        (("07-01", "08-31"),),
        "mmdd-range",
        None,
        None,
        None,
        "yearly maintenance windows, local dates MM-DD inclusive",
    )

    lunar_day_tolerance: int = schema.number(
        1, 0, 7, integer=True,
        doc="MRS blocks may extend this many lunar days beyond mrs_lunar_days (Table 2 has "
            "one TD pointing on lunar day 23)",
    )
    edge_night_share: float = schema.number(
        0.2, 0, 1,
        doc="chance that a night within the tolerance is an MRS night: Table 2 has 1 pointing "
            "on the ~20 such nights of 2018-19 against 43 on its ~160 core MRS nights, "
            "(1/20)/(43/160) = 0.19",
    )

    def __post_init__(self) -> None:
        lo, hi = self.mrs_lunar_days
        if lo > hi:
            raise InputError("[night] mrs_lunar_days", list(self.mrs_lunar_days),
                             "first day <= last day")


@dataclass(frozen=True)
class ObservingConfig:
    """Exposure, read-out, overhead and pointing rules."""

    exposure_time: u.Quantity = schema.quantity("1200 s", "s", 1, 7200)
    readout_time: u.Quantity = schema.quantity("180 s", "s", 0, 3600)
    overhead: u.Quantity = schema.quantity(
        "30 min", "min", 0, 180, "slew, fibre positioning, set-up"
    )
    hour_angle_limit: u.Quantity = schema.quantity("2 h", "h", 0.1, 6)
    hour_angle_applies_to: str = schema.choice(
        "midpoint",
        ("start", "midpoint", "whole"),
        "which instant of an exposure must lie within ±hour_angle_limit (Table 2 evidence)",
    )
    setup_before_window: bool = schema.flag(
        True, "the overhead may be spent before the plate's window opens (Table 2 evidence)"
    )
    moon_min_separation: u.Quantity = schema.quantity("10 deg", "deg", 0, 180)
    max_exposures_per_pointing: int = schema.number(8, 1, 50, integer=True)
    min_exposures_to_start: int = schema.number(
        3, 1, 50, integer=True, doc="a TD pointing starts only with room for this many"
    )
    min_exposure_time: u.Quantity = schema.quantity(
        "600 s", "s", 0, 7200,
        "an exposure cut by the weather before this is aborted (no epoch); Table 2's "
        "shortest counted exposure is 600 s",
    )

    def __post_init__(self) -> None:
        if self.min_exposures_to_start > self.max_exposures_per_pointing:
            raise InputError(
                "[observing] min_exposures_to_start",
                self.min_exposures_to_start,
                f"at most max_exposures_per_pointing ({self.max_exposures_per_pointing})",
            )


# ---- [selector] ---------------------------------------------------------------

@dataclass(frozen=True)
class SelectorConfig:
    """The randomized MRS plate selector (see :mod:`lkmrs_sched.sim.selector` for the rules)."""

    nt_share: float = schema.number(
        0.375, 0, 1, doc="share of MRS draws in non-time-domain mode (3/8, brief §2)"
    )
    lkmrs_share: float = schema.number(
        0.30, 0, 1, doc="LK-MRS allocated share of time-domain time (30 %, brief §3)"
    )
    other_td_projects: tuple = schema.items(
        ("TD-B", "TD-C", "TD-D"),
        "text",
        doc="names of the other TD projects (they split 1 - lkmrs_share evenly)",
    )
    rebalance_gain: float = schema.number(
        1.0,
        0,
        100,
        doc="how strongly the mode (NT/TD) and TD project draws follow allocated versus used "
            "time (0: fixed draw shares)",
    )
    rebalance_prior: u.Quantity = schema.quantity(
        "10 h",
        "h",
        0,
        1e5,
        "pseudo-time at the allocated shares added to the usage, damping early swings",
    )
    unavailable_project: str = schema.choice(
        "redraw",
        ("redraw", "nt"),
        "a TD draw of a project with no startable plate: redraw among those with one, "
        "or give the time to NT",
    )
    same_night_weight: float = schema.number(
        1.0, 0.0, 1.0, doc="weight kept by a TD project already observed tonight (1: none lost)"
    )
    started_plate_boost: float = schema.number(
        5.0, 1, 1e6, doc="weight multiplier of started plates below their goal"
    )
    goal_exposures: int = schema.number(
        60, 1, 10000, integer=True, doc="exposures after which an LK-MRS plate is done"
    )
    other_td_goal_exposures: int = schema.number(
        0, 0, 10000, integer=True,
        doc="exposures after which another TD project's plate is done (0: never; a finished "
            "plate is replaced by the next, so the project keeps using its time)",
    )
    nt_exposures_per_pointing: int = schema.number(
        3, 1, 20, integer=True, doc="exposures of an NT plate (observed once)"
    )
    lkmrs_footprints: str = schema.path("../footprints/lkmrs.csv")
    other_td_footprints: str = schema.path("../footprints/td_other.csv")
    nt_footprints: str = schema.path("../footprints/nt.csv")


# ---- [weather] ----------------------------------------------------------------

# Defaults for the stochastic model (assumptions shaped to the brief §1, which cites
# Zhang J.-C. et al. 2016 and Yao S. et al. 2012; the per-month split is ours):
# * usable nights: calendar-day-weighted mean 0.63 over a year; best October–February
#   (0.72–0.82); spring dust March–May (0.58–0.62); June 0.50; July–August monsoon 0.32–0.36.
# * open fraction of a usable night's dark time: 0.85 November–January, 0.80 in October
#   and February, 0.70–0.72 in the dust season and September, 0.65 June–August.
# With the scenario's default -18° twilight at Xinglong (dark time ≈ 11.4 h in December,
# ≈ 5.3 h in July, ≈ 6.8 h in August) this gives ≈ 8.0 open hours per December night and
# ≈ 1.1 / 1.6 h per July / August night: the brief's "1–2 operable hours against ~8 in
# December". (With -12° twilight the open hours are ~10–30 % higher.)
_USABLE = (0.78, 0.72, 0.62, 0.60, 0.58, 0.50, 0.32, 0.36, 0.68, 0.78, 0.78, 0.82)


_OPEN = (0.85, 0.80, 0.72, 0.70, 0.70, 0.65, 0.65, 0.65, 0.72, 0.80, 0.85, 0.85)


@dataclass(frozen=True)
class WeatherConfig:
    """Dome open/closed model (see :mod:`lkmrs_sched.sim.weather`).

    Attributes
    ----------
    model : {"stochastic", "replay", "ideal"}
        Which model :func:`make_weather` builds.
    usable_night_fraction : tuple of 12 float
        Chance that a night (by its local calendar month, January..December) is usable,
        i.e. has any open time. Defaults: 0.78, 0.72, 0.62, 0.60, 0.58, 0.50, 0.32, 0.36,
        0.68, 0.78, 0.78, 0.82 — 63 % of all nights over a year (brief §1), far fewer in
        the July–August monsoon, spring dust March–May. A value of exactly 0 or 1 is
        honoured exactly (persistence does not carry a usable night into a 0 month).
    usable_scale : float
        Multiplier of ``usable_night_fraction`` (the result capped at 1): the site's
        climatology stays in ``usable_night_fraction``, how much of it gave MRS time (a
        season's weather, engineering and technical losses) is this one number, fitted
        by ``calibrate`` and varied from season to season in forecasts.
    open_fraction : tuple of 12 float
        Mean fraction of a usable night's dark time with the dome open, by month.
        Defaults 0.65 (June–August) to 0.85 (November–January): with -18° twilight,
        about 8 open hours per December night and 1–2 per July/August night once the
        usable fraction is included (brief §1).
    persistence : float
        Lag-1 autocorrelation of night usability (two-state Markov chain: with
        probability ``persistence**gap`` a night copies the previous night's state,
        otherwise it is drawn afresh; ``gap`` is the number of days between the two
        nights). Default 0.35: weather systems last a few days.
    closed_spell_mean : Quantity (h)
        Mean length of a closed spell inside a usable night (exponential). The mean open
        spell follows from ``open_fraction`` f: ``closed_spell_mean * f / (1 - f)``
        (8.5 h at f = 0.85, 2.8 h at f = 0.65 with the default 1.5 h).
    replay_file : str
        CSV of open intervals (``start_utc,end_utc``, ISO times) for ``model="replay"``,
        relative to the scenario's folder.
    """

    model: str = schema.choice(
        "stochastic",
        ("stochastic", "replay", "ideal"),
        "stochastic Xinglong climate, replay of open intervals, or always open",
    )
    usable_night_fraction: tuple = schema.items(
        _USABLE,
        "float",
        12,
        0,
        1,
        "chance that a night has any open time, January..December (mean 0.63, brief §1)",
    )
    open_fraction: tuple = schema.items(
        _OPEN,
        "float",
        12,
        0.01,
        1,
        "mean open fraction of a usable night's dark time, January..December",
    )
    usable_scale: float = schema.number(
        1.0, 0, 5,
        doc="multiplier of usable_night_fraction (capped at 1): the share of the site's "
            "usable nights that gave MRS time (calibrated, README 'Calibration')",
    )
    persistence: float = schema.number(
        0.35, 0, 0.99, doc="lag-1 autocorrelation of night usability (Markov chain)"
    )
    closed_spell_mean: u.Quantity = schema.quantity(
        "1.5 h", "h", 0.01, 48, "mean closed spell inside a usable night (exponential)"
    )
    replay_file: str = schema.path(
        "", "CSV of open intervals (start_utc,end_utc) for model='replay'"
    )

    def __post_init__(self) -> None:
        where = "[weather]"
        for name, lo in (("usable_night_fraction", 0.0), ("open_fraction", 0.01)):
            values = getattr(self, name)
            if len(values) != 12:
                raise InputError(f"{where} {name}", list(values), "12 monthly values")
            for i, v in enumerate(values):
                if not (isinstance(v, (int, float)) and lo <= v <= 1):
                    raise InputError(
                        f"{where} {name}[{i}]",
                        v,
                        f"a probability between {lo:g} and 1",
                        "out of range",
                    )
        if not 0 <= self.persistence < 1:
            raise InputError(
                f"{where} persistence", self.persistence, "0 <= persistence < 1", "out of range"
            )
        if not self.closed_spell_mean.to_value(u.h) > 0:
            raise InputError(
                f"{where} closed_spell_mean", str(self.closed_spell_mean), "a positive time"
            )
        if self.model == "replay" and not self.replay_file:
            raise InputError(
                f"{where} replay_file",
                self.replay_file,
                "a CSV file of open intervals",
                "model = 'replay' needs a replay_file",
            )


# ---- [releases] ---------------------------------------------------------------

# LK-MRS spectra per exposure: Zong et al. (2020) count 597,280 red (568,372 blue) year-1
# spectra, including the 30-exposure May-2018 K1a1 test and four K02 test plates. Table 1's
# targets + standards times Table 2's exposures give 594,221 target-exposures, the K1a1
# test 30 x 3266 = 97,980: 597,280 / 692,201 = 0.863 released spectra per target and
# exposure (an upper bound: the K02 plates' exposures are not given). One spectrum here is
# one target in one exposure, both arms together (README, "Release totals").
_LKMRS_PER_TARGET = 0.863


@dataclass(frozen=True)
class ReleasesConfig:
    """How LAMOST's MRS data releases count spectra (to hold the model against them).

    Attributes
    ----------
    table : str
        CSV of cumulative release totals (``release, covers_until,
        td_single_exposure_spectra, nt_coadded_spectra``), relative to the scenario.
    lkmrs_per_target : float
        Released TD single-exposure spectra per LK-MRS Table-1 target (incl. standards) and
        exposure (0.863, from the paper's year-1 counts).
    other_td_per_exposure : float
        Released TD single-exposure spectra per exposure of another TD project (targets
        with a spectrum; fitted to the release totals).
    nt_per_plate : float
        Released NT coadded spectra per NT plate-night (fitted to the release totals).
    """

    table: str = schema.path("../tables/lamost_mrs_releases.csv",
                             "cumulative LAMOST MRS release totals")
    lkmrs_per_target: float = schema.number(
        _LKMRS_PER_TARGET, 0, 1,
        doc="released spectra per LK-MRS Table-1 target and exposure (paper's year-1 counts)",
    )
    other_td_per_exposure: float = schema.number(
        2900.0, 0, 4000, doc="released spectra per exposure of another TD project (fitted)"
    )
    nt_per_plate: float = schema.number(
        3500.0, 0, 4000, doc="released coadded spectra per NT plate-night (fitted)"
    )


# ---- [seeing] -----------------------------------------------------------------

# Defaults: fit_seeing(TABLE2) — censored log-normal MLE over the 44 pointings of Table 2
# (one recorded seeing per pointing; the single ">= 6.0" row is right-censored at 6.0″):
# median 3.351″, sigma_ln 0.2303. (The sample median is 3.3″.)
_FIT_MEDIAN = "3.351 arcsec"


_FIT_SIGMA_LN = 0.2303


@dataclass(frozen=True)
class SeeingConfig:
    """Seeing at LAMOST: log-normal, correlated within a night.

    Attributes
    ----------
    model : {"lognormal", "constant"}
        ``"constant"`` always returns ``median`` (the ideal twin for tests).
    median : Quantity (arcsec)
        Median seeing. Default 3.351″: censored MLE fit to Table 2 (:func:`fit_seeing`).
    sigma_ln : float
        Dispersion of ln(seeing). Default 0.2303, same fit.
    night_fraction : float
        Share of the ln-variance common to a whole night (the correlation of two
        exposures' ln-seeing in the same night). Default 0.7: Table 2 gives one value
        per pointing; its four nights with two pointings give
        1 − mean(Δln²) / (2 sigma_ln²) = 0.69 (weak evidence: four pairs).
    minimum : Quantity (arcsec)
        Floor on the sampled seeing.
    """

    model: str = schema.choice(
        "lognormal", ("lognormal", "constant"), "log-normal seeing, or always the median"
    )
    median: u.Quantity = schema.quantity(
        _FIT_MEDIAN, "arcsec", 0.3, 20, "median seeing (censored MLE fit to Table 2)"
    )
    sigma_ln: float = schema.number(
        _FIT_SIGMA_LN, 0, 3, doc="dispersion of ln(seeing) (fit to Table 2)"
    )
    night_fraction: float = schema.number(
        0.7, 0, 1, doc="share of the ln-variance common to a whole night"
    )
    minimum: u.Quantity = schema.quantity("1.0 arcsec", "arcsec", 0, 20, "floor on seeing")


# ---- [snr] --------------------------------------------------------------------

# Fitted defaults: `tools/fit_synth.py --stage all --seeds 3` (README "Synthetic exposures"
# says what was fitted to what). Input: the real year 1 — Table 2 imported (222 exposures)
# plus the engineering exposures (30 K1a1 May-2018 test, 4 × 5 K02), 272 exposures.
# * calibration S/N: the shares of all spectra with S/N > 10, 281,300 / 568,372 = 49.5 %
#   blue and 368,873 / 597,280 = 61.8 % red (brief §8), by Brent's method (3 seeds);
# * LASP: lasp_low_snr_fraction to the ~3,000 LASP spectra with 8 < S/N < 10;
#   lasp_snr_zero and lasp_snr_scale to 258,979 LASP spectra / 281,300 (92.1 %) and
#   21,053 LASP targets / targets with S/N > 10 (75 %), least squares — the fit reaches
#   89.4 % and 76.8 %;
# * core laws: solved so that the reduction (reduction.uncertainty's procedure, through
#   reduce_spectra) of the synthesized year returns Table 4 at S/N 10/20/50: iteration 4
#   of the solve, worst |σ_fit/σ_Table4 − 1| = 0.44 %; at S/N 10–50 the core is 76–79 %
#   of Table 4 for RV and 85–89 % for Teff, log g, [Fe/H] (binaries, variables, zero-point
#   residuals and the tail make up the rest). Re-solved (`--stage noise --seeds 3`, from
#   the values above) after the reduction's lamp detection was fixed (it had missed the
#   alternate-lamp exposures of majority-lamp and all-lamp plates, which inflated the
#   reduced σ_RV by 3–4 %, and the solve had lowered core_rv to make up for it): the old
#   laws now returned RV 0.974/0.875/0.715 km/s (worst −4.2 %); iteration 2, worst 0.28 %.
_CALIBRATION_SNR_BLUE = 6.409
_CALIBRATION_SNR_RED = 8.206
_LASP_LOW_SNR_FRACTION = 0.1849
_LASP_SNR_ZERO = 9.229
_LASP_SNR_SCALE = 0.4076
_CORE_TEFF = (1127.4, -1.1659, 12.882)
_CORE_LOGG = (1.2037, -0.99488, 0.01136)
_CORE_FEH = (0.89978, -1.08985, 0.00753)
_CORE_RV = (-0.11537, 0.32715, 1.0298)


def _law(default: tuple, unit: str, what: str):
    return schema.items(
        default, "float", 3, -1e5, 1e5,
        f"core noise law (a, b, c) of {what}: σ = a·(S/N)^b + c in {unit}, below Table 4 "
        "(outliers correlated by star and a small tail make up the rest; solved, see README)",
    )


@dataclass(frozen=True)
class SNRConfig:
    """S/N model and the measurement noise it drives (scenario section ``[snr]``).

    Used by :mod:`lkmrs_sched.synth.snr` (S/N), :mod:`lkmrs_sched.synth.synth` (noise,
    LASP, zero points) and :mod:`lkmrs_sched.synth.reference` (the Gaia-like table).
    """

    model: str = schema.choice(
        "standard", ("standard", "constant"), "standard: factors below; constant: ideal twin"
    )
    constant_snr_blue: float = schema.number(30.0, 0, 1e4, doc="S/N of the constant model")
    constant_snr_red: float = schema.number(40.0, 0, 1e4, doc="S/N of the constant model")
    calibration_mag: float = schema.number(15.0, 5, 20, doc="Gaia G of the calibration star")
    calibration_teff: u.Quantity = schema.quantity("5800 K", "K", 2500, 50000)
    calibration_snr_blue: float = schema.number(
        _CALIBRATION_SNR_BLUE, 0.1, 1e4,
        doc="blue S/N of the calibration star in nominal conditions (fitted to the paper's "
            "281,300 of 568,372 blue spectra with S/N > 10)",
    )
    calibration_snr_red: float = schema.number(
        _CALIBRATION_SNR_RED, 0.1, 1e4,
        doc="red S/N of the calibration star in nominal conditions (fitted to the paper's "
            "368,873 of 597,280 red spectra with S/N > 10)",
    )
    snr_ceiling: float = schema.number(
        400.0, 1, 1e5, doc="S/N limit set by flat-fielding and other systematics"
    )
    read_noise: float = schema.number(
        11.0, 0, 1000, doc="effective read noise per extracted spectral pixel, electrons"
    )
    nominal_exptime: u.Quantity = schema.quantity("1200 s", "s", 1, 7200)
    nominal_seeing: u.Quantity = schema.quantity(
        "3.3 arcsec", "arcsec", 0.3, 20, "LK-MRS log median"
    )
    nominal_airmass: float = schema.number(1.15, 1, 5)
    nominal_transparency: float = schema.number(0.9, 0.01, 1, doc="typical cloud transmission")
    nominal_moon_illumination: float = schema.number(0.75, 0, 1)
    nominal_moon_separation: u.Quantity = schema.quantity("60 deg", "deg", 0, 180)
    nominal_moon_altitude: u.Quantity = schema.quantity("30 deg", "deg", -90, 90)
    fibre_diameter: u.Quantity = schema.quantity("3.3 arcsec", "arcsec", 0.1, 20)
    moffat_beta: float = schema.number(3.0, 1.1, 20, doc="Moffat index of the seeing PSF")
    extinction_blue: float = schema.number(0.20, 0, 2, doc="mag per airmass at 515 nm")
    extinction_red: float = schema.number(0.10, 0, 2, doc="mag per airmass at 655 nm")
    dark_sky_blue: float = schema.number(21.1, 15, 25, doc="zenith dark sky, V mag/arcsec²")
    dark_sky_red: float = schema.number(20.4, 15, 25, doc="zenith dark sky, R mag/arcsec²")
    transparency_model: str = schema.choice(
        "random", ("random", "clear"), "clear: nominal transparency always (ideal twin)"
    )
    cloud_night_mean: float = schema.number(
        0.08, 0, 5, doc="mean cloud extinction common to a night, mag (exponential)"
    )
    cloud_exposure_mean: float = schema.number(
        0.04, 0, 5, doc="mean extra cloud extinction per exposure, mag (exponential)"
    )
    lasp_snr_min: float = schema.number(10.0, 0, 1000, doc="LASP runs above this blue S/N")
    lasp_low_snr_min: float = schema.number(
        8.0, 0, 1000, doc="... and sometimes above this; LASP's success chance is 0 here"
    )
    lasp_low_snr_fraction: float = schema.number(
        _LASP_LOW_SNR_FRACTION, 0, 1,
        doc="share of spectra between the two limits that LASP processes (fitted to the "
            "paper's ~3,000 LASP spectra with 8 < S/N < 10)",
    )
    lasp_teff_min: u.Quantity = schema.quantity("3200 K", "K", 1000, 100000)
    lasp_teff_max: u.Quantity = schema.quantity("8500 K", "K", 1000, 100000)
    lasp_trusted_teff_min: u.Quantity = schema.quantity(
        "3500 K", "K", 1000, 100000,
        "LASP's success chance falls linearly from here to lasp_teff_min (brief §5)",
    )
    lasp_trusted_teff_max: u.Quantity = schema.quantity(
        "7500 K", "K", 1000, 100000,
        "LASP's success chance falls linearly from here to lasp_teff_max (brief §5)",
    )
    lasp_snr_zero: float = schema.number(
        _LASP_SNR_ZERO, 0, 1000,
        doc="nominal S/N of a star at which LASP's success chance is 0 (fitted with "
            "lasp_snr_scale to the paper's 258,979 LASP spectra of 21,053 targets)",
    )
    lasp_snr_scale: float = schema.number(
        _LASP_SNR_SCALE, 0.01, 1000,
        doc="S/N scale τ of LASP's success chance 1 − exp(−(S/N★ − lasp_snr_zero)/τ), S/N★ "
            "the star's nominal S/N on its fibre (fitted, see lasp_snr_zero)",
    )
    lasp_sb2_factor: float = schema.number(
        0.5, 0, 1,
        doc="success chance multiplier for double-lined binaries (q ≥ 0.8, P < 10⁴ d; "
            "assumption)",
    )
    core_teff: tuple = _law(_CORE_TEFF, "K", "Teff")
    core_logg: tuple = _law(_CORE_LOGG, "dex", "log g")
    core_feh: tuple = _law(_CORE_FEH, "dex", "[Fe/H]")
    core_rv: tuple = _law(_CORE_RV, "km/s", "the RVs (LASP and arm RVs)")
    outlier_fraction: float = schema.number(
        0.005, 0, 1,
        doc="share of independent heavy-tailed Teff/log g/[Fe/H] errors (cosmic rays, bad "
            "sky; small, assumption)",
    )
    rv_outlier_fraction: float = schema.number(
        0.005, 0, 1, doc="share of independent heavy-tailed RV errors (assumption)"
    )
    outlier_scale: float = schema.number(
        10.0, 1, 1000, doc="tail errors are this many core σ_P(S/N) wide (Gaussian)"
    )
    rv_min_snr: float = schema.number(3.0, 0, 1000, doc="arm RVs (rv_b0, rv_r0) above this S/N")
    lasp_error_scale: float = schema.number(
        1.0, 0, 100, doc="LASP error / Table 4 σ_P(S/N) (LASP's errors follow Table 4)"
    )
    lasp_error_scatter: float = schema.number(
        0.15, 0, 3, doc="log-normal scatter of LASP's error estimates"
    )
    zero_point_sigma: u.Quantity = schema.quantity(
        "0.3 km/s", "km/s", 0, 100, "RMS of the slow per-spectrograph RV zero point"
    )
    zero_point_timescale: u.Quantity = schema.quantity(
        "90 d", "d", 0.01, 1e5, "correlation time of the RV zero-point drift"
    )
    zero_point_jitter: u.Quantity = schema.quantity(
        "0.1 km/s", "km/s", 0, 100, "extra per (spectrograph, exposure) RV offset"
    )
    rv_absolute_offset: u.Quantity = schema.quantity(
        "0.5 km/s", "km/s", -100, 100,
        "constant added to every synthetic LAMOST RV: the MRS scale minus the true (and "
        "the Gaia-like reference) scale, which only --reference-rv can remove (assumption)",
    )
    alt_lamp_until: str = schema.text(
        "2018-12-01", "local nights before this ISO date may use the alternate arc lamp"
    )
    alt_lamp_fraction: float = schema.number(
        0.5, 0, 1, doc="chance that such a night used the alternate lamp"
    )
    alt_lamp_offset: u.Quantity = schema.quantity("6.5 km/s", "km/s", -100, 100)

    def __post_init__(self) -> None:
        """Cross-field checks: LASP's Teff and S/N limits in order."""
        lo, t_lo = self.lasp_teff_min.to_value(u.K), self.lasp_trusted_teff_min.to_value(u.K)
        t_hi, hi = self.lasp_trusted_teff_max.to_value(u.K), self.lasp_teff_max.to_value(u.K)
        if not lo <= t_lo < t_hi <= hi:
            raise InputError("[snr] lasp_trusted_teff_min", str(self.lasp_trusted_teff_min),
                             "lasp_teff_min <= lasp_trusted_teff_min < lasp_trusted_teff_max"
                             " <= lasp_teff_max", "Teff limits out of order")
        if self.lasp_low_snr_min > self.lasp_snr_min:
            raise InputError("[snr] lasp_low_snr_min", self.lasp_low_snr_min,
                             f"at most lasp_snr_min ({self.lasp_snr_min:g})")


# ---- [population] -------------------------------------------------------------

# Fitted defaults (tools/fit_synth.py, see the [snr] note):
# * spectrograph_loss_fraction, blue_loss_fraction: method of moments on the paper's
#   597,280 red and 568,372 blue spectra over the 743,356 object-exposures of the 272;
# * dead_fibre_fraction: "about a fifth" (20 %) of the blue spectra with S/N < 2;
# * variable_fraction: ~5 % of RV points beyond the reduction's final 6σ clip (secant
#   steps within the core-law solve; 4.98 % reached; 4.97 % after the re-solve).
_DEAD_FIBRE_FRACTION = 0.1554
_SPECTROGRAPH_LOSS_FRACTION = 0.1965
_BLUE_LOSS_FRACTION = 0.0484
_VARIABLE_FRACTION = 0.101


@dataclass(frozen=True)
class PopulationConfig:
    """Synthetic targets, binaries and fibres (scenario section ``[population]``).

    Used by :mod:`lkmrs_sched.synth.population` (stars), :mod:`lkmrs_sched.synth.fibres`
    (fibres, sky, plates) and :mod:`lkmrs_sched.synth.exposures` (lost spectrograph arms,
    engineering exposures).
    """

    field_radius: u.Quantity = schema.quantity("2.5 deg", "deg", 0.1, 10)
    ko_pool_density: u.Quantity = schema.quantity(
        "200 / deg2", "1 / deg2", 1, 5000,
        "candidate Kepler/K2-observed (KO) targets per square degree",
    )
    kno_pool_density: u.Quantity = schema.quantity(
        "200 / deg2", "1 / deg2", 1, 5000,
        "candidate KIC/EPIC stars not observed by Kepler/K2 (KNO) per square degree",
    )
    gaia_pool_density: u.Quantity = schema.quantity(
        "10 / deg2", "1 / deg2", 0.1, 5000,
        "candidate Gaia stars in neither KIC nor EPIC per square degree",
    )
    std_pool_density: u.Quantity = schema.quantity(
        "15 / deg2", "1 / deg2", 0.1, 5000, "candidate flux standards per square degree"
    )
    mag_bright: float = schema.number(8.0, -2, 25, doc="brightest G selected (Table 1 targets)")
    mag_limit: float = schema.number(15.0, -2, 25, doc="G to which the selection is complete")
    mag_faint: float = schema.number(15.5, -2, 25, doc="faintest G (end of the tail)")
    ko_kepler_slope: float = schema.number(
        0.35, 0, 1, doc="dex per mag of the Kepler-field KO magnitudes (Kepler targets)"
    )
    ko_k2_slope: float = schema.number(
        0.20, 0, 1, doc="dex per mag of the K2-field KO magnitudes (K2 targets)"
    )
    kno_slope: float = schema.number(0.30, 0, 1, doc="dex per mag of the KNO magnitudes")
    gaia_slope: float = schema.number(0.30, 0, 1, doc="dex per mag of the Gaia-fill magnitudes")
    faint_tail_fraction: float = schema.number(0.03, 0, 1, doc="share beyond mag_limit")
    giant_fraction: float = schema.number(0.35, 0, 1)
    hot_fraction: float = schema.number(0.03, 0, 1, doc="stars hotter than 8500 K")
    cool_fraction: float = schema.number(0.005, 0, 1, doc="stars cooler than 3200 K")
    thick_disc_fraction: float = schema.number(0.12, 0, 1)
    halo_fraction: float = schema.number(0.01, 0, 1)
    binary_fraction: float = schema.number(0.44, 0, 1, doc="Raghavan et al. 2010")
    log_period_mean: float = schema.number(5.03, -2, 12, doc="mean log10 P/d")
    log_period_sigma: float = schema.number(2.28, 0.01, 10, doc="σ of log10 P/d")
    log_period_max: float = schema.number(10.0, 0, 12, doc="longest log10 P/d")
    q_min: float = schema.number(0.1, 0.01, 1)
    twin_fraction: float = schema.number(0.05, 0, 1, doc="share of binaries with q > 0.95")
    circularization_period: u.Quantity = schema.quantity("12 d", "d", 0, 1e4)
    variable_fraction: float = schema.number(
        _VARIABLE_FRACTION, 0, 1,
        doc="share of stars whose parameters and RV vary between epochs beyond the noise "
            "(pulsators, spotted stars, composite spectra; fitted to the paper's ~5 % RV "
            "points beyond the final clip)",
    )
    variable_scale_min: float = schema.number(
        1.0, 0, 1e3, doc="smallest extra epoch scatter of a variable, in Table 4 σ at S/N 20"
    )
    variable_scale_max: float = schema.number(
        30.0, 0, 1e3,
        doc="largest extra epoch scatter of a variable, in Table 4 σ at S/N 20 "
            "(log-uniform between the two)",
    )
    variable_parameter_factor: float = schema.number(
        0.3, 0, 10,
        doc="a variable's extra Teff/log g/[Fe/H] scatter relative to its RV scatter (both "
            "in Table 4 σ at S/N 20; chosen, not fitted: RVs vary more than LASP's "
            "parameters, as the paper's ~5 % RV and < 2 % parameter outliers say)",
    )
    n_spectrographs: int = schema.number(16, 1, 64, integer=True)
    fibres_per_spectrograph: int = schema.number(250, 1, 1000, integer=True)
    sky_fibres_per_spectrograph: int = schema.number(
        20, 0, 1000, integer=True,
        doc="at least this many sky fibres per spectrograph; every fibre not given to a "
            "Table 1 object is a sky fibre (4000 − n_total per plate)",
    )
    dead_fibre_fraction: float = schema.number(
        _DEAD_FIBRE_FRACTION, 0, 1,
        doc="fibres with ~no light (fitted to the paper's fifth of spectra with S/N < 2)",
    )
    weak_fibre_fraction: float = schema.number(
        0.09, 0, 1, doc="inefficient fibres, throughput log-uniform in 0.01–0.3"
    )
    fibre_throughput_sigma: float = schema.number(
        0.10, 0, 2, doc="log-normal scatter of healthy fibres' throughput"
    )
    spectrograph_sigma: float = schema.number(
        0.08, 0, 2, doc="log-normal scatter of each spectrograph arm's efficiency"
    )
    fibre_jitter: float = schema.number(
        0.12, 0, 2, doc="log-normal per-exposure throughput scatter (fibre positioning)"
    )
    spectrograph_loss_fraction: float = schema.number(
        _SPECTROGRAPH_LOSS_FRACTION, 0, 1,
        doc="share of (spectrograph, exposure) units with no spectra in the catalogue, "
            "either arm (fitted to the paper's 597,280 red spectra)",
    )
    blue_loss_fraction: float = schema.number(
        _BLUE_LOSS_FRACTION, 0, 1,
        doc="share of the remaining units whose blue arm alone is missing (fitted to the "
            "paper's 568,372 blue spectra)",
    )
    engineering_exposures: str = schema.path(
        "../tables/engineering_exposures.csv",
        "CSV of the engineering exposures (K1a1 May-2018 test, K02 test plates) that "
        "synth adds to a log's epochs; empty: none",
    )

    def __post_init__(self) -> None:
        """Cross-field checks: magnitude limits in order, shares at most 1, variables."""
        if not self.mag_bright < self.mag_limit <= self.mag_faint:
            raise InputError(
                "[population] mag_limit",
                self.mag_limit,
                f"above mag_bright ({self.mag_bright:g}) and at most mag_faint"
                f" ({self.mag_faint:g})",
                "magnitudes out of range",
            )
        for keys in (
            ("giant_fraction", "hot_fraction", "cool_fraction"),
            ("thick_disc_fraction", "halo_fraction"),
            ("dead_fibre_fraction", "weak_fibre_fraction"),
        ):
            total = sum(getattr(self, k) for k in keys)
            if total > 1:
                raise InputError(f"[population] {keys[-1]}", getattr(self, keys[-1]),
                                 f"{' + '.join(keys)} at most 1", "shares add up to more than 1")
        if self.sky_fibres_per_spectrograph >= self.fibres_per_spectrograph:
            raise InputError("[population] sky_fibres_per_spectrograph",
                             self.sky_fibres_per_spectrograph,
                             f"fewer than fibres_per_spectrograph ({self.fibres_per_spectrograph})")
        if self.variable_scale_min > self.variable_scale_max:
            raise InputError("[population] variable_scale_max", self.variable_scale_max,
                             f"at least variable_scale_min ({self.variable_scale_min:g})")
