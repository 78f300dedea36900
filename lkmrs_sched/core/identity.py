"""What an ensemble's results depend on, as content: the identity of a result store.

A store of realization results may be resumed only by the same ensemble. "The same"
means the same *content*, not the same file names: the scenario's canonical settings,
the bytes of every file the scenario references (footprints, replay weather, and the
base scenarios it is built on), the layout of the stored results
(:data:`RESULT_SCHEMA_VERSION`) and the package version. Editing ``td_other.csv`` and
rerunning into the same folder, or upgrading the package, is then a different ensemble,
refused rather than mixed with the old results.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

#: Layout of the per-realization results an ensemble stores. Bump it whenever a task's
#: result changes shape or meaning: stores written before are then refused, not resumed.
RESULT_SCHEMA_VERSION = 2


def file_digest(path: str | Path) -> str | None:
    """SHA-256 of a file's bytes (None when it cannot be read)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def referenced_files(scenario: Any) -> dict[str, Path]:
    """Every file a scenario depends on, by role: path settings and base scenarios."""
    from lkmrs_sched.core.config import BASE_MARK

    out: dict[str, Path] = scenario.files()
    # Bases: their absolute paths follow each BASE_MARK in the stored text.
    rest, k = scenario.text, 0
    while BASE_MARK in rest:
        _, _, rest = rest.partition(BASE_MARK)
        base, _, rest = rest.partition(" ----\n")
        k += 1
        out[f"base{k}"] = Path(base)
    return out


def scenario_identity(scenario: Any) -> dict[str, Any]:
    """The content identity of a scenario for a result store's manifest."""
    from lkmrs_sched import __version__

    return {
        "scenario_content": hashlib.sha256(repr(scenario.canonical()).encode()).hexdigest(),
        "files": {role: file_digest(p) for role, p in sorted(referenced_files(scenario).items())},
        "result_schema": RESULT_SCHEMA_VERSION,
        "lkmrs_sched": __version__,
    }
