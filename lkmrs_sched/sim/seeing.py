"""Seeing at LAMOST: log-normal, correlated within a night.

The seeing of exposure ``k`` in night ``j`` is

    seeing = max(minimum, median · exp(σ_night · z_j + σ_exp · z_jk)),

with independent standard normals ``z_j`` (one per night) and ``z_jk`` (one per
exposure), ``σ_night² = night_fraction · sigma_ln²`` and
``σ_exp² = (1 − night_fraction) · sigma_ln²``. So ln(seeing) has dispersion
``sigma_ln`` and two exposures of the same night have ln-correlation ``night_fraction``.

The defaults are a maximum-likelihood fit (:func:`fit_seeing`) to the seeing recorded
per pointing in the LK-MRS first-year log (Table 2). The DIMM median at Xinglong is
~1.7″ (brief §1), but what matters for the spectra is the seeing LAMOST records, which
includes the telescope and dome.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import astropy.units as u
import numpy as np
from scipy import optimize, stats

from lkmrs_sched.core.errors import InputError
from lkmrs_sched.core.resources import TABLE2
from lkmrs_sched.core.sections import SeeingConfig


@runtime_checkable
class Seeing(Protocol):
    """Seeing per exposure, random-access: all the simulator asks of a seeing model."""

    def sample(self, night: int, k: int) -> float:
        """Seeing of exposure ``k`` (0-based) of night ``night``, arcsec."""
        ...


class SeeingModel:
    """Per-exposure seeing, random-access by (night, exposure).

    Parameters
    ----------
    config : SeeingConfig
        The ``[seeing]`` section.
    n_nights : int
        Number of nights (night indices are ``0..n_nights-1``).
    rng : numpy.random.Generator
        The seeing's own stream. It is used once, at construction: for the nights'
        common terms and for the entropy of per-night exposure streams
        (``SeedSequence(entropy, spawn_key=(night,))``). Hence :meth:`sample` depends only
        on (rng state, night, k), never on how many exposures other nights took or on
        the order of calls.
    """

    _BLOCK = 32

    def __init__(self, config: SeeingConfig, n_nights: int, rng: np.random.Generator):
        if n_nights < 0:
            raise ValueError("n_nights must be >= 0")
        self.config = config
        self.n_nights = int(n_nights)
        self._median = float(config.median.to_value(u.arcsec))
        self._minimum = float(config.minimum.to_value(u.arcsec))
        self._constant = config.model == "constant"
        w = float(config.night_fraction)
        self._sigma_night = float(config.sigma_ln) * np.sqrt(w)
        self._sigma_exp = float(config.sigma_ln) * np.sqrt(1.0 - w)
        self._night_z = rng.standard_normal(self.n_nights)
        self._entropy = [int(x) for x in rng.integers(0, 2**63, size=4)]
        self._exp_z: dict[int, np.ndarray] = {}
        self._gens: dict[int, np.random.Generator] = {}

    def _exposure_z(self, night: int, k: int) -> float:
        z = self._exp_z.get(night)
        if z is None or k >= z.size:
            gen = self._gens.get(night)
            if gen is None:
                ss = np.random.SeedSequence(self._entropy, spawn_key=(night,))
                gen = self._gens[night] = np.random.Generator(np.random.PCG64(ss))
                z = np.zeros(0)
            # Extending the same stream block by block gives the same values as one draw.
            need = max(self._BLOCK, k + 1 - z.size)
            z = np.concatenate([z, gen.standard_normal(need)])
            self._exp_z[night] = z
        return float(z[k])

    def sample(self, night: int, k: int) -> float:
        """Seeing of exposure ``k`` (0-based) in night ``night``, in arcsec."""
        if not 0 <= night < self.n_nights:
            raise IndexError(f"night {night} outside 0..{self.n_nights - 1}")
        if k < 0:
            raise IndexError(f"exposure index {k} < 0")
        if self._constant:
            return self._median
        ln = self._sigma_night * self._night_z[night] + self._sigma_exp * self._exposure_z(night, k)
        return max(self._minimum, self._median * float(np.exp(ln)))


def fit_seeing(path: str | Path = TABLE2) -> tuple[float, float]:
    """Fit a log-normal to the seeing recorded in an observation log like Table 2.

    Maximum likelihood with right-censoring: rows with ``seeing_is_lower_bound = 1`` only
    say that the seeing was at least the value given (Table 2's single ``≥ 6.0″`` row).
    One value per row (pointing).

    Parameters
    ----------
    path : path-like
        CSV with columns ``seeing_arcsec`` and ``seeing_is_lower_bound`` (0/1).

    Returns
    -------
    median : float
        exp(μ) in arcsec.
    sigma_ln : float
        σ of ln(seeing).

    Raises
    ------
    InputError
        Unreadable file, missing columns, non-positive or non-numeric seeing, or fewer
        than two uncensored rows.
    """
    p = Path(path)
    from lkmrs_sched.core.textio import read_csv_dicts

    header, rows = read_csv_dicts(p, "a readable CSV")
    need = ("seeing_arcsec", "seeing_is_lower_bound")
    if any(c not in header for c in need):
        raise InputError(f"{p}: header", header, "columns " + ", ".join(need), "missing column")
    x, cens = [], []
    for i, row in enumerate(rows, start=2):
        raw, flag = (row[c] or "" for c in need)
        try:
            value = float(raw)
        except ValueError:
            raise InputError(f"{p}: line {i} seeing_arcsec", raw, "a number (arcsec)") from None
        if not value > 0:
            raise InputError(f"{p}: line {i} seeing_arcsec", raw, "a positive seeing (arcsec)")
        if flag.strip() not in ("0", "1"):
            raise InputError(f"{p}: line {i} seeing_is_lower_bound", flag, "0 or 1")
        x.append(np.log(value))
        cens.append(flag.strip() == "1")
    lx, c = np.array(x), np.array(cens, dtype=bool)
    if (~c).sum() < 2:
        raise InputError(str(p), ..., "at least two rows with a measured seeing", "too few rows")

    def nll(theta: np.ndarray) -> float:
        mu, log_sigma = theta
        sigma = np.exp(log_sigma)
        return -float(
            stats.norm.logpdf(lx[~c], mu, sigma).sum() + stats.norm.logsf(lx[c], mu, sigma).sum()
        )

    start = np.array([lx[~c].mean(), np.log(lx[~c].std(ddof=1) + 1e-6)])
    res = optimize.minimize(
        nll, start, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12}
    )
    mu, log_sigma = res.x
    return float(np.exp(mu)), float(np.exp(log_sigma))
