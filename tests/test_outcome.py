"""A finished web job, as the lecturer sees it: a text that matches nothing needs attention and
blocks publishing until confirmed; truncated audio is flagged on the review page; a failed job
names the lecturer's own file, never a server path or the stored name, in Hebrew and English."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lecturer_fixtures import add_user, login, upload_form
from player_fixtures import tone_wav

from player import jobs
from player.db import connect
from sync.errors import AudioError
from sync.transcript import Segment, Word


def _fake_transcribe(audio, model, language=None, options=None, **_kwargs):
    """Whisper hears one word that is in no text."""
    from sync.transcribe import TranscribeInfo

    duration = len(audio) / 16000

    def segments():
        yield Segment(0.5, duration - 0.5, "zzyzx", [Word(0.5, duration - 0.5, "zzyzx", 0.9)])

    return segments(), TranscribeInfo(duration=duration, language="en")


@pytest.fixture
def no_whisper(monkeypatch, tmp_path):
    monkeypatch.setenv("SHIUR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("sync.transcribe.load_model", lambda *_a, **_k: (object(), "fake"))
    monkeypatch.setattr("sync.transcribe.transcribe", _fake_transcribe)


def _upload(app, client, audio: Path) -> str:
    resp = client.post("/lecturer/upload", content_type="multipart/form-data", data=upload_form(client.token, audio))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp.headers["Location"].rsplit("/", 1)[1]


@pytest.fixture
def lecturer(app):
    add_user(app)
    c = app.test_client()
    c.token = login(c)
    return c


def _row(app, sql: str, *args):
    conn = connect(app.config["DATABASE"])
    try:
        return conn.execute(sql, args).fetchone()
    finally:
        conn.close()


def test_no_passage_found_needs_attention_and_blocks_publishing(app, lecturer, tmp_path, no_whisper):
    slug = _upload(app, lecturer, tone_wav(tmp_path / "class.wav", 8.0))
    jobs.run_pending(app.config["DATABASE"], app.config["LIBRARY_DIR"])
    assert _row(app, "SELECT state FROM jobs")[0] == jobs.DONE
    status = lecturer.get(f"/lecturer/r/{slug}/status.json").get_json()
    assert status["attention"]["code"] == "no-match"
    page = lecturer.get(f"/lecturer/r/{slug}").get_data(as_text=True)
    assert 'id="attention"' in page and "Not one passage of the text was found" in page
    assert 'id="publish" disabled' in page

    lecturer.post(f"/lecturer/r/{slug}/publish", data={"csrf_token": lecturer.token, "published": "1"})
    assert _row(app, "SELECT published FROM recordings")[0] == 0
    assert "Publishing is blocked" in lecturer.get(f"/lecturer/r/{slug}").get_data(as_text=True)

    add_user(app, "levi")
    other = app.test_client()
    other.token = login(other, "levi")
    assert other.post(f"/lecturer/r/{slug}/confirm", data={"csrf_token": other.token}).status_code == 403

    assert lecturer.post(f"/lecturer/r/{slug}/confirm", data={"csrf_token": lecturer.token}).status_code == 302
    assert lecturer.get(f"/lecturer/r/{slug}/status.json").get_json()["attention"]["code"] is None
    lecturer.post(f"/lecturer/r/{slug}/publish", data={"csrf_token": lecturer.token, "published": "1"})
    assert _row(app, "SELECT published FROM recordings")[0] == 1
    assert _row(app, "SELECT action FROM edits WHERE action = 'confirm'") is not None


def test_truncated_upload_is_flagged_on_the_review_page(app, lecturer, tmp_path, no_whisper):
    from sync.audio import ffmpeg_exe

    src = tone_wav(tmp_path / "tone.wav", 60.0)
    full = tmp_path / "full.mp3"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(src), "-c:a", "libmp3lame", "-b:a", "64k",
                    str(full)], check=True)
    data = full.read_bytes()
    cut = tmp_path / "Shiur Bereshit.mp3"
    cut.write_bytes(data[: len(data) * 3 // 10])
    slug = _upload(app, lecturer, cut)
    jobs.run_pending(app.config["DATABASE"], app.config["LIBRARY_DIR"])
    warning = lecturer.get(f"/lecturer/r/{slug}/status.json").get_json()["attention"]["audio_warning"]
    assert warning and "Shiur Bereshit.mp3: the file says it lasts 1:00 but holds only 0:1" in warning
    page = lecturer.get(f"/lecturer/r/{slug}").get_data(as_text=True)
    assert 'id="audio-warning"' in page and "קטוע" in page


def test_whole_upload_has_no_truncation_warning(app, lecturer, tmp_path, no_whisper):
    slug = _upload(app, lecturer, tone_wav(tmp_path / "class.wav", 8.0))
    jobs.run_pending(app.config["DATABASE"], app.config["LIBRARY_DIR"])
    assert lecturer.get(f"/lecturer/r/{slug}/status.json").get_json()["attention"]["audio_warning"] is None


def test_failed_job_names_the_users_file_not_server_paths(app, lecturer, tmp_path, monkeypatch):
    import sync.audio

    def broken(path, **_k):
        raise AudioError(f"{path}: unreadable or corrupt (Invalid data found in /usr/lib/x86_64/libavformat.so)")

    monkeypatch.setattr(sync.audio, "load_audio", broken)
    slug = _upload(app, lecturer, tone_wav(tmp_path / "Rav Cohen class 3.wav", 4.0))
    jobs.run_pending(app.config["DATABASE"], app.config["LIBRARY_DIR"])
    error = _row(app, "SELECT error FROM jobs")[0]
    assert "(Rav Cohen class 3.wav): unreadable or corrupt" in error
    assert "original" not in error and str(Path(app.config["LIBRARY_DIR"])) not in error and "/usr/lib" not in error
    assert error.startswith("קובץ השמע אינו שמיש „Rav Cohen class 3.wav”. · The audio could not be used")
    page = lecturer.get(f"/lecturer/r/{slug}").get_data(as_text=True)
    assert "(Rav Cohen class 3.wav): unreadable or corrupt" in page and app.config["LIBRARY_DIR"] not in page
