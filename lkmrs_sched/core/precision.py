"""The internal-precision law of Table 4 (Zong et al. 2020), once for synth and reduction.

Eq. 4 gives a parameter's single-epoch precision as a function of the spectrum's S/N,

    σ_P(S/N) = a · (S/N)^b + c                                        (Eq. 4)

in the parameter's unit (K, dex, dex, km/s); Table 4 holds (a, b, c) per parameter (RV
with b = +0.201 and a < 0, see the brief). :class:`PrecisionLaw` is one such law:

* called, it is the plain Eq. 4, as the reduction fits and uses it;
* :meth:`PrecisionLaw.extended` is the form the synthesis draws its noise from: below
  S/N 8 (:data:`LAW_MIN_SNR`, where Eq. 4 was not fitted) σ is continued as
  σ(8)·8/(S/N), and a floor of 0.1·σ(10) keeps σ positive far above the fitted range
  (the RV law turns negative above S/N ≈ 900).

:func:`published_laws` reads Table 4 (:data:`lkmrs_sched.core.resources.TABLE4`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lkmrs_sched.core.resources import TABLE4

#: Eq. 4 was fitted from this S/N up; below it :meth:`PrecisionLaw.extended` is 1/(S/N).
LAW_MIN_SNR = 8.0


@dataclass(frozen=True)
class PrecisionLaw:
    """σ(S/N) = a · (S/N)^b + c (Eq. 4), in the parameter's unit."""

    a: float
    b: float
    c: float

    def __call__(self, snr: np.ndarray | float) -> np.ndarray:
        """σ at the given S/N, plain Eq. 4 (NaN for non-positive S/N)."""
        s = np.asarray(snr, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self.a * np.where(s > 0, s, np.nan) ** self.b + self.c
        return out

    @property
    def ok(self) -> bool:
        """True when all three coefficients are finite."""
        return bool(np.isfinite([self.a, self.b, self.c]).all())

    @property
    def floor(self) -> float:
        """Lower bound of :meth:`extended`, 0.1 · σ(10)."""
        return 0.1 * (self.a * 10.0**self.b + self.c)

    def extended(self, snr: np.ndarray | float) -> np.ndarray:
        """Eq. 4 for S/N ≥ 8, σ(8)·8/(S/N) below, never under :attr:`floor`.

        S/N is taken as at least 1e-3 (so S/N ≤ 0 gives a large, finite σ).
        """
        a, b, c = self.a, self.b, self.c
        s = np.maximum(np.asarray(snr, float), 1e-3)
        law = a * np.maximum(s, LAW_MIN_SNR) ** b + c
        low = (a * LAW_MIN_SNR**b + c) * LAW_MIN_SNR / s
        return np.maximum(np.where(s < LAW_MIN_SNR, low, law), self.floor)

    def extended_from_log(self, log_snr: np.ndarray) -> np.ndarray:
        """:meth:`extended` for S/N ≥ 8 given ln(S/N): one ``exp``, no power (faster).

        Equal to :meth:`extended` to rounding (a few units in the last place), not bit
        for bit; only for S/N ≥ :data:`LAW_MIN_SNR`.
        """
        return np.maximum(self.a * np.exp(self.b * log_snr) + self.c, self.floor)


def published_laws(path: str | Path | None = None) -> dict[str, PrecisionLaw]:
    """Table 4 laws ``{parameter: PrecisionLaw}`` (``teff``, ``logg``, ``feh``, ``rv``).

    Parameters
    ----------
    path : path-like, optional
        A CSV with columns ``parameter, a, b, c`` (default: the packaged Table 4).
    """
    with Path(path or TABLE4).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {r["parameter"]: PrecisionLaw(float(r["a"]), float(r["b"]), float(r["c"]))
            for r in rows}
