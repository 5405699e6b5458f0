"""End to end with the bundled model: generated English speech -> `shiur sync` -> paragraph cues.

The recording is made here with espeak-ng, one clip per paragraph joined with pauses, so the
true start of every paragraph is known exactly.
"""

from __future__ import annotations

import json
import sys

import pytest
import webvtt
from speechgen import speak_paragraphs

from sync.cli import main
from sync.writers import timestamp

PARAGRAPHS = [
    "In the beginning the teacher opened the old book and read the first line aloud to the class.",
    "The students listened carefully, because every word of the text would be explained later in detail.",
    "After a short pause he turned the page and continued with the story of the river and the mountain.",
    "Finally the lesson ended with a question about the meaning of the last sentence in the chapter.",
]


def _seconds(ts: str) -> float:
    h, m, s = ts.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


@pytest.mark.slow
def test_sync_english_paragraph_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHIUR_CACHE", str(tmp_path / "cache"))
    from sync import whisper_model

    real = whisper_model.bundled_model_dir()
    monkeypatch.setattr(whisper_model, "bundled_model_dir", lambda target=None: real)

    speech = speak_paragraphs(PARAGRAPHS, tmp_path / "lesson.wav", pause=1.5)
    text = tmp_path / "lesson.txt"
    text.write_text("\n\n".join(PARAGRAPHS) + "\n", encoding="utf-8")
    out_dir = tmp_path / "out"

    monkeypatch.setattr(
        sys, "argv", ["shiur", "sync", str(speech.path), str(text), "--language", "en", "-o", str(out_dir)]
    )
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 0, err

    caps = webvtt.read(str(out_dir / "paragraphs.vtt")).captions
    first_start = {}
    for c in caps:
        pid = c.identifier.split(".")[0]
        first_start.setdefault(pid, _seconds(c.start))
    report = {f"p{i + 1}": (timestamp(t), first_start.get(f"p{i + 1}")) for i, t in enumerate(speech.starts)}
    print("paragraph starts (truth, cue):", report)
    for i, truth in enumerate(speech.starts):
        pid = f"p{i + 1}"
        assert pid in first_start, f"no cue for {pid}: {report}"
        assert abs(first_start[pid] - truth) <= 1.0, f"{pid} starts at {first_start[pid]:.2f}, truth {truth:.2f}"

    passages = webvtt.read(str(out_dir / "passages.vtt")).captions
    assert {c.identifier.split(".")[0] for c in passages} == {f"p{i + 1}" for i in range(len(PARAGRAPHS))}
    doc = json.loads((out_dir / "alignment.json").read_text(encoding="utf-8"))
    assert doc["meta"]["model"] == "bundled-base"
    assert doc["meta"]["software"].startswith("shiur-sync")
    assert json.loads((out_dir / "transcript.json").read_text(encoding="utf-8"))["language"] == "en"
