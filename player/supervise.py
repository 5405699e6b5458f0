"""Keeping a child process running beside ``shiur serve``: the background worker, and each web
server process when it runs several."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Sequence

log = logging.getLogger("shiur.supervise")

SUPERVISE_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits before restarting a process that died, growing while it keeps dying at once."""
HEALTHY_AFTER_S = 60.0
"""A process that ran this long before dying is restarted after the shortest wait again."""


class Supervisor(threading.Thread):
    """Keeps one child process (``argv``) running until ``stop()``; restarts it when it exits."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], name: str = "worker",
                 pass_fds: Sequence[int] = ()):
        super().__init__(daemon=True, name=f"{name}-supervisor")
        self.argv = list(argv)
        self.env = env
        self.what = name
        self.pass_fds = tuple(pass_fds)
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.restarts = 0

    def spawn(self) -> subprocess.Popen[bytes]:
        self.proc = subprocess.Popen(self.argv, env=self.env, pass_fds=self.pass_fds)
        return self.proc

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            proc = self.proc if self.proc is not None and self.proc.poll() is None else self.spawn()
            code = proc.wait()
            if self.stopping.is_set():
                return
            failures = 0 if time.monotonic() - started > HEALTHY_AFTER_S else failures + 1
            wait = SUPERVISE_BACKOFF_S[min(max(failures - 1, 0), len(SUPERVISE_BACKOFF_S) - 1)]
            log.warning("%s %s exited with %s; restarting in %.0f s", self.what, proc.pid, code, wait)
            self.restarts += 1
            self.proc = None
            self.stopping.wait(wait)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
