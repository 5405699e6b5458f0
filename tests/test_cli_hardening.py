"""`shiur sync` on bad input and under crashes: a text that does not match says so and exits
non-zero without touching earlier results, truncated audio is reported, results are replaced as
one unit, two syncs into one folder never mix, stale temp files are cleaned."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from speechgen import convert, need_espeak, speak_paragraphs

from sync import pipeline, writers
from sync.alignment import Alignment, Cue
from sync.audio import check_truncated, load_audio, truncation_warning
from sync.cli import main
from sync.discourse import parse_discourse
from sync.transcript import Segment, Transcript, Word

ROOT = Path(__file__).resolve().parents[1]
TEXT = (
    "The quick brown fox jumps over the lazy dog.\n\n"
    "Then the dog sleeps in the warm afternoon sun.\n\n"
    "Later the farmer walks home across the green field.\n"
)
OTHER = "שלום עולם ומלואו בכל יום ויום.\n\nודברים אחרים לגמרי שאין להם קשר.\n"


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["shiur", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def heard(text: str, duration: float | None = None) -> Transcript:
    segs, t = [], 0.5
    for para in text.strip().split("\n\n"):
        words = []
        for w in para.split():
            words.append(Word(t, t + 0.35, w, 0.9))
            t += 0.4
        segs.append(Segment(words[0].start, words[-1].end, para.strip(), words))
        t += 1.0
    return Transcript(duration=duration or t + 1, language="en", segments=segs, model="test")


@pytest.fixture
def fake_whisper(monkeypatch):
    """Transcription replaced by an exact transcript of TEXT; the audio is really decoded, so the
    transcript's duration is what the file holds."""

    def transcribe_file(audio_path, *a, **k):
        audio = load_audio(audio_path)
        return pipeline.TranscribeResult(heard(TEXT, audio.duration), False, None, "k")

    monkeypatch.setattr(pipeline, "transcribe_file", transcribe_file)


@pytest.fixture
def speech(tmp_path):
    need_espeak()
    return speak_paragraphs(TEXT.strip().split("\n\n"), tmp_path / "class.wav", pause=1.0)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


# ---- a text that does not match ----------------------------------------------------------


def test_text_that_does_not_match_fails_and_keeps_earlier_results(monkeypatch, capsys, tmp_path, speech,
                                                                  fake_whisper):
    good, other = tmp_path / "text.txt", tmp_path / "other.txt"
    good.write_text(TEXT, encoding="utf-8")
    other.write_text(OTHER, encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, err = run(monkeypatch, capsys, "sync", str(speech.path), str(good), "-o", str(out),
                            "--language", "en", "--no-refine")
    assert code == 0, err
    before = _files(out)
    assert set(before) == {"passages.vtt", "paragraphs.vtt", "alignment.json", "transcript.json"}

    code, stdout, err = run(monkeypatch, capsys, "sync", str(speech.path), str(other), "-o", str(out),
                            "--language", "en", "--no-refine")
    assert code == 3
    lines = [ln for ln in err.splitlines() if ln.startswith("shiur: error:")]
    assert len(lines) == 1 and "other.txt does not match class.wav" in lines[0] and "nothing was written" in lines[0]
    assert "aligned" not in stdout
    assert _files(out) == before  # the earlier good result is still there


# ---- truncated audio ---------------------------------------------------------------------


@pytest.fixture
def truncated(tmp_path, speech):
    """An mp3 whose header (Xing frame count) declares the whole, cut to 30 % of its bytes."""
    full = convert(speech.path, tmp_path / "full.mp3", "-c:a", "libmp3lame", "-b:a", "64k")
    # Several copies so the cut loses tens of seconds, well past the tolerance.
    long = tmp_path / "long.mp3"
    subprocess.run([__import__("sync.audio", fromlist=["x"]).ffmpeg_exe(), "-loglevel", "error", "-y",
                    "-stream_loop", "5", "-i", str(full), "-c:a", "libmp3lame", "-b:a", "64k", str(long)],
                   check=True)
    data = long.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) * 3 // 10])
    return long, cut


def test_truncated_file_is_detected(truncated):
    long, cut = truncated
    whole = load_audio(long)
    assert truncation_warning(long.name, whole.declared_duration, whole.duration) is None
    part = load_audio(cut)
    assert part.declared_duration == pytest.approx(whole.declared_duration, abs=0.5)
    assert part.duration < 0.4 * part.declared_duration
    msg = check_truncated(cut, part.duration)
    assert msg and msg.startswith("cut.mp3: the file says it lasts ") and "holds only" in msg


def test_truncation_tolerance():
    assert truncation_warning("a.mp3", 350.0, 105.0) == (
        "a.mp3: the file says it lasts 5:50 but holds only 1:45 of audio (cut off while copying or uploading?); "
        "only that part can be synced")
    assert truncation_warning("a.mp3", 350.0, 347.0) is None  # encoder padding
    assert truncation_warning("a.mp3", None, 10.0) is None
    assert truncation_warning("a.mp3", 3 * 3600, 3 * 3600 - 60) is None  # under 3 %


def test_sync_warns_about_truncated_audio(monkeypatch, capsys, tmp_path, truncated, fake_whisper):
    _, cut = truncated
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    code, out, err = run(monkeypatch, capsys, "sync", str(cut), str(text), "-o", str(tmp_path / "o"),
                         "--language", "en", "--no-refine", "-q")
    assert code == 0, err
    assert "shiur: warning: cut.mp3: the file says it lasts" in err


# ---- results as one unit -----------------------------------------------------------------


def _result(tag: str, shift: float) -> writers.SyncResult:
    d = parse_discourse(TEXT)
    cues = [Cue(p.id, i * 3.0 + shift, i * 3.0 + shift + 2.5, "read", 0.9) for i, p in enumerate(d.passages())]
    a = Alignment(cues=cues, skipped=[], duration=20.0, meta={"run": tag})
    return writers.SyncResult(d, a, heard(TEXT), meta={"run": tag})


def _which_run(folder: Path) -> set[str]:
    """The run each file came from (VTT starts tell the two apart)."""
    runs = {json.loads((folder / "alignment.json").read_text(encoding="utf-8"))["meta"]["run"]}
    vtt = (folder / "passages.vtt").read_text(encoding="utf-8")
    runs.add("A" if "00:00:00.000 -->" in vtt else "B")
    chapters = (folder / "paragraphs.vtt").read_text(encoding="utf-8")
    runs.add("A" if "00:00:00.000 -->" in chapters else "B")
    return runs


def test_two_syncs_into_one_folder_never_mix(tmp_path):
    out = tmp_path / "out"
    results = {"A": _result("A", 0.0), "B": _result("B", 0.7)}
    stop = threading.Event()
    seen: list[set[str]] = []

    def writer(tag: str) -> None:
        for _ in range(40):
            writers.write_outputs(results[tag], out)

    def reader() -> None:
        while not stop.is_set():
            if (out / "alignment.json").exists():
                with writers.folder_lock(out):  # what a consistent reader does
                    seen.append(_which_run(out))

    threads = [threading.Thread(target=writer, args=(t,)) for t in "AB"]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert len(_which_run(out)) == 1
    assert seen and all(len(s) == 1 for s in seen)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_exception_mid_write_keeps_the_old_result(tmp_path, monkeypatch):
    out = tmp_path / "out"
    writers.write_outputs(_result("A", 0.0), out)
    before = _files(out)

    def boom(self, result, file):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(writers.WriteTranscriptJSON, "write_result", boom)
    with pytest.raises(OSError):
        writers.write_outputs(_result("B", 0.7), out)
    assert _files(out) == before
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".shiur.lock"]


KILL = r"""
import os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_cli_hardening import _result
from sync import atomic, writers
real = atomic.commit
n = [0]
def commit(tmp, path):
    real(tmp, path)
    n[0] += 1
    if n[0] == 2:
        os._exit(9)   # two of four files replaced
atomic.commit = commit
writers.write_outputs(_result("B", 0.7), Path(sys.argv[1]))
"""


def test_kill_mid_write_is_completed_by_the_next_sync(monkeypatch, capsys, tmp_path):
    out = tmp_path / "out"
    writers.write_outputs(_result("A", 0.0), out)
    proc = subprocess.run([sys.executable, "-c", KILL, str(out), str(Path(__file__).parent)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    assert (out / writers.JOURNAL_NAME).exists()
    # The next `shiur sync` into the folder (here: one with a bad argument, which still opens
    # the folder first) completes the cut-off save before doing anything else.
    (out / ".alignment.json.stale.tmp").write_text("left by a crash")
    code, _, err = run(monkeypatch, capsys, "sync", str(tmp_path / "missing.wav"), str(tmp_path / "missing.txt"),
                       "-o", str(out))
    assert code != 0
    assert _which_run(out) == {"B"}
    assert not (out / writers.JOURNAL_NAME).exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
