"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every place that writes a result, a state file or a cache entry goes through here, so that a
crash or a kill mid-write leaves the previous version intact and at most a stale temp file
(named ``.<name>.*.tmp``; :func:`clean_stale_temps` removes them).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"
# Outputs are shared (web server, archive); mkstemp's 0600 would hide them from other users.
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, fsync: bool = True) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on a clean exit it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX)
    try:
        if "b" in mode:
            f = os.fdopen(fd, mode)
        else:
            f = os.fdopen(fd, mode, encoding="utf-8", newline="\n")
        with f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str, *, fsync: bool = True) -> Path:
    with atomic_open(path, "w", fsync=fsync) as f:
        f.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> Path:
    with atomic_open(path, "wb", fsync=fsync) as f:
        f.write(data)
    return Path(path)


def write_json(path: str | Path, data: Any, *, indent: int | None = None, fsync: bool = True) -> Path:
    return write_text(path, json.dumps(data, ensure_ascii=False, indent=indent), fsync=fsync)


def temp_path_for(path: str | Path) -> Path:
    """A unique temp name beside ``path``, for writers that need a path rather than a file
    (ffmpeg, zipfile); pair it with :func:`commit` or unlink it on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    return Path(tmp)


def commit(tmp: str | Path, path: str | Path) -> Path:
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)
    return Path(path)


def clean_stale_temps(folder: str | Path) -> list[Path]:
    """Remove temp files an interrupted write left in ``folder``; returns what was removed."""
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if p.is_file() and p.name.startswith(TEMP_PREFIX) and p.name.endswith(TEMP_SUFFIX):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
