"""Listener pages: the library and the player, and the files the player loads (audio, VTT, word timings)."""

from __future__ import annotations

import json
import threading
from dataclasses import astuple
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
    send_from_directory,
    url_for,
)
from markupsafe import Markup

from . import library, pagecache
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


# First Strong Isolate ... Pop Directional Isolate: for bilingual text where no element can go
# (<option>, <title>, aria-label), so an English run's punctuation stays on its own side.
FSI, PDI = "\u2068", "\u2069"


def isolate(text: str) -> str:
    return f"{FSI}{text}{PDI}"


BILINGUAL_SEPARATOR = " / "
"""Messages are written "עברית. / English.": each half is set in its own <bdi>, so an English
sentence's full stop stays at its end inside a right-to-left page (not ".password")."""


def bilingual(text: str) -> Markup:
    he, sep, en = str(text).partition(BILINGUAL_SEPARATOR)
    if not sep:
        return Markup("<bdi>{}</bdi>").format(he)
    return Markup('<bdi lang="he">{}</bdi> / <bdi lang="en" dir="ltr">{}</bdi>').format(he, en)


def static_version(name: str) -> str:
    """Cache-busting query for static files: their mtime, so a deploy never serves stale JS."""
    folder = Path(current_app.static_folder or "")
    try:
        return str(int((folder / name).stat().st_mtime))
    except OSError:
        return "0"


def can_see_unpublished() -> bool:
    """Signed-in lecturers and admins (auth sets ``g.user``) see drafts too."""
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
        discourses=library.list_discourses(conn, drafts),
        args=args,
    )


# Words of a paragraph shown in the contents panel next to its number.
TOC_WORDS = 6
# A paragraph's state in the contents panel, in Hebrew and English.
TOC_STATES = {
    "read": ("נקרא", "read"),
    "explained": ("נקרא והוסבר", "read and explained"),
    "explained-only": ("הוסבר", "explained"),
    "none": ("לא נקרא", "not read"),
}


def contents(discourse: Any, readings: dict[str, library.ParagraphReading]) -> list[dict[str, Any]]:
    """The contents panel: every paragraph with its opening words, when it is read and its state."""
    out = []
    for para in discourse.paragraphs:
        r = readings.get(para.id)
        if r is None:
            state = "none"
        elif r.read:
            state = "explained" if r.explained else "read"
        else:
            state = "explained-only"
        tokens = [t for p in para.passages for t in p.tokens][: TOC_WORDS + 1]
        if para.section and tokens and tokens[0].rstrip(").") == para.section:
            tokens = tokens[1:]  # "ב)": the panel shows the section letter in its own column
        tokens = tokens[:TOC_WORDS]
        out.append({"id": para.id, "number": para.number, "section": para.section, "words": " ".join(tokens),
                    "start": r.start if r else None, "state": state})
    return out


RENDERED_TEXTS = 64
"""Discourse texts kept rendered as the player's HTML (the sample's is about 100 KB). Rendering
a whole discourse, a span per word, took about 13 ms of the player page's 17; every listener of
a class asks for the same HTML."""
SHARED_PLAYER_PAGES = 64
"""Player pages kept rendered for anonymous listeners (about 120 KB each): the classes being
listened to right now. A miss costs about 2 ms."""


def discourse_html(text: str) -> Markup:
    """The discourse part of the player page (``_discourse.html``), rendered once per text and
    app: it depends on nothing but the text."""

    def render() -> Markup:
        macro = current_app.jinja_env.get_template("_discourse.html").module.render_discourse  # type: ignore[attr-defined]
        return Markup(macro(library.parse_text(text)))

    return pagecache.for_app("discourse", RENDERED_TEXTS).get_or_make(text, text, render)


@bp.route("/r/<slug>")
def player(slug: str) -> str | bytes:
    rec = recording_or_404(slug)
    conn = get_db()
    row = library.get_discourse(conn, rec.discourse_id) if rec.discourse_id is not None else None
    folder = _folder(rec)

    def render() -> str:
        discourse = library.parsed_discourse(row) if row else None
        toc = contents(discourse, library.paragraph_readings(folder)) if discourse else []
        return render_template("player.html", rec=rec, discourse=discourse, discourse_row=row, toc=toc,
                               toc_states=TOC_STATES, discourse_html=discourse_html(row["text"]) if row else None)

    if not pagecache.shared_page():
        return render()
    # Everything the page is made from; any change (a lecturer's edit, a new alignment, a deploy)
    # makes a new key.
    made_from = (astuple(rec), tuple(row) if row else None, library.file_stamp(folder / "alignment.json"),
                 pagecache.static_stamp())
    # Kept encoded: a page is 115 KB of mostly Hebrew, which each request would encode again.
    return pagecache.for_app("player", SHARED_PLAYER_PAGES).get_or_make(slug, made_from,
                                                                        lambda: render().encode())


@bp.route("/d/<slug>")
def discourse_page(slug: str) -> str:
    conn = get_db()
    row = library.get_discourse(conn, slug)
    if row is None:
        abort(404)
    recordings = library.list_recordings(conn, discourse_id=row["id"], include_unpublished=can_see_unpublished())
    # Per paragraph, every class that reads it and when: to hear several lecturers on one passage.
    readings: dict[str, list[tuple[library.Recording, library.ParagraphReading]]] = {}
    for rec in sorted(recordings, key=lambda r: (r.lecturer, r.recorded_on or "", r.title)):
        for pid, reading in library.paragraph_readings(_folder(rec)).items():
            readings.setdefault(pid, []).append((rec, reading))
    return render_template(
        "discourse.html", discourse=library.parsed_discourse(row), discourse_row=row, recordings=recordings,
        readings=readings,
    )


@bp.route("/d/<slug>/keys.json")
def search_keys(slug: str) -> Response:
    """Each passage's tokens as the aligner's spelling-insensitive keys, for the player's search.

    The player fetches this when the listener first searches, so the page itself stays light.
    The text's keys come from sync.hebrew; only the typed query is keyed in JavaScript, by a
    few-line mirror of ``library.search_key`` that a test holds to the Python one.
    """
    row = library.get_discourse(get_db(), slug)
    if row is None:
        abort(404)
    d = library.parsed_discourse(row)
    keys = {p.id: " ".join(library.search_key(t) or "_" for t in p.tokens) for p in d.passages()}
    body = json.dumps(keys, ensure_ascii=False, separators=(",", ":"))
    resp = Response(body, content_type="application/json; charset=utf-8")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


# --- app-wide files: icon, manifest, service worker ----------------------------------------------


@bp.route("/favicon.ico")
def favicon() -> Response:
    return send_from_directory(current_app.static_folder or "", "icons/favicon.ico", max_age=86400)


@bp.route("/manifest.webmanifest")
def manifest() -> Response:
    icons = [
        {"src": url_for("static", filename=f"icons/icon-{n}.png"), "sizes": f"{n}x{n}", "type": "image/png",
         "purpose": "any maskable" if n == 512 else "any"}
        for n in (192, 512)
    ]
    icons.append({"src": url_for("static", filename="icons/icon.svg"), "sizes": "any", "type": "image/svg+xml"})
    doc = {
        "name": "שיעור בסנכרון · Shiur Sync",
        "short_name": "שיעור בסנכרון",
        "description": "שיעורים מוקלטים לצד טקסט המאמר · Recorded classes along their text",
        "lang": "he",
        "dir": "rtl",
        "start_url": url_for("listener.index"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#fbf8f1",
        "theme_color": "#7a3e12",
        "icons": icons,
    }
    return Response(json.dumps(doc, ensure_ascii=False), content_type="application/manifest+json; charset=utf-8")


@bp.route("/sw.js")
def service_worker() -> Response:
    """The service worker, served from the site root so its scope covers every page."""
    resp = send_from_directory(current_app.static_folder or "", "sw.js", max_age=0)
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


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
    resp = Response(body, content_type="application/json; charset=utf-8")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def player_urls(rec: library.Recording) -> dict[str, str]:
    """URLs the player script needs; the lecturer's review page passes the same dict."""
    return {
        "audio": url_for("listener.audio", slug=rec.slug),
        "passages": url_for("listener.vtt", slug=rec.slug, name="passages.vtt"),
        "paragraphs": url_for("listener.vtt", slug=rec.slug, name="paragraphs.vtt"),
        "words": url_for("listener.words", slug=rec.slug),
        "keys": url_for("listener.search_keys", slug=rec.discourse_slug) if rec.discourse_slug else "",
    }


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"player_urls": player_urls}
