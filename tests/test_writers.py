"""Output files: passages.vtt, paragraphs.vtt, alignment.json, transcript.json."""

from __future__ import annotations

import json

import pytest
import webvtt

from sync.alignment import EXPLAINED, READ, Alignment, Cue, WordTiming
from sync.discourse import parse_discourse
from sync.transcript import Segment, Transcript, Word
from sync.writers import (
    SyncResult,
    WriteParagraphsVTT,
    chapter_title,
    timestamp,
    write_outputs,
)

TEXT = """בס"ד

א) ויאמר אלקים יהי אור1, ויהי אור. וירא אלקים את האור כי טוב ויבדל בין האור ובין החשך.

ויקרא אלקים לאור יום ולחשך קרא לילה2 ויהי ערב ויהי בקר יום אחד.

ב) ויאמר אלקים יהי רקיע בתוך המים ויהי מבדיל בין מים למים.
"""


@pytest.fixture
def result():
    d = parse_discourse(TEXT)
    ids = [p.id for p in d.passages()]
    assert ids[0] == "p1.1" and d.paragraphs[0].section == "א"
    cues = [
        Cue("p1.1", 1.0, 4.0, READ, 0.9, [WordTiming(0, 1.0, 1.3)]),
        Cue("p1.2", 4.2, 8.0, READ, 0.8),
        Cue("p1.2", 8.0, 15.0, EXPLAINED, 0.5),
        Cue("p2.1", 15.5, 20.0, READ, 0.7),
        Cue("p1.2", 20.5, 23.0, READ, 0.6),  # the lecturer goes back and re-reads
        Cue("p3.1", 24.0, 30.0, READ, 0.9),
    ]
    a = Alignment(cues=cues, skipped=[], duration=31.0, meta={"aligner": "test"})
    t = Transcript(31.0, "he", [Segment(1.0, 4.0, "ויאמר", [Word(1.0, 1.3, "ויאמר", 0.9)])], model="m")
    return SyncResult(d, a, t, {"model": "m"})


def test_timestamp():
    assert timestamp(0) == "00:00:00.000"
    assert timestamp(3725.4567) == "01:02:05.457"
    assert timestamp(-1) == "00:00:00.000"


def test_writes_all_four_files(result, tmp_path):
    paths = write_outputs(result, tmp_path / "out")
    assert sorted(p.name for p in paths) == ["alignment.json", "paragraphs.vtt", "passages.vtt", "transcript.json"]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


def test_passages_vtt(result, tmp_path):
    write_outputs(result, tmp_path)
    caps = webvtt.read(str(tmp_path / "passages.vtt")).captions
    assert [c.identifier for c in caps] == ["p1.1", "p1.2", "p1.2.x", "p2.1", "p1.2.r2", "p3.1"]
    assert caps[0].start == "00:00:01.000" and caps[0].end == "00:00:04.000"
    # Footnote digits are not shown; the passage text is as written otherwise.
    assert caps[0].text.startswith("א) ויאמר אלקים יהי אור,")
    assert "1" not in caps[0].text
    assert caps[2].text == result.discourse.passage("p1.2").text


def test_paragraphs_vtt_runs(result, tmp_path):
    write_outputs(result, tmp_path)
    caps = webvtt.read(str(tmp_path / "paragraphs.vtt")).captions
    assert [c.identifier for c in caps] == ["p1", "p2", "p1.r2", "p3"]
    assert (caps[0].start, caps[0].end) == ("00:00:01.000", "00:00:15.000")
    assert caps[0].text.startswith("א) ויאמר")
    assert caps[1].text.startswith("2. ויקרא אלקים")
    assert caps[3].text.startswith("ב) ויאמר")


def test_chapter_title_truncates(result):
    title = chapter_title(result.discourse.paragraph("p2"), words=3)
    assert title == "2. ויקרא אלקים לאור…"


def test_alignment_json_roundtrip(result, tmp_path):
    write_outputs(result, tmp_path)
    doc = json.loads((tmp_path / "alignment.json").read_text(encoding="utf-8"))
    assert doc["meta"]["software"].startswith("shiur-sync ")
    assert doc["meta"]["model"] == "m" and doc["meta"]["aligner"] == "test"
    assert {p["id"] for p in doc["passages"]} == {p.id for p in result.discourse.passages()}
    by_id = {c["id"]: c for c in doc["cues"]}
    assert by_id["p1.2.x"]["kind"] == EXPLAINED
    assert by_id["p1.1"]["words"] == [{"index": 0, "start": 1.0, "end": 1.3}]
    assert by_id["p1.1"]["text"] == result.discourse.passage("p1.1").text
    back = Alignment.load(tmp_path / "alignment.json")
    assert [(c.passage_id, c.start, c.kind) for c in back.cues] == [
        (c.passage_id, c.start, c.kind) for c in result.alignment.cues
    ]


def test_transcript_json(result, tmp_path):
    write_outputs(result, tmp_path)
    back = Transcript.load(tmp_path / "transcript.json")
    assert back.segments[0].words[0].text == "ויאמר"


def test_failed_write_keeps_previous_file(result, tmp_path, monkeypatch):
    write_outputs(result, tmp_path)
    before = (tmp_path / "paragraphs.vtt").read_text(encoding="utf-8")

    def boom(self, result):
        yield from ()
        raise RuntimeError("disk full")

    monkeypatch.setattr(WriteParagraphsVTT, "captions", boom)
    with pytest.raises(RuntimeError):
        write_outputs(result, tmp_path, ["paragraphs.vtt"])
    assert (tmp_path / "paragraphs.vtt").read_text(encoding="utf-8") == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
