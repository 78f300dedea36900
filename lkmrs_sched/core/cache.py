"""The disk cache (almanacs, windows): a bad entry is a miss, never an error.

An entry that cannot be read — truncated by a crash or a full disk, not a NumPy
archive, missing an array, or unreadable — is treated as absent: the caller recomputes
it and :func:`store_npz` replaces it atomically. A cache folder that cannot be written
only costs the speed-up: the result is still returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def load_npz(path: Path, names: Iterable[str]) -> dict[str, np.ndarray] | None:
    """The named arrays of a cached ``.npz`` file, or None if it is absent or damaged."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.array(data[name]) for name in names}
    except Exception:  # BadZipFile, EOFError, zlib.error, KeyError, ValueError, OSError...
        return None


def store_npz(path: Path, arrays: Mapping[str, Any]) -> None:
    """Write a cache entry atomically; a cache that cannot be written is skipped."""
    from lkmrs_sched.core.atomic import write_npz

    try:
        write_npz(path, arrays)
    except OSError:
        pass
