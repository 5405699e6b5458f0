"""The browser streaming copy: AAC, loudness-normalised, the original left untouched."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest
from speechgen import espeak, write_wav

from player import webaudio
from sync.audio import ffmpeg_exe, load_audio
from sync.errors import AudioError


@pytest.fixture(scope="module")
def voice() -> tuple[np.ndarray, int]:
    return espeak("The lecturer reads a passage and then explains it in his own words.")


@pytest.mark.parametrize("gain_db", [-18.0, 0.0])
def test_quiet_and_loud_recordings_come_out_alike(tmp_path: Path, voice, gain_db: float):
    samples, rate = voice
    scaled = np.clip(samples.astype(np.float64) * 10 ** (gain_db / 20), -32768, 32767).astype(np.int16)
    original = write_wav(tmp_path / "original.wav", scaled, rate)
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    audio = load_audio(original)
    before = webaudio.speech_loudness(audio.samples)
    out = webaudio.make_stream_copy(original, tmp_path, audio.samples)
    assert out == tmp_path / webaudio.STREAM_NAME
    after = webaudio.speech_loudness(load_audio(out).samples)
    assert before is not None and after is not None
    assert abs(after - webaudio.TARGET_DBFS) < 3.0, (before, after)
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "Audio: aac" in info
    assert hashlib.sha256(original.read_bytes()).hexdigest() == digest
    assert not list(tmp_path.glob(".*.part"))


def test_silence_gets_no_gain():
    assert webaudio.speech_loudness(np.zeros(16000 * 3, dtype=np.float32)) is None
    assert webaudio.gain_for(None) == 0.0
    assert webaudio.gain_for(-80.0) == webaudio.MAX_GAIN_DB


def test_probe_refuses_what_is_not_audio(tmp_path: Path, voice):
    fake = tmp_path / "class.mp3"
    fake.write_bytes(b"%PDF-1.7\n" * 200)
    with pytest.raises(AudioError, match="not an audio file"):
        webaudio.probe_audio(fake)
    empty = tmp_path / "empty.m4a"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        webaudio.probe_audio(empty)
    samples, rate = voice
    good = write_wav(tmp_path / "good.wav", samples, rate)
    assert webaudio.probe_audio(good) == pytest.approx(len(samples) / rate, abs=0.05)
