"""Spherical geometry and LAMOST star names, shared by the sky, synth and reduction code.

* :func:`angular_separation` — great-circle angle between directions, radians in and out
  (callers holding degrees convert with ``np.radians`` / ``np.degrees``).
* :func:`designation` — the LAMOST name ``Jhhmmss.ss+ddmmss.s`` of a position, with RA
  and Dec truncated (not rounded), as text; callers that store bytes convert the dtype.
"""

from __future__ import annotations

import numpy as np

#: Width of a designation, ``J`` + ``hhmmss.ss`` + sign + ``ddmmss.s``.
DESIGNATION_WIDTH = 19


def angular_separation(
    lon1: np.ndarray | float,
    lat1: np.ndarray | float,
    lon2: np.ndarray | float,
    lat2: np.ndarray | float,
) -> np.ndarray:
    """Great-circle angle between (lon1, lat1) and (lon2, lat2), vectorised.

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : array_like
        Longitudes (RA) and latitudes (Dec) in radians; arrays broadcast.

    Returns
    -------
    ndarray
        Separation in radians, 0 … π.

    Notes
    -----
    The arccosine of the dot product (spherical law of cosines), clipped to [−1, 1].
    Its absolute error is below ~2e-8 rad (4 mas), largest for separations near 0 and
    π; at the angles this package compares (the 10° Moon limit, 1.5° field radii) it is
    ~1e-16 rad.
    """
    c = np.sin(lat1) * np.sin(lat2) + np.cos(lat1) * np.cos(lat2) * np.cos(lon1 - lon2)
    return np.arccos(np.clip(c, -1, 1))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """ASCII codes of non-negative integers, zero padded to ``width`` digits, (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers % 10 + ord("0")).astype(np.uint8)


def designation(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """LAMOST names ``Jhhmmss.ss+ddmmss.s`` of positions (RA and Dec truncated, not rounded).

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        Finite ICRS coordinates, degrees (RA wraps into 0 … 24 h; |Dec| ≤ 90); arrays
        broadcast.

    Returns
    -------
    ndarray of str, dtype ``<U19``
        One name per position, in the broadcast shape of the inputs. RA is truncated
        to 0.01 s of time and Dec to 0.1″ (after adding 1e-6 of a unit against float
        fuzz such as 59.9999999); the sign is ``-`` for Dec < 0 (so −0.0 is ``+``).
    """
    ra, dec = np.broadcast_arrays(np.asarray(ra_deg, dtype=float),
                                  np.asarray(dec_deg, dtype=float))
    shape = ra.shape
    ra, dec = ra.ravel(), dec.ravel()
    cs = np.floor(ra / 15.0 * 360000.0 + 1e-6).astype(np.int64) % 8640000  # 0.01 s of time
    ds = np.floor(np.abs(dec) * 36000.0 + 1e-6).astype(np.int64)  # 0.1 arcsec
    out = np.empty((ra.size, DESIGNATION_WIDTH), dtype=np.uint8)
    out[:, 0] = ord("J")
    out[:, 1:3] = _digits(cs // 360000, 2)
    out[:, 3:5] = _digits(cs // 6000 % 60, 2)
    out[:, 5:7] = _digits(cs % 6000 // 100, 2)
    out[:, 7] = ord(".")
    out[:, 8:10] = _digits(cs % 100, 2)
    out[:, 10] = np.where(dec < 0, ord("-"), ord("+"))
    out[:, 11:13] = _digits(ds // 36000, 2)
    out[:, 13:15] = _digits(ds // 600 % 60, 2)
    out[:, 15:17] = _digits(ds % 600 // 10, 2)
    out[:, 17] = ord(".")
    out[:, 18] = _digits(ds % 10, 1)[:, 0]
    names = out.view(f"S{DESIGNATION_WIDTH}").reshape(shape)
    return names.astype(f"U{DESIGNATION_WIDTH}")
