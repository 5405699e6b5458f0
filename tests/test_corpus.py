"""Acceptance on real speech: the whole pipeline on ../shared/corpus gen1-reading, scored.

The transcript is cached in the user cache (keyed by audio hash, model and options), so only
the first run on a machine pays for transcription.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sync.pipeline import sync_recording

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def _score(case: Path, vtt: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(CORPUS / "score.py"), str(case), str(vtt), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.slow
def test_gen1_reading_paragraph_cues(tmp_path):
    case = CORPUS / "cases" / "gen1-reading"
    if not (case / "truth.json").is_file():
        pytest.skip(f"corpus case not found at {case} (../shared is not next to the checkout)")
    res = sync_recording(case / "audio.ogg", case / "text.txt", tmp_path, language="he")
    r = _score(case, tmp_path / "paragraphs.vtt")
    print(r["summary"])
    assert r["read_accuracy"] >= 0.97, r["summary"]
    assert r["start_within_1s"] >= 0.93, r["summary"]
    assert r["skipped_predicted"] == [], r["summary"]
    assert res.result.transcript is not None and res.result.transcript.language == "he"
