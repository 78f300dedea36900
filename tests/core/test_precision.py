"""The Table 4 precision law (core.precision): plain Eq. 4 and synth's extended form."""

from __future__ import annotations

import numpy as np
import pytest

from lkmrs_sched.core.precision import LAW_MIN_SNR, PrecisionLaw, published_laws

TABLE4 = {  # σ at S/N 10 / 20 / 50 as printed in the paper
    "teff": ("101", "55", "29"),
    "logg": ("0.15", "0.08", "0.04"),
    "feh": ("0.091", "0.048", "0.024"),
    "rv": ("1.00", "0.90", "0.75"),
}


def test_published_laws_reproduce_table4_and_rv_sign():
    laws = published_laws()
    for p, quoted in TABLE4.items():
        for s, q in zip((10, 20, 50), quoted, strict=True):
            # Within one unit of the printed value's last digit.
            unit = 10.0 ** -len(q.split(".")[1]) if "." in q else 1.0
            assert abs(float(laws[p](s)) - float(q)) <= unit, (p, s)
    assert laws["rv"].b == pytest.approx(0.201) and laws["rv"].a < 0


def test_extended_law_reproduces_table4():
    """σ_P at S/N 10/20/50 as printed in Table 4 (RV with exponent +0.201)."""
    law = published_laws()
    printed = {"teff": (101, 55, 29), "logg": (0.15, 0.08, 0.04),
               "feh": (0.091, 0.048, 0.024), "rv": (1.00, 0.90, 0.75)}
    for par, values in printed.items():
        got = law[par].extended(np.array([10.0, 20.0, 50.0]))
        np.testing.assert_allclose(got, values, rtol=0.06, err_msg=par)
    # Below S/N 8 the law continues as 1/(S/N); far above, σ stays positive.
    assert law["rv"].extended(4.0) == pytest.approx(2 * law["rv"].extended(8.0))
    assert law["rv"].extended(5000.0) > 0


def test_plain_and_extended_forms():
    law = published_laws()["rv"]
    s = np.array([8.0, 10.0, 37.5, 300.0])
    np.testing.assert_array_equal(law.extended(s), law(s))  # the fitted range: Eq. 4 itself
    assert np.isnan(law(0.0)) and np.isnan(law(-3.0))
    assert np.isfinite(law.extended(0.0)) and law.extended(0.0) > law.extended(1.0)
    assert law(5000.0) < 0 < law.floor == law.extended(5000.0)
    assert law.floor == pytest.approx(0.1 * float(law(10.0)))
    s = np.geomspace(LAW_MIN_SNR, 3000.0, 500)
    np.testing.assert_allclose(law.extended_from_log(np.log(s)), law.extended(s),
                               rtol=1e-13, atol=0)
    assert PrecisionLaw(1.0, -1.0, 0.0).ok and not PrecisionLaw(np.nan, 1.0, 0.0).ok


def test_published_laws_from_another_file(tmp_path):
    path = tmp_path / "laws.csv"
    path.write_text("parameter,a,b,c\nrv,2.0,-1.0,0.5\n", encoding="utf-8")
    assert published_laws(path) == {"rv": PrecisionLaw(2.0, -1.0, 0.5)}
