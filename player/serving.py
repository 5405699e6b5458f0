"""`shiur serve` on several processes: one waitress server per core, all on one port.

One Python process runs the app on one core at a time (the GIL), and waitress's I/O loop shares
that core. When a class's link goes out and 200 listeners open it within the same second, the
requests queue behind each other; with a process per core they are served side by side. Each
process gets its own listening socket on the same port (``SO_REUSEPORT``), so the kernel spreads
new connections evenly; a shared socket let one process take most of a burst (bench/load.py).

The parent binds the sockets, so the port is held, and connections wait in its backlog, while a
server process is restarting; each process is supervised like the background worker.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from typing import Any

import click

from .supervise import Supervisor

MAX_DEFAULT_PROCESSES = 4
"""``shiur serve`` starts a server process per core, up to this many; past a few cores a library's
listeners are better served by more machines (docs/deployment.md) than by more processes here."""
PARENT_CHECK_S = 1.0
"""How often a server process checks that ``shiur serve`` is still there (it exits if not)."""


def default_processes() -> int:
    if not hasattr(socket, "SO_REUSEPORT"):  # Windows: one process, as waitress alone does
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_PROCESSES))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def refuse_taken_port(host: str, port: int) -> None:
    """A clear error if anything already listens on ``host:port`` (another ``shiur serve`` too:
    with SO_REUSEPORT alone, two servers would silently split the traffic)."""
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR (as waitress sets it) but no SO_REUSEPORT: this bind fails if any socket,
        # ours or not, is bound to the port, and not for connections in TIME_WAIT.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    finally:
        probe.close()


def listening_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port``, for as many server processes."""
    refuse_taken_port(host, port)
    family = _family(host)
    out = []
    for _ in range(count):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((host, port))
        s.listen(backlog)
        s.set_inheritable(True)
        out.append(s)
    return out


def run_processes(host: str, port: int, threads: int, count: int, backlog: int) -> None:
    """Serve with ``count`` supervised server processes until SIGTERM or Ctrl-C."""
    socks = listening_sockets(host, port, count, backlog)
    env = {**os.environ, "SHIUR_SERVE_PARENT": str(os.getpid())}
    sups = [
        Supervisor([sys.executable, "-m", "player.serving", str(s.fileno()), str(threads)], env,
                   name=f"server process {i + 1}", pass_fds=(s.fileno(),))
        for i, s in enumerate(socks)
    ]
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for sup in sups:
            sup.start()
        while not stop.wait(1.0):
            pass
    finally:
        for sup in sups:
            sup.stopping.set()
        for sup in sups:
            sup.stop()
        for s in socks:
            s.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_with_parent(parent: int) -> None:
    """A server process whose ``shiur serve`` was killed outright stops too, not serving on."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(0)
            threading.Event().wait(PARENT_CHECK_S)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def warm_up(app: Any) -> None:
    """Compile every template before taking connections. Compiling the player page's templates
    takes about 65 ms, and in a burst the first requests on every thread would each wait for it
    (bench/load.py's first wave)."""
    import mimetypes

    mimetypes.init()  # send_file's first guess reads /etc/mime.types
    for name in app.jinja_env.list_templates(filter_func=lambda n: n.endswith(".html")):
        app.jinja_env.get_template(name)


def serve_on(fd: int, threads: int) -> None:
    """One server process: the app under waitress on the listening socket it was handed."""
    import waitress

    from . import create_app
    from .cli import spool_uploads_in_library, waitress_options

    parent = int(os.environ.get("SHIUR_SERVE_PARENT", "0"))
    if parent:
        _exit_with_parent(parent)
    app = create_app()
    spool_uploads_in_library(app)
    warm_up(app)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    options: dict[str, Any] = waitress_options(app, threads)
    options.pop("backlog")  # the socket is already listening (its backlog was set by the parent)
    waitress.serve(app, sockets=[socket.socket(fileno=fd)], **options)


if __name__ == "__main__":
    serve_on(int(sys.argv[1]), int(sys.argv[2]))
