"""Test helpers: synthetic speech with espeak-ng, format conversion with the bundled ffmpeg.

Speech is generated during the tests (nothing binary is checked in), and the exact time each
clip starts is known from how the clips are concatenated, which gives end-to-end tests a truth.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sync.audio import ffmpeg_exe


def need_espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is not installed; run .ci/setup (it installs the apt package)")
    return exe


def espeak(text: str, voice: str = "en", speed: int = 150) -> tuple[np.ndarray, int]:
    """Speak ``text``; returns (int16 samples, sample rate)."""
    out = subprocess.run(
        [need_espeak(), "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True
    ).stdout
    with _wav_from_bytes(out) as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data, rate


def _wav_from_bytes(data: bytes) -> wave.Wave_read:
    import io

    # espeak-ng --stdout writes a streaming WAV header with unknown sizes; patch them.
    buf = bytearray(data)
    if buf[:4] == b"RIFF":
        buf[4:8] = (len(buf) - 8).to_bytes(4, "little")
        idx = buf.find(b"data")
        if idx >= 0:
            buf[idx + 4 : idx + 8] = (len(buf) - idx - 8).to_bytes(4, "little")
    return wave.open(io.BytesIO(bytes(buf)), "rb")


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def convert(src: Path, dst: Path, *args: str) -> Path:
    """ffmpeg ``src`` -> ``dst`` with extra output arguments (codec etc.)."""
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-i", str(src), *args, str(dst)],
        check=True,
        capture_output=True,
    )
    return dst


def first_sound(samples: np.ndarray, threshold: int = 300) -> int:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    return int(loud[0]) if len(loud) else 0


@dataclass
class Speech:
    path: Path
    starts: list[float]
    """When each paragraph's speech begins, in seconds."""
    duration: float


def speak_paragraphs(
    paragraphs: list[str], path: Path, voice: str = "en", pause: float = 1.5, lead: float = 1.0
) -> Speech:
    """One espeak clip per paragraph, joined with pauses, written as WAV."""
    pieces: list[np.ndarray] = []
    starts: list[float] = []
    rate = 0
    offset = 0
    for i, text in enumerate(paragraphs):
        clip, rate = espeak(text, voice)
        gap = np.zeros(int((lead if i == 0 else pause) * rate), dtype=np.int16)
        pieces.append(gap)
        offset += len(gap)
        starts.append((offset + first_sound(clip)) / rate)
        pieces.append(clip)
        offset += len(clip)
    tail = np.zeros(int(1.0 * rate), dtype=np.int16)
    pieces.append(tail)
    allsamples = np.concatenate(pieces)
    write_wav(path, allsamples, rate)
    return Speech(path, starts, len(allsamples) / rate)
