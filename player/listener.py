"""Listener pages: the library and the player, and the files the player loads (audio, VTT, word timings)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
    send_file,
    url_for,
)

from . import library
from .db import connect, get_db

bp = Blueprint("listener", __name__)

_sample_lock = threading.Lock()


def ensure_sample_discourse(database: str, sample: str | None) -> None:
    """The bundled sample discourse in the library on first run (create_app calls it)."""
    if not sample:
        return
    with _sample_lock:
        conn = connect(database)
        try:
            library.ensure_sample(conn, sample)
        finally:
            conn.close()


def static_version(name: str) -> str:
    """Cache-busting query for static files: their mtime, so a deploy never serves stale JS."""
    folder = Path(current_app.static_folder or "")
    try:
        return str(int((folder / name).stat().st_mtime))
    except OSError:
        return "0"


def can_see_unpublished() -> bool:
    """Signed-in lecturers and admins (H4's auth sets ``g.user``) see drafts too."""
    return g.get("user") is not None


def recording_or_404(slug: str) -> library.Recording:
    rec = library.get_recording(get_db(), slug, include_unpublished=can_see_unpublished())
    if rec is None:
        abort(404)
    return rec


def _folder(rec: library.Recording) -> Path:
    return library.recording_dir(current_app.config["LIBRARY_DIR"], rec)


# --- pages -------------------------------------------------------------------------------------


@bp.route("/")
def index() -> str:
    conn = get_db()
    drafts = can_see_unpublished()
    args = request.args
    discourse_id = args.get("discourse", type=int)
    filters = {
        "query": args.get("q", "").strip(),
        "lecturer": args.get("lecturer", ""),
        "discourse_id": discourse_id,
        "date_from": args.get("from", ""),
        "date_to": args.get("to", ""),
        "length": args.get("length", ""),
        "sort": args.get("sort", "date"),
    }
    recordings = library.list_recordings(conn, include_unpublished=drafts, **filters)
    any_recordings = bool(recordings) or bool(library.list_recordings(conn, include_unpublished=drafts))
    return render_template(
        "library.html",
        recordings=recordings,
        any_recordings=any_recordings,
        filtered=any(v for k, v in filters.items() if k != "sort"),
        lecturers=library.lecturers(conn, drafts),
        discourses=library.list_discourses(conn),
        args=args,
    )


@bp.route("/r/<slug>")
def player(slug: str) -> str:
    rec = recording_or_404(slug)
    conn = get_db()
    row = library.get_discourse(conn, rec.discourse_id) if rec.discourse_id is not None else None
    discourse = library.parsed_discourse(row) if row else None
    return render_template("player.html", rec=rec, discourse=discourse, discourse_row=row)


@bp.route("/d/<slug>")
def discourse_page(slug: str) -> str:
    conn = get_db()
    row = library.get_discourse(conn, slug)
    if row is None:
        abort(404)
    recordings = library.list_recordings(conn, discourse_id=row["id"], include_unpublished=can_see_unpublished())
    return render_template(
        "discourse.html", discourse=library.parsed_discourse(row), discourse_row=row, recordings=recordings
    )


# --- files the player loads --------------------------------------------------------------------


@bp.route("/r/<slug>/audio")
def audio(slug: str) -> Response:
    rec = recording_or_404(slug)
    name = rec.stream_path or rec.audio_path
    if not name:
        abort(404)
    path = _folder(rec) / name
    mimetype = library.audio_type(path)
    if not path.is_file() or mimetype is None:
        abort(404)
    # conditional=True answers Range requests (206), which seeking in a 3-hour file relies on.
    resp = send_file(path, mimetype=mimetype, conditional=True, max_age=3600)
    resp.headers["Accept-Ranges"] = "bytes"
    return resp


@bp.route("/r/<slug>/<any('passages.vtt', 'paragraphs.vtt'):name>")
def vtt(slug: str, name: str) -> Response:
    rec = recording_or_404(slug)
    path = _folder(rec) / name
    if not path.is_file():
        abort(404)
    resp = send_file(path, mimetype="text/vtt", conditional=True, max_age=0)
    resp.headers["Content-Type"] = "text/vtt; charset=utf-8"
    return resp


@bp.route("/r/<slug>/words.json")
def words(slug: str) -> Response:
    rec = recording_or_404(slug)
    body = json.dumps(library.word_timings(_folder(rec)), separators=(",", ":"))
    resp = Response(body, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def player_urls(rec: library.Recording) -> dict[str, str]:
    """URLs the player script needs; H4's review page passes the same dict."""
    return {
        "audio": url_for("listener.audio", slug=rec.slug),
        "passages": url_for("listener.vtt", slug=rec.slug, name="passages.vtt"),
        "paragraphs": url_for("listener.vtt", slug=rec.slug, name="paragraphs.vtt"),
        "words": url_for("listener.words", slug=rec.slug),
    }


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"player_urls": player_urls}
