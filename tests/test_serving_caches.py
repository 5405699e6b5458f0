"""What the server keeps between requests (rendered pages, open database connections) never
shows a listener something stale, someone else's, or half-done."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, template_rendered
from flask.testing import FlaskClient

from player import create_app, library
from player.db import connect, get_db


def _renders(app: Flask) -> list[str]:
    """Names of the templates rendered from now on."""
    seen: list[str] = []
    template_rendered.connect(lambda _app, template, context, **_: seen.append(template.name), app, weak=False)
    return seen


def _toc_times(html: str) -> list[tuple[str, str]]:
    return re.findall(r'href="#(p\d+)" data-p="p\d+">.*?<span class="toc-time" dir="ltr">([^<]+)</span>', html, re.S)


def test_second_listener_gets_the_same_page_without_a_render(app: Flask, client: FlaskClient,
                                                             recording: library.Recording) -> None:
    renders = _renders(app)
    first = client.get(f"/r/{recording.slug}")
    second = app.test_client().get(f"/r/{recording.slug}")
    assert renders.count("player.html") == 1
    assert first.status_code == second.status_code == 200
    assert first.data == second.data
    assert second.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "שיעור לדוגמה" in second.get_data(as_text=True)


def test_page_follows_every_change_to_what_it_shows(app: Flask, client: FlaskClient,
                                                   recording: library.Recording, tmp_path: Path) -> None:
    url = f"/r/{recording.slug}"
    html = client.get(url).get_data(as_text=True)
    assert _toc_times(html)[0] == ("p1", "0:00")

    # The recording's row: a lecturer renames the class.
    conn = connect(app.config["DATABASE"])
    conn.execute("UPDATE recordings SET title = ? WHERE id = ?", ("שם חדש לשיעור", recording.id))
    conn.commit()
    assert "שם חדש לשיעור" in client.get(url).get_data(as_text=True)

    # The alignment: a correction moves paragraph 1 to 1:05.
    folder = library.recording_dir(app.config["LIBRARY_DIR"], recording)
    doc = json.loads((folder / "alignment.json").read_text(encoding="utf-8"))
    for cue in doc["cues"]:
        if cue["passage_id"].startswith("p1."):
            cue["start"] += 65.0
    (folder / "alignment.json").write_text(json.dumps(doc), encoding="utf-8")
    assert _toc_times(client.get(url).get_data(as_text=True))[0] == ("p1", "1:05")

    # The discourse text: a word corrected in the stored text.
    text = conn.execute("SELECT text FROM discourses WHERE id = ?", (recording.discourse_id,)).fetchone()[0]
    word = library.parse_text(text).passages()[0].tokens[0]
    conn.execute("UPDATE discourses SET text = ? WHERE id = ?", (text.replace(word, "מתוקן", 1), recording.discourse_id))
    conn.commit()
    conn.close()
    html = client.get(url).get_data(as_text=True)
    assert '<span class="w">מתוקן</span>' in html

    # The static files (a deploy): asset URLs carry their mtime, so the page must be rendered anew.
    static = tmp_path / "static"
    shutil.copytree(app.static_folder, static)
    app.static_folder = str(static)
    os.utime(static / "player.js", ns=(2_000_000_000 * 10**9, 2_000_000_000 * 10**9))
    assert "player.js?v=2000000000" in client.get(url).get_data(as_text=True)


def test_a_flashed_message_stays_with_its_own_browser(app: Flask, recording: library.Recording) -> None:
    url = f"/r/{recording.slug}"
    mine, theirs = app.test_client(), app.test_client()
    theirs.get(url)  # the shared page is in the cache
    with mine.session_transaction() as s:
        s["_flashes"] = [("message", "ההודעה שלי. / My own message.")]
    assert "My own message." in mine.get(url).get_data(as_text=True)
    assert "My own message." not in theirs.get(url).get_data(as_text=True)
    assert "My own message." not in mine.get(url).get_data(as_text=True)  # shown once


def test_signed_in_lecturer_pages_are_not_shared(app: Flask, recording: library.Recording) -> None:
    from lecturer_fixtures import add_user, login

    conn = connect(app.config["DATABASE"])
    conn.execute("UPDATE recordings SET published = 0 WHERE id = ?", (recording.id,))
    conn.commit()
    conn.close()
    add_user(app)
    lecturer = app.test_client()
    login(lecturer)
    url = f"/r/{recording.slug}"
    assert "טיוטה" in lecturer.get(url).get_data(as_text=True)
    assert app.test_client().get(url).status_code == 404


def test_a_replaced_database_file_is_read_afresh(app: Flask, client: FlaskClient,
                                                 recording: library.Recording, tmp_path: Path) -> None:
    """A restore from backup swaps the file; a connection kept open from before would go on
    reading the old one."""
    url = f"/r/{recording.slug}"
    assert "שיעור לדוגמה" in client.get(url).get_data(as_text=True)
    db = Path(app.config["DATABASE"])
    copy = tmp_path / "restored.sqlite3"
    src, dst = sqlite3.connect(db), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.execute("UPDATE recordings SET title = 'מגיבוי' WHERE id = ?", (recording.id,))
    dst.commit()
    dst.close()
    os.replace(copy, db)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert "מגיבוי" in client.get(url).get_data(as_text=True)


@pytest.fixture
def failing_app(app_config: dict[str, Any]) -> Flask:
    app = create_app(app_config)

    @app.route("/test-half-done")
    def half_done() -> str:
        get_db().execute("INSERT INTO discourses (slug, title, text, created_at) VALUES ('x', 'x', 'x', 'now')")
        raise RuntimeError("failed after writing")

    @app.route("/test-open-transaction")
    def open_transaction() -> str:
        return json.dumps({"in_transaction": get_db().in_transaction,
                           "x": get_db().execute("SELECT COUNT(*) FROM discourses WHERE slug = 'x'").fetchone()[0]})

    return app


def test_a_failed_request_leaves_nothing_half_done(failing_app: Flask) -> None:
    failing_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = failing_app.test_client()
    assert client.get("/test-half-done").status_code == 500
    # The same thread's next request: the kept connection has no transaction open, the insert
    # is gone, and another process can write.
    assert json.loads(client.get("/test-open-transaction").data) == {"in_transaction": False, "x": 0}
    other = sqlite3.connect(failing_app.config["DATABASE"], timeout=0.5)
    other.execute("UPDATE discourses SET title = title")
    other.commit()
    other.close()
