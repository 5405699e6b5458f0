"""Reading or talk, decided on evidence (issue 18): a passage the recogniser garbled past
recognition but whose audio fits its text is read; talk with a passage's words in it is not; a
quote of most of a short passage is not a re-read of it."""

from __future__ import annotations

from sync.align import align
from sync.discourse import parse_discourse
from sync.params import DEFAULT
from tests.test_align import COMMENTARY, TEXT, Script, plain, read_all, starts_of

UNRELATED = "טלפון מכונית רחוב חנות כביש מזגן מחשב כיסא שולחן חלון דלת מנורה מקרר תנור עיפרון".split()


class FakeForcer:
    """A forcer whose audio fits ``words`` only inside [t0, t1) (where they were read)."""

    def __init__(self, t0: float, t1: float, words: list[str]) -> None:
        self.t0, self.t1, self.words = t0, t1, words
        self.asked: list[tuple[float, float]] = []

    def __call__(self, t0, t1, before, after):  # the boundary forcer: no opinion
        return None

    def likelihood(self, t0: float, t1: float, words: list[str]) -> float:
        self.asked.append((t0, t1))
        fits = words == self.words and t0 <= self.t0 + 0.5 and t1 >= self.t1 - 0.5
        return 0.4 if fits else 0.05


def garbled_class(discourse) -> tuple[Script, list[str], float, float]:
    """p1.1 to p2.1 read, then p2.2 read but heard as unrelated words, then the rest."""
    s = Script()
    ids = [p.id for p in discourse.passages()]
    read_all(s, discourse, ids[:3])
    s.t += 0.6
    t0 = s.t
    s.say(UNRELATED[: len(discourse.passage("p2.2").tokens)], pause=0.0)
    t1 = s.t
    read_all(s, discourse, ids[4:])
    return s, ids, t0, t1


def test_garbled_passage_whose_audio_fits_its_text_is_read():
    discourse = parse_discourse(TEXT)
    s, ids, t0, t1 = garbled_class(discourse)
    from sync.align import _spoken_words

    forcer = FakeForcer(t0, t1, _spoken_words(discourse.passage("p2.2").text))
    al = align(discourse, s.transcript(), forcer=forcer)
    assert forcer.asked, "the gap of unmatched words should have been forced"
    assert "p2.2" not in al.skipped
    got = starts_of(al)
    assert abs(got["p2.2"][0] - t0) < 1.0
    assert abs(got["p3.1"][0] - s.starts["p3.1"][0]) < 0.5


def test_garbled_passage_whose_audio_does_not_fit_is_skipped():
    discourse = parse_discourse(TEXT)
    s, ids, t0, t1 = garbled_class(discourse)
    forcer = FakeForcer(t0, t1, ["nothing", "fits"])
    al = align(discourse, s.transcript(), forcer=forcer)
    assert "p2.2" in al.skipped


def test_quote_of_most_of_a_short_passage_is_no_reread():
    # A six-word passage; the explanation after it quotes five of its words.
    discourse = parse_discourse(TEXT.replace("מבית עבדים.", "מבית עבדים. ויאמר אלהים יהי אור ויהי אור."))
    s = Script()
    ids = [p.id for p in discourse.passages()]
    assert ids[4] == "p2.3"
    read_all(s, discourse, ids[:5])
    s.say(COMMENTARY[:14], pause=1.0)
    words = plain(discourse.passage("p2.3").tokens)
    assert (len(words) - 1) / len(words) < DEFAULT.reread_span_share and len(words) - 1 <= DEFAULT.quote_max_tokens
    quote_at = s.t + 0.6
    s.say(words[1:], pause=0.6)
    s.say(COMMENTARY[14:], pause=0.6)
    read_all(s, discourse, ids[5:])
    al = align(discourse, s.transcript())
    got = starts_of(al)
    assert len(got["p2.3"]) == 1 and abs(got["p2.3"][0] - s.starts["p2.3"][0]) < 0.5
    assert not any(c.kind == "read" and c.start <= quote_at + 0.5 < c.end and c.passage_id == "p2.3" for c in al.cues)
    assert abs(got["p3.1"][0] - s.starts["p3.1"][0]) < 0.5


def test_every_passage_has_a_decision_that_round_trips(tmp_path):
    from sync.alignment import Alignment

    discourse = parse_discourse(TEXT)
    s, ids, t0, t1 = garbled_class(discourse)
    al = align(discourse, s.transcript(), forcer=FakeForcer(t0, t1, ["nothing"]))
    assert [d.passage_id for d in al.decisions] == ids
    by_id = {d.passage_id: d for d in al.decisions}
    assert not by_id["p2.2"].read and by_id["p2.2"].passage_id in al.skipped
    assert all(by_id[c.passage_id].read for c in al.read_cues())
    # A heard, well-matched reading is sure; nothing heard in order of the skipped one either.
    assert not by_id["p1.1"].doubtful and not by_id["p2.2"].doubtful
    path = tmp_path / "alignment.json"
    import json

    path.write_text(json.dumps(al.to_dict(), ensure_ascii=False), encoding="utf-8")
    back = Alignment.load(path)
    assert [(d.passage_id, d.read, d.confidence) for d in back.decisions] == [
        (d.passage_id, d.read, d.confidence) for d in al.decisions
    ]
    assert json.loads(path.read_text(encoding="utf-8"))["decisions"][0]["doubtful"] is False


def test_a_passage_filled_in_unheard_is_doubtful_and_a_pin_makes_it_certain():
    from sync.align import _spoken_words
    from sync.alignment import Pin
    from sync.pins import apply_pin

    discourse = parse_discourse(TEXT)
    s, ids, t0, t1 = garbled_class(discourse)
    al = align(discourse, s.transcript(), forcer=FakeForcer(t0, t1, _spoken_words(discourse.passage("p2.2").text)))
    d = {x.passage_id: x for x in al.decisions}["p2.2"]
    assert d.read and d.doubtful
    assert al.doubtful()[0].passage_id == "p2.2"
    apply_pin(al, Pin("p2.2", round(t0, 2)))
    assert not {x.passage_id: x for x in al.decisions}["p2.2"].doubtful


def test_a_verse_pause_inside_the_previous_passages_last_word_opens_this_passage():
    import numpy as np

    from sync.align import _PassageTime, _snap_passage_start
    from sync.textseq import build_textseq

    discourse = parse_discourse(TEXT)
    seq = build_textseq(discourse)
    # The word matched to the previous passage's end spans 10.0-11.0; the signal has an onset
    # after a 0.9-s pause at 10.45 inside it, and the next at 11.0 after a short one.
    on, pauses = np.array([10.45, 11.02]), np.array([0.9, 0.3])
    pt = _PassageTime(1, 11.0, 15.0, {0: (11.0, 11.4)}, [0.7], prev_end=11.0, after=11.0, first_heard=11.0,
                      prev_start=10.0)  # fmt: skip
    assert _snap_passage_start(pt, seq, on, pauses, 0.0, 0.08, DEFAULT) == 10.45
    # Word by word, every word follows such a pause: no such inference.
    assert _snap_passage_start(pt, seq, on, pauses, 0.0, 0.08, DEFAULT, slow=True) != 10.45
    # A short pause inside the word is no verse boundary.
    assert _snap_passage_start(pt, seq, on, np.array([0.3, 0.3]), 0.0, 0.08, DEFAULT) == 11.02
