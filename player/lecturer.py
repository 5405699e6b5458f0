"""The lecturer's side: upload a class, watch it being processed, review and correct, publish.

Uploads stream straight into the library folder (never into memory, never into /tmp) through a
request class whose file parts are written there, and the finished upload is hard-linked into the
recording's folder. Everything is validated before a recording or a job is created, and a failed
upload removes only the folder it was making.

Corrections edit ``alignment.json`` and the VTT files in place and are kept as pins, so a later
re-alignment honours them. Every edit keeps a snapshot of the state before it: undo restores it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import os
import shutil
import sqlite3
import tempfile
import time
import zlib
from pathlib import Path
from typing import IO, Any

from flask import (
    Blueprint,
    Flask,
    Request,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from sync import pins as pins_rule
from sync.alignment import READ, Alignment, Cue, Pin
from sync.discourse import Discourse, decode_text, parse_discourse
from sync.errors import ShiurError

from . import jobs, library
from .auth import current_user, login_required
from .db import get_db

bp = Blueprint("lecturer", __name__, url_prefix="/lecturer")

MAX_UPLOAD_BYTES = 2 * 1024**3
"""Audio size limit (config ``MAX_UPLOAD_BYTES``); the whole request may be a little larger."""
UPLOADS = ".uploads"
LANGUAGES = {"he": "עברית · Hebrew", "yi": "יידיש · Yiddish", "en": "English", "auto": "זיהוי אוטומטי · Detect"}
NUDGE_S = 0.5
LOW_CONFIDENCE = 0.5


# ---- setup: streaming uploads --------------------------------------------------------------


class UploadRequest(Request):
    """File parts go to a temporary file in the library's upload folder, written in chunks."""

    def _get_file_stream(
        self, total_content_length: int | None, content_type: str | None, filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        folder = Path(current_app.config["LIBRARY_DIR"]) / UPLOADS
        folder.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=folder, prefix="up-", suffix=".part")  # noqa: SIM115


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    app.request_class = UploadRequest
    limit = int(app.config.get("MAX_UPLOAD_BYTES") or MAX_UPLOAD_BYTES)
    app.config["MAX_UPLOAD_BYTES"] = limit
    if app.config.get("MAX_CONTENT_LENGTH") is None or app.config["MAX_CONTENT_LENGTH"] < limit:
        app.config["MAX_CONTENT_LENGTH"] = limit + 16 * 1024**2
    # A pasted discourse is a form field, not a file; Flask's default cap (500 kB) is too small.
    app.config["MAX_FORM_MEMORY_SIZE"] = max(app.config.get("MAX_FORM_MEMORY_SIZE") or 0, 6 * 1024**2)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.jinja_env.filters["hebrew_date"] = hebrew_date
    _clean_uploads(Path(app.config["LIBRARY_DIR"]) / UPLOADS)


def _clean_uploads(folder: Path, older_than_s: float = 24 * 3600) -> None:
    """Remove parts left by a server killed mid-upload (live uploads are younger than a day)."""
    if not folder.is_dir():
        return
    now = time.time()
    for p in folder.glob("up-*.part"):
        try:
            if now - p.stat().st_mtime > older_than_s:
                p.unlink()
        except OSError:
            pass


def _too_large(_e: Exception) -> Any:
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    msg = (f"הקובץ גדול מדי (המגבלה {limit / 1024**3:.1f} GB). / "
           f"The file is too large: the limit is {limit / 1024**3:.1f} GB.")
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error=msg), 413
    return render_template("lecturer_error.html", message=msg), 413


# ---- pure helpers ------------------------------------------------------------------------


def hebrew_date(iso: str | None) -> str:
    """'2026-11-25' -> 'ט״ו כסלו תשפ״ז' (the civil date; an evening class belongs to the next
    Hebrew day, which a date alone cannot tell)."""
    if not iso:
        return ""
    try:
        d = dt.date.fromisoformat(iso)
    except ValueError:
        return ""
    from pyluach import dates

    return str(dates.GregorianDate(d.year, d.month, d.day).to_heb().hebrew_date_string())


def _snapshot(alignment: Alignment, pins: list[Pin]) -> bytes:
    data = {"alignment": alignment.to_dict(), "pins": [[p.passage_id, p.start] for p in pins]}
    return zlib.compress(json.dumps(data, ensure_ascii=False).encode("utf-8"))


def _restore(blob: bytes) -> tuple[Alignment, list[Pin]]:
    data = json.loads(zlib.decompress(blob).decode("utf-8"))
    return Alignment.from_dict(data["alignment"]), [Pin(p, s) for p, s in data["pins"]]


def _first_read(alignment: Alignment, passage_id: str) -> Cue | None:
    cues = [c for c in alignment.cues if c.passage_id == passage_id and c.kind == READ]
    return min(cues, key=lambda c: c.start) if cues else None


def set_start(alignment: Alignment, discourse: Discourse, passage_id: str, t: float) -> Pin:
    """The passage's reading starts at ``t`` (the rule is sync.pins', shared with re-alignment)."""
    return pins_rule.apply_pin(alignment, Pin(passage_id, t))


def mark_not_read(alignment: Alignment, passage_id: str) -> None:
    pins_rule.apply_not_read(alignment, passage_id)


def review_order(alignment: Alignment, discourse: Discourse) -> list[dict[str, Any]]:
    """Every passage with its reading, least confident first; not-found passages lead."""
    rows = []
    order = {p.id: i for i, p in enumerate(discourse.passages())}
    for p in discourse.passages():
        cue = _first_read(alignment, p.id)
        rows.append({
            "passage_id": p.id,
            "text": p.text,
            "start": None if cue is None else round(cue.start, 2),
            "end": None if cue is None else round(cue.end, 2),
            "confidence": None if cue is None else round(cue.confidence, 2),
            "pinned": bool(cue and cue.pinned),
            "not_read": cue is None,
            "low": cue is None or (not cue.pinned and cue.confidence < LOW_CONFIDENCE),
        })
    rows.sort(key=lambda r: (r["confidence"] is not None, r["confidence"] or 0.0, order[r["passage_id"]]))
    return rows


def heard_at(words: list[Any], start: float, seconds: float = 6.0, limit: int = 12) -> str:
    """What the recogniser heard from ``start`` on: the lecturer compares it with the passage."""
    i = bisect.bisect_left([w.start for w in words], start - 0.3)
    out = [w.text for w in words[i : i + limit] if w.start < start + seconds]
    return " ".join(out)


def _add_heard(rows: list[dict[str, Any]], transcript_path: Path) -> None:
    from sync.transcript import Transcript

    try:
        words = Transcript.load(transcript_path).words()
    except ShiurError:
        return
    for r in rows:
        r["heard"] = heard_at(words, r["start"]) if r["start"] is not None else ""


# ---- data access -------------------------------------------------------------------------


def _recording(slug: str) -> library.Recording:
    rec = library.get_recording(get_db(), slug, include_unpublished=True)
    if rec is None:
        abort(404)
    return rec


def _folder(rec: library.Recording) -> Path:
    return library.recording_dir(current_app.config["LIBRARY_DIR"], rec)


def _discourse(rec: library.Recording) -> Discourse:
    row = library.get_discourse(get_db(), rec.discourse_id) if rec.discourse_id is not None else None
    if row is None:
        abort(409, "the recording has no discourse text")
    return library.parsed_discourse(row)


def _pins(conn: sqlite3.Connection, rec_id: int) -> list[Pin]:
    rows = conn.execute("SELECT passage_id, start FROM pins WHERE recording_id = ? ORDER BY passage_id", (rec_id,))
    return [Pin(r["passage_id"], r["start"]) for r in rows]


def _save_pins(conn: sqlite3.Connection, rec_id: int, pins: list[Pin]) -> None:
    conn.execute("DELETE FROM pins WHERE recording_id = ?", (rec_id,))
    conn.executemany("INSERT INTO pins (recording_id, passage_id, start) VALUES (?, ?, ?)",
                     [(rec_id, p.passage_id, p.start) for p in pins])


def _write(folder: Path, discourse: Discourse, alignment: Alignment) -> None:
    from sync import writers

    result = writers.SyncResult(discourse, alignment, None, meta={"edited": True})
    writers.write_outputs(result, folder, ("passages.vtt", "paragraphs.vtt", "alignment.json"))


def _busy(conn: sqlite3.Connection, rec_id: int) -> bool:
    job = jobs.latest_job(conn, rec_id)
    return job is not None and job["state"] not in (jobs.DONE, jobs.FAILED)


def _history(conn: sqlite3.Connection, rec_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT e.id, e.action, e.passage_id, e.detail, e.undone, e.created_at, u.username FROM edits e"
        " LEFT JOIN users u ON u.id = e.user_id WHERE e.recording_id = ? ORDER BY e.id DESC LIMIT ?",
        (rec_id, limit),
    ).fetchall()
    return [dict(r) for r in rows]


def _log_edit(conn: sqlite3.Connection, rec_id: int, action: str, passage_id: str | None, detail: str,
              snapshot: bytes | None) -> int:
    user = current_user()
    cur = conn.execute(
        "INSERT INTO edits (recording_id, user_id, action, passage_id, detail, snapshot) VALUES (?, ?, ?, ?, ?, ?)",
        (rec_id, user["id"] if user else None, action, passage_id, detail, snapshot),
    )
    return int(cur.lastrowid or 0)


# ---- pages -------------------------------------------------------------------------------


@bp.route("/")
@login_required
def dashboard() -> str:
    conn = get_db()
    recs = library.list_recordings(conn, include_unpublished=True)
    states = {r.id: jobs.job_view(jobs.latest_job(conn, r.id)) for r in recs}
    return render_template("lecturer_dashboard.html", recordings=recs, states=states)


@bp.route("/hebrew-date")
@login_required
def hebrew_date_api() -> Any:
    return jsonify(hebrew=hebrew_date(request.args.get("date", "")))


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload() -> Any:
    conn = get_db()
    discourses = library.list_discourses(conn)
    user = current_user()
    values: dict[str, str] = {
        "title": "", "lecturer": (user["display_name"] if user else "") or "", "language": "he",
        "recorded_on": dt.date.today().isoformat(), "text_source": "library",
        "discourse_id": str(discourses[0]["id"]) if discourses else "", "text_paste": "",
    }
    if request.method == "GET":
        return render_template("lecturer_upload.html", values=values, errors=[], discourses=discourses,
                               languages=LANGUAGES)
    values.update({k: request.form.get(k, values.get(k, "")) for k in values})
    errors: list[str] = []
    audio = request.files.get("audio")
    try:
        text, errors = _validate(values, audio, request.files.get("text_file"), errors)
        if errors:
            return render_template("lecturer_upload.html", values=values, errors=errors, discourses=discourses,
                                   languages=LANGUAGES), 400
        assert audio is not None
        rec_slug = _store(conn, values, audio, text)
    finally:
        for f in request.files.values():
            f.close()
    flash("ההקלטה הועלתה ונכנסה לתור העיבוד. / Uploaded; processing has been queued.")
    target = url_for("lecturer.review", slug=rec_slug)
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return jsonify(redirect=target)
    return redirect(target)


def _validate(values: dict[str, str], audio: FileStorage | None, text_file: FileStorage | None,
              errors: list[str]) -> tuple[str | int | None, list[str]]:
    from . import webaudio

    if not values["title"].strip():
        errors.append("חסרה כותרת. / The title is missing.")
    elif len(values["title"]) > 200:
        errors.append("הכותרת ארוכה מדי. / The title is longer than 200 characters.")
    if values["language"] not in LANGUAGES:
        errors.append(f"שפה לא מוכרת. / Unknown language {values['language']!r}.")
    if values["recorded_on"]:
        try:
            dt.date.fromisoformat(values["recorded_on"])
        except ValueError:
            errors.append(f"תאריך לא תקין. / {values['recorded_on']!r} is not a date (YYYY-MM-DD).")
    if audio is None or not audio.filename:
        errors.append("לא נבחר קובץ שמע. / No audio file was chosen.")
    else:
        size = _size(audio)
        limit = current_app.config["MAX_UPLOAD_BYTES"]
        if size > limit:
            errors.append(f"{audio.filename}: הקובץ גדול מדי / too large ({size / 1e9:.1f} GB, "
                          f"limit {limit / 1024**3:.1f} GB).")
        else:
            try:
                webaudio.probe_audio(Path(audio.stream.name), audio.filename)  # type: ignore[attr-defined]
            except ShiurError as e:
                errors.append(f"קובץ השמע אינו תקין. / {e}")
    text: str | int | None = None
    source = values["text_source"]
    try:
        if source == "library":
            row = library.get_discourse(get_db(), int(values["discourse_id"] or 0))
            if row is None:
                errors.append("המאמר שנבחר אינו בספרייה. / The chosen discourse is not in the library.")
            else:
                text = int(row["id"])
        elif source == "paste":
            text = values["text_paste"]
            if not text.strip():
                errors.append("לא הודבק טקסט. / No text was pasted.")
                text = None
        elif source == "file":
            if text_file is None or not text_file.filename:
                errors.append("לא נבחר קובץ טקסט. / No text file was chosen.")
            else:
                text = decode_text(text_file.read(), text_file.filename)
        else:
            errors.append("בחרו מקור לטקסט המאמר. / Choose where the discourse text comes from.")
        if isinstance(text, str):
            if not parse_discourse(text).paragraphs:
                errors.append("בטקסט לא נמצאו פסקאות. / The text has no paragraphs "
                              "(paragraphs are separated by blank lines).")
                text = None
    except ShiurError as e:
        errors.append(f"קובץ הטקסט אינו תקין. / {e}")
        text = None
    except ValueError:
        errors.append("המאמר שנבחר אינו בספרייה. / The chosen discourse is not in the library.")
    return text, errors


def _size(f: FileStorage) -> int:
    stream = f.stream
    pos = stream.tell()
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(pos)
    return size


def _suffix(filename: str) -> str:
    from sync.audio import EXTENSIONS

    suffix = Path(filename).suffix.lower()
    return suffix if suffix in EXTENSIONS else ".audio"


def _store(conn: sqlite3.Connection, values: dict[str, str], audio: FileStorage, text: str | int | None) -> str:
    lib = Path(current_app.config["LIBRARY_DIR"])
    discourse_id = text if isinstance(text, int) else library.add_discourse(conn, str(text))
    title = values["title"].strip()
    base = library.slugify(title, "shiur")
    if values["recorded_on"]:
        base = f"{values['recorded_on']}-{base}"[:60]
    slug = library.unique_slug(conn, "recordings", base, lib)
    folder = lib / slug
    folder.mkdir(parents=True)
    try:
        name = f"original{_suffix(audio.filename or '')}"
        src = Path(audio.stream.name)  # type: ignore[attr-defined]
        audio.stream.flush()
        try:
            # Same filesystem: the finished upload becomes the original without a second copy.
            os.link(src, folder / name)
        except OSError:
            shutil.copyfile(src, folder / name)
        # Temporary files are private (0600); the library's files follow the usual umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(folder / name, 0o666 & ~umask)
        cur = conn.execute(
            "INSERT INTO recordings (slug, title, lecturer, recorded_on, language, discourse_id, audio_path, outdir,"
            " status, published) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0)",
            (slug, title, values["lecturer"].strip(), values["recorded_on"] or None, values["language"],
             discourse_id, name, slug),
        )
        jobs.enqueue(conn, int(cur.lastrowid or 0))
    except BaseException:
        conn.rollback()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return slug


@bp.route("/r/<slug>")
@login_required
def review(slug: str) -> str:
    rec = _recording(slug)
    conn = get_db()
    job = jobs.job_view(jobs.latest_job(conn, rec.id))
    discourse = _discourse(rec)
    folder = _folder(rec)
    rows: list[dict[str, Any]] = []
    has_alignment = (folder / "alignment.json").is_file()
    if has_alignment:
        rows = review_order(Alignment.load(folder / "alignment.json"), discourse)
        _add_heard(rows, folder / "transcript.json")
    return render_template(
        "lecturer_review.html", rec=rec, job=job, worker_running=jobs.worker_running(conn), discourse=discourse,
        rows=rows, has_alignment=has_alignment,
        history=_history(conn, rec.id), low_confidence=LOW_CONFIDENCE, nudge=NUDGE_S,
        player_extra_template="lecturer_review_controls.html",
    )


@bp.route("/r/<slug>/status.json")
@login_required
def status(slug: str) -> Any:
    rec = _recording(slug)
    conn = get_db()
    view = jobs.job_view(jobs.latest_job(conn, rec.id))
    view["published"] = rec.published
    view["worker_running"] = jobs.worker_running(conn)
    return jsonify(view)


@bp.route("/r/<slug>/retry", methods=["POST"])
@login_required
def retry(slug: str) -> Any:
    rec = _recording(slug)
    conn = get_db()
    job = jobs.latest_job(conn, rec.id)
    if job is not None and job["state"] == jobs.FAILED:
        jobs.retry(conn, job["id"])
        _log_edit(conn, rec.id, "retry", None, f"job {job['id']}", None)
        conn.commit()
    return redirect(url_for("lecturer.review", slug=slug))


@bp.route("/r/<slug>/edit", methods=["POST"])
@login_required
def edit(slug: str) -> Any:
    """One correction: {"action": "set_start"|"nudge"|"not_read", "passage_id": ..., "time"|"delta": ...}."""
    rec = _recording(slug)
    conn = get_db()
    data = request.get_json(silent=True) or request.form.to_dict()
    action = str(data.get("action", ""))
    pid = str(data.get("passage_id", ""))
    if _busy(conn, rec.id):
        return jsonify(error="ההקלטה בעיבוד כעת; המתינו לסיומו. / Still processing; wait until it is done."), 409
    folder = _folder(rec)
    if not (folder / "alignment.json").is_file():
        return jsonify(error="אין עדיין יישור לתקן. / There is no alignment to correct yet."), 409
    discourse = _discourse(rec)
    try:
        discourse.passage(pid)
    except KeyError:
        return jsonify(error=f"אין קטע {pid!r}. / No passage {pid!r}."), 400
    alignment = Alignment.load(folder / "alignment.json")
    pins = _pins(conn, rec.id)
    before = _snapshot(alignment, pins)
    try:
        if action == "set_start":
            t = float(data["time"])
            placed = set_start(alignment, discourse, pid, t)
            detail = f"start {t:.2f}"
        elif action == "nudge":
            delta = float(data["delta"])
            cue = _first_read(alignment, pid)
            if cue is None:
                return jsonify(error="לקטע אין זמן התחלה להזיז. / This passage has no start to nudge."), 400
            t = cue.start + delta
            placed = set_start(alignment, discourse, pid, t)
            detail = f"nudge {delta:+.1f} -> {max(0.0, t):.2f}"
        elif action == "not_read":
            mark_not_read(alignment, pid)
            placed = Pin(pid, None)
            detail = "not read"
        else:
            return jsonify(error=f"unknown action {action!r}"), 400
    except (KeyError, TypeError, ValueError):
        return jsonify(error="ערך זמן חסר או לא תקין. / Missing or invalid time value."), 400
    pins = [p for p in pins if p.passage_id != pid] + [placed]
    alignment.meta["corrections"] = len(pins)
    _write(folder, discourse, alignment)
    _save_pins(conn, rec.id, pins)
    _log_edit(conn, rec.id, action, pid, detail, before)
    conn.commit()
    return jsonify(ok=True, rows=review_order(alignment, discourse), history=_history(conn, rec.id))


@bp.route("/r/<slug>/undo", methods=["POST"])
@login_required
def undo(slug: str) -> Any:
    rec = _recording(slug)
    conn = get_db()
    if _busy(conn, rec.id):
        return jsonify(error="ההקלטה בעיבוד כעת. / The recording is being processed."), 409
    last = conn.execute(
        "SELECT * FROM edits WHERE recording_id = ? AND undone = 0 AND snapshot IS NOT NULL ORDER BY id DESC LIMIT 1",
        (rec.id,),
    ).fetchone()
    if last is None:
        return jsonify(error="אין מה לבטל. / Nothing to undo."), 409
    alignment, pins = _restore(last["snapshot"])
    discourse = _discourse(rec)
    _write(_folder(rec), discourse, alignment)
    _save_pins(conn, rec.id, pins)
    conn.execute("UPDATE edits SET undone = 1 WHERE id = ?", (last["id"],))
    _log_edit(conn, rec.id, "undo", last["passage_id"], f"undid #{last['id']} ({last['action']})", None)
    conn.commit()
    return jsonify(ok=True, rows=review_order(alignment, discourse), history=_history(conn, rec.id))


@bp.route("/r/<slug>/realign", methods=["POST"])
@login_required
def realign(slug: str) -> Any:
    """Re-run the aligner with the pins; the cached transcript is reused, nothing is re-transcribed."""
    rec = _recording(slug)
    conn = get_db()
    folder = _folder(rec)
    if _busy(conn, rec.id):
        return jsonify(error="ההקלטה כבר בעיבוד. / Already processing."), 409
    if not (folder / "transcript.json").is_file():
        return jsonify(error="אין תמליל שמור; הריצו עיבוד מלא. / No saved transcript; run the full processing."), 409
    snap = None
    if (folder / "alignment.json").is_file():
        snap = _snapshot(Alignment.load(folder / "alignment.json"), _pins(conn, rec.id))
    job_id = jobs.enqueue(conn, rec.id, jobs.REALIGN)
    _log_edit(conn, rec.id, "realign", None, f"job {job_id}, {len(_pins(conn, rec.id))} pins", snap)
    conn.commit()
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(ok=True, job=job_id)
    return redirect(url_for("lecturer.review", slug=slug))


@bp.route("/r/<slug>/publish", methods=["POST"])
@login_required
def publish(slug: str) -> Any:
    rec = _recording(slug)
    conn = get_db()
    want = request.form.get("published", "1") == "1"
    if want and not (_folder(rec) / "passages.vtt").is_file():
        flash("אי אפשר לפרסם לפני שהעיבוד הסתיים. / Cannot publish before processing is done.")
        return redirect(url_for("lecturer.review", slug=slug))
    conn.execute("UPDATE recordings SET published = ? WHERE id = ?", (int(want), rec.id))
    _log_edit(conn, rec.id, "publish" if want else "unpublish", None, "", None)
    conn.commit()
    flash("פורסם. / Published." if want else "הפרסום בוטל. / Unpublished.")
    return redirect(url_for("lecturer.review", slug=slug))


@bp.route("/r/<slug>/delete", methods=["GET", "POST"])
@login_required
def delete(slug: str) -> Any:
    rec = _recording(slug)
    if request.method == "GET":
        return render_template("lecturer_delete.html", rec=rec)
    if request.form.get("confirm") != rec.slug:
        flash("המחיקה לא אושרה. / Deletion was not confirmed.")
        return render_template("lecturer_delete.html", rec=rec, error=True), 400
    conn = get_db()
    lib = Path(current_app.config["LIBRARY_DIR"]).resolve()
    folder = _folder(rec).resolve()
    if folder == lib or lib not in folder.parents:
        abort(500, "refusing to delete a folder outside the library")
    for table in ("jobs", "pins", "edits"):
        conn.execute(f"DELETE FROM {table} WHERE recording_id = ?", (rec.id,))
    conn.execute("DELETE FROM recordings WHERE id = ?", (rec.id,))
    conn.commit()
    shutil.rmtree(folder, ignore_errors=True)
    flash(f"„{rec.title}” נמחק. / Deleted.")
    return redirect(url_for("lecturer.dashboard"))


@bp.after_request
def _private(resp: Any) -> Any:
    # Drafts and edit screens must never be served from a shared cache.
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp
