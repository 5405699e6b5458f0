"""Helpers for the lecturer tests: accounts, logging in, CSRF tokens, a short English lesson."""

from __future__ import annotations

import io
import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from player.auth import create_user
from player.db import connect

PASSWORD = "correct horse battery"

# Three paragraphs an English voice reads in about 25 seconds; the aligner works on any language.
LESSON = [
    "The first paragraph speaks about the depths of the heart. A person calls out from the depths, "
    "and that call reaches higher than any words of praise.",
    "The second paragraph explains the difference between the new year and the giving of the law. "
    "On the new year everyone stands together as one.",
    "The third paragraph adds that the law is like the blood that brings life to every limb, "
    "equally and without division.",
]
LESSON_TEXT = "\n\n".join(LESSON) + "\n"


def add_user(app: Flask, username: str = "rav", password: str = PASSWORD, role: str = "lecturer") -> int:
    conn = connect(app.config["DATABASE"])
    try:
        return create_user(conn, username, password, role, display_name=username.title())
    finally:
        conn.close()


def token_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def csrf(client: FlaskClient, path: str = "/login") -> str:
    return token_from(client.get(path).get_data(as_text=True))


def login(client: FlaskClient, username: str = "rav", password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token for later posts."""
    resp = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf(client)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return csrf(client, "/lecturer/upload")


def upload_form(token: str, audio_path: Path, **fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token,
        "title": "Test class",
        "lecturer": "Rav Test",
        "recorded_on": "2024-10-03",
        "language": "en",
        "text_source": "paste",
        "text_paste": LESSON_TEXT,
    }
    if "audio" not in fields:
        data["audio"] = (io.BytesIO(audio_path.read_bytes()), audio_path.name)
    data.update(fields)
    return data
