"""The browser streaming copy: AAC in an .m4a, loudness-normalised, next to the untouched original.

Lecture recordings range from a whisper at the back of a room to a clipping lapel microphone;
listeners on phones should not have to ride the volume. Loudness is measured with pydub on the
16 kHz recognition signal the job already holds (gated RMS over 400 ms blocks, the idea behind
EBU R128, so pauses do not drag the figure down). The copy is then encoded by the same ffmpeg
binary pydub uses, streaming from the original file, with a fixed gain and a limiter, so a
3-hour class never has to be held in memory at full rate.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np

from sync import atomic
from sync.audio import SAMPLE_RATE, configure_pydub, ffmpeg_exe
from sync.errors import AudioError

STREAM_NAME = "stream.m4a"
TARGET_DBFS = -19.0
"""Gated RMS of the speech after normalisation; about -16 LUFS for speech, the podcast norm."""
MAX_GAIN_DB = 24.0
BLOCK_MS = 400
ABSOLUTE_GATE_DBFS = -55.0
RELATIVE_GATE_DB = 12.0
SLICE_SECONDS = 600
BITRATE = "64k"


def speech_loudness(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float | None:
    """Gated RMS loudness in dBFS of mono float samples, or None when all of it is silence."""
    configure_pydub()
    from pydub import AudioSegment
    from pydub.utils import make_chunks

    levels: list[float] = []
    step = SLICE_SECONDS * sample_rate
    for i in range(0, len(samples), step):
        # One slice at a time: the s16 copy pydub needs stays small for long recordings.
        part = np.clip(samples[i : i + step] * 32768.0, -32768, 32767).astype("<i2")
        seg = AudioSegment(data=part.tobytes(), sample_width=2, frame_rate=sample_rate, channels=1)
        levels.extend(c.dBFS for c in make_chunks(seg, BLOCK_MS) if len(c) >= BLOCK_MS / 2)
    loud = [x for x in levels if x > ABSOLUTE_GATE_DBFS]
    if not loud:
        return None
    mean = _power_mean(loud)
    gated = [x for x in loud if x > mean - RELATIVE_GATE_DB]
    return _power_mean(gated or loud)


def _power_mean(dbs: list[float]) -> float:
    return 10 * math.log10(sum(10 ** (x / 10) for x in dbs) / len(dbs))


def gain_for(loudness: float | None) -> float:
    if loudness is None:
        return 0.0
    return max(-MAX_GAIN_DB, min(MAX_GAIN_DB, TARGET_DBFS - loudness))


def make_stream_copy(original: Path, outdir: Path, samples: np.ndarray | None = None) -> Path:
    """Write ``outdir/stream.m4a`` from ``original``; ``samples`` (16 kHz mono) set the gain.

    The file appears atomically: a half-written copy from a crash is never served.
    """
    gain = gain_for(speech_loudness(samples)) if samples is not None and len(samples) else 0.0
    dst = outdir / STREAM_NAME
    tmp = atomic.temp_path_for(dst)
    cmd = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(original),
        "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", "44100",
        "-af", f"volume={gain:.2f}dB,alimiter=limit=0.89:level=disabled",
        "-c:a", "aac", "-b:a", BITRATE, "-movflags", "+faststart", "-f", "mp4", str(tmp),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or ["ffmpeg failed"]
            raise AudioError(f"{original.name}: could not make the web copy ({tail[0][:160]})")
        atomic.commit(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def probe_audio(path: Path, name: str | None = None) -> float:
    """Sniff the real type of an uploaded file with ffmpeg: its duration in seconds, or AudioError.

    Decoding the header costs well under a second even for gigabytes, so a wrong file (a PDF
    named .mp3, a video without sound, a truncated upload) is refused before anything is queued.
    """
    label = name or path.name
    if path.stat().st_size == 0:
        raise AudioError(f"{label}: the file is empty (0 bytes)")
    proc = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path)], capture_output=True, text=True, errors="replace"
    )
    info = proc.stderr
    if "Audio:" not in info:
        if "Invalid data found" in info or "could not find codec" in info.lower() or "Stream #" not in info:
            raise AudioError(f"{label}: not an audio file (ffmpeg does not recognise its format)")
        raise AudioError(f"{label}: this file has no sound track")
    m = re.search(r"Duration:\s*(\d+):(\d\d):(\d\d(?:\.\d+)?)", info)
    if not m:
        raise AudioError(f"{label}: the recording's length cannot be read (damaged or still being written?)")
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    if duration < 1.0:
        raise AudioError(f"{label}: the recording is shorter than a second")
    return duration
