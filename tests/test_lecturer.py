"""Lecturer workflow: upload validation, review edits (pins, undo, history), publish, delete,
and that anonymous users reach none of it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from lecturer_fixtures import LESSON_TEXT, add_user, csrf, login, upload_form
from player_fixtures import tone_wav

from player import lecturer
from player.db import connect
from sync.alignment import READ, Alignment, Cue
from sync.discourse import parse_discourse


def _ensure_user(app, username: str = "rav", role: str = "lecturer") -> int:
    row = _rows(app, "SELECT id FROM users WHERE username = ?", username)
    return int(row[0]["id"]) if row else add_user(app, username, role=role)


@pytest.fixture
def lecturer_client(app, client):
    _ensure_user(app)
    client.token = login(client)
    return client


@pytest.fixture
def recording(app, recording):
    """The imported recording, owned by the lecturer "rav" (an upload is owned by its uploader)."""
    conn = connect(app.config["DATABASE"])
    try:
        conn.execute("UPDATE recordings SET owner_id = ? WHERE id = ?", (_ensure_user(app), recording.id))
        conn.commit()
    finally:
        conn.close()
    return recording


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    return tone_wav(tmp_path / "class.wav", 6.0)


def _rows(app, sql: str, *args: object) -> list:
    conn = connect(app.config["DATABASE"])
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _library_entries(app) -> set[str]:
    return {p.name for p in Path(app.config["LIBRARY_DIR"]).iterdir() if not p.name.startswith(".")}


# ---- upload ------------------------------------------------------------------------------


def test_upload_pasted_text_queues_a_job(app, lecturer_client, tone):
    resp = lecturer_client.post("/lecturer/upload", data=upload_form(lecturer_client.token, tone),
                                content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    slug = resp.headers["Location"].rsplit("/", 1)[1]
    folder = Path(app.config["LIBRARY_DIR"]) / slug
    assert (folder / "original.wav").read_bytes() == tone.read_bytes()
    rec = _rows(app, "SELECT * FROM recordings WHERE slug = ?", slug)[0]
    assert (rec["title"], rec["language"], rec["recorded_on"], rec["published"]) == ("Test class", "en",
                                                                                     "2024-10-03", 0)
    job = _rows(app, "SELECT * FROM jobs WHERE recording_id = ?", rec["id"])[0]
    assert (job["state"], job["kind"]) == ("queued", "process")
    text = _rows(app, "SELECT text FROM discourses WHERE id = ?", rec["discourse_id"])[0]["text"]
    assert parse_discourse(text).paragraphs[1].passages[0].text.startswith("The second paragraph")
    # The streamed upload left no temporary file behind.
    assert list((Path(app.config["LIBRARY_DIR"]) / ".uploads").iterdir()) == []
    status = lecturer_client.get(f"/lecturer/r/{slug}/status.json").get_json()
    assert status["state"] == "queued"
    # A draft: listeners do not see it.
    assert app.test_client().get(f"/r/{slug}").status_code == 404


def test_upload_text_from_library_and_from_file(app, lecturer_client, tone, tmp_path):
    sample_id = _rows(app, "SELECT id FROM discourses")[0]["id"]
    resp = lecturer_client.post(
        "/lecturer/upload",
        data=upload_form(lecturer_client.token, tone, text_source="library", discourse_id=str(sample_id),
                         language="he"),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    assert _rows(app, "SELECT discourse_id FROM recordings")[0][0] == sample_id
    resp = lecturer_client.post(
        "/lecturer/upload",
        data=upload_form(lecturer_client.token, tone_wav(tmp_path / "other.wav", 5.0), title="From a file",
                         text_source="file", text_file=(io.BytesIO(LESSON_TEXT.encode("utf-8")), "maamar.txt")),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    assert len(_rows(app, "SELECT id FROM recordings")) == 2


def test_same_audio_twice_offers_the_existing_recording(app, lecturer_client, tone):
    import hashlib

    first = lecturer_client.post("/lecturer/upload", data=upload_form(lecturer_client.token, tone),
                                 content_type="multipart/form-data")
    slug = first.headers["Location"].rsplit("/", 1)[1]
    digest = hashlib.sha256(tone.read_bytes()).hexdigest()
    assert _rows(app, "SELECT audio_sha256 FROM recordings")[0][0] == digest
    before = _library_entries(app)
    # The same file under another name and title: refused, with a link to the one already there.
    again = lecturer_client.post("/lecturer/upload",
                                 data=upload_form(lecturer_client.token, tone, title="Again",
                                                  audio=(io.BytesIO(tone.read_bytes()), "renamed.wav")),
                                 content_type="multipart/form-data")
    assert again.status_code == 409
    page = again.get_data(as_text=True)
    assert "already uploaded" in page and f'href="/lecturer/r/{slug}"' in page and 'name="duplicate_ok"' in page
    assert 'value="Again"' in page  # what was typed is kept
    assert len(_rows(app, "SELECT id FROM recordings")) == 1 and _library_entries(app) == before
    # From the page's script: the message box as HTML, and the existing recording's address.
    xhr = lecturer_client.post("/lecturer/upload", data=upload_form(lecturer_client.token, tone),
                               content_type="multipart/form-data",
                               headers={"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"})
    assert xhr.status_code == 409 and xhr.get_json()["duplicate"] == f"/lecturer/r/{slug}"
    assert 'id="upload-errors"' in xhr.get_json()["errors_html"]
    # "Upload anyway" makes a second recording on purpose.
    anyway = lecturer_client.post("/lecturer/upload",
                                  data=upload_form(lecturer_client.token, tone, duplicate_ok="1"),
                                  content_type="multipart/form-data")
    assert anyway.status_code == 302 and len(_rows(app, "SELECT id FROM recordings")) == 2


def test_refused_upload_keeps_the_text_of_a_chosen_file(app, lecturer_client, tmp_path):
    notes = tmp_path / "notes.mp3"
    notes.write_text("lecture notes, not a recording\n" * 50)
    resp = lecturer_client.post(
        "/lecturer/upload",
        data=upload_form(lecturer_client.token, notes, title="Kept title", text_source="file",
                         text_file=(io.BytesIO(LESSON_TEXT.encode("utf-8")), "maamar.txt")),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    # The text file's content comes back as pasted text, ready to send again with a real recording.
    assert 'value="paste" checked' in page and "The second paragraph explains" in page
    assert 'value="Kept title"' in page and 'value="Rav Test"' in page and 'value="2024-10-03"' in page
    # The message sits right above the Upload button.
    assert page.index('id="upload-errors"') < page.index('id="upload-submit"')
    assert page.index('id="upload-errors"') > page.index('name="text_file"')


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"audio": (io.BytesIO(b"%PDF-1.4 not audio" * 50), "class.mp3")}, "not an audio file"),
        ({"audio": (io.BytesIO(b""), "empty.mp3")}, "empty"),
        ({"title": "  "}, "title is missing"),
        ({"recorded_on": "2024-13-40"}, "is not a date"),
        ({"language": "xx"}, "Unknown language"),
        ({"text_paste": "   "}, "No text was pasted"),
        ({"text_source": "file", "text_file": (io.BytesIO("שלום עולם".encode("cp1255")), "maamar.txt")},
         "Windows-1255"),
        ({"text_source": "library", "discourse_id": "9999"}, "not in the library"),
    ],
)
def test_upload_problems_reported_before_anything_is_stored(app, lecturer_client, tone, fields, message):
    before = _library_entries(app)
    resp = lecturer_client.post("/lecturer/upload", data=upload_form(lecturer_client.token, tone, **fields),
                                content_type="multipart/form-data")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert message in html and "Nothing was uploaded" in html
    assert _rows(app, "SELECT id FROM recordings") == []
    assert _rows(app, "SELECT id FROM jobs") == []
    assert _library_entries(app) == before
    assert list((Path(app.config["LIBRARY_DIR"]) / ".uploads").iterdir()) == []


def test_upload_too_large_is_refused(app_config, tone, tmp_path):
    from player import create_app

    app = create_app({**app_config, "MAX_UPLOAD_BYTES": 4096, "MAX_CONTENT_LENGTH": None})
    add_user(app)
    client = app.test_client()
    token = login(client)
    big = tone_wav(tmp_path / "big.wav", 2.0)
    resp = client.post("/lecturer/upload", data=upload_form(token, big), content_type="multipart/form-data")
    assert resp.status_code in (400, 413)
    assert "too large" in resp.get_data(as_text=True)
    assert _rows(app, "SELECT id FROM recordings") == []


def test_one_audio_size_limit_shown_and_enforced(app_config, tmp_path):
    from player import create_app
    from sync import audio

    # The default upload limit is the audio limit `shiur sync` applies (SHIUR_MAX_AUDIO_BYTES).
    app = create_app(app_config)
    assert app.config["MAX_UPLOAD_BYTES"] == audio.MAX_AUDIO_BYTES
    add_user(app)
    client = app.test_client()
    login(client)
    page = client.get("/lecturer/upload").get_data(as_text=True)
    assert f"up to {audio.format_size(audio.MAX_AUDIO_BYTES)}" in page
    assert audio.format_size(4 * 1024**3) == "4.0 GB"
    # A smaller configured limit is the one the form states.
    small = create_app({**app_config, "LIBRARY_DIR": str(tmp_path / "lib2"),
                        "DATABASE": str(tmp_path / "lib2" / "db.sqlite3"), "MAX_UPLOAD_BYTES": 3 * 1024**2})
    add_user(small)
    c2 = small.test_client()
    login(c2)
    assert "up to 3.0 MB" in c2.get("/lecturer/upload").get_data(as_text=True)


def test_create_app_holds_the_app_wide_settings(app_config):
    from player import auth, create_app

    app = create_app({**app_config, "SECRET_KEY": ""})
    assert isinstance(app.request_class, type) and app.request_class is lecturer.UploadRequest
    assert isinstance(app.session_interface, auth.SessionInterface)
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["MAX_CONTENT_LENGTH"] > app.config["MAX_UPLOAD_BYTES"]
    assert len(app.config["SECRET_KEY"]) >= 32  # generated and kept beside the library
    for name in ("duration", "hebrew_date", "filesize"):
        assert name in app.jinja_env.filters


def test_hebrew_date():
    assert lecturer.hebrew_date("2024-10-03") == "א׳ תשרי תשפ״ה"  # Rosh Hashanah 5785
    assert lecturer.hebrew_date("1965-10-02") == "ו׳ תשרי תשכ״ו"
    assert lecturer.hebrew_date("not a date") == ""


def test_upload_page_shows_hebrew_date(app, lecturer_client):
    html = lecturer_client.get("/lecturer/upload").get_data(as_text=True)
    assert 'name="csrf_token"' in html and 'enctype="multipart/form-data"' in html
    assert lecturer_client.get("/lecturer/hebrew-date?date=2024-10-03").get_json()["hebrew"] == "א׳ תשרי תשפ״ה"


# ---- review edits ------------------------------------------------------------------------


def _vtt_starts(folder: Path) -> dict[str, float]:
    out = {}
    lines = (folder / "passages.vtt").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "-->" in line:
            h, m, s = lines[i].split(" --> ")[0].split(":")
            out[lines[i - 1]] = int(h) * 3600 + int(m) * 60 + float(s)
    return out


def _edit(client, slug: str, **body: object):
    return client.post(f"/lecturer/r/{slug}/edit", json=body, headers={"X-CSRF-Token": client.token})


def test_set_start_nudge_not_read_and_undo(app, lecturer_client, recording):
    folder = Path(app.config["LIBRARY_DIR"]) / recording.slug
    original = _vtt_starts(folder)
    assert original["p2.1"] == 8.0 and original["p1.2.x"] == 5.5

    resp = _edit(lecturer_client, recording.slug, action="set_start", passage_id="p2.1", time=7.0)
    assert resp.status_code == 200, resp.get_json()
    starts = _vtt_starts(folder)
    assert starts["p2.1"] == 7.0
    a = Alignment.load(folder / "alignment.json")
    explained = next(c for c in a.cues if c.passage_id == "p1.2" and c.kind != READ)
    assert explained.end == 7.0  # the explanation before it no longer overlaps
    assert next(c for c in a.cues if c.passage_id == "p2.1").pinned

    assert _edit(lecturer_client, recording.slug, action="nudge", passage_id="p2.1", delta=0.5).status_code == 200
    assert _vtt_starts(folder)["p2.1"] == 7.5
    assert _edit(lecturer_client, recording.slug, action="not_read", passage_id="p3.1").status_code == 200
    assert "p3.1" not in _vtt_starts(folder)
    pins = {r["passage_id"]: r["start"] for r in _rows(app, "SELECT * FROM pins")}
    assert pins == {"p2.1": 7.5, "p3.1": None}

    history = [(r["action"], r["passage_id"]) for r in _rows(app, "SELECT * FROM edits ORDER BY id")]
    assert history == [("set_start", "p2.1"), ("nudge", "p2.1"), ("not_read", "p3.1")]

    undo = lambda: lecturer_client.post(f"/lecturer/r/{recording.slug}/undo",  # noqa: E731
                                        headers={"X-CSRF-Token": lecturer_client.token})
    assert undo().status_code == 200
    assert _vtt_starts(folder)["p3.1"] == 13.5
    assert undo().status_code == 200
    assert _vtt_starts(folder)["p2.1"] == 7.0
    assert undo().status_code == 200
    assert _vtt_starts(folder) == original
    assert _rows(app, "SELECT * FROM pins") == []
    assert undo().status_code == 409  # nothing left to undo
    actions = [r["action"] for r in _rows(app, "SELECT * FROM edits ORDER BY id")]
    assert actions.count("undo") == 3 and len(actions) == 6  # every edit, and every undo, is kept


def test_edit_rejects_bad_input(app, lecturer_client, recording):
    assert _edit(lecturer_client, recording.slug, action="set_start", passage_id="p99.1", time=1).status_code == 400
    assert _edit(lecturer_client, recording.slug, action="set_start", passage_id="p2.1", time="x").status_code == 400
    assert _edit(lecturer_client, recording.slug, action="explode", passage_id="p2.1").status_code == 400
    assert _rows(app, "SELECT * FROM edits") == []


def test_review_page_lists_low_confidence_first(app, lecturer_client, recording):
    folder = Path(app.config["LIBRARY_DIR"]) / recording.slug
    a = Alignment.load(folder / "alignment.json")
    next(c for c in a.cues if c.passage_id == "p3.2").confidence = 0.2
    (folder / "alignment.json").write_text(json.dumps(a.to_dict()), encoding="utf-8")
    html = lecturer_client.get(f"/lecturer/r/{recording.slug}").get_data(as_text=True)
    order = [pid for pid in ("p3.2", "p1.1", "p2.1") if pid in html]
    assert html.index('data-passage="p3.2"') < html.index('data-passage="p1.1"')
    assert order and 'id="set-start"' in html and 'id="undo"' in html and "Edit history" in html


def test_review_order_pure():
    d = parse_discourse(LESSON_TEXT)
    a = Alignment(cues=[Cue("p1.1", 0, 5, READ, 0.9), Cue("p2.1", 5, 9, READ, 0.3)], duration=20)
    rows = lecturer.review_order(a, d)
    ids = [r["passage_id"] for r in rows]
    assert ids[-2:] == ["p2.1", "p1.1"]  # least confident last among the found ones...
    assert all(r["not_read"] for r in rows[:-2])  # ...after the passages not found at all
    assert rows[-2]["low"] and not rows[-1]["low"]


def test_review_order_puts_doubtful_decisions_first():
    from sync.alignment import Decision

    d = parse_discourse(LESSON_TEXT)
    ids = [p.id for p in d.passages()]
    cues = [Cue(ids[0], 0, 5, READ, 0.95), Cue(ids[1], 5, 9, READ, 0.6)]
    # The aligner is sure ids[2] was never read, and doubts its decision about ids[3].
    decisions = [Decision(ids[0], True, 0.95), Decision(ids[1], True, 0.6), Decision(ids[2], False, 0.97)]
    decisions += [Decision(ids[3], False, 0.4)] + [Decision(p, False, 0.9) for p in ids[4:]]
    rows = lecturer.review_order(Alignment(cues=cues, duration=20, decisions=decisions), d)
    order = [r["passage_id"] for r in rows]
    assert order[:2] == [ids[3], ids[1]]  # the doubtful ones, least sure first
    assert rows[0]["low"] and rows[1]["low"] and not any(r["low"] for r in rows[2:])
    assert order.index(ids[2]) > order.index(ids[0])  # a sure skip comes after a less sure reading


# ---- publish and delete ------------------------------------------------------------------


def test_publish_and_unpublish(app, lecturer_client, recording):
    listener = app.test_client()
    token = lecturer_client.token
    assert lecturer_client.post(f"/lecturer/r/{recording.slug}/publish",
                                data={"csrf_token": token, "published": "0"}).status_code == 302
    assert listener.get(f"/r/{recording.slug}").status_code == 404
    assert recording.slug not in listener.get("/").get_data(as_text=True)
    assert lecturer_client.post(f"/lecturer/r/{recording.slug}/publish",
                                data={"csrf_token": token, "published": "1"}).status_code == 302
    assert listener.get(f"/r/{recording.slug}").status_code == 200
    assert [r["action"] for r in _rows(app, "SELECT action FROM edits")] == ["unpublish", "publish"]


def test_delete_asks_for_confirmation_and_removes_files(app, lecturer_client, recording):
    folder = Path(app.config["LIBRARY_DIR"]) / recording.slug
    page = lecturer_client.get(f"/lecturer/r/{recording.slug}/delete").get_data(as_text=True)
    assert "type the recording's title" in page and recording.title in page
    for typed in ("yes", recording.slug, "", "שיעור"):
        wrong = lecturer_client.post(f"/lecturer/r/{recording.slug}/delete",
                                     data={"csrf_token": lecturer_client.token, "confirm": typed})
        assert wrong.status_code == 400 and folder.is_dir()
        assert "does not match" in wrong.get_data(as_text=True)
    # The title as a Hebrew speaker types it, extra spaces and all.
    done = lecturer_client.post(f"/lecturer/r/{recording.slug}/delete",
                                data={"csrf_token": lecturer_client.token, "confirm": "  שיעור   לדוגמה "})
    assert done.status_code == 302
    assert not folder.exists()
    assert _rows(app, "SELECT id FROM recordings") == []
    assert app.test_client().get(f"/r/{recording.slug}").status_code == 404


# ---- anonymous users ---------------------------------------------------------------------

STATE_CHANGING = ["upload", "r/{slug}/edit", "r/{slug}/undo", "r/{slug}/realign", "r/{slug}/publish",
                  "r/{slug}/delete", "r/{slug}/retry"]


@pytest.mark.parametrize("path", STATE_CHANGING)
def test_anonymous_cannot_change_anything(app, recording, path):
    client = app.test_client()
    token = csrf(client)  # even with a valid CSRF token of their own session
    url = "/lecturer/" + path.format(slug=recording.slug)
    resp = client.post(url, data={"csrf_token": token, "confirm": recording.title, "published": "0"})
    assert resp.status_code == 401
    no_token = app.test_client().post(url, data={"confirm": recording.title})
    assert no_token.status_code in (400, 401)
    assert (Path(app.config["LIBRARY_DIR"]) / recording.slug / "passages.vtt").is_file()
    assert _rows(app, "SELECT published FROM recordings")[0][0] == 1
    assert _rows(app, "SELECT * FROM jobs") == [] and _rows(app, "SELECT * FROM edits") == []


@pytest.mark.parametrize("path", ["", "upload", "r/{slug}", "r/{slug}/delete", "r/{slug}/status.json"])
def test_anonymous_pages_redirect_to_login(app, recording, path):
    resp = app.test_client().get("/lecturer/" + path.format(slug=recording.slug))
    assert resp.status_code in (302, 401)
    if resp.status_code == 302:
        assert "/login" in resp.headers["Location"]


def test_logged_in_post_without_csrf_is_refused(app, lecturer_client, recording):
    for token in (None, "forged"):
        data = {"confirm": recording.title}
        if token:
            data["csrf_token"] = token
        resp = lecturer_client.post(f"/lecturer/r/{recording.slug}/delete", data=data)
        assert resp.status_code == 400
    assert (Path(app.config["LIBRARY_DIR"]) / recording.slug).is_dir()
    assert _edit(type("C", (), {"post": lecturer_client.post, "token": "forged"})(), recording.slug,
                 action="set_start", passage_id="p2.1", time=1.0).status_code == 400
    assert _rows(app, "SELECT * FROM edits") == []


def test_failed_job_shows_reason_and_retry(app, lecturer_client, tone):
    from player import jobs

    resp = lecturer_client.post("/lecturer/upload", data=upload_form(lecturer_client.token, tone),
                                content_type="multipart/form-data")
    slug = resp.headers["Location"].rsplit("/", 1)[1]
    conn = connect(app.config["DATABASE"])
    try:
        job = jobs.claim(conn, conn.execute("SELECT id FROM jobs").fetchone()["id"])
        jobs.record_outcome(conn, job["id"], jobs.FAILED, "the recording is silent")
    finally:
        conn.close()
    html = lecturer_client.get(f"/lecturer/r/{slug}").get_data(as_text=True)
    assert "the recording is silent" in html and 'id="retry"' in html
    assert lecturer_client.get(f"/lecturer/r/{slug}/status.json").get_json()["error"] == "the recording is silent"
    assert lecturer_client.post(f"/lecturer/r/{slug}/retry", data={"csrf_token": lecturer_client.token}).status_code == 302
    status = lecturer_client.get(f"/lecturer/r/{slug}/status.json").get_json()
    assert (status["state"], status["error"]) == ("queued", None)


def test_review_shows_what_was_heard_at_each_start(app, lecturer_client, recording):
    from sync.transcript import Segment, Transcript, Word

    folder = Path(app.config["LIBRARY_DIR"]) / recording.slug
    words = [Word(8.1, 8.4, "ולהבין"), Word(8.4, 8.7, "זה"), Word(30.0, 30.2, "later")]
    Transcript(duration=21.0, language="he", segments=[Segment(8.1, 8.7, "ולהבין זה", words)]).save(
        folder / "transcript.json")
    html = lecturer_client.get(f"/lecturer/r/{recording.slug}").get_data(as_text=True)
    assert "🎧 ולהבין זה</span>" in html
    assert lecturer.heard_at(words, 8.0) == "ולהבין זה"
    assert lecturer.heard_at(words, 20.0) == ""  # nothing within 6 s
    assert lecturer.heard_at(words, 25.0) == "later"


def test_edit_answers_with_what_the_page_redraws(app, lecturer_client, recording):
    import webvtt

    folder = Path(app.config["LIBRARY_DIR"]) / recording.slug
    resp = _edit(lecturer_client, recording.slug, action="set_start", passage_id="p2.1", time=7.25)
    state = resp.get_json()
    # The player's new cues are exactly the files just written (ids, times; the chapters' titles).
    for name, key in (("passages.vtt", "passages"), ("paragraphs.vtt", "paragraphs")):
        def secs(ts: str) -> float:
            h, m, s = ts.split(":")
            return round(int(h) * 3600 + int(m) * 60 + float(s), 3)

        written = [(c.identifier, secs(c.start), secs(c.end), c.text if key == "paragraphs" else "")
                   for c in webvtt.read(str(folder / name))]
        sent = [(c["id"], round(c["start"], 3), round(c["end"], 3), c.get("text", "")) for c in state["cues"][key]]
        assert sent == written, name
    # Rows and history come rendered by the page's own partials.
    assert 'data-passage="p2.1" data-start="7.25"' in state["rows_html"]
    assert "התחלה נקבעה · start set" in state["history_html"]
    page = lecturer_client.get(f"/lecturer/r/{recording.slug}").get_data(as_text=True)
    assert state["rows_html"].strip() in page
    # The same state on its own, for a re-alignment that finished while the page was open.
    again = lecturer_client.get(f"/lecturer/r/{recording.slug}/review.json").get_json()
    assert again["cues"] == state["cues"] and again["rows_html"] == state["rows_html"]


def test_job_states_in_words(app, lecturer_client, recording, tone):
    # Imported already synced: no job, "ready".
    assert "מוכן · ready" in lecturer_client.get("/lecturer/").get_data(as_text=True)
    assert lecturer_client.get(f"/lecturer/r/{recording.slug}/status.json").get_json()["label"] == "מוכן · ready"
    resp = lecturer_client.post("/lecturer/upload", data=upload_form(lecturer_client.token, tone),
                                content_type="multipart/form-data")
    slug = resp.headers["Location"].rsplit("/", 1)[1]
    status = lecturer_client.get(f"/lecturer/r/{slug}/status.json").get_json()
    assert (status["state"], status["label"]) == ("queued", "בתור · queued")
    dashboard = lecturer_client.get("/lecturer/").get_data(as_text=True)
    assert 'data-state="queued">בתור · queued' in dashboard
    for state, label in lecturer.JOB_STATES.items():
        assert label.split(" · ")[1] in ("not processed", state), state
