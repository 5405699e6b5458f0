"""Importing VTT/SRT: as cues (round trip with our exports, files from other tools) or as a transcript."""

from __future__ import annotations

import json

import pytest
from archive_fixtures import SAMPLE_TEXT, sample_discourse, sample_result
from click.testing import CliRunner

from sync.alignment import EXPLAINED, READ, Alignment, cue_ids
from sync.bundle import export_result
from sync.errors import ShiurError
from sync.importers import (
    cues_to_alignment,
    cues_to_transcript,
    detect_format,
    import_command,
    parse_cues,
    read_cues,
)
from sync.transcript import Transcript
from sync.writers import CueText, ordered_cues


def _cue_tuples(alignment: Alignment) -> list[tuple[str, str, str, int, int]]:
    cues = ordered_cues(alignment)
    return [
        (ident, c.passage_id, c.kind, round(c.start * 1000), round(c.end * 1000))
        for ident, c in zip(cue_ids(cues), cues, strict=True)
    ]


def test_vtt_round_trip_gives_the_same_cues(tmp_path):
    result = sample_result(n=12)
    path = export_result(result, tmp_path, ["vtt"])[0]
    back = cues_to_alignment(read_cues(path), result.discourse, source=str(path))
    assert _cue_tuples(back) == _cue_tuples(result.alignment)
    assert {c.kind for c in back.cues} == {READ, EXPLAINED}
    assert back.skipped == result.alignment.skipped
    assert back.meta["unmatched"] == []


@pytest.mark.parametrize("cue_text", ["text", "id", "words:4"])
def test_srt_round_trip_by_text(tmp_path, cue_text):
    # SRT has no ids: passages are recovered from the text, in every cue-text style.
    result = sample_result(n=12, explained=False)
    path = export_result(result, tmp_path, ["srt"], cue_text=CueText.parse(cue_text))[0]
    back = cues_to_alignment(read_cues(path), result.discourse, source=str(path))
    assert _cue_tuples(back) == _cue_tuples(result.alignment)


def test_cues_from_another_tool_are_matched_by_text():
    d = sample_discourse()
    p = d.passages()
    # No ids, punctuation dropped, Windows line ends, a NOTE block and a styled voice span.
    vtt = (
        "WEBVTT - made by hand\r\n\r\nNOTE checked by the archivist\r\n\r\n"
        f"00:01.000 --> 00:04.500 align:start\r\n<v Rabbi>{p[0].text.replace(',', '')}</v>\r\n\r\n"
        f"00:04.500 --> 00:09.000\r\n{p[1].text}\r\n\r\n"
        "00:09.000 --> 00:10.000\r\nthis cue is music, not the text\r\n"
    )
    back = cues_to_alignment(parse_cues(vtt, "hand.vtt"), d, source="hand.vtt")
    assert [(c.passage_id, c.start, c.end) for c in back.cues] == [(p[0].id, 1.0, 4.5), (p[1].id, 4.5, 9.0)]
    assert len(back.meta["unmatched"]) == 1 and "line 11" in back.meta["unmatched"][0]


def test_parse_times_and_formats():
    cues = parse_cues("1\n01:02:03,4 --> 01:02:05,040\nשלום\nעולם\n\n2\n00:00:01,000 --> 00:00:02,000\nx\n", "a.srt")
    assert [(c.start, c.end, c.text, c.id) for c in cues] == [
        (3723.4, 3725.04, "שלום\nעולם", None),
        (1.0, 2.0, "x", None),
    ]
    assert cues[0].plain == "שלום עולם"
    assert detect_format("\ufeffWEBVTT\n\n") == "vtt"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("WEBVTT\n\np1.1\n00:00:01.000 -> 00:00:02.000\nx\n", "line 3: expected a cue timing line"),
        ("WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nx\n", "line 3: cue ends"),
        ("WEBVTT\n\n00:00:0x.000 --> 00:00:02.000\nx\n", "line 3: malformed cue timing"),
        ("hello there\n", "not a WebVTT file \\(it must start"),
    ],
)
def test_malformed_files_name_the_line(text, message):
    with pytest.raises(ShiurError, match=message):
        parse_cues(text, "bad.vtt")


def test_chapter_file_is_refused_with_advice(tmp_path):
    result = sample_result(n=6)
    path = export_result(result, tmp_path, ["chapters"])[0]
    with pytest.raises(ShiurError, match="paragraph \\(chapters\\) cue"):
        cues_to_alignment(read_cues(path), result.discourse, source=str(path))


def test_nothing_matching_is_an_error():
    cues = parse_cues("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nunrelated words entirely\n", "x.vtt")
    with pytest.raises(ShiurError, match="no cue matches a passage"):
        cues_to_alignment(cues, sample_discourse(), source="x.vtt")


def test_binary_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "cues.vtt"
    bad.write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    with pytest.raises(ShiurError, match="not UTF-8"):
        read_cues(bad)


def test_as_transcript_interpolates_word_times():
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nשיר המעלות ממעמקים\n\n00:00:04.000 --> 00:00:05.000\nקראתיך\n"
    cues = parse_cues(vtt, "t.vtt")
    t = cues_to_transcript(cues, language="he", source="t.vtt")
    assert [s.text.strip() for s in t.segments] == ["שיר המעלות ממעמקים", "קראתיך"]
    words = t.words()
    assert [w.text.strip() for w in words] == ["שיר", "המעלות", "ממעמקים", "קראתיך"]
    assert words[0].start == 1.0 and words[2].end == 3.0 and (words[3].start, words[3].end) == (4.0, 5.0)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:], strict=False))
    # Longer words take longer: "המעלות" (6 letters) outlasts "שיר" (3).
    assert words[1].end - words[1].start > words[0].end - words[0].start
    assert t.model == "import:t.vtt" and t.duration == 5.0


def test_import_command_writes_the_standard_outputs(tmp_path):
    result = sample_result(n=12)
    exported = export_result(result, tmp_path / "src", ["vtt"])[0]
    out = tmp_path / "out"
    res = CliRunner().invoke(import_command, [str(exported), str(SAMPLE_TEXT), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "imported 14 cues" in res.output
    back = Alignment.load(out / "alignment.json")
    assert _cue_tuples(back) == _cue_tuples(result.alignment)
    assert (out / "passages.vtt").read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")
    assert not (out / "transcript.json").exists()


def test_import_as_transcript_is_aligned_by_the_aligner(tmp_path):
    from archive_fixtures import ENGLISH_TEXT

    text = tmp_path / "lesson.txt"
    text.write_text(ENGLISH_TEXT, encoding="utf-8")
    # Another tool's subtitles: its own line breaks, lower case, no punctuation, a pause in between.
    cues = tmp_path / "other-tool.srt"
    cues.write_text(
        "1\n00:00:01,000 --> 00:00:04,000\nthe quick brown fox jumps over the lazy dog\n\n"
        "2\n00:00:04,000 --> 00:00:05,500\nnear the river bank\n\n"
        "3\n00:00:07,000 --> 00:00:12,000\na second paragraph tells of a small bird\n"
        "that sings every morning in the garden\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = [str(cues), str(text), "-o", str(out), "--as", "transcript", "--language", "en"]
    res = CliRunner().invoke(import_command, args)
    assert res.exit_code == 0, res.output
    a = Alignment.load(out / "alignment.json")
    starts = {c.passage_id: c.start for c in a.read_cues()}
    assert list(starts) == ["p1.1", "p2.1"]
    assert starts["p1.1"] == pytest.approx(1.0, abs=0.3) and starts["p2.1"] == pytest.approx(7.0, abs=0.3)
    assert all(c.words for c in a.read_cues())
    t = Transcript.load(out / "transcript.json")
    assert t.model == "import:other-tool.srt" and len(t.words()) == 28
    doc = json.loads((out / "alignment.json").read_text(encoding="utf-8"))
    assert doc["meta"]["import_mode"] == "transcript" and doc["meta"]["imported_from"] == "other-tool.srt"
