"""The `shiur` command: help, exit codes, one-line errors, align without transcription, cache reuse."""

from __future__ import annotations

import sys

import pytest
import webvtt
from speechgen import speak_paragraphs

from sync import pipeline
from sync.cli import main
from sync.transcript import Segment, Transcript, Word

TEXT = (
    "The quick brown fox jumps over the lazy dog.\n\n"
    "Then the dog sleeps in the warm afternoon sun.\n\n"
    "Later the farmer walks home across the green field.\n"
)


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["shiur", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIUR_CACHE", str(tmp_path / "cache"))
    from sync import whisper_model

    real = whisper_model.bundled_model_dir()
    monkeypatch.setattr(whisper_model, "bundled_model_dir", lambda target=None: real)


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "text.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


def exact_transcript(text: str, gap: float = 1.0) -> Transcript:
    """A transcript in which every text word is heard, in order, 0.4 s each."""
    segs, t = [], 0.5
    for para in text.split("\n\n"):
        words = []
        for w in para.split():
            words.append(Word(t, t + 0.35, w, 0.9))
            t += 0.4
        segs.append(Segment(words[0].start, words[-1].end, para.strip(), words))
        t += gap
    return Transcript(duration=t + 1, language="en", segments=segs, model="test")


def test_help_lists_commands(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "--help")
    assert code == 0
    for cmd in ("transcribe", "align", "sync"):
        assert cmd in out


@pytest.mark.parametrize("cmd", ["sync", "transcribe", "align"])
def test_command_help(monkeypatch, capsys, cmd):
    code, out, _ = run(monkeypatch, capsys, cmd, "--help")
    assert code == 0
    assert "Usage:" in out and "--help" in out


def test_sync_missing_audio(monkeypatch, capsys, tmp_path, text_file):
    code, out, err = run(monkeypatch, capsys, "sync", str(tmp_path / "class.mp3"), str(text_file), "-o", str(tmp_path))
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("shiur: error:") and "class.mp3" in lines[0] and "not found" in lines[0]


def test_sync_bad_text_fails_before_transcribing(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "maamar.txt"
    bad.write_bytes("שלום עולם".encode("cp1255"))
    monkeypatch.setattr(pipeline, "load_model", lambda *a, **k: pytest.fail("transcribed a bad text"))
    code, _, err = run(monkeypatch, capsys, "sync", str(tmp_path / "x.mp3"), str(bad), "-o", str(tmp_path / "o"))
    assert code != 0
    assert len(err.strip().splitlines()) == 1
    assert "maamar.txt" in err and "UTF-8" in err


def test_sync_requires_outdir(monkeypatch, capsys, tmp_path, text_file):
    code, _, err = run(monkeypatch, capsys, "sync", "a.mp3", str(text_file))
    assert code != 0 and "-o" in err


def test_transcribe_corrupt_audio(monkeypatch, capsys, tmp_path, private_cache):
    bad = tmp_path / "class.m4a"
    bad.write_bytes(b"\x00garbage" * 300)
    code, _, err = run(monkeypatch, capsys, "transcribe", str(bad), "-o", str(tmp_path / "t.json"))
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and "class.m4a" in err


def test_align_bad_transcript(monkeypatch, capsys, tmp_path, text_file):
    bogus = tmp_path / "t.json"
    bogus.write_text('{"hello": 1}')
    code, _, err = run(monkeypatch, capsys, "align", str(bogus), str(text_file), "-o", str(tmp_path / "o"))
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and "t.json" in err and "transcript" in err


def test_bad_model_folder(monkeypatch, capsys, tmp_path, text_file):
    code, _, err = run(monkeypatch, capsys, "transcribe", str(text_file), "--model", str(tmp_path))
    assert code != 0
    assert "not a CTranslate2" in err


def test_align_never_transcribes(monkeypatch, capsys, tmp_path, text_file):
    tpath = tmp_path / "t.json"
    exact_transcript(TEXT).save(tpath)

    def forbidden(*a, **k):
        raise AssertionError("align must not transcribe")

    monkeypatch.setattr("sync.transcribe.transcribe", forbidden)
    monkeypatch.setattr(pipeline, "load_model", forbidden)
    out_dir = tmp_path / "out"
    code, out, err = run(monkeypatch, capsys, "align", str(tpath), str(text_file), "-o", str(out_dir))
    assert code == 0, err
    for name in ("passages.vtt", "paragraphs.vtt", "alignment.json", "transcript.json"):
        assert (out_dir / name).is_file(), name
    caps = webvtt.read(str(out_dir / "paragraphs.vtt")).captions
    assert [c.identifier for c in caps] == ["p1", "p2", "p3"]
    assert "wrote 4 files" in out


@pytest.mark.slow
def test_transcribe_then_sync_uses_cache(monkeypatch, capsys, tmp_path, text_file, private_cache):
    speech = speak_paragraphs(TEXT.strip().split("\n\n"), tmp_path / "class.wav", pause=1.0)
    tjson = tmp_path / "class.transcript.json"
    code, out, err = run(
        monkeypatch,
        capsys,
        "transcribe",
        str(speech.path),
        "--text",
        str(text_file),
        "--language",
        "en",
        "-o",
        str(tjson),
    )
    assert code == 0, err
    assert tjson.is_file() and "transcribing" in err

    monkeypatch.setattr("sync.transcribe.transcribe", lambda *a, **k: pytest.fail("re-transcribed a cached recording"))
    out_dir = tmp_path / "out"
    code, out, err = run(
        monkeypatch, capsys, "sync", str(speech.path), str(text_file), "--language", "en", "-o", str(out_dir)
    )
    assert code == 0, err
    assert "cache used" in out
    assert (out_dir / "paragraphs.vtt").is_file()


@pytest.mark.slow
def test_align_with_audio_refinement(monkeypatch, capsys, tmp_path, text_file, private_cache):
    speech = speak_paragraphs(TEXT.strip().split("\n\n"), tmp_path / "class.wav", pause=1.0)
    tjson = tmp_path / "t.json"
    code, _, err = run(monkeypatch, capsys, "transcribe", str(speech.path), "--language", "en", "-q", "-o", str(tjson))
    assert code == 0, err
    monkeypatch.setattr("sync.transcribe.transcribe", lambda *a, **k: pytest.fail("align must not transcribe"))
    out_dir = tmp_path / "out"
    code, out, err = run(
        monkeypatch, capsys, "align", str(tjson), str(text_file), "--audio", str(speech.path), "-o", str(out_dir)
    )
    assert code == 0, err
    caps = webvtt.read(str(out_dir / "paragraphs.vtt")).captions
    assert [c.identifier for c in caps] == ["p1", "p2", "p3"]
    for cap, truth in zip(caps, speech.starts, strict=True):
        h, m, s = cap.start.split(":")
        assert abs(int(h) * 3600 + int(m) * 60 + float(s) - truth) <= 1.0


def test_every_command_is_registered_in_one_table() -> None:
    import click

    from sync.cli import COMMANDS, cli

    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert isinstance(cmd, click.Command) and cmd.name == name, name
    assert cli.get_command(ctx, "no-such-command") is None


def test_core_commands_work_without_flask(tmp_path) -> None:
    import subprocess

    # A core-only install: Flask cannot be imported; the web commands disappear, the rest stays.
    code = ("import sys; sys.modules['flask'] = None; from sync.cli import cli; import click; "
            "print(' '.join(cli.list_commands(click.Context(cli))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert {"sync", "transcribe", "align", "text", "batch", "import-cues"} <= set(out)
    assert "serve" not in out and "user" not in out
