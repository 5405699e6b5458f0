"""The library database: SQLite on ``g``, as in Flask's tutorial."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from flask import Flask, current_app, g

SCHEMA = Path(__file__).with_name("schema.sql")


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, detect_types=sqlite3.PARSE_DECLTYPES)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def get_db() -> sqlite3.Connection:
    """The request's connection, on ``g``. It is kept open for the thread's next request:
    opening one (connect and two pragmas) cost about 0.5 ms of a 1.2 ms VTT request."""
    if "db" not in g:
        g.db = _thread_connection(current_app._get_current_object())  # type: ignore[attr-defined]
    return g.db


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _thread_connection(app: Flask) -> sqlite3.Connection:
    """This thread's open connection to the app's database, or a new one. A database file that
    was replaced (restored from a backup) or removed gets a new connection, not the old file."""
    path = str(app.config["DATABASE"])
    local = app.extensions.setdefault("shiur_db_connections", threading.local())
    held: dict[str, tuple[sqlite3.Connection, tuple[int, int] | None]] = local.__dict__.setdefault("held", {})
    ident = _file_identity(path)
    if path in held:
        conn, was = held.pop(path)
        if ident is not None and was == ident:
            held[path] = (conn, was)
            return conn
        conn.close()
    conn = connect(path)
    held[path] = (conn, _file_identity(path))
    return conn


def close_db(_e: BaseException | None = None) -> None:
    """End of the request: its connection goes back to the thread with no transaction open, so
    the next request sees the database as it is now, and nothing half-done is kept."""
    conn = g.pop("db", None)
    if conn is None:
        return
    try:
        if conn.in_transaction:
            conn.rollback()
    except sqlite3.Error:
        _forget(conn)


def _forget(conn: sqlite3.Connection) -> None:
    local = current_app.extensions.get("shiur_db_connections")
    held = getattr(local, "held", {})
    for path, (c, _ident) in list(held.items()):
        if c is conn:
            del held[path]
    conn.close()


def init_schema(conn: sqlite3.Connection) -> None:
    """Create missing tables and columns (``player/migrations.py``); idempotent, so existing data
    is never touched."""
    conn.executescript(SCHEMA.read_text(encoding="utf-8"))
    conn.commit()
    from . import migrations

    migrations.apply(conn)


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    conn = connect(app.config["DATABASE"])
    try:
        init_schema(conn)
    finally:
        conn.close()
