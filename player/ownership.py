"""Who may change a recording: the lecturer who uploaded it, or an admin.

Other lecturers can still see it on the dashboard and its review page; every request that
changes it (edit, undo, re-align, retry, publish, unpublish, delete, attach, confirm) checks
:func:`require_manage` first. A recording without an owner (imported on the command line, or
older than ownership with no matching account) is managed by admins, who can hand it over with
``shiur owner RECORDING USERNAME``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import click
from flask import abort, jsonify, request

from sync.errors import ShiurError

FORBIDDEN = ("רק המרצה שהעלה את ההקלטה או מנהל יכולים לשנות אותה. / "
             "Only the lecturer who uploaded this recording, or an admin, may change it.")


def owner_id(conn: sqlite3.Connection, recording_id: int) -> int | None:
    row = conn.execute("SELECT owner_id FROM recordings WHERE id = ?", (recording_id,)).fetchone()
    return None if row is None or row["owner_id"] is None else int(row["owner_id"])


def can_manage(user: Any, owner: int | None) -> bool:
    if user is None:
        return False
    return user["role"] == "admin" or (owner is not None and int(user["id"]) == owner)


def require_manage(conn: sqlite3.Connection, recording_id: int, user: Any) -> None:
    """403 (JSON for API calls) unless ``user`` owns the recording or is an admin."""
    if can_manage(user, owner_id(conn, recording_id)):
        return
    if request.is_json or request.accept_mimetypes.best == "application/json":
        resp = jsonify(error=FORBIDDEN)
        resp.status_code = 403
        abort(resp)
    abort(403, FORBIDDEN)


def set_owner(conn: sqlite3.Connection, recording_id: int, user_id: int | None) -> None:
    conn.execute("UPDATE recordings SET owner_id = ? WHERE id = ?", (user_id, recording_id))


@click.command("owner")
@click.argument("recording")
@click.argument("username", required=False)
def owner_cmd(recording: str, username: str | None) -> None:
    """Show or set the lecturer who may change RECORDING (a slug); admins always may."""
    from . import create_app
    from .db import connect

    app = create_app()
    conn = connect(app.config["DATABASE"])
    try:
        rec = conn.execute("SELECT r.id, u.username FROM recordings r LEFT JOIN users u ON u.id = r.owner_id"
                           " WHERE r.slug = ?", (recording,)).fetchone()
        if rec is None:
            raise ShiurError(f"{recording}: no such recording")
        if username is None:
            click.echo(rec["username"] or "(no owner: admins only)")
            return
        user = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
        if user is None:
            raise ShiurError(f"no user {username!r}")
        set_owner(conn, int(rec["id"]), int(user["id"]))
        conn.commit()
    finally:
        conn.close()
    click.echo(f"{recording}: owner {username}")
