"""Columns added to existing tables after the first release; each step runs once, on start.

``schema.sql`` only creates missing tables, so a library made by an older version keeps its
rows and gains the new columns here.
"""

from __future__ import annotations

import sqlite3

COLUMNS: dict[str, dict[str, str]] = {
    "users": {
        # Bumped by logout and password change: sessions signed with an older epoch are void.
        "session_epoch": "INTEGER NOT NULL DEFAULT 0",
    },
    "recordings": {
        # The lecturer who uploaded it; NULL (imported on the command line) means admins only.
        "owner_id": "INTEGER REFERENCES users(id) ON DELETE SET NULL",
        # The name the lecturer's file had (shown in messages; the library stores original.<ext>).
        "source_name": "TEXT",
        # Why the lecturer must look before publishing (e.g. no passage found); NULL when fine.
        "attention": "TEXT",
        # A warning about the audio (e.g. truncated) shown on the review page; NULL when none.
        "audio_warning": "TEXT",
        # Counts saved edits; a save interrupted before its database commit is rolled back.
        "edit_version": "INTEGER NOT NULL DEFAULT 0",
        # The audio's SHA-256 when it came in: duplicate uploads and the catalogue use it.
        "audio_sha256": "TEXT",
    },
    "discourses": {
        # The text's searchable form (the aligner's keys), so the library search never parses texts.
        "search_text": "TEXT",
    },
}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def apply(conn: sqlite3.Connection) -> list[str]:
    """Add missing columns; returns ``table.column`` for each one added."""
    added = []
    for table, cols in COLUMNS.items():
        have = _columns(conn, table)
        for name, decl in cols.items():
            if name not in have:
                try:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
                except sqlite3.OperationalError as e:
                    # The server and its worker start together; the other one added it first.
                    if "duplicate column" not in str(e):
                        raise
                    continue
                added.append(f"{table}.{name}")
    if "recordings.owner_id" in added:
        assign_legacy_owners(conn)
    conn.execute("CREATE INDEX IF NOT EXISTS recordings_audio_sha256 ON recordings (audio_sha256)")
    from .library import fill_search_text

    fill_search_text(conn)
    conn.commit()
    return added


def assign_legacy_owners(conn: sqlite3.Connection) -> int:
    """Give recordings made before ownership existed an owner: the account whose name is the
    recording's lecturer, else whoever first edited or published it. The rest stay unowned
    (admins only) rather than being guessed."""
    n = conn.execute(
        "UPDATE recordings SET owner_id = (SELECT u.id FROM users u WHERE u.role = 'lecturer' AND"
        " (lower(trim(u.display_name)) = lower(trim(recordings.lecturer))"
        "  OR lower(u.username) = lower(trim(recordings.lecturer))) ORDER BY u.id LIMIT 1)"
        " WHERE owner_id IS NULL AND trim(lecturer) != ''"
    ).rowcount
    n += conn.execute(
        "UPDATE recordings SET owner_id = (SELECT e.user_id FROM edits e JOIN users u ON u.id = e.user_id"
        " WHERE e.recording_id = recordings.id ORDER BY e.id LIMIT 1) WHERE owner_id IS NULL"
    ).rowcount
    return n
