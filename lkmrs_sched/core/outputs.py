"""Output locations checked before any work: one helper for folders, one for files.

Every command that writes calls :func:`prepare_folder` for its ``--out`` folder and
:func:`prepare_file` for each single output file (``--json``, ``--write-scenario``,
``synth --out``) *before* it reads big inputs or runs an ensemble, so a location that
cannot be written is reported at once, as one line, and no hour of work is lost at the
end. The checks:

* the location does not resolve through a symlink loop;
* a folder is not an existing file (and a file is not an existing folder);
* the nearest existing ancestor is a folder that this process can write to (probed by
  creating and removing a temporary file, which also catches read-only mounts);
* no input file would be overwritten: an input may not be one of the files the command
  writes (``writes``: glob patterns relative to the folder).

Nothing is created here: the writers create folders as they write (atomically).

:func:`safe_component` turns a free-form name (a scenario's ``name``) into one path
component, so a default output folder built from it stays where it belongs.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from lkmrs_sched.core.errors import InputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_component(name: str, fallback: str = "unnamed") -> str:
    """``name`` as one safe path component (letters, digits, ``._+-``; no ``..``)."""
    out = _UNSAFE.sub("_", str(name)).strip("._") or fallback
    return out[:100]


def _resolve(path: Path, option: str) -> Path:
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:  # RuntimeError: symlink loop (Python < 3.13)
        loop = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP
        raise InputError(option, str(path), "a path without symlink loops",
                         "symlink loop" if loop else (exc.strerror or "unusable path")) from None


def _stat_kind(path: Path, option: str) -> str | None:
    """``"dir"``, ``"file"`` or None (absent); an InputError for loops and the like."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(option, str(path), "a folder or file path",
                             "dangling symlink") from None
        return None
    except NotADirectoryError:
        raise InputError(option, str(path), "a path whose parents are folders",
                         "a parent is a file, not a folder") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(option, str(path), "a path without symlink loops",
                             "symlink loop") from None
        raise InputError(option, str(path), "a usable path", exc.strerror or "unusable") from None
    import stat

    return "dir" if stat.S_ISDIR(st.st_mode) else "file"


def _writable_ancestor(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable folder."""
    anc = path
    while True:
        kind = _stat_kind(anc, option)
        if kind is not None:
            break
        if anc.parent == anc:
            break
        anc = anc.parent
    if kind == "file":
        raise InputError(option, str(path), "a path whose parents are folders",
                         f"{anc} is a file, not a folder")
    _probe(anc, option, path)


def _probe(folder: Path, option: str, shown: Path) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".lkmrs-probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise InputError(option, str(shown), "a location this user can write to",
                         f"cannot write in {folder} ({exc.strerror or exc})") from None


def _inputs(inputs: Iterable[str | os.PathLike[str] | None]) -> list[tuple[str, Path]]:
    out = []
    for raw in inputs:
        if raw is None or raw == "":
            continue
        p = Path(raw)
        try:
            if p.is_file():
                out.append((str(p), p.resolve()))
        except (OSError, RuntimeError):
            continue  # the reader reports unusable inputs
    return out


def prepare_folder(path: str | os.PathLike[str], option: str = "--out", *,
                   inputs: Iterable[str | os.PathLike[str] | None] = (),
                   writes: Iterable[str] | None = None) -> Path:
    """Check an output folder before work starts; return it as a Path.

    Parameters
    ----------
    path : path-like
        The folder (it need not exist yet).
    option : str
        How the user named it (``"--out"``), for messages.
    inputs : iterable of path-like
        Files the command reads.
    writes : iterable of str, optional
        Glob patterns (relative to the folder) of what the command writes; an input
        matching one is refused. None: no input may lie inside the folder at all.

    Raises
    ------
    InputError
        Symlink loop, an existing file, an unwritable location, or an input that would
        be overwritten.
    """
    p = Path(path)
    if str(path) == "":
        raise InputError(option, "", "a folder path", "empty path")
    _resolve(p, option)
    kind = _stat_kind(p, option)
    if kind == "file":
        raise InputError(option, str(p), "a folder (or a new folder's path)",
                         "an existing file, not a folder")
    _writable_ancestor(p, option)
    root = _resolve(p, option)
    patterns = None if writes is None else list(writes)
    for shown, r in _inputs(inputs):
        try:
            rel = r.relative_to(root).as_posix()
        except ValueError:
            continue
        if patterns is None or any(fnmatch.fnmatch(rel, pat) for pat in patterns):
            raise InputError(option, str(p), f"a folder where no output would replace the "
                             f"input {shown}", "output would overwrite an input file")
    return p


def prepare_file(path: str | os.PathLike[str], option: str, *,
                 inputs: Iterable[str | os.PathLike[str] | None] = ()) -> Path:
    """Check one output file's location before work starts; return it as a Path.

    Raises
    ------
    InputError
        Symlink loop, an existing folder, an unwritable location, or the path of an input.
    """
    p = Path(path)
    if str(path) == "":
        raise InputError(option, "", "a file path", "empty path")
    _resolve(p, option)
    kind = _stat_kind(p, option)
    if kind == "dir":
        raise InputError(option, str(p), "a file path", "an existing folder, not a file")
    _writable_ancestor(p.parent, option)
    target = _resolve(p, option)
    for shown, r in _inputs(inputs):
        if r == target:
            raise InputError(option, str(p), f"a file other than the input {shown}",
                             "output would overwrite an input file")
    return p
