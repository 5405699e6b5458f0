"""Shiur Sync web app: the player for listeners, the workflow for lecturers and archivists."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MEDIA = PROJECT_ROOT / "media"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory. ``config`` overrides the embedded defaults (tests pass tmp paths)."""
    app = Flask(__name__, instance_relative_config=False)
    media = Path(os.environ.get("SHIUR_MEDIA", DEFAULT_MEDIA))
    library = Path(os.environ.get("SHIUR_LIBRARY", media / "library"))
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SHIUR_SECRET_KEY", ""),
        MEDIA_DIR=str(media),
        LIBRARY_DIR=str(library),
        DATABASE=str(library / "shiur.sqlite3"),
        SAMPLE_TEXT=str(media / "mimaamakim-5725.txt"),
        MAX_CONTENT_LENGTH=None,
    )
    if config:
        app.config.update(config)
    Path(app.config["LIBRARY_DIR"]).mkdir(parents=True, exist_ok=True)

    from . import db

    db.init_app(app)

    from . import archivist, auth, lecturer, listener, security

    for blueprint in (listener.bp, auth.bp, lecturer.bp, archivist.bp):
        app.register_blueprint(blueprint)
    security.register(app)
    return app
