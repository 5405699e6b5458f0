"""`shiur add` end to end: espeak-ng speech -> the real pipeline (bundled model, aligner) -> the library.

One short English recording, so the bundled Whisper model runs once for a few seconds of audio.
The cue times come from the aligner; the player tests with exact times use hand-built cues.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from speechgen import speak_paragraphs

from player import create_app, library
from player.db import connect
from sync.cli import main

pytestmark = pytest.mark.slow

PARAGRAPHS = [
    "The teacher opened the old book and read the first line aloud to the class.",
    "After a short pause he turned the page and continued with the story of the river.",
]


def test_shiur_add_puts_a_synced_class_in_the_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SHIUR_CACHE", str(tmp_path / "cache"))
    from sync import whisper_model

    real = whisper_model.bundled_model_dir()
    monkeypatch.setattr(whisper_model, "bundled_model_dir", lambda target=None: real)
    lib = tmp_path / "library"
    monkeypatch.setenv("SHIUR_LIBRARY", str(lib))

    speech = speak_paragraphs(PARAGRAPHS, tmp_path / "lesson.wav", pause=1.5)
    text = tmp_path / "lesson.txt"
    text.write_text("\n\n".join(PARAGRAPHS) + "\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["shiur", "add", str(speech.path), str(text), "--title", "Test class",
                                      "--lecturer", "Rabbi T", "--date", "2024-10-06", "--language", "en"])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "/r/2024-10-06-test-class" in out

    app = create_app()
    conn = connect(app.config["DATABASE"])
    rec = library.get_recording(conn, "2024-10-06-test-class")
    conn.close()
    assert rec is not None and rec.published and rec.duration == pytest.approx(speech.duration, abs=0.5)
    client = app.test_client()
    vtt = client.get(f"/r/{rec.slug}/passages.vtt").get_data(as_text=True)
    assert "p1.1" in vtt and "p2.1" in vtt
    page = client.get(f"/r/{rec.slug}").get_data(as_text=True)
    assert 'id="p2.1"' in page and "Test class" in page
