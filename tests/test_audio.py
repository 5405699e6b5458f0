"""Audio loading: every supported container decodes to 16 kHz mono; bad input gets one clear line."""

from __future__ import annotations

import hashlib
import os
import subprocess

import numpy as np
import pytest
from speechgen import convert, espeak, write_wav

from sync.audio import SAMPLE_RATE, ffmpeg_exe, load_audio, sha256_file
from sync.errors import AudioError


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    samples, rate = espeak("Shiur sync reads every common audio format.")
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    write_wav(path, samples, rate)
    return path, len(samples) / rate


FORMATS = {
    "mp3": ("speech.mp3", ["-c:a", "libmp3lame", "-b:a", "64k"]),
    "m4a": ("speech.m4a", ["-c:a", "aac", "-b:a", "64k"]),
    "aac": ("speech.aac", ["-c:a", "aac", "-b:a", "64k"]),
    "ogg-opus": ("speech.ogg", ["-c:a", "libopus", "-b:a", "32k"]),
    "opus": ("speech.opus", ["-c:a", "libopus", "-b:a", "32k"]),
    "ogg-vorbis": ("speech.oga", ["-c:a", "libvorbis"]),
    "flac": ("speech.flac", ["-c:a", "flac"]),
    "webm": ("speech.webm", ["-c:a", "libopus", "-b:a", "32k"]),
    "stereo-44k-wav": ("stereo.wav", ["-ac", "2", "-ar", "44100"]),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_formats_decode_to_16k_mono(speech_wav, tmp_path, fmt):
    src, seconds = speech_wav
    name, args = FORMATS[fmt]
    path = convert(src, tmp_path / name, *args)
    audio = load_audio(path)
    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    # Encoders pad a few ms (aac/opus priming); anything close to the source length is right.
    assert abs(audio.duration - seconds) < 0.15, (fmt, audio.duration, seconds)
    assert np.max(np.abs(audio.samples)) > 0.05
    assert np.max(np.abs(audio.samples)) <= 1.0


def test_video_audio_track(speech_wav, tmp_path):
    src, seconds = speech_wav
    video = tmp_path / "class.mp4"
    subprocess.run(
        [
            ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error",
            "-f", "lavfi", "-i", f"color=c=blue:s=64x48:d={seconds:.2f}", "-i", str(src),
            "-c:v", "libx264", "-c:a", "aac", "-shortest", str(video),
        ],
        check=True,
    )  # fmt: skip
    audio = load_audio(video)
    assert abs(audio.duration - seconds) < 0.2
    assert np.max(np.abs(audio.samples)) > 0.05


def test_sample_rate_is_16k(speech_wav):
    src, seconds = speech_wav
    audio = load_audio(src)
    assert len(audio.samples) == pytest.approx(seconds * SAMPLE_RATE, abs=SAMPLE_RATE * 0.01)


def test_to_pydub_segment(speech_wav):
    audio = load_audio(speech_wav[0])
    seg = audio.to_segment()
    assert seg.frame_rate == SAMPLE_RATE and seg.channels == 1
    assert abs(len(seg) / 1000 - audio.duration) < 0.01


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_missing_file(tmp_path):
    with pytest.raises(AudioError) as e:
        load_audio(tmp_path / "nope.mp3")
    assert "nope.mp3" in _one_line(e) and "not found" in str(e.value)


def test_folder(tmp_path):
    with pytest.raises(AudioError, match="folder"):
        load_audio(tmp_path)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.mp3"
    p.write_bytes(b"")
    with pytest.raises(AudioError) as e:
        load_audio(p)
    assert "empty.mp3" in _one_line(e) and "empty" in str(e.value)


def test_corrupt_file(tmp_path):
    p = tmp_path / "broken.mp3"
    p.write_bytes(os.urandom(4000))
    with pytest.raises(AudioError) as e:
        load_audio(p)
    msg = _one_line(e)
    assert "broken.mp3" in msg
    assert "corrupt" in msg or "no audio" in msg


def test_text_file_is_not_audio(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio at all\n" * 50)
    with pytest.raises(AudioError) as e:
        load_audio(p)
    assert "notes.wav" in _one_line(e)


def test_video_without_audio(tmp_path):
    video = tmp_path / "mute.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=64x48:d=1",
         "-c:v", "libx264", str(video)],
        check=True,
    )  # fmt: skip
    with pytest.raises(AudioError) as e:
        load_audio(video)
    assert "mute.mp4" in _one_line(e) and "no audio track" in str(e.value)


def test_silent_recording(tmp_path):
    p = write_wav(tmp_path / "silence.wav", np.zeros(SAMPLE_RATE * 2, dtype=np.int16), SAMPLE_RATE)
    with pytest.raises(AudioError) as e:
        load_audio(p)
    assert "silence.wav" in _one_line(e) and "silent" in str(e.value)


def test_nearly_silent_recording(tmp_path):
    # A dead microphone: faint hiss around -70 dBFS.
    rng = np.random.default_rng(0)
    hiss = (rng.standard_normal(SAMPLE_RATE * 2) * 3).astype(np.int16)
    p = write_wav(tmp_path / "hiss.wav", hiss, SAMPLE_RATE)
    with pytest.raises(AudioError, match="silent"):
        load_audio(p)


def test_zero_length_audio(tmp_path):
    p = write_wav(tmp_path / "zero.wav", np.zeros(0, dtype=np.int16), SAMPLE_RATE)
    with pytest.raises(AudioError) as e:
        load_audio(p)
    assert "zero.wav" in _one_line(e)
    assert "zero length" in str(e.value) or "corrupt" in str(e.value)


def test_too_large(speech_wav):
    with pytest.raises(AudioError, match="too large"):
        load_audio(speech_wav[0], max_bytes=1000)


def test_too_long(speech_wav):
    with pytest.raises(AudioError, match="longer than"):
        load_audio(speech_wav[0], max_seconds=0.5)


def test_sha256(speech_wav):
    path = speech_wav[0]
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_playlist_cannot_fetch_urls(tmp_path):
    playlist = tmp_path / "evil.m3u8"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n")
    with pytest.raises(AudioError) as e:
        load_audio(playlist)
    assert "evil.m3u8" in _one_line(e)


@pytest.mark.parametrize("estimate", [None, 0.5, 2.0, 100.0])
def test_sample_buffer_any_estimate(estimate):
    from sync.audio import _SampleBuffer

    rng = np.random.default_rng(3)
    pcm = rng.integers(-32768, 32767, size=16_000 * 3 + 123, dtype=np.int16)
    buf = _SampleBuffer(estimate)
    for i in range(0, len(pcm), 7_777):
        buf.append(pcm[i : i + 7_777])
    out = buf.result()
    assert out.dtype == np.float32 and buf.n == len(pcm)
    np.testing.assert_array_equal(out, pcm.astype(np.float32) / 32768.0)


def test_duration_probe(speech_wav):
    from sync.audio import _probe_duration

    src, seconds = speech_wav
    assert _probe_duration(src) == pytest.approx(seconds, abs=0.02)
