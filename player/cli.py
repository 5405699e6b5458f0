"""`shiur serve`: the web player. (Every command is registered in sync/cli.py.)"""

from __future__ import annotations

import os
from typing import Any

import click

# Waitress settings for `shiur serve`. A class's listeners each hold a keep-alive connection and
# an audio Range request open; slow phones must not tie up the threads that run the app.
THREADS = 8
"""Threads running the app. Waitress reads requests and writes responses (files included) in its
I/O loop, so a thread is held only while a page is rendered, not while a slow client reads."""
CONNECTION_LIMIT = 1000
"""Open connections before new ones wait in the backlog (Werkzeug's dev server overflowed its
backlog of 128 at 200 listeners: that was the 27.8 s worst request)."""
BACKLOG = 2048
CHANNEL_TIMEOUT_S = 60
"""An idle keep-alive connection (or a client that stopped sending mid-request) is closed after
this long, so slow or vanished clients do not accumulate."""
CLEANUP_INTERVAL_S = 15
"""How often waitress looks for connections past CHANNEL_TIMEOUT_S."""
SEND_BYTES = 64 * 1024
"""Bytes handed to the socket per send: large audio responses go out in fewer system calls."""


def waitress_options(app: Any, threads: int = THREADS) -> dict[str, Any]:
    """The production server's settings for ``app``: request bodies up to the upload limit."""
    limit = int(app.config.get("MAX_CONTENT_LENGTH") or 0) or 2 * 1024**3
    return {
        "threads": threads,
        "connection_limit": CONNECTION_LIMIT,
        "backlog": BACKLOG,
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": CLEANUP_INTERVAL_S,
        "send_bytes": SEND_BYTES,
        "max_request_body_size": limit,
        # poll(), not select(): select() cannot watch more than 1024 sockets.
        "asyncore_use_poll": True,
        "ident": "shiur-sync",
    }


def spool_uploads_in_library(app: Any) -> None:
    """Waitress buffers a large request body in a temp file before the app sees it; keep that
    file in the library's upload folder (same disk as the recordings) instead of /tmp, which is
    often RAM."""
    import tempfile
    from pathlib import Path

    folder = Path(app.config["LIBRARY_DIR"]) / ".uploads"
    folder.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(folder)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for the LAN).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--threads", default=THREADS, show_default=True, type=click.IntRange(1, 256),
              help="Threads running the app (the production server).")
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="waitress processes on the port (default: one per core, at most 4).")
@click.option("--server", "server_kind", type=click.Choice(["waitress", "werkzeug"]), default="waitress",
              show_default=True, help="waitress (production) or Werkzeug's development server.")
@click.option("--debug", is_flag=True, help="Werkzeug with reload on code changes and tracebacks (never public).")
@click.option("--no-worker", is_flag=True, help="Do not start the background worker (run `shiur worker` apart).")
@click.option("--no-sample", is_flag=True, help="Do not make the synthetic sample recording on first run.")
def serve(host: str, port: int, threads: int, processes: int | None, server_kind: str, debug: bool,
          no_worker: bool, no_sample: bool) -> None:
    """Start the web player (library, player, lecturer and archivist pages) and its worker."""
    from pathlib import Path

    from . import create_app
    from .serving import default_processes, refuse_taken_port, run_processes, warm_up

    app = create_app()
    if not debug:
        refuse_taken_port(host, port)  # before the worker and the sample start, not after
    production = not debug and server_kind == "waitress"
    processes = (processes or default_processes()) if production else 1
    if not no_sample and app.config.get("SAMPLE_TEXT") and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        from .sample import start_in_background

        # First run only: espeak-ng reads the sample's opening so the library has a class to play.
        start_in_background(app.config["DATABASE"], Path(app.config["LIBRARY_DIR"]), Path(app.config["SAMPLE_TEXT"]))
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    served_by = f"{processes} server processes" if processes > 1 else "1 server process"
    click.echo(f"Shiur Sync: http://{shown}:{port}/  (library: {app.config['LIBRARY_DIR']}; {served_by})")
    # Uploads are processed by a supervised worker process; with the reloader only the serving
    # child starts one.
    if not no_worker and (not debug or os.environ.get("WERKZEUG_RUN_MAIN") == "true"):
        from .jobs import start_worker

        start_worker(app)
    if not production:
        from .security import NoBannerRequestHandler

        app.run(host=host, port=port, debug=debug, threaded=True, use_reloader=debug,
                request_handler=NoBannerRequestHandler)
        return
    if processes > 1:
        run_processes(host, port, threads, processes, BACKLOG)
        return
    import signal
    import sys

    import waitress

    # SIGTERM (systemd, `docker stop`) ends the server like Ctrl-C, so the worker is stopped
    # properly on the way out (it hands its job back to the queue).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    spool_uploads_in_library(app)
    warm_up(app)
    waitress.serve(app, host=host, port=port, **waitress_options(app, threads))
