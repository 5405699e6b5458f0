"""`shiur serve`: the web player. (Every command is registered in sync/cli.py.)"""

from __future__ import annotations

import os

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for the LAN).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--debug", is_flag=True, help="Reload on code changes and show tracebacks (never on a public host).")
@click.option("--no-worker", is_flag=True, help="Do not start the background worker (run `shiur worker` apart).")
@click.option("--no-sample", is_flag=True, help="Do not make the synthetic sample recording on first run.")
def serve(host: str, port: int, debug: bool, no_worker: bool, no_sample: bool) -> None:
    """Start the web player (library, player, lecturer and archivist pages)."""
    from pathlib import Path

    from . import create_app

    app = create_app()
    if not no_sample and app.config.get("SAMPLE_TEXT") and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        from .sample import start_in_background

        # First run only: espeak-ng reads the sample's opening so the library has a class to play.
        start_in_background(app.config["DATABASE"], Path(app.config["LIBRARY_DIR"]), Path(app.config["SAMPLE_TEXT"]))
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    click.echo(f"Shiur Sync: http://{shown}:{port}/  (library: {app.config['LIBRARY_DIR']})")
    # Uploads are processed by a worker process; with the reloader only the serving child starts one.
    if not no_worker and (not debug or os.environ.get("WERKZEUG_RUN_MAIN") == "true"):
        from .jobs import start_worker

        start_worker(app)
    # Werkzeug's threaded server is enough for a class's listeners; Range requests need threads
    # because a browser keeps one audio request open while it loads the page's other files.
    from .security import NoBannerRequestHandler

    app.run(host=host, port=port, debug=debug, threaded=True, use_reloader=debug,
            request_handler=NoBannerRequestHandler)
