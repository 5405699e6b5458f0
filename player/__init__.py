"""Shiur Sync web app: the player for listeners, the workflow for lecturers and archivists."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from sync.audio import MAX_AUDIO_BYTES, format_size

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MEDIA = PROJECT_ROOT / "media"

FORM_OVERHEAD_BYTES = 16 * 1024**2
"""What a request may carry beyond the audio file: the form fields and a pasted or uploaded text."""
MAX_FORM_MEMORY_BYTES = 6 * 1024**2
"""A pasted discourse is a form field, not a file; Flask's default cap (500 kB) is too small for a long one."""


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory. ``config`` overrides the embedded defaults (tests pass tmp paths).

    Every app-wide setting is made here; the blueprints only add their pages and hooks.
    """
    app = Flask(__name__, instance_relative_config=False)
    media = Path(os.environ.get("SHIUR_MEDIA", DEFAULT_MEDIA))
    library = Path(os.environ.get("SHIUR_LIBRARY", media / "library"))
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SHIUR_SECRET_KEY", ""),
        MEDIA_DIR=str(media),
        LIBRARY_DIR=str(library),
        DATABASE=str(library / "shiur.sqlite3"),
        SAMPLE_TEXT=str(media / "mimaamakim-5725.txt"),
        # One size limit for audio everywhere (upload form, upload check, `shiur sync`): SHIUR_MAX_AUDIO_BYTES.
        MAX_UPLOAD_BYTES=MAX_AUDIO_BYTES,
        MAX_CONTENT_LENGTH=None,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_MEMORY_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if config:
        app.config.update(config)
    library_dir = Path(app.config["LIBRARY_DIR"])
    library_dir.mkdir(parents=True, exist_ok=True)

    from . import archivist, auth, db, lecturer, library, listener, saving, security, uploads

    limit = int(app.config["MAX_UPLOAD_BYTES"] or MAX_AUDIO_BYTES)
    app.config["MAX_UPLOAD_BYTES"] = limit
    if app.config["MAX_CONTENT_LENGTH"] is None or app.config["MAX_CONTENT_LENGTH"] < limit:
        app.config["MAX_CONTENT_LENGTH"] = limit + FORM_OVERHEAD_BYTES
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = auth.stored_secret_key(library_dir)
    if os.environ.get(auth.SECURE_COOKIES_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.request_class = lecturer.UploadRequest
    app.session_interface = auth.SessionInterface()
    app.jinja_env.filters["duration"] = library.format_duration
    app.jinja_env.filters["hebrew_date"] = lecturer.hebrew_date
    app.jinja_env.filters["filesize"] = format_size
    app.jinja_env.filters["edit_action"] = lecturer.edit_action_label
    app.jinja_env.globals["static_version"] = listener.static_version
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["count_classes"] = library.count_classes
    app.jinja_env.filters["isolate"] = listener.isolate
    app.jinja_env.filters["bilingual"] = listener.bilingual
    # A moment in a class as the player's clock shows it (whole seconds, rounded down).
    app.jinja_env.filters["clock"] = lambda t: library.format_duration(int(t)) if t is not None else ""

    db.init_app(app)
    for blueprint in (listener.bp, auth.bp, lecturer.bp, archivist.bp):
        app.register_blueprint(blueprint)
    security.register(app)
    uploads.register(app)

    # First-run and restart housekeeping.
    listener.ensure_sample_discourse(app.config["DATABASE"], app.config.get("SAMPLE_TEXT"))
    lecturer.clean_uploads(library_dir / lecturer.UPLOADS)
    saving.recover_library(app.config["DATABASE"], library_dir)
    return app
