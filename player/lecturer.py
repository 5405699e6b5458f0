"""The lecturer's side: upload a class, watch it being processed, review and correct, publish.

Uploads stream straight into the library folder (never into memory, never into /tmp) through a
request class whose file parts are written there, and the finished upload is hard-linked into the
recording's folder. Everything is validated before a recording or a job is created, and a failed
upload removes only the folder it was making.

Corrections edit ``alignment.json`` and the VTT files and are kept as pins, so a later
re-alignment honours them. Every edit keeps a snapshot of the state before it: undo restores it.
Edits of one recording are serialised and saved as one unit with the database
(``player/saving.py``); only its owner or an admin may change a recording (``player/ownership.py``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import json
import math
import os
import shutil
import sqlite3
import time
import zlib
from pathlib import Path
from typing import IO, Any

from flask import (
    Blueprint,
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
from sync import writers
from sync.alignment import DOUBTFUL_BELOW, READ, Alignment, Cue, Pin, cue_ids
from sync.audio import EXTENSIONS, format_size, sha256_file
from sync.discourse import Discourse, decode_text, parse_discourse
from sync.errors import ShiurError

from . import jobs, library, outcome, ownership, saving, uploads
from .auth import current_user, login_required
from .db import get_db

bp = Blueprint("lecturer", __name__, url_prefix="/lecturer")

UPLOADS = ".uploads"
JOB_STATES = {
    "none": "לא עובד · not processed",
    "ready": "מוכן · ready",
    "queued": "בתור · queued",
    "transcribing": "מתמלל · transcribing",
    "aligning": "מיישר · aligning",
    "done": "הסתיים · done",
    "failed": "נכשל · failed",
}
"""How a job's state (jobs.QUEUED ...) reads on the pages: Hebrew first, the English word after."""
EDIT_ACTIONS = {
    "set_start": "התחלה נקבעה · start set",
    "nudge": "הוזז · nudged",
    "not_read": "סומן כלא נקרא · marked not read",
    "undo": "בוטל · undone",
    "realign": "יישור מחדש · re-aligned",
    "retry": "ניסיון חוזר · retried",
    "publish": "פורסם · published",
    "unpublish": "הפרסום בוטל · unpublished",
}
"""The edit history's actions, as the page shows them."""
LANGUAGES = {"he": "עברית · Hebrew", "yi": "יידיש · Yiddish", "en": "English", "auto": "זיהוי אוטומטי · Detect"}
NUDGE_S = 0.5
MAX_NUDGE_S = 3600.0
"""The largest nudge accepted (the page's buttons send ±0.5 s); anything bigger is a typo or an attack."""
MAX_TIME_S = 24 * 3600.0
"""A start time beyond this is refused even when the recording's duration is unknown."""
LOW_CONFIDENCE = DOUBTFUL_BELOW


# ---- setup: streaming uploads --------------------------------------------------------------


class UploadRequest(Request):
    """File parts go to a temporary file in the library's upload folder, written in chunks and
    held to the size limit as they stream (``player/uploads.py``)."""

    def _get_file_stream(
        self, total_content_length: int | None, content_type: str | None, filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return uploads.open_part(Path(current_app.config["LIBRARY_DIR"]) / UPLOADS)


def clean_uploads(folder: Path, older_than_s: float = 24 * 3600) -> None:
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


@bp.app_errorhandler(RequestEntityTooLarge)
def _too_large(_e: Exception) -> Any:
    limit = format_size(current_app.config["MAX_UPLOAD_BYTES"])
    msg = f"הקובץ גדול מדי (המגבלה {limit}). / The file is too large: the limit is {limit}."
    if request.accept_mimetypes.best == "application/json" or _from_script():
        box = render_template("_upload_errors.html", errors=[msg], duplicate=None)
        return jsonify(error=msg, errors=[msg], errors_html=box), 413
    return render_template("lecturer_error.html", message=msg), 413


# ---- pure helpers ------------------------------------------------------------------------


def job_state_label(state: str) -> str:
    return JOB_STATES.get(state, state)


def edit_action_label(action: str) -> str:
    return EDIT_ACTIONS.get(action, action)


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


def confirms_title(typed: str, title: str) -> bool:
    """Deletion is confirmed by typing the recording's title; spacing and a final full stop do not matter."""

    def norm(s: str) -> str:
        return " ".join(s.split()).rstrip(".").casefold()

    return bool(norm(typed)) and norm(typed) == norm(title)


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
    """Every passage with its reading, doubtful ones first, least confident first.

    A read passage is as sure as its least sure reading (the cues are the truth the lecturer
    edits); a passage not read is as sure as the aligner's decision about it (alignment.json's
    ``decisions``); an alignment from before decisions were kept lists not-found ones first."""
    rows = []
    order = {p.id: i for i, p in enumerate(discourse.passages())}
    decided = {d.passage_id: d.confidence for d in alignment.decisions if not d.read}
    for p in discourse.passages():
        cue = _first_read(alignment, p.id)
        readings = [c for c in alignment.cues if c.passage_id == p.id and c.kind == READ]
        if readings:
            sure = min(1.0 if c.pinned else c.confidence for c in readings)
        else:
            sure = decided.get(p.id, 0.0)
        rows.append({
            "passage_id": p.id,
            "text": p.text,
            "start": None if cue is None else round(cue.start, 2),
            "end": None if cue is None else round(cue.end, 2),
            "confidence": None if cue is None else round(cue.confidence, 2),
            "pinned": bool(cue and cue.pinned),
            "not_read": cue is None,
            "sure": round(sure, 3),
            "low": sure < LOW_CONFIDENCE,
        })
    rows.sort(key=lambda r: (not r["low"], r["sure"], order[r["passage_id"]]))
    return rows


def heard_at(words: list[Any], start: float, seconds: float = 6.0, limit: int = 12) -> str:
    """What the recogniser heard from ``start`` on: the lecturer compares it with the passage."""
    i = bisect.bisect_left([w.start for w in words], start - 0.3)
    out = [w.text for w in words[i : i + limit] if w.start < start + seconds]
    return " ".join(out)


@functools.lru_cache(maxsize=8)
def _transcript_words(path: str, _mtime_ns: int) -> list[Any]:
    # Read once per version of the file: every edit shows what was heard, and a 3-hour
    # transcript takes a tenth of a second to load.
    from sync.transcript import Transcript

    return Transcript.load(path).words()


def _add_heard(rows: list[dict[str, Any]], transcript_path: Path) -> None:
    try:
        words = _transcript_words(str(transcript_path), transcript_path.stat().st_mtime_ns)
    except (ShiurError, OSError):
        return
    for r in rows:
        r["heard"] = heard_at(words, r["start"]) if r["start"] is not None else ""


def track_cues(alignment: Alignment, discourse: Discourse) -> dict[str, list[dict[str, Any]]]:
    """The cues of passages.vtt and paragraphs.vtt as the writers make them, for the review page's
    player to take in place: the same ids and times as the files just written. A passage cue's
    text is left out (the player shows the page's own text; it would be most of the answer)."""
    from sync.writers import chapter_title, ordered_cues, paragraph_runs, run_ids

    cues = ordered_cues(alignment)
    runs = paragraph_runs(alignment)
    return {
        "passages": [{"id": i, "start": round(c.start, 3), "end": round(c.end, 3)}
                     for i, c in zip(cue_ids(cues), cues, strict=True)],
        "paragraphs": [{"id": i, "start": round(r.start, 3), "end": round(r.end, 3),
                        "text": chapter_title(discourse.paragraph(r.paragraph_id))}
                       for i, r in zip(run_ids(runs), runs, strict=True)],
    }


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


def _manage(conn: sqlite3.Connection, rec: library.Recording) -> None:
    ownership.require_manage(conn, rec.id, current_user())


class BadEdit(ValueError):
    """An edit request that cannot be applied; its text is the answer (400)."""


def _number(data: dict[str, Any], key: str, limit: float) -> float:
    value = data.get(key)
    # bool is an int to Python, and "nan"/"inf" are floats to float(): neither is a time.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadEdit(f"ערך חסר או לא תקין ({key}). / Missing or invalid {key!r}: a number of seconds.")
    try:
        x = float(value)
    except ValueError:
        raise BadEdit(f"ערך לא תקין ({key}). / {key!r} must be a number of seconds, not {value!r}.") from None
    if not math.isfinite(x) or abs(x) > limit:
        raise BadEdit(f"ערך מחוץ לטווח ({key}). / {key!r} must be a finite number within ±{limit:g} s.")
    return x


def parse_edit(data: Any, duration: float | None) -> tuple[str, str, float | None]:
    """(action, passage_id, time or delta) of an edit request body, or BadEdit."""
    if not isinstance(data, dict):
        raise BadEdit("גוף הבקשה צריך להיות אובייקט JSON. / The request body must be a JSON object.")
    action = data.get("action")
    pid = data.get("passage_id")
    if not isinstance(action, str) or action not in ("set_start", "nudge", "not_read"):
        raise BadEdit(f"פעולה לא מוכרת. / Unknown action {action!r}.")
    if not isinstance(pid, str) or not pid:
        raise BadEdit("חסר מזהה קטע. / The passage_id is missing.")
    if action == "set_start":
        t = _number(data, "time", MAX_TIME_S)
        if t < 0 or (duration and t > duration + 1.0):
            raise BadEdit(f"הזמן מחוץ להקלטה. / The time {t:g} s is outside the recording.")
        return action, pid, t
    if action == "nudge":
        return action, pid, _number(data, "delta", MAX_NUDGE_S)
    return action, pid, None


def _busy(conn: sqlite3.Connection, rec_id: int) -> bool:
    job = jobs.latest_job(conn, rec_id)
    return job is not None and job["state"] not in (jobs.DONE, jobs.FAILED)


def _job_view(conn: sqlite3.Connection, rec: library.Recording) -> dict[str, Any]:
    """The latest job as the pages show it, with its state in words (a recording imported already
    synced has no job: it reads "ready")."""
    view = jobs.job_view(jobs.latest_job(conn, rec.id))
    view["label"] = job_state_label("ready" if view["state"] == "none" and rec.synced else view["state"])
    return view


def _history(conn: sqlite3.Connection, rec_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT e.id, e.action, e.passage_id, e.detail, e.undone, e.created_at, u.username FROM edits e"
        " LEFT JOIN users u ON u.id = e.user_id WHERE e.recording_id = ? ORDER BY e.id DESC LIMIT ?",
        (rec_id, limit),
    ).fetchall()
    return [dict(r) for r in rows]


def _review_state(conn: sqlite3.Connection, rec: library.Recording, discourse: Discourse,
                  alignment: Alignment) -> dict[str, Any]:
    """What the review page redraws after an edit, without reloading: rows, history, the player's cues."""
    rows = review_order(alignment, discourse)
    _add_heard(rows, _folder(rec) / "transcript.json")
    history = _history(conn, rec.id)
    return {"ok": True, "cues": track_cues(alignment, discourse),
            "rows_html": render_template("_review_rows.html", rows=rows),
            "history_html": render_template("_review_history.html", history=history)}


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
    states = {r.id: _job_view(conn, r) for r in recs}
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
        return _upload_page(values, [], discourses)
    values.update({k: request.form.get(k, values.get(k, "")) for k in values})
    errors: list[str] = []
    audio = request.files.get("audio")
    try:
        text, errors = _validate(values, audio, request.files.get("text_file"), errors)
        digest = ""
        duplicate = None
        if not errors:
            assert audio is not None
            audio.stream.flush()
            digest = sha256_file(Path(audio.stream.name))  # type: ignore[attr-defined]
            if not request.form.get("duplicate_ok"):
                duplicate = library.find_by_audio(conn, digest)
        if errors or duplicate:
            if values["text_source"] == "file" and isinstance(text, str):
                # A file input cannot be refilled; the text it brought is kept as pasted text.
                values.update(text_source="paste", text_paste=text)
            return _upload_refused(values, errors, discourses, duplicate)
        assert audio is not None
        rec_slug = _store(conn, values, audio, text, digest)
    finally:
        for f in request.files.values():
            f.close()
    flash("ההקלטה הועלתה ונכנסה לתור העיבוד. / Uploaded; processing has been queued.")
    target = url_for("lecturer.review", slug=rec_slug)
    if _from_script():
        return jsonify(redirect=target)
    return redirect(target)


def _from_script() -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _upload_page(values: dict[str, str], errors: list[str], discourses: list[Any],
                 duplicate: library.Recording | None = None) -> str:
    return render_template("lecturer_upload.html", values=values, errors=errors, discourses=discourses,
                           languages=LANGUAGES, duplicate=duplicate, audio_extensions=EXTENSIONS)


def _upload_refused(values: dict[str, str], errors: list[str], discourses: list[Any],
                    duplicate: library.Recording | None) -> Any:
    """The form again, everything typed kept; the page's script gets only the message box (its files stay chosen)."""
    status = 400 if errors else 409
    if _from_script():
        box = render_template("_upload_errors.html", errors=errors, duplicate=duplicate)
        return jsonify(errors=errors, errors_html=box,
                       duplicate=None if duplicate is None else url_for("lecturer.review", slug=duplicate.slug)), status
    return _upload_page(values, errors, discourses, duplicate), status


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
            errors.append(f"{audio.filename}: הקובץ גדול מדי / too large ({format_size(size)}, "
                          f"limit {format_size(limit)}).")
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
    suffix = Path(filename).suffix.lower()
    return suffix if suffix in EXTENSIONS else ".audio"


def _store(conn: sqlite3.Connection, values: dict[str, str], audio: FileStorage, text: str | int | None,
           audio_sha256: str) -> str:
    lib = Path(current_app.config["LIBRARY_DIR"])
    discourse_id = text if isinstance(text, int) else library.add_discourse(conn, str(text))
    title = values["title"].strip()
    slug = library.unique_slug(conn, "recordings", library.recording_slug(title, values["recorded_on"]), lib)
    folder = lib / slug
    folder.mkdir(parents=True)
    try:
        name = f"original{_suffix(audio.filename or '')}"
        src = Path(audio.stream.name)  # type: ignore[attr-defined]
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
            " status, published, audio_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?)",
            (slug, title, values["lecturer"].strip(), values["recorded_on"] or None, values["language"],
             discourse_id, name, slug, audio_sha256),
        )
        user = current_user()
        conn.execute("UPDATE recordings SET owner_id = ?, source_name = ? WHERE id = ?",
                     (user["id"] if user else None, Path(audio.filename or "").name[:200], cur.lastrowid))
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
    job = _job_view(conn, rec)
    discourse = _discourse(rec)
    folder = _folder(rec)
    saving.recover(conn, folder)
    rows: list[dict[str, Any]] = []
    has_alignment = (folder / "alignment.json").is_file()
    if has_alignment:
        rows = review_order(Alignment.load(folder / "alignment.json"), discourse)
        _add_heard(rows, folder / "transcript.json")
    return render_template(
        "lecturer_review.html", rec=rec, job=job, worker_running=jobs.worker_running(conn), discourse=discourse,
        rows=rows, has_alignment=has_alignment, attention=outcome.attention(conn, rec.id),
        can_manage=ownership.can_manage(current_user(), ownership.owner_id(conn, rec.id)),
        history=_history(conn, rec.id), low_confidence=LOW_CONFIDENCE, nudge=NUDGE_S,
        player_extra_template="lecturer_review_controls.html",
    )


@bp.route("/r/<slug>/status.json")
@login_required
def status(slug: str) -> Any:
    rec = _recording(slug)
    conn = get_db()
    view = _job_view(conn, rec)
    view["published"] = rec.published
    view["worker_running"] = jobs.worker_running(conn)
    view["attention"] = outcome.attention(conn, rec.id)
    return jsonify(view)


@bp.route("/r/<slug>/review.json")
@login_required
def review_state(slug: str) -> Any:
    """The review page's rows, history and cues as they are now (after a re-alignment finishes)."""
    rec = _recording(slug)
    folder = _folder(rec)
    if not (folder / "alignment.json").is_file():
        return jsonify(error="אין עדיין יישור. / There is no alignment yet."), 409
    return jsonify(_review_state(get_db(), rec, _discourse(rec), Alignment.load(folder / "alignment.json")))


@bp.route("/r/<slug>/retry", methods=["POST"])
@login_required
def retry(slug: str) -> Any:
    rec = _recording(slug)
    conn = get_db()
    _manage(conn, rec)
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
    _manage(conn, rec)
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if _busy(conn, rec.id):
        return jsonify(error="ההקלטה בעיבוד כעת; המתינו לסיומו. / Still processing; wait until it is done."), 409
    folder = _folder(rec)
    discourse = _discourse(rec)
    with writers.folder_lock(folder):
        saving.recover(conn, folder, locked=True)
        if not (folder / "alignment.json").is_file():
            return jsonify(error="אין עדיין יישור לתקן. / There is no alignment to correct yet."), 409
        alignment = Alignment.load(folder / "alignment.json")
        try:
            action, pid, value = parse_edit(data, alignment.duration or rec.duration)
            discourse.passage(pid)
        except BadEdit as e:
            return jsonify(error=str(e)), 400
        except KeyError:
            return jsonify(error=f"אין קטע {pid!r}. / No passage {pid!r}."), 400
        # Read under the lock: an edit saved a moment ago by someone else is part of this one.
        pins = _pins(conn, rec.id)
        before = _snapshot(alignment, pins)
        if action == "set_start":
            assert value is not None
            placed = set_start(alignment, discourse, pid, value)
            detail = f"start {value:.2f}"
        elif action == "nudge":
            assert value is not None
            cue = _first_read(alignment, pid)
            if cue is None:
                return jsonify(error="לקטע אין זמן התחלה להזיז. / This passage has no start to nudge."), 400
            t = cue.start + value
            placed = set_start(alignment, discourse, pid, t)
            detail = f"nudge {value:+.1f} -> {max(0.0, t):.2f}"
        else:
            mark_not_read(alignment, pid)
            placed = Pin(pid, None)
            detail = "not read"
        pins = [p for p in pins if p.passage_id != pid] + [placed]
        alignment.meta["corrections"] = len(pins)

        def db_changes() -> None:
            _save_pins(conn, rec.id, pins)
            _log_edit(conn, rec.id, action, pid, detail, before)

        saving.save(conn, rec.id, folder, discourse, alignment, db_changes)
    return jsonify(_review_state(conn, rec, discourse, alignment))


@bp.route("/r/<slug>/undo", methods=["POST"])
@login_required
def undo(slug: str) -> Any:
    rec = _recording(slug)
    conn = get_db()
    _manage(conn, rec)
    if _busy(conn, rec.id):
        return jsonify(error="ההקלטה בעיבוד כעת. / The recording is being processed."), 409
    discourse = _discourse(rec)
    folder = _folder(rec)
    with writers.folder_lock(folder):
        saving.recover(conn, folder, locked=True)
        last = conn.execute(
            "SELECT * FROM edits WHERE recording_id = ? AND undone = 0 AND snapshot IS NOT NULL"
            " ORDER BY id DESC LIMIT 1",
            (rec.id,),
        ).fetchone()
        if last is None:
            return jsonify(error="אין מה לבטל. / Nothing to undo."), 409
        alignment, pins = _restore(last["snapshot"])

        def db_changes() -> None:
            _save_pins(conn, rec.id, pins)
            conn.execute("UPDATE edits SET undone = 1 WHERE id = ?", (last["id"],))
            _log_edit(conn, rec.id, "undo", last["passage_id"], f"undid #{last['id']} ({last['action']})", None)

        saving.save(conn, rec.id, folder, discourse, alignment, db_changes)
    return jsonify(_review_state(conn, rec, discourse, alignment))


@bp.route("/r/<slug>/realign", methods=["POST"])
@login_required
def realign(slug: str) -> Any:
    """Re-run the aligner with the pins; the cached transcript is reused, nothing is re-transcribed."""
    rec = _recording(slug)
    conn = get_db()
    _manage(conn, rec)
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
    _manage(conn, rec)
    want = request.form.get("published", "1") == "1"
    if want and not (_folder(rec) / "passages.vtt").is_file():
        flash("אי אפשר לפרסם לפני שהעיבוד הסתיים. / Cannot publish before processing is done.")
        return redirect(url_for("lecturer.review", slug=slug))
    if want and outcome.publish_blocked(conn, rec.id):
        flash(outcome.BLOCKED)
        return redirect(url_for("lecturer.review", slug=slug))
    conn.execute("UPDATE recordings SET published = ? WHERE id = ?", (int(want), rec.id))
    _log_edit(conn, rec.id, "publish" if want else "unpublish", None, "", None)
    conn.commit()
    flash("פורסם. / Published." if want else "הפרסום בוטל. / Unpublished.")
    return redirect(url_for("lecturer.review", slug=slug))


@bp.route("/r/<slug>/confirm", methods=["POST"])
@login_required
def confirm(slug: str) -> Any:
    """The lecturer has looked at a recording that needed attention and lets it be published."""
    rec = _recording(slug)
    conn = get_db()
    _manage(conn, rec)
    outcome.confirm(conn, rec.id)
    _log_edit(conn, rec.id, "confirm", None, "needs-attention warning confirmed", None)
    conn.commit()
    flash("אושר; אפשר לפרסם. / Confirmed; it can be published now.")
    return redirect(url_for("lecturer.review", slug=slug))


@bp.route("/r/<slug>/delete", methods=["GET", "POST"])
@login_required
def delete(slug: str) -> Any:
    rec = _recording(slug)
    _manage(get_db(), rec)
    if request.method == "GET":
        return render_template("lecturer_delete.html", rec=rec)
    if not confirms_title(request.form.get("confirm", ""), rec.title):
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
