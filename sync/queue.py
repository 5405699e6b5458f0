"""The task queue: Huey, on SQLite in the library folder by default, or on Redis.

``SHIUR_QUEUE`` unset: :class:`huey.SqliteHuey` in one file (nothing to start; every worker on
this machine shares it). ``SHIUR_QUEUE=redis://host:6379/0``: :class:`huey.RedisHuey`, so
workers on several machines take jobs from one queue (they must share the library storage; see
docs/deployment.md).

Modules that define tasks register them here (:func:`add_tasks`), so the web app, ``shiur
batch --queue`` and the consumer (``shiur worker``) all see the same task names. Huey's own
consumer runs them, with its retries and task locks; what Huey does not do (notice that a
worker was killed mid-task: its message is gone from the queue) is done by a sweep each module
registers (:func:`add_sweep`), which the consumer's scheduler runs every :data:`SWEEP_S`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

QUEUE_ENV = "SHIUR_QUEUE"
QUEUE_NAME = "shiur"
SQLITE_NAME = "queue.sqlite3"
SWEEP_S = 10
"""Seconds between the consumer's periodic sweeps (Huey's scheduler checks every 60 s by
default; a killed job should be picked up again sooner than that)."""

Registrar = Callable[[Any], dict[str, Any]]
_REGISTRARS: dict[str, Registrar] = {}
_SWEEPS: dict[str, Callable[[Any], None]] = {}
_QUEUES: dict[str, Any] = {}
_TASKS: dict[tuple[str, str], dict[str, Any]] = {}


def add_tasks(name: str, registrar: Registrar) -> None:
    """Register a module's tasks: ``registrar(huey)`` decorates them and returns them by name."""
    _REGISTRARS[name] = registrar


def add_sweep(name: str, sweep: Callable[[Any], None]) -> None:
    """``sweep(huey)`` runs in every consumer's scheduler thread every :data:`SWEEP_S`."""
    _SWEEPS[name] = sweep


def queue_url(explicit: str | None = None) -> str | None:
    """The Redis URL to use (``--queue``, else ``$SHIUR_QUEUE``), or None for the SQLite queue."""
    url = (explicit or os.environ.get(QUEUE_ENV) or "").strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        from .errors import ShiurError

        where = "--queue" if explicit else QUEUE_ENV
        raise ShiurError(f"{where} {url!r}: expected a Redis URL (redis://host:6379/0)")
    return url or None


def open_queue(library_dir: str | Path | None, url: str | None = None) -> Any:
    """The Huey instance for ``url`` (Redis) or for the SQLite file in ``library_dir``."""
    from . import batch  # noqa: F401  (registers the batch's tasks)

    url = queue_url(url)
    where = url or str(Path(library_dir or ".").resolve() / SQLITE_NAME)
    huey = _QUEUES.get(where)
    if huey is None:
        # results=False: outcomes are recorded by the tasks themselves (job rows, batch state),
        # so nothing piles up in the queue's storage.
        if url:
            from huey import RedisHuey

            huey = RedisHuey(QUEUE_NAME, url=url, results=False, utc=True)
        else:
            from huey import SqliteHuey

            Path(where).parent.mkdir(parents=True, exist_ok=True)
            huey = SqliteHuey(QUEUE_NAME, filename=where, results=False, utc=True, timeout=30)
        _QUEUES[where] = huey
    _register_all(where, huey)
    return huey


def _register_all(where: str, huey: Any) -> None:
    for name, registrar in _REGISTRARS.items():
        if (where, name) not in _TASKS:
            _TASKS[(where, name)] = registrar(huey)


def tasks(huey: Any, module: str) -> dict[str, Any]:
    """The task wrappers ``module`` registered on ``huey``."""
    for (where, name), found in _TASKS.items():
        if name == module and _QUEUES.get(where) is huey:
            return found
    raise KeyError(f"no tasks registered for {module!r} on this queue")


def consumer(huey: Any, workers: int = 1) -> Any:
    """Huey's consumer whose scheduler also runs the registered sweeps every :data:`SWEEP_S`.

    The sweeps run in the scheduler thread rather than as queued periodic tasks: a worker busy
    with an hour-long transcription would otherwise let hundreds of them pile up behind it.
    Worker threads, not processes: each consumer holds one Whisper model, and a killed consumer
    takes its running jobs with it (a forked worker would outlive it, unseen).
    """
    import logging

    from huey.consumer import Consumer, Scheduler

    log = logging.getLogger("shiur.queue")

    class SweepScheduler(Scheduler):
        periodic_task_seconds = SWEEP_S

        def enqueue_periodic_tasks(self, now: Any) -> None:
            for name, sweep in list(_SWEEPS.items()):
                try:
                    sweep(self.huey)
                except Exception:  # a failed sweep is retried at the next one
                    log.exception("sweep %s failed", name)
            super().enqueue_periodic_tasks(now)

    class ShiurConsumer(Consumer):
        scheduler_class = SweepScheduler

    return ShiurConsumer(huey, workers=workers, worker_type="thread", periodic=True, scheduler_interval=1,
                         check_worker_health=True, max_delay=2.0)
