"""Saving a lecturer's correction as one unit: files and database together, one save at a time.

A correction changes passages.vtt, paragraphs.vtt, alignment.json and the pins and history in
the database. Under the recording folder's lock (``sync.writers.folder_lock``, which serialises
edits from any thread or process), the new files are prepared, then the database transaction
commits (the commit point, which also bumps ``recordings.edit_version``), then the files are
put in place. A save cut off before its commit leaves everything as it was; one cut off after
it is completed from the journal by the next save, the next page view or the next start.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync import writers
from sync.alignment import Alignment
from sync.discourse import Discourse

from .db import connect

log = logging.getLogger("shiur.saving")

EDIT_OUTPUTS = ("passages.vtt", "paragraphs.vtt", "alignment.json")


def decider(conn: sqlite3.Connection) -> Callable[[dict[str, Any]], bool]:
    """Whether an interrupted save's database commit happened (its edit_version was reached)."""

    def decide(tag: dict[str, Any]) -> bool:
        row = conn.execute("SELECT edit_version FROM recordings WHERE id = ?", (tag.get("recording_id"),)).fetchone()
        return row is not None and int(row["edit_version"]) >= int(tag.get("edit_version") or 0)

    return decide


def recover(conn: sqlite3.Connection, folder: Path, *, locked: bool = False) -> str | None:
    return writers.recover(folder, decider(conn), locked=locked)


def save(conn: sqlite3.Connection, recording_id: int, folder: Path, discourse: Discourse, alignment: Alignment,
         db_changes: Callable[[], None]) -> int:
    """Write the edited result and run ``db_changes`` (statements, no commit) as one unit.

    The caller holds ``writers.folder_lock(folder)``. Returns the new edit version.
    """
    row = conn.execute("SELECT edit_version FROM recordings WHERE id = ?", (recording_id,)).fetchone()
    version = int(row["edit_version"] if row else 0) + 1

    def commit() -> None:
        try:
            db_changes()
            conn.execute("UPDATE recordings SET edit_version = ? WHERE id = ?", (version, recording_id))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    result = writers.SyncResult(discourse, alignment, None, meta={"edited": True})
    writers.write_outputs(result, folder, EDIT_OUTPUTS, commit=commit, decide=decider(conn), locked=True,
                          tag={"recording_id": recording_id, "edit_version": version})
    return version


def recover_library(db_path: str, library_dir: Path) -> list[str]:
    """At start: finish or roll back saves a killed server left (one stat per folder)."""
    done: list[str] = []
    if not library_dir.is_dir():
        return done
    conn = connect(db_path)
    try:
        for folder in library_dir.iterdir():
            if folder.is_dir() and (folder / writers.JOURNAL_NAME).exists():
                outcome = recover(conn, folder)
                log.warning("%s: interrupted save %s", folder.name, outcome)
                done.append(f"{folder.name}: {outcome}")
    finally:
        conn.close()
    return done
