"""Background processing of uploads: Huey tasks over the library's ``jobs`` rows.

The queue is Huey (:mod:`sync.queue`: SQLite in the library folder, or Redis with
``SHIUR_QUEUE``); the ``jobs`` table holds what the lecturer's pages show. A job moves
queued -> transcribing (percent, ETA) -> aligning -> done, or -> failed with a reason; every
change of state goes through :func:`record_outcome` or :func:`_set`.

The work itself is :mod:`sync.pipeline`'s (transcription with checkpoints, the cache, the
aligner): a job only adds the web copy of the audio and the database.

Exactly once, with Huey's own pieces:

* Task locking: a job runs under ``huey.lock_task("job-<id>")``; a second message for the same job
  (a retry racing a sweep) finds it locked and does nothing. The row's state is also claimed with
  a compare-and-set, so a job already done is never run again.
* Retries: an unexpected error (not a bad recording) is retried by Huey after
  :data:`RETRY_DELAY_S`, up to :data:`MAX_ATTEMPTS` attempts in all; the row says "retrying".
* A worker killed outright (SIGKILL, power cut) takes its Huey message with it. Each consumer's
  scheduler sweeps the rows every few seconds (:func:`sweep`): a running job whose worker is gone
  (its pid is dead on this host, or its heartbeat is older than :data:`STALE_S`) is put back in
  the queue, its lock cleared, and the next worker resumes the transcription from its checkpoint.
  A worker that was only frozen and comes back finds its attempt superseded and stops.

``shiur worker`` runs Huey's consumer in the foreground; ``shiur serve`` supervises one.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from sync import queue as task_queue

from . import outcome
from .db import connect, init_schema
from .supervise import Supervisor

log = logging.getLogger("shiur.jobs")

QUEUED, TRANSCRIBING, ALIGNING, DONE, FAILED = "queued", "transcribing", "aligning", "done", "failed"
RUNNING = (TRANSCRIBING, ALIGNING)
PROCESS, REALIGN = "process", "realign"
HEARTBEAT_S = 5.0
"""A running job's row is touched this often; the sweep judges workers by it."""
STALE_S = 60.0
"""A running job whose heartbeat is older than this is taken as orphaned even if its pid lives
(the pid may have been reused, or the worker ran on another host)."""
MAX_ATTEMPTS = 5
"""A job interrupted or failing this many times is failed instead of retried forever (e.g. a
worker killed for memory on this recording)."""
RETRY_DELAY_S = 10
"""Huey waits this long before retrying a job after an unexpected error."""
PARTIAL = ".transcript.partial.json"
"""The job's transcription checkpoint, in the recording's folder (shared by every worker)."""
RECORDING_STATUS = {QUEUED: "queued", TRANSCRIBING: "transcribing", ALIGNING: "aligning", DONE: "ready",
                    FAILED: "failed"}
"""The recordings row mirrors its job; "ready" is what the library calls a synced recording."""
ATTENTION = ("העיבוד הסתיים, אבל אף קטע מהטקסט לא נמצא בהקלטה: בדקו שזה הטקסט הנכון ושפת ההקלטה נכונה. · "
             "Processed, but no passage of the text was found in the recording: check that this is the right "
             "text and the right language.")
"""The message of a job that finished with nothing aligned: done, but the lecturer must look."""
PROGRESS_EVERY_S = 1.0
"""Progress is written to the row at most this often (the status page polls it)."""


DELETED = "the recording was deleted"


class JobError(Exception):
    """A failure the lecturer can act on; its text is shown on the page as the reason."""


class Superseded(Exception):
    """This attempt was declared dead by a sweep and the job handed to another worker."""


@dataclass
class WorkerConfig:
    database: str
    library_dir: Path
    model: str | None = None


_config: WorkerConfig | None = None


def configure(database: str, library_dir: str | Path, model: str | None = None) -> WorkerConfig:
    """Set where this process's tasks find the library (the consumer calls it at start)."""
    global _config
    _config = WorkerConfig(str(database), Path(library_dir), model)
    return _config


def _worker_config() -> WorkerConfig:
    if _config is not None:
        return _config
    from . import create_app

    overrides = {"DATABASE": os.environ["SHIUR_DATABASE"]} if os.environ.get("SHIUR_DATABASE") else None
    app = create_app(overrides)
    model = app.config.get("WHISPER_MODEL") or os.environ.get("SHIUR_MODEL")
    return configure(app.config["DATABASE"], app.config["LIBRARY_DIR"], model)


# ---- the queue ---------------------------------------------------------------------------


def _db_file(conn: sqlite3.Connection) -> Path:
    row = conn.execute("PRAGMA database_list").fetchone()
    return Path(row[2])


def queue_for(conn_or_db: sqlite3.Connection | str | Path) -> Any:
    """The Huey queue of this library: beside its database, or Redis with ``SHIUR_QUEUE``."""
    db = _db_file(conn_or_db) if isinstance(conn_or_db, sqlite3.Connection) else Path(conn_or_db)
    return task_queue.open_queue(db.parent)


NOT_SENT = "בתור; שרת התור אינו זמין כעת · queued; the queue server is not reachable yet"
"""The message of a job whose Huey message could not be sent (Redis down): a sweep sends it."""


def _push(conn: sqlite3.Connection, job_id: int) -> None:
    """Send the job's Huey message. If the queue is unreachable the row stays queued, marked, and
    the next sweep of a worker sends it: an upload never fails because Redis is restarting."""
    try:
        task_queue.tasks(queue_for(conn), __name__)["run_job"](job_id)
    except Exception as e:  # redis.ConnectionError and kin; the queue backend is pluggable
        log.error("job %s: could not reach the queue (%s); a worker's sweep will send it", job_id, e)
        conn.execute("UPDATE jobs SET message = ? WHERE id = ? AND state = ?", (NOT_SENT, job_id, QUEUED))
        conn.commit()


def enqueue(conn: sqlite3.Connection, recording_id: int, kind: str = PROCESS) -> int:
    """Queue a job; an unfinished job for the same recording is reused rather than doubled."""
    row = conn.execute(
        "SELECT id, kind FROM jobs WHERE recording_id = ? AND state NOT IN (?, ?) ORDER BY id DESC LIMIT 1",
        (recording_id, DONE, FAILED),
    ).fetchone()
    if row is not None:
        if kind == PROCESS and row["kind"] != PROCESS:
            conn.execute("UPDATE jobs SET kind = ? WHERE id = ?", (PROCESS, row["id"]))
            conn.commit()
        return int(row["id"])
    cur = conn.execute("INSERT INTO jobs (recording_id, kind, state) VALUES (?, ?, ?)", (recording_id, kind, QUEUED))
    conn.execute("UPDATE recordings SET status = ? WHERE id = ?", (RECORDING_STATUS[QUEUED], recording_id))
    conn.commit()
    job_id = int(cur.lastrowid or 0)
    _push(conn, job_id)
    return job_id


def retry(conn: sqlite3.Connection, job_id: int) -> bool:
    """The lecturer's "retry" of a failed job: a fresh set of attempts."""
    cur = conn.execute(
        "UPDATE jobs SET state = ?, error = NULL, message = '', percent = 0, eta = NULL, attempts = 0,"
        " updated_at = datetime('now') WHERE id = ? AND state = ?",
        (QUEUED, job_id, FAILED),
    )
    if cur.rowcount:
        rec = conn.execute("SELECT recording_id FROM jobs WHERE id = ?", (job_id,)).fetchone()
        conn.execute("UPDATE recordings SET status = ? WHERE id = ?", (RECORDING_STATUS[QUEUED], rec[0]))
    conn.commit()
    if cur.rowcount:
        _push(conn, job_id)
    return bool(cur.rowcount)


def latest_job(conn: sqlite3.Connection, recording_id: int) -> sqlite3.Row | None:
    sql = "SELECT * FROM jobs WHERE recording_id = ? ORDER BY id DESC LIMIT 1"
    return conn.execute(sql, (recording_id,)).fetchone()


def job_view(row: sqlite3.Row | None) -> dict[str, Any]:
    """What the status page shows (JSON for the live poll)."""
    if row is None:
        return {"state": "none", "percent": 0, "eta": None, "message": "", "error": None, "job": None,
                "attention": False}
    return {
        "job": row["id"],
        "kind": row["kind"],
        "state": row["state"],
        "percent": round(float(row["percent"] or 0), 1),
        "eta": None if row["eta"] is None else round(float(row["eta"])),
        "message": row["message"] or "",
        "error": row["error"],
        "attempts": row["attempts"],
        "attention": row["state"] == DONE and row["message"] == ATTENTION,
    }


def _set(conn: sqlite3.Connection, job_id: int, **fields: Any) -> None:
    if not fields:
        return
    cols = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE jobs SET {cols}, updated_at = datetime('now') WHERE id = ?", (*fields.values(), job_id))
    if "state" in fields:
        conn.execute(
            "UPDATE recordings SET status = ? WHERE id = (SELECT recording_id FROM jobs WHERE id = ?)",
            (RECORDING_STATUS[fields["state"]], job_id),
        )
    conn.commit()


def record_outcome(conn: sqlite3.Connection, job_id: int, state: str, error: BaseException | str | None = None,
                   message: str = "", covered: int | None = None) -> None:
    """The one place a job's end (or its "retrying" pause) is recorded on its row and recording.

    ``error`` is an exception (turned into the reason shown to the lecturer, see
    :func:`user_message`) or a ready reason. ``covered``: passages the alignment found read; a job
    done with none needs the lecturer's attention (wrong text, wrong language, no speech).
    """
    reason = error if isinstance(error, str) or error is None else user_message(conn, job_id, error)
    if state == DONE:
        if covered == 0:
            message = ATTENTION
        _set(conn, job_id, state=DONE, message=message, percent=100, eta=None, error=None)
    elif state == QUEUED:
        _set(conn, job_id, state=QUEUED, message=message, eta=None, error=reason, worker_pid=None)
    else:
        _set(conn, job_id, state=FAILED, message=message, eta=None, error=reason)


REALIGN_FOUND_NOTHING = "the re-alignment found no passage of the text; the previous alignment is kept"
_KNOWN = {
    "the recording was deleted": "ההקלטה נמחקה",
    REALIGN_FOUND_NOTHING: "היישור מחדש לא מצא אף קטע מהטקסט; היישור הקודם נשמר",
    "the original audio file is missing from the library folder": "קובץ השמע המקורי חסר בתיקיית הספרייה",
    "the discourse text of this recording is missing": "טקסט המאמר של ההקלטה חסר",
}
_KIND = {"AudioError": ("קובץ השמע אינו שמיש", "The audio could not be used"),
         "TextError": ("טקסט המאמר אינו שמיש", "The discourse text could not be used"),
         "ModelError": ("מודל הזיהוי לא נטען", "The speech model could not be loaded")}
_PATH = re.compile(r"(?:/[^/\s:'\"()]+)+/?")


def user_message(conn: sqlite3.Connection, job_id: int, e: BaseException) -> str:
    """What the lecturer reads when a job fails: Hebrew first, then English; the recording by the
    name its file had on the lecturer's computer (else its title), never a path on the server or
    the stored ``original.*`` name (the full error is in the worker log)."""
    from sync.errors import ShiurError

    row = conn.execute("SELECT r.title, r.audio_path, r.source_name FROM jobs j JOIN recordings r"
                       " ON r.id = j.recording_id WHERE j.id = ?", (job_id,)).fetchone()
    name = ((row["source_name"] or row["title"]) if row is not None else "") or ""
    text = str(e)
    if isinstance(e, JobError) and text in _KNOWN:
        return f"{_KNOWN[text]} · {text}"
    if isinstance(e, ShiurError):
        detail = _scrub(text, row["audio_path"] if row is not None else None, name)
        he, en = _KIND.get(type(e).__name__, ("העיבוד נכשל", "Processing failed"))
        named = f" „{name}”" if name else ""
        return f"{he}{named}. · {en}{f' ({name})' if name else ''}: {detail}"
    return (f"תקלה פנימית בעיבוד; הפרטים ביומן השרת. · Internal error ({type(e).__name__}); "
            f"the details are in the worker log.")


def _scrub(text: str, audio_name: str | None, title: str) -> str:
    """Paths become bare file names, and the stored original the user's name for it."""

    def name(m: re.Match[str]) -> str:
        base = m.group(0).rstrip("/").rsplit("/", 1)[-1]
        return title if audio_name and base == audio_name and title else base

    text = _PATH.sub(name, text)
    if audio_name and title:
        text = text.replace(audio_name, title)
    prefix = f"{title}: "
    return text[len(prefix):] if text.startswith(prefix) else text


# ---- claiming and recovering --------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A killed child that nobody reaped yet still answers kill(0); it is dead all the same.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def claim(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row | None:
    """Take a queued job for this process (compare-and-set); None if it is not queued any more."""
    cur = conn.execute(
        "UPDATE jobs SET state = ?, worker_pid = ?, worker_host = ?, heartbeat = ?, attempts = attempts + 1,"
        " error = NULL, updated_at = datetime('now') WHERE id = ? AND state = ?",
        (TRANSCRIBING, os.getpid(), socket.gethostname(), time.time(), job_id, QUEUED),
    )
    conn.commit()
    if not cur.rowcount:
        return None
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    conn.execute("UPDATE recordings SET status = ? WHERE id = ?", (RECORDING_STATUS[TRANSCRIBING], row["recording_id"]))
    conn.commit()
    return row


def recover(conn: sqlite3.Connection, now: float | None = None) -> list[int]:
    """Put orphaned running jobs back in the queue state (or fail them after too many attempts).

    Returns the ids put back; the caller pushes their Huey messages (see :func:`sweep`).
    """
    now = time.time() if now is None else now
    host = socket.gethostname()
    out = []
    rows = conn.execute(
        f"SELECT * FROM jobs WHERE state IN ({','.join('?' * len(RUNNING))})", RUNNING
    ).fetchall()
    for r in rows:
        dead = r["heartbeat"] is None or now - r["heartbeat"] > STALE_S
        if not dead and r["worker_host"] == host and r["worker_pid"]:
            dead = not _pid_alive(int(r["worker_pid"]))
        if not dead:
            continue
        if r["attempts"] >= MAX_ATTEMPTS:
            record_outcome(conn, r["id"], FAILED, f"interrupted {r['attempts']} times; giving up "
                           "(the worker may be running out of memory on this recording)")
            log.error("job %s: worker %s gone %s times; failed", r["id"], r["worker_pid"], r["attempts"])
            continue
        # Compare-and-set on the attempt seen: of several sweeping consumers, one puts it back.
        cur = conn.execute(
            "UPDATE jobs SET state = ?, worker_pid = NULL, message = ?, eta = NULL, updated_at = datetime('now')"
            " WHERE id = ? AND state = ? AND attempts = ?",
            (QUEUED, "interrupted; resuming", r["id"], r["state"], r["attempts"]),
        )
        conn.execute("UPDATE recordings SET status = ? WHERE id = ?", (RECORDING_STATUS[QUEUED], r["recording_id"]))
        conn.commit()
        if cur.rowcount:
            out.append(int(r["id"]))
            log.warning("job %s: worker %s@%s gone; requeued", r["id"], r["worker_pid"], r["worker_host"])
    return out


def _lock(huey: Any, job_id: int) -> Any:
    return huey.lock_task(f"job-{job_id}")


def sweep(huey: Any) -> list[int]:
    """Run by each consumer's scheduler: note this worker as alive, requeue orphaned jobs."""
    cfg = _worker_config()
    conn = connect(cfg.database)
    try:
        _seen(conn)
        back = recover(conn)
    finally:
        conn.close()
    for job_id in back:
        # The dead worker never released its lock.
        _lock(huey, job_id).clear()
        task_queue.tasks(huey, __name__)["run_job"](job_id)
    conn = connect(cfg.database)
    try:
        unsent = [int(r[0]) for r in conn.execute("SELECT id FROM jobs WHERE state = ? AND message = ?",
                                                  (QUEUED, NOT_SENT))]
        for job_id in unsent:
            task_queue.tasks(huey, __name__)["run_job"](job_id)
            conn.execute("UPDATE jobs SET message = '' WHERE id = ? AND message = ?", (job_id, NOT_SENT))
            conn.commit()
    finally:
        conn.close()
    return back + unsent


# ---- running one job ---------------------------------------------------------------------


class Reporter:
    """Writes a job's state and progress to its row, at most once a second for progress.

    ``fence`` is the attempt number this worker claimed: once a sweep has given the job to
    another attempt, every write here raises :class:`Superseded` instead.
    """

    def __init__(self, conn: sqlite3.Connection, job_id: int, fence: int | None = None):
        self.conn = conn
        self.job_id = job_id
        self.fence = fence
        self.lost = threading.Event()
        self._last = 0.0

    def check(self) -> None:
        if self.lost.is_set():
            raise Superseded(f"job {self.job_id}: attempt {self.fence} was superseded")

    def state(self, state: str, message: str = "", percent: float = 0.0) -> None:
        self.check()
        _set(self.conn, self.job_id, state=state, message=message, percent=percent, eta=None)

    def progress(self, percent: float, eta: float | None, message: str = "", force: bool = False) -> None:
        self.check()
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            _set(self.conn, self.job_id, percent=max(0.0, min(100.0, percent)), eta=eta, message=message)


class _Heartbeat(threading.Thread):
    def __init__(self, db_path: str, job_id: int, fence: int, lost: threading.Event):
        super().__init__(daemon=True)
        self.db_path = db_path
        self.job_id = job_id
        self.fence = fence
        self.lost = lost
        self.stop = threading.Event()

    def run(self) -> None:
        conn = connect(self.db_path)
        try:
            while not self.stop.wait(HEARTBEAT_S):
                cur = conn.execute(
                    f"UPDATE jobs SET heartbeat = ? WHERE id = ? AND attempts = ? AND state IN "
                    f"({','.join('?' * len(RUNNING))})", (time.time(), self.job_id, self.fence, *RUNNING))
                conn.commit()
                if not cur.rowcount:
                    self.lost.set()
                    return
                _seen(conn)
        finally:
            conn.close()


def run_job(conn: sqlite3.Connection, job: sqlite3.Row, library_dir: Path, model_name: str | None = None,
            rep: Reporter | None = None) -> int:
    """Do one claimed job to the end; returns how many passages were found read. Raises on
    failure (the caller records the reason)."""
    from sync import cache, pipeline, writers
    from sync.alignment import Alignment, Pin
    from sync.audio import load_audio, sha256_file
    from sync.discourse import parse_discourse
    from sync.progress import Eta
    from sync.transcript import Transcript

    from . import webaudio

    rep = rep or Reporter(conn, job["id"])
    rec = conn.execute("SELECT * FROM recordings WHERE id = ?", (job["recording_id"],)).fetchone()
    if rec is None:
        raise JobError("the recording was deleted")
    outdir = library_dir / (rec["outdir"] or rec["slug"])
    original = outdir / (rec["audio_path"] or "")
    if not rec["audio_path"] or not original.is_file():
        raise JobError("the original audio file is missing from the library folder")
    drow = conn.execute("SELECT text FROM discourses WHERE id = ?", (rec["discourse_id"],)).fetchone()
    if drow is None:
        raise JobError("the discourse text of this recording is missing")
    discourse = parse_discourse(drow["text"])

    rep.state(TRANSCRIBING, "מכין את השמע · preparing audio")
    audio = load_audio(original)
    duration = audio.duration
    conn.execute("UPDATE recordings SET duration = ? WHERE id = ?", (round(duration, 3), rec["id"]))
    conn.commit()
    stream = outdir / webaudio.STREAM_NAME
    if not stream.is_file():
        rep.progress(0, None, "מכין עותק לדפדפן · making the web copy", force=True)
        webaudio.make_stream_copy(original, outdir, audio.samples)
    conn.execute("UPDATE recordings SET stream_path = ? WHERE id = ?", (webaudio.STREAM_NAME, rec["id"]))
    conn.commit()

    audio_sha = sha256_file(original)
    transcript_path = outdir / "transcript.json"
    transcript = None
    if transcript_path.is_file():
        try:
            cached = Transcript.load(transcript_path)
            if cached.audio_sha256 in ("", audio_sha):
                transcript = cached
        except Exception:  # a damaged file is just a miss; it is rewritten below
            transcript = None
    if transcript is None:
        rep.progress(0, None, "טוען את מודל הזיהוי · loading the speech model", force=True)
        options = transcribe_options(discourse, rec["language"])
        eta = Eta(duration)
        message = "מתמלל · transcribing"

        def on_progress(done: float, total: float) -> None:
            nonlocal message
            first = eta.first is None
            if first and 0 < done < total:
                message = "ממשיך מהמקום שנעצר · resuming transcription"
            eta.update(done)
            # The first report is written at once: the page says "transcribing" as decoding starts.
            rep.progress(100 * done / max(total, 1e-9), eta.eta(), message, force=first or done >= total)

        res = pipeline.transcribe_audio(audio, audio_sha, model_name, options, on_progress=on_progress,
                                        checkpoint=outdir / PARTIAL, cpu_threads=_threads())
        transcript = res.transcript
        _still_there(conn, rec["id"])
        rep.check()
        writers.WriteTranscriptJSON(outdir)(writers.SyncResult(discourse, Alignment(), transcript))
        cache.clear_checkpoint(outdir / PARTIAL)

    rep.state(ALIGNING, "מיישר את הטקסט להקלטה · aligning the text", percent=0)
    pins = [Pin(r["passage_id"], r["start"]) for r in conn.execute(
        "SELECT passage_id, start FROM pins WHERE recording_id = ? ORDER BY passage_id", (rec["id"],))]
    try:
        # The model is loaded only if a word-by-word reading has a doubtful boundary to force
        # (sync.forced): a re-alignment normally never pays for loading one.
        alignment = pipeline.align_transcript(discourse, transcript, tuple(pins), audio, model_name)
    except NotImplementedError as e:
        raise JobError(f"the aligner is not available in this version ({e})") from None
    alignment.duration = alignment.duration or duration
    result = writers.SyncResult(discourse, alignment, transcript, meta={"job": job["id"], "pins": len(pins)})
    _still_there(conn, rec["id"])
    rep.check()
    if job["kind"] == REALIGN and not alignment.read_cues() and _has_readings(outdir / "alignment.json"):
        # A re-alignment that finds nothing (the wrong text attached since) must not replace an
        # alignment the lecturer may have corrected: the old one stays, and the job says why.
        raise JobError(REALIGN_FOUND_NOTHING)
    writers.write_outputs(result, outdir, ("passages.vtt", "paragraphs.vtt", "alignment.json"))
    # The recording's own flags (no passage found: publishing waits for the lecturer; a cut-off file).
    outcome.record_outcome(conn, rec["id"], alignment, audio.declared_duration, duration)
    return len({c.passage_id for c in alignment.read_cues()})


def _has_readings(path: Path) -> bool:
    from sync.alignment import Alignment

    try:
        return bool(Alignment.load(path).read_cues())
    except Exception:  # missing or damaged: nothing worth keeping
        return False


def _still_there(conn: sqlite3.Connection, recording_id: int) -> None:
    """Deleted while we worked: writing now would bring back a folder the lecturer removed."""
    if conn.execute("SELECT 1 FROM recordings WHERE id = ?", (recording_id,)).fetchone() is None:
        raise JobError("the recording was deleted")


def _threads() -> int:
    return int(os.environ.get("SHIUR_THREADS") or os.cpu_count() or 1)


def transcribe_options(discourse: Any, language: str) -> Any:
    """The CLI's settings (``sync.pipeline``), so a class synced either way shares one cache entry."""
    from sync.pipeline import DEFAULT_BIAS, options_for

    return options_for(language or "auto", DEFAULT_BIAS, discourse)


def execute(job_id: int, retries_left: int = 0, huey: Any = None) -> str | None:
    """The body of the Huey task: claim job ``job_id``, run it, record the outcome.

    Returns the state recorded (None when there was nothing to do: the job is not queued, or
    another worker holds its lock). Raises only to ask Huey for a retry.
    """
    from huey.exceptions import TaskLockedException

    cfg = _worker_config()
    lock = _lock(huey, job_id) if huey is not None else None
    try:
        if lock is not None:
            lock.acquire()
    except TaskLockedException:
        log.info("job %s: another worker holds it", job_id)
        return None
    conn = connect(cfg.database)
    try:
        job = claim(conn, job_id)
        if job is None:
            return None
        rep = Reporter(conn, job_id, fence=int(job["attempts"]))
        beat = _Heartbeat(cfg.database, job_id, int(job["attempts"]), rep.lost)
        beat.start()
        log.info("job %s (%s) for recording %s: started, attempt %s", job_id, job["kind"], job["recording_id"],
                 job["attempts"])
        try:
            covered = run_job(conn, job, cfg.library_dir, cfg.model, rep)
        except Superseded:
            log.warning("job %s: attempt %s was superseded by a sweep; stopping", job_id, job["attempts"])
            lock = None  # it is the new attempt's lock now
            return None
        except Exception as e:
            gone = conn.execute("SELECT 1 FROM recordings WHERE id = ?", (job["recording_id"],)).fetchone() is None
            error: BaseException | str = f"{_KNOWN[DELETED]} · {DELETED}" if gone else e
            log.error("job %s failed: %s\n%s", job_id, error, traceback.format_exc())
            from sync.errors import ShiurError

            transient = not gone and not isinstance(e, JobError | ShiurError)
            if transient and retries_left > 0 and int(job["attempts"]) < MAX_ATTEMPTS:
                record_outcome(conn, job_id, QUEUED, e, message=f"retrying in {RETRY_DELAY_S} s · מנסה שוב")
                raise
            record_outcome(conn, job_id, FAILED, error)
            return FAILED
        finally:
            beat.stop.set()
        record_outcome(conn, job_id, DONE, covered=covered)
        log.info("job %s: done, %s passages found", job_id, covered)
        return DONE
    finally:
        conn.close()
        if lock is not None:
            lock.clear()


def _register(huey: Any) -> dict[str, Any]:
    from huey import signals

    @huey.task(retries=MAX_ATTEMPTS - 1, retry_delay=RETRY_DELAY_S, context=True, name="shiur_job")
    def run_job(job_id: int, task: Any = None) -> str | None:
        return execute(job_id, retries_left=task.retries if task is not None else 0, huey=huey)

    @huey.signal(signals.SIGNAL_INTERRUPTED)
    def interrupted(_signal: str, task: Any, *_a: Any, **_k: Any) -> None:
        # The consumer was stopped mid-job (SIGTERM): hand the job back at once rather than wait
        # for a sweep; the next worker resumes from the checkpoint.
        if type(task).__name__ != "shiur_job":
            return
        job_id = int(task.args[0])
        cfg = _worker_config()
        conn = connect(cfg.database)
        try:
            cur = conn.execute(
                "UPDATE jobs SET state = ?, worker_pid = NULL, message = ?, updated_at = datetime('now')"
                " WHERE id = ? AND worker_pid = ? AND state IN (?, ?)",
                (QUEUED, "interrupted; resuming", job_id, os.getpid(), *RUNNING))
            conn.commit()
        finally:
            conn.close()
        if cur.rowcount:
            _lock(huey, job_id).clear()
            run_job(job_id)

    return {"run_job": run_job}


if __name__ != "__main__":
    # Run as `python -m player.jobs`, this file is __main__; the tasks belong to player.jobs.
    task_queue.add_tasks(__name__, _register)
    task_queue.add_sweep(__name__, sweep)


# ---- the worker --------------------------------------------------------------------------


WORKER_SEEN_S = 30.0
"""A worker that has not looked at the queue for this long is not counted as running."""


def _seen(conn: sqlite3.Connection) -> None:
    now = time.time()
    conn.execute("INSERT OR REPLACE INTO workers (pid, host, seen) VALUES (?, ?, ?)",
                 (os.getpid(), socket.gethostname(), now))
    conn.execute("DELETE FROM workers WHERE seen < ?", (now - 24 * 3600,))
    conn.commit()


def worker_running(conn: sqlite3.Connection, now: float | None = None) -> bool:
    """Whether some worker looked at the queue lately (the page warns when none does)."""
    now = time.time() if now is None else now
    return conn.execute("SELECT 1 FROM workers WHERE seen > ?", (now - WORKER_SEEN_S,)).fetchone() is not None


def run_consumer(workers: int = 1, should_stop: Callable[[], bool] | None = None) -> None:
    """Huey's consumer for this library, in the foreground, until SIGTERM/SIGINT."""
    cfg = _worker_config()
    conn = connect(cfg.database)
    try:
        init_schema(conn)
        _seen(conn)
    finally:
        conn.close()
    huey = queue_for(cfg.database)
    consumer = task_queue.consumer(huey, workers=workers)
    parent = int(os.environ.get("SHIUR_WORKER_PARENT") or 0)
    if parent:
        # Started by `shiur serve`: a server killed outright (no atexit) must not leave us behind.
        def orphan_watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=orphan_watch, daemon=True).start()
    log.info("worker started: database %s, queue %s", cfg.database, task_queue.queue_url() or "sqlite")
    consumer.run()


def _serve_forever(workers: int = 1) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker[%(process)d] %(name)s %(message)s")
    _worker_config()
    run_consumer(workers)


def start_worker(app: Any) -> Supervisor | None:
    """Start a supervised worker process for ``shiur serve`` (stopped when the server exits).

    Set ``SHIUR_NO_WORKER=1`` to run workers separately (``shiur worker``), e.g. on other machines.
    """
    import atexit

    if os.environ.get("SHIUR_NO_WORKER"):
        return None
    env = dict(os.environ)
    env["SHIUR_LIBRARY"] = str(app.config["LIBRARY_DIR"])
    env["SHIUR_MEDIA"] = str(app.config["MEDIA_DIR"])
    env["SHIUR_DATABASE"] = str(app.config["DATABASE"])
    if app.config.get("WHISPER_MODEL"):
        env["SHIUR_MODEL"] = str(app.config["WHISPER_MODEL"])
    env["SHIUR_WORKER_PARENT"] = str(os.getpid())
    sup = Supervisor([sys.executable, "-m", "player.jobs"], env, name="worker")
    sup.spawn()
    sup.start()
    atexit.register(sup.stop)
    return sup


@click.command("worker")
@click.option("-w", "--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Jobs run at once by this process (each transcription uses every core it is given).")
@click.option("--once", is_flag=True, help="Run what is queued now, then exit.")
def worker_command(workers: int, once: bool) -> None:
    """Process uploads and queued batches in the background (Huey consumer; SHIUR_QUEUE for Redis)."""
    if once:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
        cfg = _worker_config()
        click.echo(f"ran {run_pending(cfg.database, cfg.library_dir, cfg.model)} queued task(s)")
        return
    _serve_forever(workers)


def run_pending(database: str, library_dir: str | Path, model: str | None = None) -> int:
    """Run the queued tasks of this library in this process until none is due (tests, and
    ``shiur worker --once``); returns how many ran. Huey executes them, retries included."""
    configure(database, library_dir, model)
    huey = queue_for(database)
    n = 0
    while True:
        task = huey.dequeue()
        if task is None:
            return n
        huey.execute(task)
        n += 1


if __name__ == "__main__":
    from player import jobs as _jobs

    _jobs._serve_forever()
