"""Audio in: any common audio or video file -> 16 kHz mono float32 samples for recognition.

Decoding runs imageio-ffmpeg's bundled binary (no system ffmpeg or ffprobe needed). pydub is
pointed at the same binary so code that edits or exports audio with pydub works on a bare
machine too. For recognition we pipe ffmpeg's 16 kHz mono s16le output straight into numpy:
a 3-hour class is ~350 MB of s16 and ~700 MB of float32, and we never hold a second
full-rate copy.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16_000
SILENCE_DBFS = -60.0
"""A recording whose loudest sample stays below this is treated as silent (a dead microphone)."""
MAX_AUDIO_BYTES = int(os.environ.get("SHIUR_MAX_AUDIO_BYTES", 4 * 1024**3))
MAX_AUDIO_SECONDS = float(os.environ.get("SHIUR_MAX_AUDIO_SECONDS", 8 * 3600))
TRUNCATION_MIN_S = 5.0
TRUNCATION_FRACTION = 0.03
"""A file is called truncated when its decodable audio falls short of the duration its container
declares by more than both of these (5 s and 3 %): encoders' padding and VBR estimates stay
well inside them, a cut-off upload or copy does not."""



def format_size(n: float) -> str:
    """Bytes as people read them: '812 KB', '63.4 MB', '4.0 GB' (powers of 1024, as file managers show)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if unit != "KB" else f"{value:.0f} {unit}"
    return f"{int(n)} B"


EXTENSIONS = (".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac", ".webm", ".mp4", ".mkv", ".mov")
"""The one list of file types taken as recordings (audio, or a video's sound): batch discovery,
the upload form's file picker and the stored original's name all use it."""


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg (or $IMAGEIO_FFMPEG_EXE)."""
    import imageio_ffmpeg

    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as e:  # the wheel has no binary for this platform
        raise AudioError(f"no ffmpeg binary available ({e}); pip install --force-reinstall imageio-ffmpeg") from None


def configure_pydub() -> None:
    """Point pydub at the bundled ffmpeg; pydub otherwise looks for a system ffmpeg/ffprobe."""
    with warnings.catch_warnings():
        # pydub warns at import time when no system ffmpeg is on PATH; we supply our own.
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment
    exe = ffmpeg_exe()
    AudioSegment.converter = exe
    AudioSegment.ffmpeg = exe


@dataclass
class Audio:
    samples: np.ndarray
    """16 kHz mono float32 in [-1, 1]."""
    path: Path
    declared_duration: float | None = None
    """What the container says the recording lasts (None when it does not say)."""

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def to_segment(self):  # -> pydub.AudioSegment
        """The recognition signal as a pydub AudioSegment (16 kHz mono s16), for editing/export."""
        configure_pydub()
        from pydub import AudioSegment

        pcm = np.clip(self.samples * 32768.0, -32768, 32767).astype("<i2").tobytes()
        return AudioSegment(data=pcm, sample_width=2, frame_rate=SAMPLE_RATE, channels=1)


def _ffmpeg_problem(stderr: str) -> str:
    """The most telling line of ffmpeg's complaint, in a few words."""
    text = stderr.strip()
    if "matches no streams" in text or "does not contain any stream" in text:
        return "no audio track in this file (not an audio or video file?)"
    if "Invalid data found" in text or "could not find codec parameters" in text.lower():
        return "unreadable or corrupt: not a recognised audio or video format"
    if "moov atom not found" in text:
        return "unreadable or corrupt: the file is truncated (moov atom not found)"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    last = lines[-1] if lines else "ffmpeg failed"
    last = re.sub(r"^\[[^\]]*\]\s*", "", last)
    return f"unreadable or corrupt ({last[:160]})"


def load_audio(
    path: str | Path,
    *,
    max_bytes: int | None = None,
    max_seconds: float | None = None,
    silence_dbfs: float = SILENCE_DBFS,
) -> Audio:
    """Decode ``path`` (audio, or a video's first audio track) to 16 kHz mono float32.

    Raises :class:`AudioError` with one line naming the file and the problem: missing, a folder,
    empty, far too large or too long, unreadable/corrupt, no audio track, zero length, silent.
    """
    p = Path(path)
    max_bytes = MAX_AUDIO_BYTES if max_bytes is None else max_bytes
    max_seconds = MAX_AUDIO_SECONDS if max_seconds is None else max_seconds
    if not p.exists():
        raise AudioError(f"{p}: audio file not found")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, not an audio file")
    if check_size(p, max_bytes) == 0:
        raise AudioError(f"{p}: the file is empty (0 bytes)")
    try:
        with open(p, "rb") as f:
            f.read(1)
    except OSError as e:
        raise AudioError(f"{p}: cannot read the file ({e.strerror})") from None

    cmd = [
        # Uploaded files reach this too: a playlist (m3u8, concat) must not make ffmpeg fetch URLs.
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file",
        "-i", str(p),
        "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-",
    ]  # fmt: skip
    max_samples = int(max_seconds * SAMPLE_RATE)
    declared = _probe_duration(p)
    buf = _SampleBuffer(declared)
    too_long = False
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        while True:
            block = proc.stdout.read(1 << 20)
            if not block:
                break
            if len(block) % 2:
                block += proc.stdout.read(1)
            buf.append(np.frombuffer(block, dtype="<i2"))
            if buf.n > max_samples:
                too_long = True
                proc.kill()
                break
        stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    n = buf.n
    if too_long:
        raise AudioError(f"{p}: longer than the limit of {max_seconds / 3600:.1f} hours")
    if rc != 0 and n == 0:
        raise AudioError(f"{p}: {_ffmpeg_problem(stderr)}")
    if n == 0:
        raise AudioError(f"{p}: contains no audio (zero length)")
    samples = buf.result()
    # max and min, not abs(): no temporary full-length copy of a 3-hour signal.
    peak = max(float(samples.max()), -float(samples.min()))
    peak_db = 20 * np.log10(peak) if peak > 0 else float("-inf")
    if peak_db < silence_dbfs:
        shown = "-inf" if peak == 0 else f"{peak_db:.0f}"
        raise AudioError(f"{p}: the recording is silent (peak {shown} dBFS, below {silence_dbfs:.0f} dBFS)")
    return Audio(samples=samples, path=p, declared_duration=declared)


def clock(seconds: float) -> str:
    """5:50, or 1:02:20 for an hour and more."""
    s = int(round(seconds))
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def truncation_warning(name: str, declared: float | None, decoded: float) -> str | None:
    """A sentence when ``decoded`` seconds fall well short of the ``declared`` duration, else None."""
    if not declared or declared <= 0:
        return None
    missing = declared - decoded
    if missing <= max(TRUNCATION_MIN_S, TRUNCATION_FRACTION * declared):
        return None
    return (f"{name}: the file says it lasts {clock(declared)} but holds only {clock(decoded)} of audio "
            "(cut off while copying or uploading?); only that part can be synced")


def check_truncated(path: str | Path, decoded: float) -> str | None:
    """:func:`truncation_warning` for a file decoded earlier (e.g. its transcript came from the
    cache): asks the container again, which takes a fraction of a second."""
    p = Path(path)
    return truncation_warning(p.name, _probe_duration(p), decoded)


_DURATION = re.compile(r"Duration:\s*(\d+):(\d\d):(\d\d(?:\.\d+)?)")


def _probe_duration(path: Path) -> float | None:
    """The container's stated duration (ffmpeg prints it while opening the file), if any."""
    try:
        out = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-protocol_whitelist", "file", "-i", str(path)],
            capture_output=True, timeout=60,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None
    m = _DURATION.search(out.stderr.decode("utf-8", "replace"))
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


class _SampleBuffer:
    """Collects decoded s16 blocks as float32 without holding a second full-length copy.

    With the container's duration known, one array of the final size is filled in place (3 h:
    ~700 MB, not ~1 GB of s16 blocks plus the float copy). Without it (e.g. browser-recorded
    webm), or when the estimate was short, it falls back to float32 pieces joined at the end.
    """

    def __init__(self, seconds: float | None):
        cap = int((seconds + 1.0) * SAMPLE_RATE) if seconds and seconds > 0 else 10 * 60 * SAMPLE_RATE
        self.parts: list[np.ndarray] = []
        self.cur = np.empty(cap, dtype=np.float32)
        self.fill = 0
        self.n = 0

    def append(self, chunk: np.ndarray) -> None:
        i = 0
        while i < len(chunk):
            if self.fill == len(self.cur):
                self.parts.append(self.cur)
                self.cur = np.empty(max(60 * SAMPLE_RATE, self.n // 2), dtype=np.float32)
                self.fill = 0
            k = min(len(chunk) - i, len(self.cur) - self.fill)
            np.multiply(chunk[i : i + k], 1.0 / 32768.0, out=self.cur[self.fill : self.fill + k], casting="unsafe")
            self.fill += k
            self.n += k
            i += k

    def result(self) -> np.ndarray:
        last = self.cur[: self.fill]
        if not self.parts:
            # A copy only when much of the allocation is unused; otherwise keep the view.
            return last.copy() if len(self.cur) - self.fill > 60 * SAMPLE_RATE else last
        return np.concatenate([*self.parts, last])


def check_size(path: str | Path, max_bytes: int | None = None) -> int:
    """The file's size, or AudioError when it is over the limit: checked before anything reads
    the whole file (hashing a 5 GB upload only to refuse it wastes minutes)."""
    max_bytes = MAX_AUDIO_BYTES if max_bytes is None else max_bytes
    try:
        size = Path(path).stat().st_size
    except FileNotFoundError:
        raise AudioError(f"{path}: audio file not found") from None
    if size > max_bytes:
        raise AudioError(f"{path}: {format_size(size)} is far too large (limit {format_size(max_bytes)})")
    return size


def sha256_file(path: str | Path, block_size: int = 1 << 20, max_bytes: int | None = None) -> str:
    """SHA-256 of a file's bytes, read in blocks (recordings can be gigabytes); a file over the
    size limit is refused before it is read."""
    check_size(path, max_bytes)
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(block_size), b""):
                h.update(block)
    except FileNotFoundError:
        raise AudioError(f"{path}: audio file not found") from None
    return h.hexdigest()
