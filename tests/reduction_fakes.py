"""Fake LAMOST MRS catalogues for the reduction tests (seeded, made in code)."""

from __future__ import annotations

import numpy as np
from astropy.table import Table, vstack

from lkmrs_sched.reduction.fakes import FakeCatalogue, fake_catalogue

#: Bad rows injected by :func:`dr8_table_with_bad_rows`, by kind.
BAD_ROWS = {
    "snr_nan": 3,
    "snr_negative": 2,
    "snr_text": 1,
    "uid_missing": 1,
    "duplicate": 2,
    "spid_out_of_range": 1,
    "teff_sentinel": 2,
}


def small_catalogue(seed: int = 0, **kwargs) -> FakeCatalogue:
    """A small catalogue: 1 plate, 16 spectrographs × 12 stars, 6 exposures."""
    opts = dict(n_plates=1, stars_per_spid=12, n_exposures=6, snr_range=(12.0, 150.0))
    opts.update(kwargs)
    return fake_catalogue(seed=seed, **opts)


def dr8_table_with_bad_rows(seed: int = 0, **kwargs) -> tuple[Table, FakeCatalogue]:
    """A DR8-layout table with realistic column types and the :data:`BAD_ROWS` injected.

    The ``snr`` column is text (as a CSV with one unreadable cell would give); every
    injected problem sits on a distinct blue row.
    """
    fake = small_catalogue(seed, **kwargs)
    t = fake.table()
    rng = np.random.default_rng(seed + 1000)
    blue = np.flatnonzero(np.asarray(t["band"]) == "B")
    picks = rng.choice(blue, size=sum(BAD_ROWS.values()), replace=False)
    snr_text = np.char.mod("%.3f", np.asarray(t["snr"], dtype=float)).astype("U16")
    cursor = 0

    def take(kind: str) -> np.ndarray:
        nonlocal cursor
        rows = picks[cursor : cursor + BAD_ROWS[kind]]
        cursor += BAD_ROWS[kind]
        return rows

    snr_text[take("snr_nan")] = "nan"
    snr_text[take("snr_negative")] = "-3.5"
    snr_text[take("snr_text")] = "bad"
    t["uid"] = np.asarray(t["uid"]).astype("U20")
    t["uid"][take("uid_missing")] = ""
    dup_rows = take("duplicate")
    t["spid"][take("spid_out_of_range")] = 17
    t["teff_lasp"][take("teff_sentinel")] = -9999.0
    t["teff_lasp_err"].fill_value = np.nan
    t.replace_column("snr", snr_text)
    t = vstack([t, t[dup_rows]])
    return t, fake
