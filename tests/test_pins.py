"""One rule for the lecturer's pins: the review page's edit and a re-alignment (`shiur align
--pin`, the web re-align job) place a pinned passage the same way."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import webvtt

from sync.alignment import EXPLAINED, READ, Alignment, Cue, Pin, WordTiming
from sync.pins import apply_pin, apply_start, parse_pin
from sync.transcript import Segment, Transcript, Word


def _cues() -> list[Cue]:
    return [
        Cue("p1.1", 0.0, 4.0, READ, 0.8, [WordTiming(0, 0.1, 0.5), WordTiming(1, 3.0, 3.5)]),
        Cue("p1.2", 4.0, 8.0, READ, 0.4),
        Cue("p1.2", 8.0, 10.0, EXPLAINED, 0.3),
        Cue("p1.1", 20.0, 24.0, READ, 0.7),  # a re-reading
    ]


def test_a_start_pin_moves_the_nearest_reading_and_trims_what_it_overlaps():
    cues = apply_start(_cues(), "p1.1", 2.5, duration=30.0)
    p11 = [c for c in cues if c.passage_id == "p1.1"]
    assert [(c.start, c.end, c.pinned) for c in p11] == [(2.5, 4.0, True), (20.0, 24.0, False)]
    assert [w.start for w in p11[0].words] == [3.0]  # timings of the old placement are dropped
    assert p11[0].confidence == 1.0
    cues = apply_start(cues, "p1.1", 21.0, duration=30.0)  # near the re-reading: that one moves
    assert [(c.start, c.end) for c in cues if c.passage_id == "p1.1"] == [(2.5, 4.0), (21.0, 24.0)]


def test_a_pin_later_than_the_reading_keeps_its_length_and_neighbours_make_room():
    cues = apply_start(_cues(), "p1.2", 9.0, duration=30.0)
    p12 = next(c for c in cues if c.passage_id == "p1.2" and c.kind == READ)
    assert (p12.start, p12.end) == (9.0, 13.0)
    explained = next(c for c in cues if c.kind == EXPLAINED)
    assert explained.end == 9.0  # it ran over the new start
    assert [c.start for c in cues] == sorted(c.start for c in cues)


def test_a_passage_without_a_reading_gets_one_and_not_read_removes_them():
    a = Alignment(cues=_cues(), skipped=["p2.1"], duration=30.0)
    placed = apply_pin(a, Pin("p2.1", 12.0))
    assert placed == Pin("p2.1", 12.0) and "p2.1" not in a.skipped
    new = next(c for c in a.cues if c.passage_id == "p2.1")
    assert (new.start, new.end, new.pinned) == (12.0, 20.0, True)  # up to the next cue
    assert apply_pin(a, Pin("p1.1", 99.0)) == Pin("p1.1", 30.0)  # clipped to the recording
    apply_pin(a, Pin("p1.1", None))
    assert not [c for c in a.cues if c.passage_id == "p1.1"] and "p1.1" in a.skipped


@pytest.mark.parametrize(("spec", "pin"), [("p2.1=75.5", Pin("p2.1", 75.5)), ("p2.1=1:15.5", Pin("p2.1", 75.5)),
                                           ("p3.1=none", Pin("p3.1", None))])
def test_parse_pin(spec, pin):
    assert parse_pin(spec) == pin


@pytest.mark.parametrize("spec", ["p2.1", "=3", "p2.1=soon", "p2.1=-4"])
def test_bad_pins_are_refused(spec):
    with pytest.raises(ValueError, match="pin"):
        parse_pin(spec)


def _transcript(synced) -> Transcript:
    segs = []
    for c in synced.alignment.cues:
        if c.kind != READ:
            continue
        toks = synced.discourse.passage(c.passage_id).tokens
        step = (c.end - c.start) / len(toks)
        words = [Word(round(c.start + i * step, 3), round(c.start + (i + 1) * step, 3), t) for i, t in enumerate(toks)]
        segs.append(Segment(c.start, c.end, " ".join(toks), words))
    return Transcript(duration=21.0, language="he", segments=segs, model="test")


def _run(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    from sync.cli import main

    monkeypatch.setattr(sys, "argv", ["shiur", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_shiur_align_pins_place_a_passage_as_the_review_page_does(synced, tmp_path, monkeypatch, capsys):
    from player.lecturer import set_start

    tpath = tmp_path / "t.json"
    _transcript(synced).save(tpath)
    out = tmp_path / "out"
    code, _, err = _run(["align", str(tpath), str(synced.text), "-o", str(out), "--pin", "p2.2=11.25",
                         "--pin", "p3.1=none", "-q"], monkeypatch, capsys)
    assert code == 0, err
    cues = {c.identifier: c for c in webvtt.read(str(out / "passages.vtt"))}
    assert cues["p2.2"].start == "00:00:11.250"
    assert not [k for k in cues if k.startswith("p3.1")]
    # The review page applies the same pin to the unpinned alignment: the same start.
    a = Alignment.load(synced.outdir / "alignment.json")
    set_start(a, synced.discourse, "p2.2", 11.25)
    review = next(c for c in a.cues if c.passage_id == "p2.2" and c.kind == READ)
    realigned = next(c for c in Alignment.load(out / "alignment.json").cues if c.passage_id == "p2.2")
    assert review.start == realigned.start == 11.25 and review.pinned and realigned.pinned


def test_shiur_align_refuses_a_pin_for_a_passage_the_text_lacks(synced, tmp_path, monkeypatch, capsys):
    tpath = tmp_path / "t.json"
    _transcript(synced).save(tpath)
    for spec, message in (("p9.9=3", "pin p9.9: maamar.txt has no such passage"), ("p2.2=soon", "--pin: pin")):
        code, _, err = _run(["align", str(tpath), str(synced.text), "-o", str(tmp_path / "o"), "--pin", spec],
                            monkeypatch, capsys)
        assert code == 2 and err.startswith("shiur: error: ") and message in err, err
    assert not Path(tmp_path / "o").exists()
