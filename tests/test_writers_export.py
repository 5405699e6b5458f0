"""Archivist exports: SRT, plain transcript, full JSON, cue-text options, zip bundle.

Every subtitle file is read back with an independent parser: webvtt-py for WebVTT and the
``srt`` package (plus webvtt-py's SRT reader) for SubRip. Chromium's own parser is in
test_browser_vtt.py.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
import srt
import webvtt
from archive_fixtures import sample_result

from sync.alignment import cue_ids
from sync.bundle import EXPORTS, ExportFormat, bundle_files, export_result, parse_formats
from sync.discourse import parse_discourse
from sync.errors import ShiurError
from sync.writers import (
    CueText,
    SyncResult,
    WritePassagesVTTAs,
    WriteSRT,
    WriteTXT,
    ordered_cues,
    paragraph_runs,
    srt_timestamp,
)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _vtt_ms(ts: str) -> int:
    h, m, rest = ts.split(":")
    s, ms = rest.split(".")
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


@pytest.fixture
def result() -> SyncResult:
    return sample_result(n=12)


def test_passages_vtt_reads_back_with_webvtt_py(tmp_path, result):
    path = WritePassagesVTTAs(tmp_path)(result)
    parsed = webvtt.read(str(path))
    cues = ordered_cues(result.alignment)
    assert [c.identifier for c in parsed] == cue_ids(cues)
    assert [(_vtt_ms(c.start), _vtt_ms(c.end)) for c in parsed] == [(_ms(c.start), _ms(c.end)) for c in cues]
    assert [c.text for c in parsed] == [result.discourse.passage(c.passage_id).text for c in cues]
    ids = [c.identifier for c in parsed]
    read = [c.passage_id for c in result.alignment.cues if c.kind == "read"]
    assert f"{read[2]}.x" in ids  # the explanation keeps its own id
    assert f"{read[4]}.r2" in ids  # and so does the re-reading


def test_paragraphs_vtt_reads_back(tmp_path, result):
    path = export_result(result, tmp_path, ["chapters"])[0]
    parsed = webvtt.read(str(path))
    runs = paragraph_runs(result.alignment)
    assert len(parsed) == len(runs) >= 1
    assert [c.identifier.split(".")[0] for c in parsed] == [r.paragraph_id for r in runs]


def test_srt_follows_the_format_and_two_parsers_agree(tmp_path, result):
    path = WriteSRT(tmp_path)(result)
    raw = path.read_text(encoding="utf-8")
    cues = ordered_cues(result.alignment)
    blocks = raw.split("\n\n")
    assert blocks[-1] == ""  # the file ends with a blank line after the last cue
    timing = re.compile(r"^\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}$")
    for n, block in enumerate(blocks[:-1], start=1):
        lines = block.split("\n")
        assert lines[0] == str(n)
        assert timing.match(lines[1]), lines[1]
        assert len(lines) == 3 and lines[2].strip()

    subs = list(srt.parse(raw))
    assert [s.index for s in subs] == list(range(1, len(cues) + 1))
    assert [(s.start, s.end) for s in subs] == [
        (timedelta(milliseconds=_ms(c.start)), timedelta(milliseconds=_ms(c.end))) for c in cues
    ]
    assert [s.content for s in subs] == [result.discourse.passage(c.passage_id).text for c in cues]

    via_webvtt = webvtt.from_srt(str(path))
    assert [c.text for c in via_webvtt] == [s.content for s in subs]
    assert [(_vtt_ms(c.start), _vtt_ms(c.end)) for c in via_webvtt] == [(_ms(c.start), _ms(c.end)) for c in cues]


def test_srt_timestamp_rounds_to_milliseconds():
    assert srt_timestamp(0) == "00:00:00,000"
    assert srt_timestamp(3725.0456) == "01:02:05,046"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("text", CueText("text")),
        ("id", CueText("id")),
        ("words", CueText("words", 8)),
        ("words:3", CueText("words", 3)),
    ],
)
def test_cue_text_spec(spec, expected):
    assert CueText.parse(spec) == expected


@pytest.mark.parametrize("spec", ["title", "words:0", "words:x", "id:3"])
def test_cue_text_spec_rejects_nonsense(spec):
    with pytest.raises(ValueError, match="cue text must be"):
        CueText.parse(spec)


def test_cue_text_options_change_only_the_text(tmp_path, result):
    cues = ordered_cues(result.alignment)
    ids_only = webvtt.read(str(WritePassagesVTTAs(tmp_path / "a", "id")(result)))
    assert [c.text for c in ids_only] == [c.passage_id for c in cues]
    assert [c.identifier for c in ids_only] == cue_ids(cues)

    first = list(srt.parse(WriteSRT(tmp_path / "b", "words:3")(result).read_text(encoding="utf-8")))
    for sub, cue in zip(first, cues, strict=True):
        tokens = result.discourse.passage(cue.passage_id).text.split()
        assert sub.content == " ".join(tokens[:3]) + ("…" if len(tokens) > 3 else "")


def test_markup_characters_are_escaped_in_vtt(tmp_path):
    d = parse_discourse("He said a < b & c > d, which is one passage of text.\n\nAnd a second paragraph here.\n")
    base = sample_result(n=2, explained=False)
    from archive_fixtures import sample_alignment

    res = SyncResult(d, sample_alignment(d, n=2, explained=False), base.transcript, {})
    raw = WritePassagesVTTAs(tmp_path)(res).read_text(encoding="utf-8")
    assert "a &lt; b &amp; c &gt; d" in raw
    parsed = webvtt.from_buffer(io.StringIO(raw))
    # webvtt-py keeps entities as written; a browser decodes them (test_browser_vtt.py).
    assert html.unescape(parsed[0].text) == d.passages()[0].text


def test_plain_transcript(tmp_path, result):
    path = WriteTXT(tmp_path)(result)
    assert path.read_text(encoding="utf-8").splitlines() == [s.text.strip() for s in result.transcript.segments]


def test_full_json_has_passages_words_confidence_and_provenance(tmp_path, result):
    result.alignment.cues[0].pinned = True
    path = export_result(result, tmp_path, ["json"])[0]
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert len(doc["passages"]) == len(result.discourse.passages())
    assert doc["cues"][0]["words"] and "confidence" in doc["cues"][0]
    assert doc["meta"]["model"] == "test-model"
    assert doc["meta"]["options"] == {"beam_size": 1}
    assert doc["meta"]["software"].startswith("shiur-sync ")
    assert doc["transcript"]["segments"][0]["words"]
    assert doc["corrections"] == [{"passage_id": result.alignment.cues[0].passage_id, "pinned": True}]


def test_bundle_holds_audio_every_export_and_metadata(tmp_path, result):
    audio = tmp_path / "class.ogg"
    audio.write_bytes(b"OggS fake audio bytes")
    path = export_result(result, tmp_path / "out", ["bundle"], audio=audio, metadata={"title": "שיעור"})[0]
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        meta = json.loads(zf.read("metadata.json"))
        assert zf.read("audio.ogg") == audio.read_bytes()
        vtt = zf.read("passages.vtt").decode("utf-8")
    assert {"passages.vtt", "paragraphs.vtt", "passages.srt", "full.json", "transcript.txt", "audio.ogg"} <= names
    assert meta["title"] == "שיעור"
    assert meta["provenance"]["model"] == "test-model"
    assert set(meta["files"]) == names - {"metadata.json"}
    assert len(webvtt.from_buffer(io.StringIO(vtt)).captions) == len(result.alignment.cues)
    assert not list((tmp_path / "out").glob(".*partial"))


def test_export_formats_validation():
    assert parse_formats("all") == ("vtt", "chapters", "srt", "json", "txt", "bundle")
    assert parse_formats("audio") == ("audio",)
    assert parse_formats("srt, vtt,srt") == ("srt", "vtt")
    with pytest.raises(ShiurError, match="unknown export format 'docx'"):
        parse_formats("vtt,docx")


def test_txt_export_without_transcript_is_a_clear_error(tmp_path, result):
    result.transcript = None
    with pytest.raises(ShiurError, match="no transcript"):
        export_result(result, tmp_path, ["txt"])


def test_one_registry_names_every_export(tmp_path, result, monkeypatch):
    # A format registered once is exported, bundled and validated without touching anything else.
    from sync.writers import ResultWriter

    class WriteIds(ResultWriter):
        filename = "ids.txt"

        def write_result(self, result, file):
            file.write("\n".join(c.passage_id for c in ordered_cues(result.alignment)) + "\n")

    monkeypatch.setitem(EXPORTS, "ids", ExportFormat("ids", "ids.txt", "text/plain", "מזהים", "Passage ids",
                                                     lambda d, ct: WriteIds(d)))
    assert "ids" in parse_formats("all") and "ids.txt" in bundle_files()
    path = export_result(result, tmp_path, ["ids"])[0]
    assert path.read_text().split()[0] == ordered_cues(result.alignment)[0].passage_id
    zpath = export_result(result, tmp_path / "z", ["bundle"])[0]
    assert "ids.txt" in zipfile.ZipFile(zpath).namelist()


def test_audio_export_copies_the_original(tmp_path, result):
    audio = tmp_path / "class.ogg"
    audio.write_bytes(b"OggS fake audio")
    out = export_result(result, tmp_path / "o", ["audio"], audio=audio)
    assert [p.name for p in out] == ["audio.ogg"] and out[0].read_bytes() == b"OggS fake audio"
    with pytest.raises(ShiurError, match="no audio to export"):
        export_result(result, tmp_path / "o2", ["audio"], audio=None)
