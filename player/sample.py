"""A sample recording made offline on first run, so a fresh install has something to play.

espeak-ng reads the opening paragraphs of the bundled discourse one passage at a time; the clips
are joined with short pauses, so every cue's start and end are known exactly from the synthesis
(nothing is recognised or aligned). Word times are spread over each passage by the words' letter
counts: close enough for a synthetic voice that speaks at an even rate. The result goes through
the same writers and library import as a real class, and is titled as a synthetic sample.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
import wave
from pathlib import Path

import numpy as np

from sync.alignment import READ, Alignment, Cue, WordTiming
from sync.discourse import Discourse, load_discourse
from sync.writers import SyncResult, write_outputs

from . import library
from .db import connect

log = logging.getLogger(__name__)

TITLE = "דוגמה: קריאה ממוחשבת · Sample, synthetic voice"
LECTURER = "espeak-ng"
RATE = 22050
PAUSE = 0.45
_lock = threading.Lock()


def _speak(text: str, exe: str, speed: int) -> np.ndarray:
    raw = subprocess.run([exe, "-v", "he", "-s", str(speed), "--stdout", text], capture_output=True, check=True).stdout
    # espeak-ng streams its WAV with a placeholder length; the samples follow the "data" chunk id.
    at = raw.find(b"data")
    return np.frombuffer(raw[at + 8 :], dtype="<i2") if at >= 0 else np.zeros(0, dtype="<i2")


def _word_times(tokens: list[str], start: float, end: float) -> list[WordTiming]:
    weights = [max(1, sum(ch.isalpha() for ch in t)) + 1 for t in tokens]
    total = float(sum(weights))
    out, t = [], start
    for i, w in enumerate(weights):
        dt = (end - start) * w / total
        out.append(WordTiming(i, round(t, 3), round(t + dt, 3)))
        t += dt
    return out


def synthesize(d: Discourse, paragraphs: int, folder: Path, speed: int = 165) -> tuple[Path, Alignment]:
    """Speak the first ``paragraphs`` paragraphs into ``folder``/sample.wav; returns it and its alignment."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed")
    pause = np.zeros(int(PAUSE * RATE), dtype="<i2")
    chunks: list[np.ndarray] = [pause]
    cues: list[Cue] = []
    t = PAUSE
    for para in d.paragraphs[:paragraphs]:
        for p in para.passages:
            clip = _speak(p.text, exe, speed)
            start, end = t, t + len(clip) / RATE
            cues.append(Cue(p.id, round(start, 3), round(end, 3), READ, 1.0, _word_times(p.tokens, start, end)))
            chunks += [clip, pause]
            t = end + PAUSE
    audio = folder / "sample.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.concatenate(chunks).tobytes())
    used = {c.passage_id for c in cues}
    skipped = [p.id for p in d.passages() if p.id not in used]
    meta = {"model": "none", "source": "synthesized with espeak-ng; cue times from the synthesis"}
    return audio, Alignment(cues=cues, skipped=skipped, duration=round(t, 3), meta=meta)


def _compress(wav: Path) -> Path:
    """AAC in MP4: plays in every browser and seeks precisely; a tenth of the WAV's size."""
    from sync.audio import ffmpeg_exe

    out = wav.with_suffix(".m4a")
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "48k",
         "-movflags", "+faststart", str(out)],
        check=True,
    )  # fmt: skip
    return out


def make_sample_recording(database: str, library_dir: Path, sample_text: Path, paragraphs: int = 3) -> str | None:
    """Create the sample recording once per library; returns its slug, or None if it already exists.

    A marker file records that it was made, so a listener or lecturer who deletes it does not get it back.
    """
    library_dir = Path(library_dir)
    marker = library_dir / ".sample-made"
    with _lock:
        if marker.exists() or not Path(sample_text).is_file():
            return None
        d = load_discourse(sample_text)
        with tempfile.TemporaryDirectory(prefix="shiur-sample-") as tmp:
            folder = Path(tmp)
            wav, alignment = synthesize(d, paragraphs, folder)
            try:
                audio = _compress(wav)
            except (OSError, subprocess.CalledProcessError) as e:
                log.warning("sample: AAC encoding failed (%s); keeping WAV", e)
                audio = wav
            out = folder / "out"
            write_outputs(SyncResult(d, alignment, None, {}), out, ("passages.vtt", "paragraphs.vtt", "alignment.json"))
            conn = connect(database)
            try:
                did = library.ensure_sample(conn, sample_text)
                if did is None:
                    return None
                rec = library.import_recording(conn, library_dir, out, audio, did, TITLE, LECTURER, published=True,
                                               slug="sample-mimaamakim")
            finally:
                conn.close()
        marker.write_text(rec.slug + "\n", encoding="utf-8")
        return rec.slug


def start_in_background(database: str, library_dir: Path, sample_text: Path) -> threading.Thread | None:
    """Make the sample without delaying server start; failures only log (the library explains how to add a class)."""
    if (Path(library_dir) / ".sample-made").exists():
        return None

    def run() -> None:
        try:
            slug = make_sample_recording(database, library_dir, sample_text)
            if slug:
                log.warning("sample recording ready: /r/%s", slug)
        except Exception as e:  # a missing sample must never take the server down
            log.warning("sample recording not made: %s", e)

    thread = threading.Thread(target=run, name="shiur-sample", daemon=True)
    thread.start()
    return thread
