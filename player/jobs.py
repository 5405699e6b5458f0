"""Background processing: an SQLite job table and a worker process. No server to run.

A job moves queued -> transcribing (percent, ETA) -> aligning -> done, or -> failed with a
reason. The worker claims a job atomically, beats a heartbeat while it works, and checkpoints
the transcript segment by segment. If a worker dies (SIGKILL, power cut, server restart), the
next worker to look at the queue sees the dead owner (its pid is gone, or its heartbeat is
stale), puts the job back in the queue, and the transcription resumes from the last checkpoint.

``shiur worker`` runs a worker in the foreground; ``start_worker(app)`` starts one as a child
of ``shiur serve`` so the README's single run command processes uploads too.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import outcome
from .db import connect, init_schema

log = logging.getLogger("shiur.jobs")

QUEUED, TRANSCRIBING, ALIGNING, DONE, FAILED = "queued", "transcribing", "aligning", "done", "failed"
RUNNING = (TRANSCRIBING, ALIGNING)
PROCESS, REALIGN = "process", "realign"
HEARTBEAT_S = 5.0
STALE_S = 60.0
"""A running job whose heartbeat is older than this is taken as orphaned even if its pid lives
(the pid may have been reused, or the worker ran on another host)."""
MAX_ATTEMPTS = 5
"""A job interrupted this many times is failed instead of retried forever (e.g. killed for memory)."""
PARTIAL = ".transcript.partial.json"
RECORDING_STATUS = {QUEUED: "queued", TRANSCRIBING: "transcribing", ALIGNING: "aligning", DONE: "ready",
                    FAILED: "failed"}
"""The recordings row mirrors its job; "ready" is what the library calls a synced recording."""


class JobError(Exception):
    """A failure the lecturer can act on; its text is shown on the page as the reason."""


# ---- the queue ---------------------------------------------------------------------------


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
    return int(cur.lastrowid or 0)


def retry(conn: sqlite3.Connection, job_id: int) -> bool:
    cur = conn.execute(
        "UPDATE jobs SET state = ?, error = NULL, message = '', percent = 0, eta = NULL, attempts = 0,"
        " updated_at = datetime('now') WHERE id = ? AND state = ?",
        (QUEUED, job_id, FAILED),
    )
    if cur.rowcount:
        rec = conn.execute("SELECT recording_id FROM jobs WHERE id = ?", (job_id,)).fetchone()
        conn.execute("UPDATE recordings SET status = ? WHERE id = ?", (RECORDING_STATUS[QUEUED], rec[0]))
    conn.commit()
    return bool(cur.rowcount)


def latest_job(conn: sqlite3.Connection, recording_id: int) -> sqlite3.Row | None:
    sql = "SELECT * FROM jobs WHERE recording_id = ? ORDER BY id DESC LIMIT 1"
    return conn.execute(sql, (recording_id,)).fetchone()


def job_view(row: sqlite3.Row | None) -> dict[str, Any]:
    """What the status page shows (JSON for the live poll)."""
    if row is None:
        return {"state": "none", "percent": 0, "eta": None, "message": "", "error": None, "job": None}
    return {
        "job": row["id"],
        "kind": row["kind"],
        "state": row["state"],
        "percent": round(float(row["percent"] or 0), 1),
        "eta": None if row["eta"] is None else round(float(row["eta"])),
        "message": row["message"] or "",
        "error": row["error"],
        "attempts": row["attempts"],
    }


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


def recover(conn: sqlite3.Connection, now: float | None = None) -> list[int]:
    """Put orphaned running jobs back in the queue (or fail them after too many attempts)."""
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
            _set(conn, r["id"], state=FAILED, error=f"interrupted {r['attempts']} times; giving up "
                 "(the worker may be running out of memory on this recording)")
        else:
            conn.execute(
                "UPDATE jobs SET state = ?, worker_pid = NULL, message = ?, updated_at = datetime('now')"
                " WHERE id = ? AND state = ? AND heartbeat IS ?",
                (QUEUED, "interrupted; resuming", r["id"], r["state"], r["heartbeat"]),
            )
            conn.execute("UPDATE recordings SET status = ? WHERE id = ?", (RECORDING_STATUS[QUEUED], r["recording_id"]))
            conn.commit()
        out.append(int(r["id"]))
        log.warning("job %s: worker %s gone; requeued", r["id"], r["worker_pid"])
    return out


def claim(conn: sqlite3.Connection) -> sqlite3.Row | None:
    """Take the oldest queued job for this process; safe with several workers."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT id FROM jobs WHERE state = ? ORDER BY id LIMIT 1", (QUEUED,)).fetchone()
        if row is None:
            conn.execute("COMMIT")
            return None
        state = TRANSCRIBING
        conn.execute(
            "UPDATE jobs SET state = ?, worker_pid = ?, worker_host = ?, heartbeat = ?, attempts = attempts + 1,"
            " error = NULL, updated_at = datetime('now') WHERE id = ?",
            (state, os.getpid(), socket.gethostname(), time.time(), row["id"]),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return conn.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()


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


# ---- running one job ---------------------------------------------------------------------


class Reporter:
    """Writes a job's state and progress to its row, at most once a second for progress."""

    def __init__(self, conn: sqlite3.Connection, job_id: int):
        self.conn = conn
        self.job_id = job_id
        self._last = 0.0

    def state(self, state: str, message: str = "", percent: float = 0.0) -> None:
        _set(self.conn, self.job_id, state=state, message=message, percent=percent, eta=None)

    def progress(self, percent: float, eta: float | None, message: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= 1.0:
            self._last = now
            _set(self.conn, self.job_id, percent=max(0.0, min(100.0, percent)), eta=eta, message=message)


class _Heartbeat(threading.Thread):
    def __init__(self, db_path: str, job_id: int):
        super().__init__(daemon=True)
        self.db_path = db_path
        self.job_id = job_id
        self.stop = threading.Event()

    def run(self) -> None:
        conn = connect(self.db_path)
        try:
            while not self.stop.wait(HEARTBEAT_S):
                conn.execute("UPDATE jobs SET heartbeat = ? WHERE id = ? AND worker_pid = ?",
                             (time.time(), self.job_id, os.getpid()))
                conn.commit()
                _seen(conn)
        finally:
            conn.close()


def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def run_job(conn: sqlite3.Connection, job: sqlite3.Row, library_dir: Path, model_name: str | None = None) -> None:
    """Do one claimed job to the end; raises on failure (the caller records the reason)."""
    from sync import writers
    from sync.alignment import Pin
    from sync.audio import load_audio, sha256_file
    from sync.discourse import parse_discourse
    from sync.transcript import Transcript

    from . import webaudio

    rep = Reporter(conn, job["id"])
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
    model = None
    if transcript is None:
        transcript, model = _transcribe(rep, audio, discourse, rec["language"], outdir, audio_sha, model_name)
        _still_there(conn, rec["id"])
        writers.WriteTranscriptJSON(outdir)(writers.SyncResult(discourse, _empty_alignment(), transcript))
        (outdir / PARTIAL).unlink(missing_ok=True)

    rep.state(ALIGNING, "מיישר את הטקסט להקלטה · aligning the text", percent=0)
    pins = [Pin(r["passage_id"], r["start"]) for r in conn.execute(
        "SELECT passage_id, start FROM pins WHERE recording_id = ? ORDER BY passage_id", (rec["id"],))]
    alignment = _align(discourse, transcript, pins, audio.samples, model)
    alignment.duration = alignment.duration or duration
    result = writers.SyncResult(discourse, alignment, transcript, meta={"job": job["id"], "pins": len(pins)})
    _still_there(conn, rec["id"])
    writers.write_outputs(result, outdir, ("passages.vtt", "paragraphs.vtt", "alignment.json"))
    outcome.record_outcome(conn, rec["id"], alignment, audio.declared_duration, duration)
    rep.state(DONE, "", percent=100)


def _still_there(conn: sqlite3.Connection, recording_id: int) -> None:
    """Deleted while we worked: writing now would bring back a folder the lecturer removed."""
    if conn.execute("SELECT 1 FROM recordings WHERE id = ?", (recording_id,)).fetchone() is None:
        raise JobError("the recording was deleted")


def _empty_alignment() -> Any:
    from sync.alignment import Alignment

    return Alignment()


def _align(discourse: Any, transcript: Any, pins: list[Any], samples: Any, model: Any) -> Any:
    from sync.align import align

    # The model is only handed on when it is already loaded: re-aligning never pays for loading it.
    try:
        return align(discourse, transcript, pins=pins, audio=samples)
    except NotImplementedError as e:
        raise JobError(f"the aligner is not available in this version ({e})") from None


def _threads() -> int:
    return int(os.environ.get("SHIUR_THREADS") or os.cpu_count() or 1)


def _transcribe(rep: Reporter, audio: Any, discourse: Any, language: str, outdir: Path, audio_sha: str,
                model_name: str | None) -> tuple[Any, Any]:
    """Transcribe with checkpoints: segments are saved as they come, and a restarted job skips
    the audio it already has (Whisper restarts cleanly at a segment boundary)."""
    from sync import cache
    from sync.audio import SAMPLE_RATE
    from sync.transcribe import load_model, transcribe
    from sync.transcript import Segment, Transcript, Word

    rep.progress(0, None, "טוען את מודל הזיהוי · loading the speech model", force=True)
    model, label = load_model(model_name, cpu_threads=_threads())
    lang = None if language in ("", "auto") else language
    options = transcribe_options(discourse, language)
    key = cache.cache_key(audio_sha, label, options.to_dict())
    hit = cache.load(key)
    if hit is not None:
        return hit, model

    duration = audio.duration
    partial_path = outdir / PARTIAL
    segments: list[Segment] = []
    offset = 0.0
    detected = lang or ""
    try:
        part = json.loads(partial_path.read_text(encoding="utf-8"))
        if part.get("key") == key:
            segments = [Segment(**{**s, "words": [Word(**w) for w in s["words"]]}) for s in part["segments"]]
            offset = float(part["offset"])
            detected = part.get("language") or detected
    except (OSError, ValueError, KeyError, TypeError):
        pass

    def checkpoint(upto: float) -> None:
        _atomic_json(partial_path, {"key": key, "offset": upto, "language": detected,
                                    "segments": [_seg_dict(s) for s in segments]})

    resumed = offset > 0
    started = time.monotonic()
    msg = "ממשיך מהמקום שנעצר · resuming transcription" if resumed else "מתמלל · transcribing"
    rep.progress(100 * offset / duration, None, msg, force=True)
    tail = audio.samples[int(offset * SAMPLE_RATE):]
    if len(tail) > SAMPLE_RATE // 2:
        # The language found in the first run is kept, so a resumed tail is decoded the same way.
        seg_iter, info = transcribe(tail, model, detected or lang or "auto", options=options)
        detected = detected or info.language
        for seg in seg_iter:
            _shift(seg, offset)
            segments.append(seg)
            done = seg.end
            checkpoint(done)
            elapsed = time.monotonic() - started
            rate = (done - offset) / elapsed if elapsed > 0 else 0
            eta = (duration - done) / rate if rate > 0 else None
            rep.progress(100 * done / duration, eta, msg)
    transcript = Transcript(duration=round(duration, 3), language=detected or (lang or ""), segments=segments,
                            model=label, options=options.to_dict(), audio_sha256=audio_sha)
    cache.store(key, transcript)
    rep.progress(100, 0, "", force=True)
    return transcript, model


def transcribe_options(discourse: Any, language: str) -> Any:
    """The CLI's settings (``sync.pipeline``), so a class synced either way shares one cache entry."""
    from sync.pipeline import DEFAULT_BIAS, options_for

    return options_for(language or "auto", DEFAULT_BIAS, discourse)


def _shift(seg: Any, offset: float) -> None:
    if not offset:
        return
    seg.start = round(seg.start + offset, 3)
    seg.end = round(seg.end + offset, 3)
    for w in seg.words:
        w.start = round(w.start + offset, 3)
        w.end = round(w.end + offset, 3)


def _seg_dict(seg: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(seg)


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


def work_one(db_path: str, library_dir: Path, model_name: str | None = None) -> int | None:
    """Recover orphans, then claim and run one job. Returns its id, or None when idle."""
    conn = connect(db_path)
    try:
        _seen(conn)
        recover(conn)
        job = claim(conn)
        if job is None:
            return None
        beat = _Heartbeat(db_path, job["id"])
        beat.start()
        log.info("job %s (%s) for recording %s: started, attempt %s", job["id"], job["kind"],
                 job["recording_id"], job["attempts"])
        try:
            run_job(conn, job, library_dir, model_name)
            log.info("job %s: done", job["id"])
        except Exception as e:
            gone = conn.execute("SELECT 1 FROM recordings WHERE id = ?", (job["recording_id"],)).fetchone() is None
            reason = "the recording was deleted" if gone else _reason(e)
            if not gone:
                reason = outcome.user_error(conn, job["recording_id"], library_dir, reason)
            log.error("job %s failed: %s\n%s", job["id"], reason, traceback.format_exc())
            _set(conn, job["id"], state=FAILED, error=reason, eta=None)
        finally:
            beat.stop.set()
        return int(job["id"])
    finally:
        conn.close()


def _reason(e: Exception) -> str:
    from sync.errors import ShiurError

    if isinstance(e, JobError | ShiurError):
        return str(e)
    return f"internal error ({type(e).__name__}: {str(e)[:200]}); see the worker log"


def run_worker(db_path: str, library_dir: Path, model_name: str | None = None, poll: float = 1.0,
               once: bool = False, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Process jobs until stopped (or, with ``once``, until the queue is empty)."""
    conn = connect(db_path)
    try:
        init_schema(conn)
    finally:
        conn.close()
    while not should_stop():
        job_id = work_one(db_path, library_dir, model_name)
        if job_id is None:
            if once:
                return
            time.sleep(poll)


def _worker_config() -> tuple[str, Path, str | None]:
    from . import create_app

    overrides = {"DATABASE": os.environ["SHIUR_DATABASE"]} if os.environ.get("SHIUR_DATABASE") else None
    app = create_app(overrides)
    model = app.config.get("WHISPER_MODEL") or os.environ.get("SHIUR_MODEL")
    return app.config["DATABASE"], Path(app.config["LIBRARY_DIR"]), model


def _serve_forever(once: bool, poll: float) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker[%(process)d] %(message)s")
    db_path, library_dir, model_name = _worker_config()
    stop = threading.Event()

    def on_term(_sig: int, _frame: Any) -> None:
        # The running job is left as it is: the next worker resumes it from its checkpoint.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    parent = int(os.environ.get("SHIUR_WORKER_PARENT") or 0)

    def should_stop() -> bool:
        # Started by `shiur serve`: a server killed outright (no atexit) must not leave us behind.
        return stop.is_set() or (parent != 0 and os.getppid() != parent)

    log.info("worker started: database %s", db_path)
    run_worker(db_path, library_dir, model_name, poll=poll, once=once, should_stop=should_stop)


def start_worker(app: Any) -> subprocess.Popen[bytes] | None:
    """Start a worker process for ``shiur serve`` (its child; stopped when the server exits).

    Set ``SHIUR_NO_WORKER=1`` to run workers separately (``shiur worker``), e.g. on another core.
    """
    if os.environ.get("SHIUR_NO_WORKER"):
        return None
    env = dict(os.environ)
    env["SHIUR_LIBRARY"] = str(app.config["LIBRARY_DIR"])
    env["SHIUR_MEDIA"] = str(app.config["MEDIA_DIR"])
    env["SHIUR_DATABASE"] = str(app.config["DATABASE"])
    if app.config.get("WHISPER_MODEL"):
        env["SHIUR_MODEL"] = str(app.config["WHISPER_MODEL"])
    env["SHIUR_WORKER_PARENT"] = str(os.getpid())
    proc = subprocess.Popen([sys.executable, "-m", "player.jobs"], env=env)

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    atexit.register(stop)
    return proc


@click.command("worker")
@click.option("--once", is_flag=True, help="Exit when the queue is empty.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between looks at an empty queue.")
def worker_command(once: bool, poll: float) -> None:
    """Process uploaded recordings in the background (transcribe, align, web copy)."""
    _serve_forever(once, poll)


if __name__ == "__main__":
    _serve_forever(once=False, poll=1.0)
