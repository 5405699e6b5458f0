"""The job queue (Huey) and its workers: claiming, crash recovery, re-alignment without
re-transcribing, a real SQLite-queue worker killed with SIGKILL in the middle of transcription,
and two Redis-queue consumers, one killed mid-job."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port
from lecturer_fixtures import add_user, login, upload_form
from speechgen import speak_paragraphs

from player import jobs, supervise
from player.db import connect
from sync.alignment import READ, Alignment
from sync.transcript import Segment, Transcript, Word

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def conn(app):
    c = connect(app.config["DATABASE"])
    yield c
    c.close()


def _recording_row(conn, slug: str = "r1") -> int:
    cur = conn.execute("INSERT INTO recordings (slug, title, outdir) VALUES (?, ?, ?)", (slug, slug, slug))
    conn.commit()
    return int(cur.lastrowid)


def _pending(app) -> int:
    return jobs.queue_for(app.config["DATABASE"]).pending_count()


def _run_pending(app) -> int:
    return jobs.run_pending(app.config["DATABASE"], app.config["LIBRARY_DIR"])


def test_enqueue_claim_and_states(app, conn):
    rid = _recording_row(conn)
    jid = jobs.enqueue(conn, rid)
    assert jobs.enqueue(conn, rid) == jid  # no duplicate while one is pending
    assert _pending(app) == 1  # one Huey message, in the library's SQLite queue
    assert (Path(app.config["LIBRARY_DIR"]) / "queue.sqlite3").is_file()
    assert conn.execute("SELECT status FROM recordings").fetchone()[0] == "queued"
    job = jobs.claim(conn, jid)
    assert job["id"] == jid and job["state"] == jobs.TRANSCRIBING and job["worker_pid"] == os.getpid()
    assert job["attempts"] == 1
    assert jobs.claim(conn, jid) is None  # a second message for it finds it taken
    jobs.record_outcome(conn, jid, jobs.FAILED, "the audio is silent")
    view = jobs.job_view(jobs.latest_job(conn, rid))
    assert (view["state"], view["error"]) == ("failed", "the audio is silent")
    assert conn.execute("SELECT status FROM recordings").fetchone()[0] == "failed"
    assert jobs.retry(conn, jid)
    assert jobs.latest_job(conn, rid)["state"] == jobs.QUEUED
    assert _pending(app) == 2


def test_recover_job_of_a_dead_worker(app, conn):
    rid = _recording_row(conn)
    jid = jobs.enqueue(conn, rid)
    jobs.claim(conn, jid)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    conn.execute("UPDATE jobs SET worker_pid = ? WHERE id = ?", (dead.pid, jid))
    conn.commit()
    huey = jobs.queue_for(app.config["DATABASE"])
    huey.flush()
    jobs._lock(huey, jid).acquire()  # what the killed worker held
    jobs.configure(app.config["DATABASE"], app.config["LIBRARY_DIR"])
    assert jobs.sweep(huey) == [jid]
    row = jobs.latest_job(conn, rid)
    assert row["state"] == jobs.QUEUED and "resuming" in row["message"]
    assert huey.pending_count() == 1 and not jobs._lock(huey, jid).is_locked()
    assert jobs.sweep(huey) == []  # put back once, not once per sweep


def test_live_worker_is_left_alone_but_stale_heartbeat_is_not(conn):
    rid = _recording_row(conn)
    jid = jobs.enqueue(conn, rid)
    jobs.claim(conn, jid)  # owned by this (live) process, fresh heartbeat
    assert jobs.recover(conn) == []
    assert jobs.recover(conn, now=time.time() + jobs.STALE_S + 1) == [jid]


def test_job_interrupted_too_often_fails(conn):
    rid = _recording_row(conn)
    jid = jobs.enqueue(conn, rid)
    jobs.claim(conn, jid)
    conn.execute("UPDATE jobs SET attempts = ?, heartbeat = 0 WHERE id = ?", (jobs.MAX_ATTEMPTS, jid))
    conn.commit()
    jobs.recover(conn)
    row = jobs.latest_job(conn, rid)
    assert row["state"] == jobs.FAILED and "interrupted" in row["error"]


def test_a_superseded_attempt_stops_and_records_nothing(app, conn):
    rid = _recording_row(conn)
    jid = jobs.enqueue(conn, rid)
    job = jobs.claim(conn, jid)
    rep = jobs.Reporter(conn, jid, fence=job["attempts"])
    rep.lost.set()  # the heartbeat found that a sweep gave the job to another attempt
    with pytest.raises(jobs.Superseded):
        rep.progress(50, None, "transcribing")
    assert jobs.latest_job(conn, rid)["percent"] == 0


def test_missing_audio_fails_with_a_reason(app, conn):
    rid = _recording_row(conn)
    conn.execute("UPDATE recordings SET audio_path = 'original.mp3' WHERE id = ?", (rid,))
    conn.commit()
    jobs.enqueue(conn, rid)
    assert _run_pending(app) == 1
    row = jobs.latest_job(conn, rid)
    assert row["state"] == jobs.FAILED and "original audio file is missing" in row["error"]
    assert _pending(app) == 0  # a bad recording is not retried


def test_an_unexpected_error_is_retried_by_huey_and_the_row_says_so(app, conn, monkeypatch):
    rid = _recording_row(conn)
    calls = []

    def flaky(conn_, job, *_a, **_k):
        calls.append(job["attempts"])
        if len(calls) == 1:
            raise OSError("the network share hiccupped")

    monkeypatch.setattr(jobs, "run_job", flaky)
    jid = jobs.enqueue(conn, rid)
    _run_pending(app)
    row = jobs.latest_job(conn, rid)
    assert row["state"] == jobs.QUEUED and "retrying" in row["message"] and "OSError" in row["error"]
    huey = jobs.queue_for(app.config["DATABASE"])
    assert huey.scheduled_count() == 1  # Huey holds the retry for RETRY_DELAY_S
    later = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(seconds=jobs.RETRY_DELAY_S + 1)
    for task in huey.read_schedule(later):
        huey.execute(task, timestamp=later)
    row = jobs.latest_job(conn, rid)
    assert (row["state"], row["attempts"], row["error"]) == (jobs.DONE, 2, None)
    assert calls == [1, 2] and jid == row["id"]


def _fake_transcript(synced) -> Transcript:
    """What Whisper would have heard: every read cue's words, spread over the cue."""
    segs = []
    for c in synced.alignment.cues:
        if c.kind != READ:
            continue
        toks = synced.discourse.passage(c.passage_id).tokens
        step = (c.end - c.start) / len(toks)
        words = [Word(round(c.start + i * step, 3), round(c.start + (i + 1) * step, 3), t) for i, t in enumerate(toks)]
        segs.append(Segment(c.start, c.end, " ".join(toks), words))
    return Transcript(duration=21.0, language="he", segments=segs, model="test")


def test_realign_reuses_the_transcript_and_honours_pins(app, conn, recording, synced, monkeypatch):
    folder = Path(app.config["LIBRARY_DIR"]) / recording.slug
    _fake_transcript(synced).save(folder / "transcript.json")
    before = (folder / "transcript.json").read_bytes()

    def no_whisper(*_a, **_k):
        raise AssertionError("re-aligning must not transcribe again")

    monkeypatch.setattr("sync.transcribe.transcribe", no_whisper)
    monkeypatch.setattr("sync.transcribe.load_model", no_whisper)
    conn.execute("INSERT INTO pins (recording_id, passage_id, start) VALUES (?, 'p2.2', 11.25), (?, 'p3.1', NULL)",
                 (recording.id, recording.id))
    conn.commit()
    jobs.enqueue(conn, recording.id, jobs.REALIGN)
    _run_pending(app)
    row = jobs.latest_job(conn, recording.id)
    assert row["state"] == jobs.DONE, row["error"]
    a = Alignment.load(folder / "alignment.json")
    p22 = [c for c in a.read_cues() if c.passage_id == "p2.2"]
    assert p22 and p22[0].start == pytest.approx(11.25) and p22[0].pinned
    assert not [c for c in a.read_cues() if c.passage_id == "p3.1"]
    assert (folder / "transcript.json").read_bytes() == before
    assert (folder / "stream.m4a").stat().st_size > 0
    assert conn.execute("SELECT status FROM recordings").fetchone()[0] == "ready"


def test_a_realign_that_finds_nothing_keeps_the_previous_alignment(app, conn, recording, synced, monkeypatch):
    folder = Path(app.config["LIBRARY_DIR"]) / recording.slug
    before = (folder / "alignment.json").read_bytes()
    assert Alignment.load(folder / "alignment.json").read_cues()
    # What was heard has nothing in common with the text (as if another text had been attached).
    heard = Transcript(duration=21.0, language="en", model="test",
                       segments=[Segment(1.0, 20.0, "zzyzx", [Word(1.0, 20.0, "zzyzx")])])
    heard.save(folder / "transcript.json")
    monkeypatch.setattr("sync.transcribe.transcribe", lambda *_a, **_k: pytest.fail("must not transcribe"))
    jobs.enqueue(conn, recording.id, jobs.REALIGN)
    _run_pending(app)
    row = jobs.latest_job(conn, recording.id)
    assert row["state"] == jobs.FAILED
    assert "היישור הקודם נשמר" in row["error"] and "the previous alignment is kept" in row["error"]
    assert (folder / "alignment.json").read_bytes() == before


@pytest.fixture
def own_transcript_cache(tmp_path, monkeypatch) -> Path:
    """A fresh transcript cache (no hit from an earlier run) that still shares the unpacked model."""
    from sync.whisper_model import bundled_model_dir, cache_dir

    bundled_model_dir()  # unpacked once in the user cache, then shared by link
    models = cache_dir() / "models"
    root = tmp_path / "cache"
    root.mkdir()
    if models.is_dir():
        (root / "models").symlink_to(models)
    monkeypatch.setenv("SHIUR_CACHE", str(root))
    return root


@pytest.mark.slow
def test_transcription_resumes_from_its_checkpoint(app, conn, tmp_path, own_transcript_cache):
    from lecturer_fixtures import LESSON, LESSON_TEXT

    from sync.audio import sha256_file
    from sync.discourse import parse_discourse
    from sync.whisper_model import resolve_model

    add_user(app)
    client = app.test_client()
    speech = speak_paragraphs(LESSON, tmp_path / "lesson.wav")
    resp = client.post("/lecturer/upload", content_type="multipart/form-data",
                       data=upload_form(login(client), speech.path))
    folder = Path(app.config["LIBRARY_DIR"]) / resp.headers["Location"].rsplit("/", 1)[1]
    # What a worker killed after the first paragraph leaves behind.
    options = jobs.transcribe_options(parse_discourse(LESSON_TEXT), "en")
    from sync import cache

    key = cache.cache_key(sha256_file(folder / "original.wav"), resolve_model(None)[1], options.to_dict())
    offset = speech.starts[1] - 0.3
    marker = {"start": 1.0, "end": offset - 0.5, "text": "CHECKPOINTED FIRST PARAGRAPH", "avg_logprob": 0.0,
              "no_speech_prob": 0.0, "words": [{"start": 1.0, "end": 2.0, "text": "CHECKPOINTED", "probability": 1}]}
    (folder / jobs.PARTIAL).write_text(json.dumps({"v": cache.CHECKPOINT_VERSION, "key": key, "offset": offset,
                                                   "language": "en", "segments": [marker]}))
    _run_pending(app)
    row = conn.execute("SELECT * FROM jobs").fetchone()
    assert row["state"] == jobs.DONE, row["error"]
    t = Transcript.load(folder / "transcript.json")
    assert t.segments[0].text == "CHECKPOINTED FIRST PARAGRAPH"
    rest = t.segments[1:]
    assert rest and all(s.start >= offset - 0.01 for s in rest)
    heard = " ".join(s.text.lower() for s in rest)
    assert "second paragraph" in heard and "third paragraph" in heard and "first paragraph" not in heard
    assert not (folder / jobs.PARTIAL).exists()


# ---- a real worker process, killed mid-transcription ---------------------------------------

LONG_LESSON = [
    "In the beginning of the discourse the author quotes the verse from the depths I called you. "
    "He asks why the psalm of ascents opens with depths, and why the caller is not named.",
    "The answer begins with the difference between the new year and the day the law was given. "
    "On the new year every soul stands together, and each one is lifted to its first source.",
    "The law is like the blood that carries life to every limb of the body. It gives to each limb "
    "equally, the head and the heel alike, without any division between them.",
    "Yet this is not the same as the simple light that comes from above. The light is simple in "
    "itself, but it divides as it comes down, while the law stays whole in every place.",
    "So the call from the depths reaches higher than any praise. It comes from the essence of the "
    "soul, which is bound to the essence above, and there every soul is one.",
]


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen([sys.executable, "-m", "player.jobs"], env=env, cwd=ROOT, stdout=out, stderr=out)


def _wait(cond, timeout: float, what: str, proc=None, log: Path | None = None, interval: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(interval)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}")


@pytest.mark.slow
def _tree(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_sigkill_mid_transcription_then_restart(app, tmp_path, own_transcript_cache, recording):
    other = Path(app.config["LIBRARY_DIR"]) / recording.slug
    other_before = _tree(other)  # a class already in the library, published earlier
    add_user(app)
    client = app.test_client()
    token = login(client)
    speech = speak_paragraphs(LONG_LESSON[:3], tmp_path / "lesson.wav")
    assert speech.duration > 30  # more than one 30-s Whisper window
    resp = client.post("/lecturer/upload", content_type="multipart/form-data",
                       data=upload_form(token, speech.path, text_paste="\n\n".join(LONG_LESSON[:3])))
    assert resp.status_code == 302
    slug = resp.headers["Location"].rsplit("/", 1)[1]
    folder = Path(app.config["LIBRARY_DIR"]) / slug
    original_sha = hashlib.sha256((folder / "original.wav").read_bytes()).hexdigest()
    db = app.config["DATABASE"]

    def job():
        c = connect(db)
        try:
            return c.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            c.close()

    env = {**os.environ, "SHIUR_LIBRARY": app.config["LIBRARY_DIR"], "SHIUR_DATABASE": db,
           "SHIUR_MEDIA": app.config["MEDIA_DIR"], "PYTHONPATH": str(ROOT)}
    log = tmp_path / "worker.log"
    first = _worker(env, log)
    partial = folder / jobs.PARTIAL

    def decoding() -> bool:
        row = job()
        return row["state"] == jobs.TRANSCRIBING and "transcribing" in row["message"] or partial.exists()

    try:
        _wait(lambda: decoding() or job()["state"] == jobs.DONE, 240, "Whisper to start decoding", first, log,
              interval=0.02)
        # Freeze it at once, then look: the model is decoding and nothing is finished yet.
        first.send_signal(signal.SIGSTOP)
        row = job()
        assert row["state"] == jobs.TRANSCRIBING and row["percent"] < 100, dict(row)
        assert not (folder / "transcript.json").exists()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    checkpoint = json.loads(partial.read_text()).get("offset", 0.0) if partial.exists() else 0.0
    assert job()["state"] == jobs.TRANSCRIBING  # the row still says so: nobody cleaned up
    assert hashlib.sha256((folder / "original.wav").read_bytes()).hexdigest() == original_sha

    second = _worker(env, log)
    try:
        _wait(lambda: job()["state"] in (jobs.DONE, jobs.FAILED), 400, "the job to finish", second, log)
    finally:
        second.terminate()
        second.wait(10)
    row = job()
    assert row["state"] == jobs.DONE, row["error"]
    assert row["attempts"] == 2
    assert "worker" in log.read_text() and "requeued" in log.read_text()
    transcript = Transcript.load(folder / "transcript.json")
    ends = [s.end for s in transcript.segments]
    assert ends and ends[-1] > speech.duration - 10
    assert ends == sorted(ends)
    assert not (folder / jobs.PARTIAL).exists()
    for name in ("passages.vtt", "paragraphs.vtt", "alignment.json", "stream.m4a"):
        assert (folder / name).stat().st_size > 0, name
    assert hashlib.sha256((folder / "original.wav").read_bytes()).hexdigest() == original_sha
    assert _tree(other) == other_before
    a = Alignment.load(folder / "alignment.json")
    firsts = {c.passage_id.split(".")[0]: c.start for c in sorted(a.read_cues(), key=lambda c: -c.start)}
    if checkpoint:
        # Killed after a checkpoint: the segments before it were kept, not decoded again.
        assert any(e <= checkpoint for e in ends)
    for n, start in enumerate(speech.starts, 1):
        assert abs(firsts[f"p{n}"] - start) < 2.0, (n, firsts, speech.starts)


def _fake_transcribe(audio, model, language=None, options=None, **_kwargs):
    """Stands in for Whisper: three segments over the clip, a little time apart."""
    from sync.transcribe import TranscribeInfo

    duration = len(audio) / 16000

    def segments():
        for i in range(3):
            time.sleep(0.3)
            a, b = round(duration * i / 3, 3), round(duration * (i + 1) / 3, 3)
            yield Segment(a, b, "shalom", [Word(a, b, "shalom", 0.9)])

    return segments(), TranscribeInfo(duration=duration, language="en")


def test_progress_reports_percent_and_eta(app, conn, tmp_path, monkeypatch, own_transcript_cache):
    from player_fixtures import tone_wav

    monkeypatch.setattr("sync.transcribe.load_model", lambda *_a, **_k: (object(), "fake"))
    monkeypatch.setattr("sync.transcribe.transcribe", _fake_transcribe)
    seen: list[tuple[float, float | None, str]] = []
    real = jobs.Reporter.progress

    def spy(self, percent, eta, message="", force=False):
        seen.append((percent, eta, message))
        real(self, percent, eta, message, force=True)

    monkeypatch.setattr(jobs.Reporter, "progress", spy)
    add_user(app)
    client = app.test_client()
    resp = client.post("/lecturer/upload", content_type="multipart/form-data",
                       data=upload_form(login(client), tone_wav(tmp_path / "t.wav", 9.0)))
    assert resp.status_code == 302
    _run_pending(app)
    during = [(p, e) for p, e, m in seen if "transcribing" in m]
    assert [round(p) for p, _ in during] == [0, 33, 67, 100]
    assert during[1][1] is not None and during[1][1] > 0  # an ETA once there is a rate to go by
    assert during[-1][1] == 0
    row = conn.execute("SELECT * FROM jobs").fetchone()
    assert row["state"] in (jobs.DONE, jobs.FAILED)  # the aligner may find nothing in "shalom"
    assert Transcript.load(Path(app.config["LIBRARY_DIR"]) / resp.headers["Location"].rsplit("/", 1)[1]
                           / "transcript.json").model == "fake"


def test_serve_supervises_its_worker_and_restarts_it_when_it_dies(app, monkeypatch):
    monkeypatch.setenv("SHIUR_NO_WORKER", "1")
    assert jobs.start_worker(app) is None
    monkeypatch.delenv("SHIUR_NO_WORKER")
    monkeypatch.setattr(supervise, "SUPERVISE_BACKOFF_S", (0.2,))
    sup = jobs.start_worker(app)
    try:
        assert sup is not None
        first = sup.proc
        time.sleep(0.5)
        assert first.poll() is None  # running, waiting for work
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        _wait(lambda: sup.proc is not None and sup.proc is not first and sup.proc.poll() is None, 20,
              "the supervisor to start a new worker")
        assert sup.restarts == 1
    finally:
        sup.stop()
    assert sup.proc is None or sup.proc.poll() is not None


def test_worker_liveness(app, conn):
    assert not jobs.worker_running(conn)
    jobs.configure(app.config["DATABASE"], app.config["LIBRARY_DIR"])
    jobs.sweep(jobs.queue_for(app.config["DATABASE"]))  # a consumer's sweep is its sign of life
    assert jobs.worker_running(conn)
    assert not jobs.worker_running(conn, now=time.time() + jobs.WORKER_SEEN_S + 1)


def test_recording_deleted_mid_job_stays_deleted(app, conn, tmp_path, monkeypatch, own_transcript_cache):
    import shutil

    from player_fixtures import tone_wav

    add_user(app)
    client = app.test_client()
    resp = client.post("/lecturer/upload", content_type="multipart/form-data",
                       data=upload_form(login(client), tone_wav(tmp_path / "t.wav", 6.0)))
    folder = Path(app.config["LIBRARY_DIR"]) / resp.headers["Location"].rsplit("/", 1)[1]

    def transcribe_then_lose_it(audio, model, language=None, options=None, **_kwargs):
        segments, info = _fake_transcribe(audio, model, language, options)

        def gen():
            for i, seg in enumerate(segments):
                if i == 1:  # the lecturer deletes the class while it is being transcribed
                    c = connect(app.config["DATABASE"])
                    c.execute("DELETE FROM recordings")
                    c.commit()
                    c.close()
                    shutil.rmtree(folder)
                yield seg

        return gen(), info

    monkeypatch.setattr("sync.transcribe.load_model", lambda *_a, **_k: (object(), "fake"))
    monkeypatch.setattr("sync.transcribe.transcribe", transcribe_then_lose_it)
    _run_pending(app)
    row = conn.execute("SELECT * FROM jobs").fetchone()
    assert row["state"] == jobs.FAILED and row["error"] == "ההקלטה נמחקה · the recording was deleted"
    assert not folder.exists()


# ---- Redis: two consumers, one killed mid-job ------------------------------------------------

FAKE_WHISPER = """
import json, os, sys, time
from sync import transcribe as tr
from sync.transcript import Segment, Word

def load_model(*_a, **_k):
    return object(), "fake"

def transcribe(audio, model, language=None, options=None, **_k):
    n = len(audio) / 16000
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "seconds": round(n, 3)}) + "\\n")

    def gen():
        t = 0.0
        while t + 1.0 <= n + 1e-6:
            time.sleep(float(os.environ["FAKE_SEGMENT_S"]))
            yield Segment(round(t, 3), round(t + 1, 3), "shalom", [Word(round(t, 3), round(t + 1, 3), "shalom", 0.9)])
            t += 1.0

    return gen(), tr.TranscribeInfo(duration=n, language="en")

tr.load_model, tr.transcribe = load_model, transcribe
from player import jobs, supervise
jobs._serve_forever()
"""


def test_two_redis_consumers_one_killed_mid_job_every_job_done_once(app, tmp_path, monkeypatch, redis_url,
                                                                     own_transcript_cache):
    from player_fixtures import tone_wav

    monkeypatch.setenv("SHIUR_QUEUE", redis_url)
    add_user(app)
    client = app.test_client()
    token = login(client)
    folders = []
    for n, seconds in enumerate((30.0, 31.0, 32.0)):  # three different recordings: no shared cache entry
        resp = client.post("/lecturer/upload", content_type="multipart/form-data",
                           data=upload_form(token, tone_wav(tmp_path / f"t{n}.wav", seconds), title=f"Class {n}"))
        assert resp.status_code == 302
        folders.append(Path(app.config["LIBRARY_DIR"]) / resp.headers["Location"].rsplit("/", 1)[1])
    assert not (Path(app.config["LIBRARY_DIR"]) / "queue.sqlite3").exists()  # the messages went to Redis
    db = app.config["DATABASE"]

    def rows():
        c = connect(db)
        try:
            return {r["id"]: dict(r) for r in c.execute("SELECT * FROM jobs")}
        finally:
            c.close()

    fake_log = tmp_path / "whisper.log"
    env = {**os.environ, "SHIUR_LIBRARY": app.config["LIBRARY_DIR"], "SHIUR_DATABASE": db,
           "SHIUR_MEDIA": app.config["MEDIA_DIR"], "PYTHONPATH": str(ROOT), "SHIUR_QUEUE": redis_url,
           "FAKE_LOG": str(fake_log), "FAKE_SEGMENT_S": "0.3"}
    logs = [tmp_path / "consumer-a.log", tmp_path / "consumer-b.log"]
    procs = [subprocess.Popen([sys.executable, "-c", FAKE_WHISPER], env=env, cwd=ROOT,
                              stdout=open(log, "ab"), stderr=subprocess.STDOUT) for log in logs]  # noqa: SIM115
    try:
        def checkpointed():
            for r in rows().values():
                folder = next(f for f in folders if f.name == _slug(db, r["recording_id"]))
                partial = folder / jobs.PARTIAL
                if r["state"] == jobs.TRANSCRIBING and partial.exists():
                    offset = json.loads(partial.read_text()).get("offset", 0)
                    if 0 < offset < 25:
                        return r, offset
            return None

        victim_row, offset = _wait(checkpointed, 120, "a job to checkpoint its transcription", interval=0.05)
        victim = next(p for p in procs if p.pid == victim_row["worker_pid"])
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        survivor = next(p for p in procs if p is not victim)
        _wait(lambda: all(r["state"] in (jobs.DONE, jobs.FAILED) for r in rows().values()), 180,
              "every job to finish", survivor, logs[procs.index(survivor)])
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
    final = rows()
    assert [r["state"] for r in final.values()] == [jobs.DONE] * 3, final
    assert {jid: r["attempts"] for jid, r in final.items()} == {
        jid: (2 if jid == victim_row["id"] else 1) for jid in final}
    text = "".join(log.read_text(errors="replace") for log in logs)
    for jid in final:
        assert text.count(f"job {jid}: done") == 1, text[-3000:]
    assert "gone; requeued" in text
    # Whisper ran once per recording, plus once over the killed job's tail only: resumed, not redone.
    calls = [json.loads(line)["seconds"] for line in fake_log.read_text().splitlines()]
    assert sorted(calls)[-3:] == [30.0, 31.0, 32.0] and len(calls) == 4
    assert calls and min(calls) <= 32.0 - offset + 0.01
    for folder in folders:
        t = Transcript.load(folder / "transcript.json")
        starts = [s.start for s in t.segments]
        assert starts == sorted(set(starts)) and len(starts) == int(t.duration), (folder.name, starts)
        for name in ("passages.vtt", "paragraphs.vtt", "alignment.json", "stream.m4a"):
            assert (folder / name).stat().st_size > 0, name
        assert not (folder / jobs.PARTIAL).exists()


def _slug(db: str, recording_id: int) -> str:
    c = connect(db)
    try:
        return c.execute("SELECT slug FROM recordings WHERE id = ?", (recording_id,)).fetchone()[0]
    finally:
        c.close()


def test_a_worker_stopped_with_sigterm_hands_its_job_back_at_once(app, tmp_path, own_transcript_cache):
    """`systemctl restart`, or `shiur serve` stopping: the job goes back to the queue right away."""
    from player_fixtures import tone_wav

    add_user(app)
    client = app.test_client()
    resp = client.post("/lecturer/upload", content_type="multipart/form-data",
                       data=upload_form(login(client), tone_wav(tmp_path / "t.wav", 30.0)))
    assert resp.status_code == 302
    db = app.config["DATABASE"]

    def job():
        c = connect(db)
        try:
            return c.execute("SELECT * FROM jobs").fetchone()
        finally:
            c.close()

    env = {**os.environ, "SHIUR_LIBRARY": app.config["LIBRARY_DIR"], "SHIUR_DATABASE": db,
           "SHIUR_MEDIA": app.config["MEDIA_DIR"], "PYTHONPATH": str(ROOT), "FAKE_LOG": str(tmp_path / "w.log"),
           "FAKE_SEGMENT_S": "0.3"}
    log = tmp_path / "worker.log"
    proc = subprocess.Popen([sys.executable, "-c", FAKE_WHISPER], env=env, cwd=ROOT, stdout=open(log, "ab"),  # noqa: SIM115
                            stderr=subprocess.STDOUT)
    try:
        _wait(lambda: job()["state"] == jobs.TRANSCRIBING and job()["percent"] > 10, 60, "the job to run", proc, log)
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    row = job()
    assert (row["state"], row["message"], row["worker_pid"]) == (jobs.QUEUED, "interrupted; resuming", None)
    huey = jobs.queue_for(db)
    assert huey.pending_count() == 1 and not jobs._lock(huey, row["id"]).is_locked()


def test_shiur_serve_runs_waitress_and_restarts_a_dead_worker(tmp_path):
    import urllib.request

    port = free_port()
    env = {**os.environ, "SHIUR_LIBRARY": str(tmp_path / "library"), "PYTHONPATH": str(ROOT)}
    env.pop("SHIUR_NO_WORKER", None)
    shiur = Path(sys.executable).with_name("shiur")
    log = tmp_path / "serve.log"
    serve = subprocess.Popen([str(shiur), "serve", "--port", str(port), "--no-sample"], env=env, cwd=ROOT,
                             stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115

    def children() -> list[int]:
        # Each thread lists the children it forked; the supervisor thread forks the restarted ones.
        # The worker is the child running player.jobs (the others are server processes).
        out = []
        for f in Path(f"/proc/{serve.pid}/task").glob("*/children"):
            try:
                out += [int(x) for x in f.read_text().split()
                        if b"player.jobs" in Path(f"/proc/{x}/cmdline").read_bytes()]
            except OSError:
                pass
        return out

    def up():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                return r.status == 200 and r.headers["Server"] == "shiur-sync"
        except OSError:
            return False

    try:
        assert _wait(up, 60, "shiur serve to answer", serve, log)
        first = _wait(children, 30, "the worker process", serve, log)[0]
        os.kill(first, signal.SIGKILL)
        second = _wait(lambda: [c for c in children() if c != first], 30, "a new worker", serve, log)[0]
        assert second != first and up()
    finally:
        serve.terminate()
        serve.wait(20)
    _wait(lambda: not Path(f"/proc/{second}").exists() or "Z" in Path(f"/proc/{second}/stat").read_text().split()[2],
          20, "the worker to stop with the server")


# ---- what the lecturer reads ------------------------------------------------------------------


def test_a_failed_job_says_why_in_hebrew_and_english_without_server_paths(app, conn, tmp_path, monkeypatch,
                                                                         own_transcript_cache):
    import wave

    silent = tmp_path / "my class.wav"
    with wave.open(str(silent), "wb") as w:  # a real WAV file, 3 s of digital silence
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 24000)
    add_user(app)
    client = app.test_client()
    resp = client.post("/lecturer/upload", content_type="multipart/form-data",
                       data=upload_form(login(client), silent, title="Shiur on Vayelech"))
    assert resp.status_code == 302
    _run_pending(app)
    row = conn.execute("SELECT * FROM jobs").fetchone()
    assert row["state"] == jobs.FAILED
    error = row["error"]
    # The lecturer's own name for the file, not the stored original.wav nor a server path.
    assert error.startswith("קובץ השמע אינו שמיש „my class.wav”.")
    assert "The audio could not be used (my class.wav): the recording is silent" in error
    assert "/" not in error and "original.wav" not in error and app.config["LIBRARY_DIR"] not in error


def test_an_internal_error_shows_no_details_to_the_lecturer(app, conn):
    rid = _recording_row(conn)
    jid = jobs.enqueue(conn, rid)
    jobs.record_outcome(conn, jid, jobs.FAILED, KeyError("/srv/secret/path/x.json"))
    error = jobs.latest_job(conn, rid)["error"]
    assert error.startswith("תקלה פנימית") and "KeyError" in error and "/srv" not in error


def test_a_job_that_found_no_passage_is_done_but_needs_attention(app, conn, tmp_path, monkeypatch,
                                                                 own_transcript_cache):
    from player_fixtures import tone_wav

    monkeypatch.setattr("sync.transcribe.load_model", lambda *_a, **_k: (object(), "fake"))
    monkeypatch.setattr("sync.transcribe.transcribe", _fake_transcribe)  # hears only "shalom"
    add_user(app)
    client = app.test_client()
    resp = client.post("/lecturer/upload", content_type="multipart/form-data",
                       data=upload_form(login(client), tone_wav(tmp_path / "t.wav", 6.0)))
    slug = resp.headers["Location"].rsplit("/", 1)[1]
    _run_pending(app)
    view = jobs.job_view(conn.execute("SELECT * FROM jobs").fetchone())
    assert view["state"] == jobs.DONE and view["attention"], view
    assert view["message"].startswith("העיבוד הסתיים, אבל אף קטע") and "no passage of the text" in view["message"]
    status = client.get(f"/lecturer/r/{slug}/status.json").get_json()
    assert status["attention"]["code"] is not None  # publishing waits for the lecturer's confirmation


def test_an_upload_while_the_queue_is_down_is_kept_and_sent_by_the_next_sweep(app, conn, monkeypatch):
    rid = _recording_row(conn)
    real = jobs.queue_for

    def down(_where):
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(jobs, "queue_for", down)
    jid = jobs.enqueue(conn, rid)  # does not raise: the lecturer's upload is kept
    row = jobs.latest_job(conn, rid)
    assert (row["state"], row["message"]) == (jobs.QUEUED, jobs.NOT_SENT)
    monkeypatch.setattr(jobs, "queue_for", real)
    huey = jobs.queue_for(app.config["DATABASE"])
    assert huey.pending_count() == 0
    jobs.configure(app.config["DATABASE"], app.config["LIBRARY_DIR"])
    assert jobs.sweep(huey) == [jid]
    assert huey.pending_count() == 1 and jobs.latest_job(conn, rid)["message"] == ""
    assert jobs.sweep(huey) == []
