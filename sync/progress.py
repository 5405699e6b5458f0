"""A small progress bar on stderr: audio time done out of the total, with an ETA.

On a terminal it redraws one line; in a log (CI, a job runner) it prints a line every 10 %
so the log stays readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def clock(seconds: float) -> str:
    """1:02:03 / 4:05 style duration."""
    s = int(max(0, seconds) + 0.5)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(self, total: float, label: str = "transcribing", stream: TextIO | None = None, width: int = 28,
                 start: float = 0.0):
        self.total = max(total, 1e-9)
        self.start = start
        """Audio already done when this run began (resumed from a checkpoint): not counted as speed."""
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.done = start
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1
        self._last_percent = -1
        self._last_draw = 0.0

    def eta(self) -> float | None:
        elapsed = time.monotonic() - self.started
        if self.done <= self.start or elapsed < 1:
            return None
        return elapsed * (self.total - self.done) / (self.done - self.start)

    def line(self) -> str:
        frac = min(1.0, self.done / self.total)
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        eta = self.eta()
        eta_s = clock(eta) if eta is not None else "?"
        return f"{self.label} [{bar}] {clock(self.done)} / {clock(self.total)} audio  {frac:4.0%}  ETA {eta_s}"

    def update(self, done: float) -> None:
        self.done = min(max(done, self.done), self.total)
        if self._tty:
            now = time.monotonic()
            # Segments come a batch of windows at a time, several in the same instant: each
            # new percent is drawn, so the bar left standing shows the whole batch and its ETA.
            percent = int(100 * self.done / self.total)
            if now - self._last_draw >= 0.2 or percent != self._last_percent or self.done >= self.total:
                self._last_draw = now
                self._last_percent = percent
                self.stream.write("\r" + self.line())
                self.stream.flush()
        else:
            decile = int(10 * self.done / self.total)
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(self.line() + "\n")
                self.stream.flush()

    def close(self) -> None:
        self.update(self.total)
        if self._tty:
            self.stream.write("\n")
        elapsed = time.monotonic() - self.started
        self.stream.write(f"{self.label}: done in {clock(elapsed)}\n")
        self.stream.flush()


class Eta:
    """Time left for a job reporting ``done`` out of ``total``, from its rate since the first
    report of this run (a resumed job starts part-way, which must not count as speed)."""

    def __init__(self, total: float):
        self.total = max(total, 1e-9)
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None

    def update(self, done: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.first is None:
            self.first = (done, now)
        self.last = (done, now)

    def eta(self) -> float | None:
        if self.first is None or self.last is None:
            return None
        (d0, t0), (d1, t1) = self.first, self.last
        if d1 >= self.total:
            return 0.0
        if d1 <= d0 or t1 - t0 <= 0:
            return None
        return (self.total - d1) * (t1 - t0) / (d1 - d0)
