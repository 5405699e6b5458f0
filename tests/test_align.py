"""The aligner on hand-built transcripts: readings, commentary, re-reads, skips, quotes, pins."""

from __future__ import annotations

import numpy as np
import pytest

from sync.align import AlignOptions, align
from sync.alignment import EXPLAINED, READ, Pin, cue_ids
from sync.discourse import parse_discourse
from sync.transcript import Segment, Transcript, Word

TEXT = """בס"ד. ש"פ וילך, ה'תשכ"ה

שיר המעלות ממעמקים קראתיך הוי', ואיתא בזהר פרשת בשלח על הפסוק ראו כי הוי' נתן לכם את השבת. רבי חזקיה פתח שיר המעלות סתם ולא פריש מאן אומרו אלא שיר המעלות דזמינין כל בני עלמא למימרי.

ב) ולהבין זה צריך להקדים תחילה ההפרש בין ראש השנה למתן תורה, דבראש השנה כתיב אתם נצבים היום כולכם. ובמתן תורה כתיב אנכי הוי' אלקיך אשר הוצאתיך מארץ מצרים מבית עבדים.

ג) ויש להוסיף בביאור ענין העדר ההתחלקות בתורה שהיא בדוגמת הדם שממשיך חיות באברים. משא"כ בחי' הכלים שיש בהם התחלקות וציור וגבול בפרטיות גדולה מאד.

ד) אך הענין הוא דהנה התורה היא חכמה שלמעלה ובענין החכמה ידוע שהיא מלשון כח מה. שהחכמה היא בחינת ביטול ולכן היא כלי לאור העצמי שלמעלה מכל גדר וגבול.
"""

COMMENTARY = (
    "אז מה אנחנו רואים כאן רבותי זה דבר מאוד עמוק שצריך להסביר אותו היטב בפרטיות "
    "וכל אחד יכול להבין את זה בעצמו כשהוא מתבונן בזה כמו שצריך והנה עוד נקודה חשובה "
    "שרבים לא שמים לב אליה בכלל"
).split()


class Script:
    """Builds a transcript the way a recogniser would hear a class, with the truth beside it."""

    def __init__(self) -> None:
        self.t = 0.0
        self.words: list[Word] = []
        self.starts: dict[str, list[float]] = {}

    def say(self, words: list[str], rate: float = 0.4, pause: float = 0.6) -> None:
        self.t += pause
        for w in words:
            self.words.append(Word(self.t, self.t + rate * 0.9, w))
            self.t += rate

    def read(self, passage_id: str, tokens: list[str]) -> None:
        self.t += 0.6
        self.starts.setdefault(passage_id, []).append(round(self.t, 3))
        self.say(tokens, pause=0.0)

    def transcript(self) -> Transcript:
        segs = []
        for k in range(0, len(self.words), 10):
            chunk = self.words[k : k + 10]
            segs.append(Segment(chunk[0].start, chunk[-1].end, " ".join(w.text for w in chunk), chunk))
        return Transcript(duration=self.t + 2, language="he", segments=segs, model="test")


@pytest.fixture(scope="module")
def discourse():
    return parse_discourse(TEXT)


def plain(tokens: list[str]) -> list[str]:
    return [t.strip(",.()'\"") for t in tokens]


def read_all(script: Script, discourse, ids: list[str]) -> None:
    for pid in ids:
        script.read(pid, plain(discourse.passage(pid).tokens))


def starts_of(al, kind=READ) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for c in al.cues:
        if c.kind == kind:
            out.setdefault(c.passage_id, []).append(c.start)
    return out


def test_passages_have_expected_ids(discourse):
    assert [p.id for p in discourse.paragraphs] == ["p1", "p2", "p3", "p4"]
    assert len(discourse.passages()) >= 8


def test_straight_reading_times_every_passage(discourse):
    s = Script()
    ids = [p.id for p in discourse.passages()]
    read_all(s, discourse, ids)
    al = align(discourse, s.transcript())
    got = starts_of(al)
    assert set(got) == set(ids)
    for pid in ids:
        assert abs(got[pid][0] - s.starts[pid][0]) < 0.5, pid
    assert al.skipped == []
    assert all(0.0 <= c.confidence <= 1.0 for c in al.cues)
    assert all(c.words for c in al.cues if c.kind == READ)


def explanation_of(discourse, pid: str) -> list[str]:
    """Talk about a passage: commentary words with the passage's own words woven in."""
    words = plain(discourse.passage(pid).tokens)
    out: list[str] = []
    for k in range(0, len(COMMENTARY), 3):
        out.extend(COMMENTARY[k : k + 3])
        out.append(words[(k // 3 * 5) % len(words)])
    return out


def test_commentary_is_explanation_and_intro_is_off_text(discourse):
    s = Script()
    s.say(COMMENTARY[:20])
    ids = [p.id for p in discourse.passages()]
    read_all(s, discourse, ids[:2])
    explain_from = s.t
    s.say(explanation_of(discourse, ids[1]), pause=1.5)
    explain_to = s.t
    read_all(s, discourse, ids[2:])
    al = align(discourse, s.transcript())
    first = min(c.start for c in al.cues)
    assert first >= s.starts[ids[0]][0] - 0.5
    assert al.off_text and al.off_text[0].end <= first + 0.01
    expl = [c for c in al.cues if c.kind == EXPLAINED and c.passage_id == ids[1]]
    assert expl, "the long talk after the second passage should be its explanation"
    assert expl[0].start <= explain_from + 1.5 and expl[0].end >= explain_to - 1.0


def test_reread_jumps_back_and_returns(discourse):
    s = Script()
    ids = [p.id for p in discourse.passages()]
    read_all(s, discourse, ids[:4])
    s.say(COMMENTARY[:12], pause=1.0)
    read_all(s, discourse, [ids[1]])
    s.say(COMMENTARY[12:25], pause=1.0)
    read_all(s, discourse, ids[4:])
    al = align(discourse, s.transcript())
    got = starts_of(al)
    assert len(got[ids[1]]) == 2
    assert abs(got[ids[1]][1] - s.starts[ids[1]][1]) < 0.5
    assert abs(got[ids[4]][0] - s.starts[ids[4]][0]) < 0.5
    assert f"{ids[1]}.r2" in cue_ids(al.cues)


def test_skipped_paragraph_gets_no_cue_and_is_listed(discourse):
    s = Script()
    skip = [p.id for p in discourse.paragraph("p3").passages]
    ids = [p.id for p in discourse.passages() if p.id not in skip]
    read_all(s, discourse, ids)
    al = align(discourse, s.transcript())
    assert set(skip) <= set(al.skipped)
    assert not any(c.passage_id in skip for c in al.cues)


def test_out_of_order_reading(discourse):
    s = Script()
    ids = [p.id for p in discourse.passages()]
    order = ids[:2] + ids[4:6] + ids[2:4] + ids[6:]
    read_all(s, discourse, order)
    al = align(discourse, s.transcript())
    got = starts_of(al)
    for pid in ids:
        assert abs(got[pid][0] - s.starts[pid][0]) < 0.5, pid


def test_quote_inside_explanation_does_not_flicker(discourse):
    s = Script()
    ids = [p.id for p in discourse.passages()]
    read_all(s, discourse, ids[:5])
    s.say(COMMENTARY[:15], pause=1.5)
    quote_at = s.t
    s.say(plain(discourse.passage(ids[1]).tokens)[:3])  # a few words of an earlier passage
    s.say(COMMENTARY[15:], pause=0.3)
    read_all(s, discourse, ids[5:])
    al = align(discourse, s.transcript())
    during = [c for c in al.cues if c.start <= quote_at + 0.5 < c.end]
    assert during and all(c.passage_id == ids[4] for c in during)


def test_abbreviations_read_expanded_match_through_the_lattice(discourse):
    s = Script()
    ids = [p.id for p in discourse.passages()]
    spoken = {"משא\"כ": ["מה", "שאין", "כן"], "בחי'": ["בחינת"]}
    for pid in ids:
        toks = []
        for t in discourse.passage(pid).tokens:
            toks.extend(spoken.get(t, plain([t])))
        s.read(pid, toks)
    al = align(discourse, s.transcript())
    target = next(p for p in discourse.passages() if "משא\"כ" in p.tokens)
    cue = next(c for c in al.cues if c.passage_id == target.id and c.kind == READ)
    idx = target.tokens.index("משא\"כ")
    assert idx in {w.index for w in cue.words}, "the expanded abbreviation should carry word timing"
    plain_al = align(discourse, s.transcript(), options=AlignOptions(lattice=False))
    plain_cue = next(c for c in plain_al.cues if c.passage_id == target.id and c.kind == READ)
    # Without the lattice the expansion only loosely resembles the written abbreviation.
    assert cue.confidence > plain_cue.confidence


def test_pins_are_honoured(discourse):
    s = Script()
    ids = [p.id for p in discourse.passages()]
    read_all(s, discourse, ids)
    tr = s.transcript()
    moved = s.starts[ids[3]][0] + 0.8
    al = align(discourse, tr, pins=[Pin(ids[3], moved), Pin(ids[5], None)])
    cue = next(c for c in al.cues if c.passage_id == ids[3] and c.kind == READ)
    assert cue.start == pytest.approx(moved) and cue.pinned and cue.confidence == 1.0
    prev = next(c for c in al.cues if c.passage_id == ids[2] and c.kind == READ)
    assert prev.end <= moved + 1e-6
    assert ids[5] in al.skipped
    assert not any(c.passage_id == ids[5] for c in al.cues)


def test_onsets_put_starts_where_the_voice_starts(discourse):
    """With audio, a passage start moves from Whisper's early guess to the real speech onset."""
    s = Script()
    ids = [p.id for p in discourse.passages()]
    read_all(s, discourse, ids)
    tr = s.transcript()
    sr = 16000
    audio = np.full(int((s.t + 2) * sr), 1e-4, dtype=np.float32)
    rng = np.random.default_rng(0)
    for w in tr.words():
        a, b = int(w.start * sr), int(w.end * sr)
        audio[a:b] = rng.normal(0, 0.1, b - a)
    # The recogniser puts the first word of the 4th passage 0.35 s early (into the pause).
    target = ids[3]
    words = tr.words()
    k = next(i for i, w in enumerate(words) if abs(w.start - s.starts[target][0]) < 1e-6)
    words[k].start -= 0.35
    al = align(discourse, tr, audio=audio)
    cue = next(c for c in al.cues if c.passage_id == target and c.kind == READ)
    assert abs(cue.start - s.starts[target][0]) < 0.06


def test_unrecognised_opening_never_starts_before_zero(discourse):
    """A passage whose first words were lost, read at the very start, starts at 0 at the earliest."""
    s = Script()
    p = discourse.passages()[0]
    tokens = plain(p.tokens)
    s.t = 0.2
    s.say(tokens[len(tokens) // 2 :], pause=0.0)
    read_all(s, discourse, [q.id for q in discourse.passages()[1:]])
    al = align(discourse, s.transcript())
    assert all(0.0 <= c.start <= c.end <= al.duration for c in al.cues)
    assert any(c.passage_id == p.id for c in al.cues)


def test_pin_realigns_the_passages_after_it(discourse):
    """A lecturer pins a re-read the aligner missed; the rest of that reading follows the pin."""
    s = Script()
    ids = [p.id for p in discourse.passages()]
    read_all(s, discourse, ids[:6])
    s.say(COMMENTARY[:12], pause=1.5)
    # A garbled re-read of passages 2-3: only every third word recognised.
    s.t += 0.6
    reread_at = round(s.t, 3)
    for pid in ids[1:3]:
        if pid == ids[2]:
            s.t += 0.6
            s.starts.setdefault(pid, []).append(round(s.t, 3))
        for k, tok in enumerate(plain(discourse.passage(pid).tokens)):
            s.say([tok if k % 3 == 0 else "בלבלה"], pause=0.0)
    s.say(COMMENTARY[12:], pause=1.5)
    read_all(s, discourse, ids[6:])
    tr = s.transcript()
    before = align(discourse, tr)
    assert len([c for c in before.cues if c.passage_id == ids[1] and c.kind == READ]) == 1
    after = align(discourse, tr, pins=[Pin(ids[1], reread_at)])
    second = [c for c in after.cues if c.passage_id == ids[2] and c.kind == READ]
    assert len([c for c in after.cues if c.passage_id == ids[1] and c.kind == READ]) == 2
    assert any(abs(c.start - s.starts[ids[2]][1]) < 1.0 for c in second), "the passage after the pin follows it"


def test_unrelated_digression_is_off_text_but_explanation_is_not(discourse):
    """Long talk sharing no words with the text is off-text; talk that reuses them explains."""
    s = Script()
    ids = [p.id for p in discourse.passages()]
    read_all(s, discourse, ids[:3])
    d0 = s.t
    s.say(COMMENTARY * 2, pause=1.5)  # about 25 s of talk with none of the text's words
    d1 = s.t
    read_all(s, discourse, ids[3:5])
    e0 = s.t
    words = plain(discourse.passage(ids[4]).tokens)
    s.say((COMMENTARY[:6] + words[:4] + COMMENTARY[6:12] + words[4:8]) * 3, pause=1.5)
    e1 = s.t
    read_all(s, discourse, ids[5:])
    al = align(discourse, s.transcript())
    assert any(sp.start <= d0 + 2 and sp.end >= d1 - 1 for sp in al.off_text)
    assert not any(c.start < (d0 + d1) / 2 < c.end for c in al.cues)
    # Quoting the passage it explains keeps the highlight on that passage (read or explained).
    during = [c for c in al.cues if c.start <= (e0 + e1) / 2 < c.end]
    assert during and all(c.passage_id == ids[4] for c in during)
    assert any(c.kind == EXPLAINED and c.passage_id == ids[4] and c.start >= e0 - 1 for c in al.cues)
