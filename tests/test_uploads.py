"""Upload limits while streaming: a chunked upload with no Content-Length stops at the limit,
an abandoned upload leaves no partial file, and the size is checked before a file is hashed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from lecturer_fixtures import LESSON_TEXT, add_user, login

LIMIT = 1024 * 1024
CHUNK = 64 * 1024


@pytest.fixture
def app(app_config):
    from player import create_app

    app_config["MAX_UPLOAD_BYTES"] = LIMIT
    return create_app(app_config)


@pytest.fixture
def lecturer(app):
    add_user(app)
    c = app.test_client()
    c.token = login(c)
    return c


class Body(io.RawIOBase):
    """A multipart body produced as it is read, counting what the server pulled."""

    def __init__(self, token: str, audio_bytes: int, boundary: str = "XyZ", stop_after: int | None = None):
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nBig\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"text_source\"\r\n\r\npaste\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"text_paste\"\r\n\r\n{LESSON_TEXT}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"big.mp3\"\r\n"
                "Content-Type: audio/mpeg\r\n\r\n").encode()
        self.head, self.left, self.tail = head, audio_bytes, f"\r\n--{boundary}--\r\n".encode()
        self.pulled = 0
        self.stop_after = stop_after

    def readable(self) -> bool:
        return True

    # The test client asks the stream's length by seeking to its end; a socket has none, so
    # answer 0 and stay put (the request says Transfer-Encoding: chunked and no length).
    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def readinto(self, buf) -> int:
        if self.stop_after is not None and self.pulled >= self.stop_after:
            return 0  # the client went away
        if self.head:
            data, self.head = self.head[: len(buf)], self.head[len(buf):]
        elif self.left > 0:
            n = min(len(buf), self.left, CHUNK)
            data, self.left = b"\0" * n, self.left - n
        else:
            data, self.tail = self.tail[: len(buf)], self.tail[len(buf):]
        buf[: len(data)] = data
        self.pulled += len(data)
        return len(data)


def _parts(app) -> list[Path]:
    folder = Path(app.config["LIBRARY_DIR"]) / ".uploads"
    return list(folder.glob("*")) if folder.is_dir() else []


def test_chunked_upload_without_length_stops_at_the_limit(app, lecturer):
    body = Body(lecturer.token, 200 * LIMIT)  # 200 MB offered, 1 MB allowed
    resp = lecturer.post("/lecturer/upload", input_stream=body, content_type="multipart/form-data; boundary=XyZ",
                         environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
                         headers={"Accept": "application/json"})
    assert resp.status_code == 413
    assert "too large" in resp.get_json()["error"]
    # Read no further than the limit plus the parser's buffer; the whole-request cap is 17 MB.
    assert body.pulled < LIMIT + 8 * CHUNK, body.pulled
    assert _parts(app) == []


def test_abandoned_upload_leaves_no_partial_file(app, lecturer):
    body = Body(lecturer.token, LIMIT // 2, stop_after=LIMIT // 4)
    resp = lecturer.post("/lecturer/upload", input_stream=body, content_type="multipart/form-data; boundary=XyZ",
                         environ_overrides={"CONTENT_LENGTH": str(LIMIT)})
    assert resp.status_code == 400
    assert _parts(app) == []


def test_refused_upload_leaves_no_partial_file(app, lecturer, tmp_path):
    # A complete upload that fails validation (not audio): its part file goes with the request.
    resp = lecturer.post("/lecturer/upload", content_type="multipart/form-data", data={
        "csrf_token": lecturer.token, "title": "x", "text_source": "paste", "text_paste": LESSON_TEXT,
        "audio": (io.BytesIO(b"not audio at all" * 100), "notes.mp3")})
    assert resp.status_code == 400
    assert _parts(app) == []


def test_size_is_checked_before_hashing(tmp_path, monkeypatch):
    import hashlib

    from sync import audio
    from sync.errors import AudioError

    big = tmp_path / "huge.mp3"
    with open(big, "wb") as f:
        f.truncate(5 * 1024**3)  # a sparse 5 GB file: costs no disk
    monkeypatch.setattr(hashlib, "sha256", lambda *a: pytest.fail("hashed a file over the limit"))
    with pytest.raises(AudioError, match="far too large"):
        audio.sha256_file(big)
    from sync import pipeline

    with pytest.raises(AudioError, match="huge.mp3: 5.0 GB is far too large"):
        pipeline.transcribe_file(big)
