"""The first-run sample recording: espeak-ng speech with cue times known from the synthesis."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from player_fixtures import TEXT

from player import library
from player.db import connect
from player.sample import make_sample_recording

pytestmark = pytest.mark.slow


def test_sample_recording_made_once(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed; run .ci/setup (it installs the apt package)")
    text = tmp_path / "sample.txt"
    text.write_text(TEXT, encoding="utf-8")
    lib = Path(app.config["LIBRARY_DIR"])
    slug = make_sample_recording(app.config["DATABASE"], lib, text, paragraphs=2)
    assert slug == "sample-mimaamakim"
    conn = connect(app.config["DATABASE"])
    rec = library.get_recording(conn, slug)
    conn.close()
    assert rec is not None and rec.published and rec.lecturer == "espeak-ng"
    folder = library.recording_dir(lib, rec)
    words = library.word_timings(folder)
    # Every passage of the first two paragraphs read once, in order, back to back.
    assert list(words) == ["p1.1", "p1.2", "p2.1", "p2.2"]
    starts = [w[0][1] for w in words.values()]
    assert starts == sorted(starts) and starts[0] == pytest.approx(0.45, abs=0.01)
    # The audio is as long as the cues say (probed from the encoded file, not the plan).
    assert library.probe_duration(folder / rec.audio_path) == pytest.approx(rec.duration, abs=0.2)
    assert client.get(f"/r/{slug}/audio").headers["Content-Type"] in ("audio/mp4", "audio/wav")
    # Once per library: a restart (or a deleted sample) does not bring it back.
    assert make_sample_recording(app.config["DATABASE"], lib, text) is None
