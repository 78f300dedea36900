"""Angular separation and LAMOST designations (core.geometry)."""

from __future__ import annotations

import numpy as np
import pytest

from lkmrs_sched.core.geometry import angular_separation, designation


def test_separation_matches_astropy():
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    rng = np.random.default_rng(4)
    ra1, ra2 = rng.uniform(0, 360, (2, 500))
    dec1, dec2 = np.degrees(np.arcsin(rng.uniform(-1, 1, (2, 500))))
    got = np.degrees(angular_separation(*np.radians([ra1, dec1, ra2, dec2])))
    ref = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg))
    np.testing.assert_allclose(got, ref.deg, rtol=0, atol=1e-9)


def test_separation_broadcasts_and_handles_poles_and_wrap():
    got = angular_separation(np.radians([359.5, 0.0]), 0.0, np.radians(0.5), 0.0)
    np.testing.assert_allclose(np.degrees(got), [1.0, 0.5], atol=1e-12)
    assert angular_separation(0.0, np.pi / 2, 3.0, np.pi / 2) == pytest.approx(0.0, abs=3e-8)
    assert angular_separation(0.0, 0.0, np.pi, 0.0) == pytest.approx(np.pi)


def test_designation_truncates():
    ra = 292.5 + 0.0049 / 3600 * 15  # 19:30:00.0049 -> .00
    assert designation(np.array([ra]), np.array([-5.123456]))[0] == "J193000.00-050724.4"
    assert designation(np.array([0.0]), np.array([44.999999]))[0] == "J000000.00+445959.9"


def test_designation_edge_cases():
    ra = np.array([360 - 1e-9, 360.0, -15 / 3600 * 0.01, 15 * (1 + 2 / 60 + 3.456 / 3600)])
    dec = np.array([-1e-9, -0.0, 90.0, -(12 + 34 / 60 + 56.78 / 3600)])
    assert designation(ra, dec).tolist() == [
        "J235959.99-000000.0",  # RA near 24 h stays below it; a tiny negative Dec keeps "-"
        "J000000.00+000000.0",  # RA 360 wraps to 0; -0.0 is "+"
        "J235959.99+900000.0",  # negative RA wraps
        "J010203.45-123456.7",  # truncated, not rounded
    ]
    assert designation(15.0, 1.0) == "J010000.00+010000.0"  # scalars give a 0-d array
    assert designation(np.array([]), np.array([])).dtype == np.dtype("U19")


def test_designation_is_the_truncated_sexagesimal_position():
    """Against an independent formatting via astropy's Angle (exact grid points)."""
    from astropy.coordinates import Angle

    rng = np.random.default_rng(8)
    cs = rng.integers(0, 8_640_000, 300)  # 0.01 s of time
    ds = rng.integers(-3_240_000, 3_240_000, 300)  # 0.1 arcsec
    ra, dec = cs * 15 / 360_000 + 1e-10, ds / 36_000 + np.sign(ds) * 1e-11
    names = designation(ra, dec)
    for name, r, d in zip(names.tolist(), ra, dec, strict=True):
        h, m, s = Angle(r, unit="deg").hms
        dd, dm, dsec = Angle(abs(d), unit="deg").dms
        sign = "-" if d < 0 else "+"
        expected = (f"J{int(h):02d}{int(m):02d}{int(s * 100 + 1e-4) / 100:05.2f}{sign}"
                    f"{int(dd):02d}{int(dm):02d}{int(dsec * 10 + 1e-4) / 10:04.1f}")
        assert name == expected
