"""Units, descriptions and UCDs of the columns our tables carry, declared once.

Every table the package writes (:func:`lkmrs_sched.core.atomic.write_table`) is annotated
from :data:`COLUMNS` by column name: the observation log's tables, the synthetic DR8
per-exposure table and its truth tables, the reduction's catalogue and products, the
forecast's per-star table. A column that already has a unit or description keeps it.
UCDs are IVOA UCD1+ words (``Column.meta["ucd"]``, written to ECSV, FITS and VOTable).
"""

from __future__ import annotations

from typing import Any

#: Column name → (unit or None, UCD, description).
COLUMNS: dict[str, tuple[str | None, str, str]] = {}


def _add(unit: str | None, ucd: str, description: str, *names: str) -> None:
    for name in names:
        COLUMNS[name] = (unit, ucd, description)


# --- observation log (sim/obslog.py) ----------------------------------------------------
_add(None, "meta.id", "row identifier within the log", "exposure_id", "pointing_id")
_add(None, "meta.code", "programme: TD (time domain) or NT (non time domain)", "programme")
_add(None, "meta.id;obs.proposal", "project: LK-MRS, another TD project, or NT", "project")
_add(None, "meta.id;obs.field", "LAMOST plan ID of the plate", "plan_id")
_add(None, "meta.id;obs.field", "plate (footprint) name", "plate_name")
_add("deg", "pos.eq.ra;meta.main", "plate centre right ascension (J2000)", "ra_deg")
_add("deg", "pos.eq.dec;meta.main", "plate centre declination (J2000)", "dec_deg")
_add(None, "time.epoch;obs", "night: local (UTC+8) date of its evening", "night")
_add(None, "time.epoch;obs", "integer MJD of the night's local evening date", "night_index")
_add("d", "time.start;obs", "start, UTC MJD", "start_mjd")
_add("d", "time.end;obs", "end, UTC MJD", "end_mjd")
_add(None, "time.start;obs", "start, UTC ISO 8601", "start_utc")
_add(None, "time.end;obs", "end, UTC ISO 8601", "end_utc")
_add("min", "time.start;obs", "start, local modified Julian minute (LAMOST lmjm)", "lmjm")
_add("s", "time.duration;obs.exposure", "exposure time", "exptime_s")
_add("h", "pos.posAng;pos.eq.ha", "hour angle at mid-exposure", "hour_angle_h")
_add(None, "obs.airMass", "airmass at mid-exposure", "airmass")
_add(None, "phys.albedo;instr.obsty.site", "Moon illuminated fraction", "moon_illumination")
_add("deg", "pos.angDistance", "plate centre to Moon distance", "moon_separation_deg")
_add("deg", "pos.az.alt", "Moon altitude", "moon_altitude_deg")
_add("arcsec", "instr.obsty.seeing", "seeing FWHM", "seeing_arcsec")
_add(None, "meta.code", "1: cut short by weather (exptime_s is the real duration)",
     "interrupted")
_add(None, "meta.code", "1: times placed by the pointing rules (imported log)",
     "time_estimated")
_add(None, "meta.number", "exposures in the pointing", "n_exposures")
_add(None, "meta.code", "why the pointing ended", "end_reason")
_add(None, "time.phase", "lunar day (1: the day of the new moon)", "lunar_day")
_add(None, "meta.code", "night mode: MRS, LRS or shutdown", "mode")
_add("d", "time.start", "dusk (Sun at the twilight altitude), UTC MJD", "dusk_mjd")
_add("d", "time.end", "dawn (Sun at the twilight altitude), UTC MJD", "dawn_mjd")
for _name, _doc in (("dark_h", "dark time, dusk to dawn"),
                    ("setup_h", "twilight set-up allowance used before dusk"),
                    ("open_h", "dome open"), ("closed_h", "dome closed by weather"),
                    ("idle_h", "open with nothing observable"),
                    ("other_h", "LRS or shutdown time"),
                    ("science_h", "exposure time"), ("overhead_h", "set-up overhead"),
                    ("readout_h", "read-out time")):
    _add("h", "time.duration", _doc, _name)

# --- synthetic / LAMOST DR8 MRS per-exposure table (synth/synth.py) -----------------------
_add(None, "meta.id", "spectrum identifier (shared by the B and R rows)", "obsid")
_add(None, "meta.id;meta.main", "LAMOST unique star identifier", "uid")
_add(None, "meta.id", "LAMOST group identifier", "gp_id")
_add(None, "meta.id", "LAMOST designation (Jhhmmss.ss+ddmmss.s)", "designation")
_add(None, "time.epoch;obs", "observation date (local)", "obsdate")
_add("d", "time.epoch;obs", "local modified Julian day", "lmjd")
_add("d", "time.epoch;obs", "modified Julian day", "mjd")
_add(None, "meta.id;obs.field", "LAMOST plan ID", "planid")
_add(None, "meta.id;instr", "spectrograph number", "spid")
_add(None, "meta.id;instr", "fibre number", "fiberid")
_add(None, "instr.bandpass", "arm: B (blue) or R (red)", "band")
_add("deg", "pos.eq.ra;meta.main", "fibre right ascension (J2000)", "ra_obs")
_add("deg", "pos.eq.dec;meta.main", "fibre declination (J2000)", "dec_obs")
_add(None, "stat.snr", "signal-to-noise ratio of the arm", "snr")
_add(None, "meta.id.cross", "Gaia DR3 source_id", "gaia_source_id")
_add("mag", "phot.mag;em.opt", "Gaia G magnitude", "gaia_g_mean_mag", "gaia_g")
for _arm in ("b", "r"):
    _add("km/s", "phys.veloc;spect", f"radial velocity from the {_arm.upper()} arm",
         f"rv_{_arm}0")
    _add("km/s", "stat.error;phys.veloc;spect", f"error of rv_{_arm}0", f"rv_{_arm}0_err")
_add("km/s", "phys.veloc;spect", "radial velocity (LASP)", "rv_lasp0", "rv")
_add("km/s", "stat.error;phys.veloc;spect", "error of the radial velocity",
     "rv_lasp0_err", "rv_err")
_add("K", "phys.temperature.effective", "effective temperature (LASP)", "teff_lasp", "teff")
_add("K", "stat.error;phys.temperature.effective", "error of the effective temperature",
     "teff_lasp_err", "teff_err")
_add("dex", "phys.gravity", "surface gravity log g (LASP)", "logg_lasp", "logg")
_add("dex", "stat.error;phys.gravity", "error of log g", "logg_lasp_err", "logg_err")
_add("dex", "phys.abund.Fe", "metallicity [Fe/H] (LASP)", "feh_lasp", "feh")
_add("dex", "stat.error;phys.abund.Fe", "error of [Fe/H]", "feh_lasp_err", "feh_err")
_add("deg", "pos.angDistance", "fibre to Moon distance", "moon_angle")
_add(None, "time.phase", "lunar day", "lunardate")
_add(None, "meta.code", "Moon flag", "moon_flg")
_add(None, "meta.code.qual", "bad-pixel flag of the B arm", "bad_b")
_add(None, "meta.code.qual", "bad-pixel flag of the R arm", "bad_r")
_add(None, "meta.code.qual", "fibre mask", "fibermask")
_add(None, "meta.code", "true: alternate-lamp (+6.5 km/s) night", "alt_lamp")
_add(None, "meta.id.cross", "Kepler Input Catalog identifier", "kic_id")
_add(None, "meta.id.cross", "K2 EPIC identifier", "epic_id")
_add(None, "src.class", "object type (target, flux standard)", "objtype")

# --- reduction catalogue (Table 3) and products ---------------------------------------------
_add(None, "meta.id;meta.main", "star designation", "name")
_add(None, "meta.id.cross", "KIC or EPIC identifier", "kic_epic")
_add("deg", "pos.eq.ra;meta.main", "mean right ascension (J2000)", "ra")
_add("deg", "pos.eq.dec;meta.main", "mean declination (J2000)", "dec")
_add(None, "meta.number", "spectra combined", "n_spec")
_add(None, "meta.number", "RVs combined", "n_rv")
_add(None, "meta.id", "star index", "star")
_add("km/s", "arith.diff;phys.veloc;spect", "RV zero-point offset", "offset")
_add("km/s", "stat.error;arith.diff;phys.veloc;spect", "error of the offset", "error")

# --- forecast per-star table (stars.ecsv) -----------------------------------------------------
_add(None, "meta.id", "plate of the target", "plate")
_add(None, "meta.code", "true: a binary star (synthetic truth)", "is_binary")
_add("d", "src.orbital.period", "orbital period (binaries; NaN otherwise)", "period_d")
for _q in ("median", "p05", "p95"):
    _add(None, "meta.number;stat", f"good epochs (blue S/N > 10), {_q} over realizations",
         f"n_good_{_q}")
_add("d", "time.interval", "time baseline of the good epochs, median", "baseline_days_median")
_add("K", "stat.error;phys.temperature.effective", "expected combined Teff error, median",
     "sigma_teff_median")
_add("dex", "stat.error;phys.gravity", "expected combined log g error, median",
     "sigma_logg_median")
_add("dex", "stat.error;phys.abund.Fe", "expected combined [Fe/H] error, median",
     "sigma_feh_median")
_add("km/s", "stat.error;phys.veloc;spect", "expected combined RV error, median",
     "sigma_rv_median")
_add(None, "stat.probability", "share of realizations detecting RV variability",
     "p_rv_variable_detected")


def annotate(table: Any, columns: dict[str, tuple[str | None, str, str]] | None = None) -> Any:
    """Give ``table``'s known columns their unit, description and UCD (in place).

    Existing units and descriptions are kept; returns the table.
    """
    spec = COLUMNS if columns is None else columns
    for name in table.colnames:
        if name not in spec:
            continue
        unit, ucd, description = spec[name]
        col = table[name]
        if unit is not None and getattr(col, "unit", None) is None:
            col.unit = unit
        if not getattr(col.info, "description", None):
            col.info.description = description
        col.info.meta = {**(col.info.meta or {}), "ucd": ucd}
    return table
