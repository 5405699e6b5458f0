"""Batch processing: discovery, failures with reasons, reports, interruption and resume.

Most tests replace the heavy step (transcribe + align) with a small processor that writes real
output files, because what they check is the bookkeeping. test_batch_e2e.py runs the real
pipeline on synthetic speech.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from archive_fixtures import ENGLISH_TEXT

from sync.batch import (
    DONE,
    FAILED,
    REPORT_CSV,
    REPORT_HTML,
    STATE_NAME,
    BatchItem,
    BatchOptions,
    discover,
    load_state,
    run_batch,
)
from sync.errors import AudioError, ShiurError

CALLS = "calls.log"


def fake_processor(item: BatchItem, workdir: Path, options: BatchOptions, report=None) -> dict:
    """Stands in for transcribe + align: logs the call, fails on 'corrupt' audio, writes outputs."""
    with open(item.audio.parent / CALLS, "a", encoding="utf-8") as f:
        f.write(item.key + "\n")
    data = item.audio.read_bytes()
    if data.startswith(b"CORRUPT"):
        raise AudioError(f"{item.audio}: unreadable or corrupt: not a recognised audio or video format")
    (workdir / "passages.vtt").write_text("WEBVTT\n\np1.1\n00:00:00.000 --> 00:00:01.000\nx\n", encoding="utf-8")
    (workdir / "alignment.json").write_text("{}", encoding="utf-8")
    return {"duration": 3.5, "passages": 4, "covered": 3, "mean_confidence": 0.8125, "skipped": ["p2.2"]}


def crashing_processor(item: BatchItem, workdir: Path, options: BatchOptions, report=None) -> dict:
    (workdir / "half-written.vtt").write_text("WEBVTT\n", encoding="utf-8")
    raise RuntimeError("decoder crashed")


def _collection(folder: Path, n: int = 5, corrupt: str | None = "c3") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        key = f"c{i}"
        (folder / f"{key}.wav").write_bytes(b"CORRUPT!" if key == corrupt else f"RIFF audio {i}".encode())
        (folder / f"{key}.txt").write_text(ENGLISH_TEXT, encoding="utf-8")
    return folder


def _calls(folder: Path) -> list[str]:
    path = folder / CALLS
    return path.read_text(encoding="utf-8").split() if path.exists() else []


def test_folder_pairs_audio_with_same_stem_text(tmp_path):
    src = _collection(tmp_path / "in", n=3, corrupt=None)
    items = discover(src)
    assert [(i.key, i.audio.name, i.text.name if i.text else None) for i in items] == [
        ("c1", "c1.wav", "c1.txt"),
        ("c2", "c2.wav", "c2.txt"),
        ("c3", "c3.wav", "c3.txt"),
    ]


def test_folder_with_one_text_uses_it_for_all(tmp_path):
    (tmp_path / "a.mp3").write_bytes(b"x")
    (tmp_path / "b.ogg").write_bytes(b"x")
    (tmp_path / "maamar.txt").write_text(ENGLISH_TEXT, encoding="utf-8")
    assert {i.text.name for i in discover(tmp_path) if i.text} == {"maamar.txt"}


def test_recursive_folder_keys_and_texts(tmp_path):
    for year in ("5724", "5725", "5726"):
        (tmp_path / year).mkdir()
        (tmp_path / year / "shiur.mp3").write_bytes(b"x")
    (tmp_path / "5724" / "maamar.txt").write_text(ENGLISH_TEXT, encoding="utf-8")  # the only text in its folder
    (tmp_path / "5726" / "a.txt").write_text(ENGLISH_TEXT, encoding="utf-8")  # two texts, neither named
    (tmp_path / "5726" / "b.txt").write_text(ENGLISH_TEXT, encoding="utf-8")  # after the recording: ambiguous
    (tmp_path / "common.txt").write_text(ENGLISH_TEXT, encoding="utf-8")  # found by walking up from 5725/
    (tmp_path / "top.mp3").write_bytes(b"x")
    assert [i.audio.name for i in discover(tmp_path)] == ["top.mp3"]
    items = discover(tmp_path, recursive=True)
    texts = [(i.key, i.text.relative_to(tmp_path).as_posix() if i.text else None) for i in items]
    assert texts == [
        ("5724-shiur", "5724/maamar.txt"),
        ("5725-shiur", "common.txt"),
        ("5726-shiur", None),
        ("top", "common.txt"),
    ]
    assert "no text for shiur.mp3" in items[2].problem


def test_folder_item_without_text_fails_with_reason(tmp_path):
    (tmp_path / "a.mp3").write_bytes(b"x")
    (tmp_path / "b.mp3").write_bytes(b"x")
    (tmp_path / "a.txt").write_text(ENGLISH_TEXT, encoding="utf-8")
    (tmp_path / "other.txt").write_text(ENGLISH_TEXT, encoding="utf-8")
    summary = run_batch(discover(tmp_path), tmp_path / "out", processor=fake_processor, progress=False)
    by_key = {r.key: r for r in summary.results}
    assert by_key["a"].status == DONE
    assert by_key["b"].status == FAILED and "no text for b.mp3" in by_key["b"].error


def test_csv_manifest_with_relative_paths_and_metadata(tmp_path):
    src = _collection(tmp_path / "in", n=2, corrupt=None)
    manifest = tmp_path / "list.csv"
    manifest.write_text(
        "audio,text,title,lecturer,recorded_on\n"
        "in/c1.wav,in/c1.txt,שיעור א,הרב כהן,2024-01-02\n"
        "in/c2.wav,in/c2.txt,שיעור ב,הרב לוי,\n",
        encoding="utf-8",
    )
    items = discover(manifest)
    assert [i.audio for i in items] == [(src / "c1.wav").resolve(), (src / "c2.wav").resolve()]
    assert items[0].metadata == {"title": "שיעור א", "lecturer": "הרב כהן", "recorded_on": "2024-01-02"}
    assert "recorded_on" not in items[1].metadata


def test_json_manifest(tmp_path):
    _collection(tmp_path / "in", n=2, corrupt=None)
    manifest = tmp_path / "list.json"
    items_json = [
        {"audio": "in/c1.wav", "text": "in/c1.txt", "key": "first"},
        {"audio": "in/c2.wav", "text": "in/c2.txt"},
    ]
    manifest.write_text(json.dumps({"items": items_json}), encoding="utf-8")
    assert [i.key for i in discover(manifest)] == ["first", "c2"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.csv", "path,words\na,b\n", "needs a header row with an 'audio' column"),
        ("m.json", "{not json", "not valid JSON"),
        ("m.json", '{"items": [{"text": "a.txt"}]}', "item 1 has no audio path"),
        ("m.csv", "audio,text\n", "lists no recordings"),
        ("m.xlsx", "x", "expected a folder of recordings or a .csv/.json manifest"),
    ],
)
def test_bad_manifests_are_clear_errors(tmp_path, name, content, message):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(ShiurError, match=message):
        discover(tmp_path / name)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ShiurError, match="no audio files found"):
        discover(tmp_path)


def test_corrupt_file_is_reported_and_the_others_complete(tmp_path):
    src = _collection(tmp_path / "in", n=5, corrupt="c3")
    out = tmp_path / "out"
    summary = run_batch(discover(src), out, processor=fake_processor, progress=False)
    status = {r.key: r.status for r in summary.results}
    assert status == {"c1": DONE, "c2": DONE, "c3": FAILED, "c4": DONE, "c5": DONE}
    failed = summary.failed[0]
    assert "unreadable or corrupt" in failed.error and "c3.wav" in failed.error
    for key in ("c1", "c2", "c4", "c5"):
        assert (out / key / "passages.vtt").is_file() and (out / key / "batch-item.json").is_file()
    assert not (out / "c3").exists()

    rows = list(csv.DictReader((out / REPORT_CSV).read_text(encoding="utf-8").splitlines()))
    assert [r["key"] for r in rows] == ["c1", "c2", "c3", "c4", "c5"]
    ok = rows[0]
    figures = (ok["status"], ok["duration_s"], ok["coverage_pct"], ok["mean_confidence"])
    assert figures == ("done", "3.5", "75.0", "0.8125")
    assert (ok["skipped_count"], ok["skipped"]) == ("1", "p2.2")
    assert rows[2]["status"] == "failed" and "unreadable or corrupt" in rows[2]["error"]
    page = (out / REPORT_HTML).read_text(encoding="utf-8")
    assert "4 הושלמו, 1 נכשלו" in page and "4 completed, 1 failed" in page
    assert "total audio 0:00:14" in page  # 4 x 3.5 s
    assert "unreadable or corrupt" in page and '<a href="c1/">' in page


def test_an_unexpected_crash_leaves_no_partial_output(tmp_path):
    src = _collection(tmp_path / "in", n=1, corrupt=None)
    out = tmp_path / "out"
    summary = run_batch(discover(src), out, processor=crashing_processor, progress=False)
    assert summary.results[0].status == FAILED
    assert summary.results[0].error == "RuntimeError: decoder crashed"
    assert sorted(p.name for p in out.iterdir()) == sorted([STATE_NAME, REPORT_CSV, REPORT_HTML, ".batch.lock"])


def dying_processor(item: BatchItem, workdir: Path, options: BatchOptions, report=None) -> dict:
    """A native crash or the out-of-memory killer: the worker process vanishes without a word."""
    if item.audio.read_bytes().startswith(b"CORRUPT"):
        os._exit(139)
    return fake_processor(item, workdir, options)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_that_dies_fails_only_its_own_recording(tmp_path, workers):
    src = _collection(tmp_path / "in", n=5, corrupt="c2")
    out = tmp_path / "out"
    summary = run_batch(discover(src), out, workers=workers, processor=dying_processor, progress=False)
    status = {r.key: r.status for r in summary.results}
    assert status == {"c1": DONE, "c2": FAILED, "c3": DONE, "c4": DONE, "c5": DONE}
    assert "worker process died" in summary.failed[0].error
    assert not list(out.glob(".*.partial"))


class Interrupt:
    """Simulates Ctrl-C after ``after`` items have been recorded."""

    def __init__(self, after: int):
        self.after = after
        self.seen = 0

    def __call__(self, _res) -> None:
        self.seen += 1
        if self.seen == self.after:
            raise KeyboardInterrupt


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_batch_resumes_without_redoing_finished_items(tmp_path, workers):
    src = _collection(tmp_path / "in", n=5, corrupt="c3")
    out = tmp_path / "out"
    items = discover(src)
    with pytest.raises(KeyboardInterrupt):
        run_batch(items, out, workers=workers, processor=fake_processor, progress=False, on_result=Interrupt(2))
    state = load_state(out)
    finished = {k for k, r in state.items() if r.status == DONE}
    assert len(state) >= 2 and finished
    assert (out / REPORT_CSV).is_file()  # the report is written even when interrupted
    stamps = {k: (out / k / "batch-item.json").stat().st_mtime_ns for k in finished}
    before = _calls(src)

    summary = run_batch(discover(src), out, workers=workers, processor=fake_processor, progress=False)
    redone = _calls(src)[len(before) :]
    assert not set(redone) & finished, f"finished items were processed again: {set(redone) & finished}"
    assert set(redone) | finished >= {"c1", "c2", "c3", "c4", "c5"}
    assert summary.reused == len(finished)
    assert {r.key: r.status for r in summary.results} == {"c1": DONE, "c2": DONE, "c3": FAILED, "c4": DONE, "c5": DONE}
    assert {k: (out / k / "batch-item.json").stat().st_mtime_ns for k in finished} == stamps
    assert not list(out.glob(".*.partial"))


def test_third_run_redoes_only_failures(tmp_path):
    src = _collection(tmp_path / "in", n=5, corrupt="c3")
    out = tmp_path / "out"
    run_batch(discover(src), out, processor=fake_processor, progress=False)
    (src / "c3.wav").write_bytes(b"RIFF now a good file")  # the archivist replaced the corrupt file
    n = len(_calls(src))
    summary = run_batch(discover(src), out, processor=fake_processor, progress=False)
    assert _calls(src)[n:] == ["c3"]
    assert not summary.failed


def test_leftovers_and_changed_inputs_are_redone(tmp_path):
    src = _collection(tmp_path / "in", n=3, corrupt=None)
    out = tmp_path / "out"
    run_batch(discover(src), out, processor=fake_processor, progress=False)
    n = len(_calls(src))
    # A crash mid-write leaves a partial folder; a finished folder deleted by hand; an audio file replaced.
    (out / ".c1.partial").mkdir()
    (out / ".c1.partial" / "passages.vtt").write_text("WEBVTT\n", encoding="utf-8")
    import shutil

    shutil.rmtree(out / "c2")
    (src / "c3.wav").write_bytes(b"RIFF a different recording, longer")
    run_batch(discover(src), out, processor=fake_processor, progress=False)
    assert sorted(_calls(src)[n:]) == ["c2", "c3"]
    assert not (out / ".c1.partial").exists()
    # A corrected discourse text is a new input too.
    n = len(_calls(src))
    (src / "c1.txt").write_text(ENGLISH_TEXT + "\nA third paragraph, added after proofreading.\n", encoding="utf-8")
    run_batch(discover(src), out, processor=fake_processor, progress=False)
    assert _calls(src)[n:] == ["c1"]


def test_damaged_state_file_is_a_clear_error_and_kept(tmp_path):
    src = _collection(tmp_path / "in", n=1, corrupt=None)
    out = tmp_path / "out"
    out.mkdir()
    (out / STATE_NAME).write_text("{truncated", encoding="utf-8")
    with pytest.raises(ShiurError, match="batch state is damaged"):
        run_batch(discover(src), out, processor=fake_processor, progress=False)
    assert (out / STATE_NAME).read_text(encoding="utf-8") == "{truncated"


# --------------------------------------------------------------------------- the real pipeline

LESSONS = {
    "lesson1": ["The teacher opened the old book and read the first line.", "Then he explained every word slowly."],
    "lesson2": ["A small bird sings every morning in the green garden."],
    "lesson3": ["The river runs past the mountain toward the quiet sea."],
    "lesson4": ["Children walked home together after the long winter class."],
}


@pytest.fixture(scope="session")
def speech_collection(tmp_path_factory) -> tuple[Path, Path]:
    """Four short espeak lessons and one corrupt file, plus a transcript cache shared by the session.

    The cache links to the already reassembled bundled model, so nothing is copied per test.
    """
    from speechgen import speak_paragraphs

    from sync import whisper_model

    root = tmp_path_factory.mktemp("batch-speech")
    src = root / "collection"
    src.mkdir()
    for key, paras in LESSONS.items():
        speak_paragraphs(paras, src / f"{key}.wav", pause=1.0, lead=0.5)
        (src / f"{key}.txt").write_text("\n\n".join(paras) + "\n", encoding="utf-8")
    (src / "lesson5.mp3").write_bytes(b"ID3\x03\x00\x00\x00 not really audio " * 50)
    (src / "lesson5.txt").write_text("A text whose recording is broken.\n", encoding="utf-8")
    cache = root / "cache"
    (cache / "models").mkdir(parents=True)
    (cache / "models" / "whisper-base-ct2").symlink_to(whisper_model.bundled_model_dir())
    return src, cache


def _copy(src: Path, dest: Path) -> Path:
    import shutil

    return Path(shutil.copytree(src, dest))


def _shiur(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    import sys

    from sync.cli import main

    monkeypatch.setattr(sys, "argv", ["shiur", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
def test_real_batch_over_a_folder_with_a_corrupt_file(speech_collection, tmp_path, monkeypatch, capsys):
    import io
    import zipfile

    import srt
    import webvtt

    src, cache = speech_collection
    monkeypatch.setenv("SHIUR_CACHE", str(cache))
    col = _copy(src, tmp_path / "in")
    out = tmp_path / "out"
    args = ["batch", str(col), "-o", str(out), "--language", "en", "--workers", "2", "--formats", "srt,bundle", "-q"]
    code, stdout, stderr = _shiur(args, monkeypatch, capsys)
    assert code == 1, stderr  # one recording failed
    assert "4 of 5 recordings done (0 from an earlier run), 1 failed" in stdout
    assert "lesson5: " in stderr and "unreadable or corrupt" in stderr

    rows = {r["key"]: r for r in csv.DictReader((out / REPORT_CSV).read_text(encoding="utf-8").splitlines())}
    assert rows["lesson5"]["status"] == "failed" and "lesson5.mp3: unreadable or corrupt" in rows["lesson5"]["error"]
    for key, paras in LESSONS.items():
        row = rows[key]
        assert row["status"] == "done", row
        assert 4.0 < float(row["duration_s"]) < 10.0
        assert float(row["coverage_pct"]) > 0 and 0 < float(row["mean_confidence"]) <= 1
        vtt = webvtt.read(str(out / key / "passages.vtt"))
        assert {c.identifier.split(".")[0] for c in vtt} <= {f"p{i + 1}" for i in range(len(paras))}
        subs = list(srt.parse((out / key / "passages.srt").read_text(encoding="utf-8")))
        assert [s.content for s in subs] == [c.text for c in vtt]
        with zipfile.ZipFile(out / key / "bundle.zip") as zf:
            assert zf.read("audio.wav") == (col / f"{key}.wav").read_bytes()
            meta = json.loads(zf.read("metadata.json"))
            assert meta["provenance"]["model"] == "bundled-base"
            assert len(webvtt.from_buffer(io.StringIO(zf.read("passages.vtt").decode())).captions) == len(vtt)
    assert "lesson5.mp3: unreadable or corrupt" in (out / REPORT_HTML).read_text(encoding="utf-8")


@pytest.mark.slow
def test_real_batch_interrupted_with_ctrl_c_then_resumed(speech_collection, tmp_path, monkeypatch, capsys):
    import os
    import signal
    import subprocess
    import sys
    import time

    src, cache = speech_collection
    col = _copy(src, tmp_path / "in")
    out = tmp_path / "out"
    env = {**os.environ, "SHIUR_CACHE": str(cache)}
    # A terminal's Ctrl-C: Python leaves SIGINT ignored if its parent started it ignored (background jobs).
    boot = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); from sync.cli import main; main()"
    cmd = [sys.executable, "-c", boot, "batch", str(col), "-o", str(out), "--language", "en", "-q"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / STATE_NAME).exists() and any(r.status == DONE for r in load_state(out).values()):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, f"exit {proc.returncode}, state {sorted(load_state(out))}: {err}"
    assert "run the same command to resume" in err
    state = load_state(out)
    finished = {k for k, r in state.items() if r.status == DONE}
    assert finished and len(finished) < 4, f"the interruption should land mid-batch: {sorted(finished)}"
    assert not list(out.glob(".*.partial"))
    kept = {k: ((out / k / "batch-item.json").stat().st_mtime_ns, state[k].finished_at) for k in finished}

    monkeypatch.setenv("SHIUR_CACHE", str(cache))
    code, stdout, _ = _shiur(["batch", str(col), "-o", str(out), "--language", "en", "-q"], monkeypatch, capsys)
    assert code == 1
    assert f"4 of 5 recordings done ({len(finished)} from an earlier run), 1 failed" in stdout
    after = load_state(out)
    assert {k: ((out / k / "batch-item.json").stat().st_mtime_ns, after[k].finished_at) for k in finished} == kept


HOLD_LOCK = """
import fcntl, sys, time
f = open(sys.argv[1], "a+")
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_batch_in_the_same_folder_is_refused(tmp_path):
    import subprocess
    import sys

    src = _collection(tmp_path / "in", n=1, corrupt=None)
    out = tmp_path / "out"
    out.mkdir()
    # A record lock is per process, so the running batch must be another process.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out / ".batch.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ShiurError, match="another `shiur batch` is already writing"):
            run_batch(discover(src), out, processor=fake_processor, progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert run_batch(discover(src), out, processor=fake_processor, progress=False).results[0].status == DONE


# --------------------------------------------------------------------------- progress, checkpoints, queue


def reporting_processor(item: BatchItem, workdir: Path, options: BatchOptions, report=None) -> dict:
    """Ten seconds of 'audio' in five steps, reported as the real pipeline reports transcription."""
    import time

    for i in range(1, 6):
        time.sleep(0.3)
        if report is not None:
            report(2.0 * i, 10.0)
    return fake_processor(item, workdir, options)


def test_batch_shows_the_running_recordings_percent_and_eta(tmp_path):
    import io
    import re

    src = _collection(tmp_path / "in", n=2, corrupt=None)
    out = tmp_path / "out"
    log = io.StringIO()  # not a terminal: a line per 10 % of each recording, as in a cron log
    summary = run_batch(discover(src), out, processor=reporting_processor, progress=True, stream=log)
    assert not summary.failed
    lines = log.getvalue().splitlines()
    running = [ln for ln in lines if "transcribing [" in ln]
    for key in ("c1", "c2"):
        mine = [ln for ln in running if f" {key}: " in ln]
        percents = [int(m.group(1)) for ln in mine if (m := re.search(r"(\d+)%", ln))]
        assert any(0 < p < 100 for p in percents), (key, lines)  # seen mid-way, not only at the end
        assert any(re.search(r"ETA \d+:\d\d", ln) for ln in mine), (key, lines)  # a time left, not "?"
        assert "0:10 audio" in mine[-1]
    assert "batch 1/2: c1: done" in lines and "batch 2/2: c2: done" in lines
    assert not (out / ".progress").exists()


@pytest.fixture
def own_cache(tmp_path, monkeypatch) -> Path:
    """A fresh transcript cache that still shares the unpacked bundled model."""
    from sync.whisper_model import bundled_model_dir, cache_dir

    bundled_model_dir()
    root = tmp_path / "cache"
    root.mkdir()
    if (cache_dir() / "models").is_dir():
        (root / "models").symlink_to(cache_dir() / "models")
    monkeypatch.setenv("SHIUR_CACHE", str(root))
    return root


def test_an_interrupted_recording_resumes_from_its_transcription_checkpoint(tmp_path, monkeypatch, own_cache):
    """The worker dies 4 s into a 10 s recording; the rerun decodes only the last 6 s."""
    import json

    from player_fixtures import tone_wav

    from sync import pipeline
    from sync.transcribe import TranscribeInfo
    from sync.transcript import Segment, Transcript, Word

    src = tmp_path / "in"
    src.mkdir()
    tone_wav(src / "c1.wav", 10.0)
    (src / "c1.txt").write_text(ENGLISH_TEXT, encoding="utf-8")
    calls = tmp_path / "whisper.log"
    die = tmp_path / "die-at-4s"
    die.touch()

    def fake_transcribe(audio, model, language=None, options=None, **_k):
        n = len(audio) / 16000
        with open(calls, "a") as f:
            f.write(f"{n:.2f}\n")

        def gen():
            t = 0.0
            while t + 1.0 <= n + 1e-6:
                if die.exists() and t >= 4.0:
                    os._exit(137)  # killed: no cleanup, no exception
                yield Segment(round(t, 3), round(t + 1, 3), f"w{t:g}", [Word(t, t + 1, f"w{t:g}")])
                t += 1.0

        return gen(), TranscribeInfo(duration=n, language="en")

    monkeypatch.setattr("sync.transcribe.load_model", lambda *_a, **_k: (object(), "fake"))
    monkeypatch.setattr("sync.transcribe.transcribe", fake_transcribe)
    # No real model in this process (an earlier test may have loaded one): the workers are forked
    # from it and inherit the fakes.
    monkeypatch.setattr("sync.transcribe._MODELS", {})
    monkeypatch.setattr(pipeline, "CHECKPOINT_INTERVAL_S", 0.0)  # every segment, so the test knows where
    out = tmp_path / "out"
    first = run_batch(discover(src), out, progress=False)
    assert first.results[0].status == FAILED and "worker process died" in first.results[0].error
    checkpoint = json.loads((out / ".checkpoints" / "c1.json").read_text())
    assert checkpoint["offset"] == 4.0 and len(checkpoint["segments"]) == 4

    die.unlink()
    second = run_batch(discover(src), out, progress=False)
    assert second.results[0].status == DONE, second.results[0].error
    assert [float(x) for x in calls.read_text().split()] == [10.0, 6.0]  # the rerun heard only the rest
    t = Transcript.load(out / "c1" / "transcript.json")
    assert [s.start for s in t.segments] == [float(i) for i in range(10)]
    assert not (out / ".checkpoints").exists()  # cleared once the recording was done


def test_batch_on_a_redis_queue_runs_in_a_worker_with_the_same_report_and_resume(tmp_path, redis_url):
    import io
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    src = _collection(tmp_path / "in", n=3, corrupt="c2")
    out = tmp_path / "out"
    env = {**os.environ, "SHIUR_QUEUE": redis_url, "SHIUR_LIBRARY": str(tmp_path / "library"),
           "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen([sys.executable, "-m", "player.jobs"], env=env, cwd=root, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        shown = io.StringIO()
        summary = run_batch(discover(src), out, processor=reporting_processor, progress=True, stream=shown,
                            queue=redis_url)
    finally:
        worker.terminate()
        worker.wait(10)
        log.close()
    status = {r.key: r.status for r in summary.results}
    assert status == {"c1": DONE, "c2": FAILED, "c3": DONE}, (tmp_path / "worker.log").read_text()[-2000:]
    assert "unreadable or corrupt" in summary.failed[0].error
    calls = _calls(src)
    assert sorted(calls) == ["c1", "c2", "c3"]  # each once, in the worker
    assert (out / "c1" / "passages.vtt").is_file() and (out / REPORT_CSV).is_file()
    assert "batch 3/3" in shown.getvalue() and "transcribing [" in shown.getvalue()
    rows = list(csv.DictReader((out / REPORT_CSV).read_text(encoding="utf-8").splitlines()))
    assert [r["status"] for r in rows] == ["done", "failed", "done"]
    # Resume works the same way: the finished ones are not sent again, the failed one is.
    (src / "c2.wav").write_bytes(b"RIFF fixed")
    worker = subprocess.Popen([sys.executable, "-m", "player.jobs"], env=env, cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        again = run_batch(discover(src), out, processor=reporting_processor, progress=False, queue=redis_url)
    finally:
        worker.terminate()
        worker.wait(10)
    assert again.reused == 2 and not again.failed
    assert sorted(_calls(src)) == ["c1", "c2", "c2", "c3"]
