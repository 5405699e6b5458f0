#!/usr/bin/env python3
"""A simulated shiur of a discourse, with its own ground truth (issue 4).

The simulation is at the transcript level: no audio. A lecturer introduces the class, reads the
discourse passage by passage (abbreviations spoken as a lecturer says them), explains at length
between passages in a Hebrew/Yiddish mix that reuses the text's vocabulary and quotes a few words
of the passage being explained (and now and then of another one), goes back to re-read an earlier
passage, skips some passages and a whole paragraph, and reads two paragraphs out of order. What
"Whisper heard" is then made from those spoken words with ASR-like errors: full/defective
spelling, similar-sounding letters, final letters, merged and split words, dropped, inserted and
misheard words, and jittered word times.

Output (a case folder scored by ``../shared/corpus/score.py``)::

    text.txt         the discourse text
    truth.json       corpus format: segments (silence / read / commentary) tiling the duration,
                     words, skipped paragraphs; extra fields: passage ids on read segments,
                     ``skipped_passages``, ``quotes``, ``simulation`` (settings and stats)
    transcript.json  a sync.transcript.Transcript with timed words

usage: python bench/simulate.py --out bench/out/sim/shiur-1x [--seed 1] [--noise harsh]
                                [--length 1 | --minutes 180] [--reading] [--text FILE]
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sync.discourse import Discourse, Passage, parse_discourse  # noqa: E402
from sync.hebrew import normalize  # noqa: E402
from sync.transcript import Segment, Transcript, Word  # noqa: E402

SAMPLE_TEXT = ROOT / "media" / "mimaamakim-5725.txt"

# --------------------------------------------------------------------------------------------
# How a lecturer says a written token


# Used only until (or where) sync.spoken has no answer: the abbreviations of the sample discourse
# as a lecturer reads them, first form preferred.
FALLBACK_SPOKEN: dict[str, list[str]] = {
    "בחי'": ["בחינת", "בחינה"],
    "כו'": ["כולי"],
    "גו'": ["גומר"],
    "הוי'": ["הויה"],
    "הי'": ["היה"],
    "יהי'": ["יהיה"],
    "ית'": ["יתברך"],
    "פ'": ["פרשת"],
    "ר'": ["רבי"],
    "ד'": ["ארבע"],
    "ב'": ["שתי", "שני"],
    "חזקי'": ["חזקיה"],
    "למימרי'": ["למימריה"],
    "מיני'": ["מיניה"],
    "מחי'": ["מחיה"],
    "מתוכי'": ["מתוכיה"],
    'משא"כ': ["מה שאין כן"],
    'מ"מ': ["מכל מקום"],
    'ר"ה': ["ראש השנה"],
    'ע"י': ["על ידי"],
    'פ"ע': ["פני עצמו"],
    'הו"ע': ["הוא ענין"],
    'זהו"ע': ["זהו ענין"],
    'ע"פ': ["על פסוק", "על פי"],
    'כיו"ב': ["כיוצא בזה"],
    'נת"ל': ["נתבאר לעיל"],
    'משנת"ל': ["מה שנתבאר לעיל"],
    'כמשנת"ל': ["כמו שנתבאר לעיל"],
    'מ"ת': ["מתן תורה"],
    'הקב"ה': ["הקדוש ברוך הוא"],
    'ע"ד': ["על דרך"],
    'עשי"ת': ["עשרת ימי תשובה"],
    'לקו"ת': ["לקוטי תורה"],
    'עפ"ז': ["על פי זה"],
    'עי"ז': ["על ידי זה"],
    'מארז"ל': ["מאמר רבותינו זכרונם לברכה"],
    'רשב"י': ["רשבי", "רבי שמעון בר יוחאי"],
    'כנ"ל': ["כנזכר לעיל"],
    'ס"ג': ["סג"],
    'ס"ד': ["סד"],
    'נש"י': ["נשמות ישראל"],
    'מ"ש': ["מה שכתוב", "מה שאמר"],
    'כמ"ש': ["כמו שכתוב"],
    'כאו"א': ["כל אחד ואחד"],
    'ועאכו"כ': ["ועל אחת כמה וכמה"],
    'פע"ח': ["פרי עץ חיים"],
    'כ"מ': ["כמה מקומות"],
    'א"כ': ["אם כן"],
    'בנ"י': ["בני ישראל"],
    'כו"כ': ["כמה וכמה"],
    'חז"ל': ["חזל", "חכמינו זכרונם לברכה"],
    'רמ"ח': ["רמח"],
    'אח"כ': ["אחר כך"],
    'אדה"ר': ["אדם הראשון"],
    'מק"א': ["מקום אחר"],
    'עד"ז': ["על דרך זה"],
    'ר"ת': ["ראשי תיבות"],
    'אעפ"כ': ["אף על פי כן"],
    'זמ"ז': ["זה מזה"],
    'אד"ר': ["אדרא רבא"],
    'אע"פ': ["אף על פי"],
    'ח"ו': ["חס ושלום"],
    'תו"א': ["תורה אור"],
    'תק"ש': ["תקיעת שופר"],
    'כ"ק': ["כבוד קדושת"],
    'מו"ח': ["מורי וחמי"],
    'אדמו"ר': ["אדמור", "אדוננו מורנו ורבנו"],
    'מש"נ': ["מה שנאמר"],
    'וא"ו': ["ואו"],
}
_PREFIX_LETTERS = set("ובדהלמשכ")
_ABBREV = re.compile(r"['\"\u05f3\u05f4]")
_EDGE_PUNCT = "()[]{},.;:!?\u05be-–—"
_NON_LETTER = re.compile(r"[^\u05d0-\u05ea'\"\u05f3\u05f4]")


def _fallback_alternatives(core: str) -> list[list[str]]:
    if core in FALLBACK_SPOKEN:
        return [a.split() for a in FALLBACK_SPOKEN[core]]
    for k in (1, 2, 3):
        prefix, base = core[:k], core[k:]
        if len(base) >= 2 and set(prefix) <= _PREFIX_LETTERS and base in FALLBACK_SPOKEN:
            return [(prefix + a).split() for a in FALLBACK_SPOKEN[base]]
    letters = _ABBREV.sub("", core)
    if core.endswith(("'", "\u05f3")) and letters.endswith("י"):
        return [[letters + "ה"]]  # truncated -יה form: חזקי' -> חזקיה
    return [[letters]]  # an acronym said as a word


def _spoken_module() -> Any:
    try:
        from sync import spoken  # the aligner's abbreviation lattice, when this checkout has it
    except ImportError:
        return None
    return spoken if hasattr(spoken, "token_alternatives") else None


_SPOKEN = _spoken_module()


def _as_word_lists(alts: Any) -> list[list[str]]:
    """Accept whatever shape sync.spoken returns: strings, word lists, or objects with words/text."""
    out: list[list[str]] = []
    for a in alts or []:
        if isinstance(a, str):
            ws = a.split()
        elif isinstance(a, list | tuple):
            ws = [str(x) for x in a]
        elif hasattr(a, "words"):
            ws = [str(x) for x in a.words]
        elif hasattr(a, "text"):
            ws = str(a.text).split()
        else:
            continue
        # sync.spoken gives matching keys (final letters folded); speech is written with finals
        ws = [finalize(w) for w in (_NON_LETTER.sub("", w).replace("'", "").replace('"', "") for w in ws) if w]
        if ws:
            out.append(ws)
    return out


def spoken_alternatives(token: str) -> list[list[str]]:
    """How a lecturer may say ``token``: alternatives, each a list of words, first preferred."""
    core = token.strip(_EDGE_PUNCT)
    if not core:
        return []
    # A quote mark after the first letter makes an abbreviation; one before it is a quotation mark
    if not _ABBREV.search(core[1:]):
        plain = _NON_LETTER.sub("", core).replace("'", "").replace('"', "")
        return [[plain]] if plain else []
    if _SPOKEN is not None:
        try:
            alts = _as_word_lists(_SPOKEN.token_alternatives(token))
        except Exception:  # noqa: BLE001 - a lattice bug must not stop a benchmark; use the fallback
            alts = []
        # sync.spoken may list the written form first; a lecturer says an expansion when there is one
        # sync.spoken lists the written form first; a lecturer says an expansion when there is one,
        # unless the acronym itself is what is said (רמ"ח): the local table knows which
        def key(a: list[str]) -> list[str]:
            return [normalize(w) for w in a]

        written = [normalize(_ABBREV.sub("", core))]
        alts = [a for a in alts if key(a) != written] + [a for a in alts if key(a) == written]
        preferred = [key(a) for a in _fallback_alternatives(core)[:1]]
        alts.sort(key=lambda a: key(a) not in preferred)
        if alts:
            return alts
    return _fallback_alternatives(core)


def pause_after(token: str) -> str:
    """'' | 'comma' | 'stop': the pause a reader makes after this written token."""
    t = token.rstrip("'\"\u05f3\u05f4")
    if re.search(r"[.:!?;׃]\)?$", t):
        return "stop"
    if re.search(r"[,)\]]$", t):
        return "comma"
    return ""


# --------------------------------------------------------------------------------------------
# Commentary vocabulary

# The lecturer explains in a Yiddish/Hebrew mix, as a Chabad class usually sounds.
EXPLAIN_WORDS = (
    "דאס הייסט דער ענין איז אז מען דארף פארשטיין וואס מיינט דא עס איז דא אזוי ווי ער זאגט "
    "פרעגט ער דער רבי זאגט נו לכאורה די קשיא איז דער תירוץ איז ממילא אבער און ניט יא דאך שוין "
    "אט פונקט דעם פון מיט אויף צו געווען וועט האט ווערט זיך אים זיי מיר איר גאנץ זייער "
    "כלומר היינו דהיינו והיינו בעצם הכוונה כאן אומר שואל מסביר פה רואים זאת אומרת נקודה חשובה "
    "ההבדל בין שאלה תשובה למה בגלל ולכן אבל בדיוק עכשיו תראו שימו לב הרי כתוב ידוע מבואר "
    "החידוש הוא הפשט הוא בפשטות קודם כל דבר ראשון דבר שני לפי זה יוצא נמצא שבעצם אפשר לומר "
    "צריך להבין בקיצור ממש מאד יותר פחות תמיד כאשר אצל כל אחד ואחד אנחנו לומדים היום המאמר"
).split()
# An introduction is off-text: greetings, the date, the occasion.
INTRO_WORDS = (
    "שלום לכולם ערב טוב היום נלמד ביחד מאמר של הרבי מה שאמר בשבת שובה לפני הרבה שנים "
    "זה מאמר יפה מאד שייך לימים האלה עשרת ימי תשובה אני רוצה שנלמד אותו לאט לאט "
    "אזוי ווי מיר האלטן נאך ראש השנה לערן מיר היינט א מאמר פון דעם רבי'ן "
    "נתחיל מהתחלה ונראה מה הוא אומר שבת שלום גוט יום טוב תודה שבאתם"
).split()


def text_vocabulary(discourse: Discourse) -> list[str]:
    """Spoken content words of the text (3+ letters), with repetition as in the text."""
    out = []
    for p in discourse.passages():
        for tok in p.tokens:
            for alt in spoken_alternatives(tok)[:1]:
                out.extend(w for w in alt if len(w) >= 3)
    return out


# --------------------------------------------------------------------------------------------
# ASR noise


@dataclass(frozen=True)
class Noise:
    """Per-word probabilities of each kind of ASR error, and word-time jitter in seconds."""

    spelling: float = 0.0
    confusion: float = 0.0
    final: float = 0.0
    merge: float = 0.0
    split: float = 0.0
    delete: float = 0.0
    insert: float = 0.0
    substitute: float = 0.0
    drop_run: float = 0.0
    """Per word: the recogniser loses a stretch of 3-30 words (Whisper skipping a window's speech)."""
    loop: float = 0.0
    """Per word: a repetition loop (the word written 2-4 times), a known Whisper failure."""
    jitter: float = 0.0
    commentary_factor: float = 1.0
    """Speech that is not the text (Yiddish, quick talk) is heard worse."""
    babble: float = 0.0
    """Per pause of 0.3 s or more: the recogniser writes 1-3 words of the room's talk there
    (people talking near a phone), readings' pauses included."""


NOISE = {
    "none": Noise(),
    # roughly a good model on clear Hebrew: ~20 % of words wrong
    "clean": Noise(0.08, 0.04, 0.01, 0.015, 0.01, 0.02, 0.01, 0.02, 0.001, 0.0, jitter=0.05, commentary_factor=1.5),
    # near Whisper base as measured on the corpus verses (remixed cases: 62-66 % of words not
    # written as in the text, whole verses lost now and then); this gives 53-57 %
    "harsh": Noise(
        0.30, 0.15, 0.03, 0.04, 0.03, 0.08, 0.04, 0.12, 0.004, 0.001, jitter=0.15, commentary_factor=1.3
    ),
    # a phone in a room where people talk (as ../shared/corpus gen1-phone): more words lost and
    # misheard than "harsh", looser word times, and the room's talk written into the pauses
    "phone": Noise(
        0.34, 0.2, 0.03, 0.05, 0.04, 0.12, 0.05, 0.16, 0.008, 0.002, jitter=0.25, commentary_factor=1.3,
        babble=0.25,
    ),
}

_CONFUSE = {
    "כ": "חק", "ח": "כ", "ט": "ת", "ת": "ט", "ס": "שצ", "ש": "ס", "א": "עה", "ע": "אה",
    "ה": "אע", "ק": "כ", "ב": "ו", "ו": "ב", "צ": "ס", "ג": "כ", "ד": "ת",
}
_TO_FINAL = str.maketrans("כמנפצ", "ךםןףץ")
_FROM_FINAL = str.maketrans("ךםןףץ", "כמנפצ")
HEARD_WORDS = "אני אתה כי לא מה יש עם על גם רק אז הם היא זה את של הוא אבל כן טוב ואז שם".split()
FILLERS = "אה אהה נו את של זה הוא ו ה".split()
# What a phone hears of other people talking in the room: everyday modern Hebrew.
ROOM_WORDS = (HEARD_WORDS + "בוא תגיד שמעת רגע איפה מתי עכשיו אחר כך בסדר יאללה כמה ראיתי אמרתי".split())


def finalize(word: str) -> str:
    """Final letters where Hebrew spelling puts them."""
    if len(word) < 2:
        return word
    body = word[:-1].translate(_FROM_FINAL)
    return body + word[-1].translate(_TO_FINAL)


def _misspell(word: str, rng: random.Random, n: Noise, f: float) -> str:
    w = word.translate(_FROM_FINAL)
    if len(w) >= 3 and rng.random() < n.spelling * f:
        inner = [i for i in range(1, len(w) - 1) if w[i] in "וי"]
        if inner and rng.random() < 0.5:
            i = rng.choice(inner)
            w = w[:i] + w[i + 1 :]
        else:
            i = rng.randrange(1, len(w))
            if w[i - 1] not in "וי" and w[i] not in "וי":
                w = w[:i] + rng.choice("וי") + w[i:]
    if rng.random() < n.confusion * f:
        spots = [i for i, c in enumerate(w) if c in _CONFUSE]
        if spots:
            i = rng.choice(spots)
            w = w[:i] + rng.choice(_CONFUSE[w[i]]) + w[i + 1 :]
    w = finalize(w)
    if w and rng.random() < n.final * f:
        last = w[-1]
        swap = {"ם": "ן", "ן": "ם", "ך": "כ", "ף": "פ", "ץ": "צ", "ה": "א", "א": "ה"}
        if last in swap:
            w = w[:-1] + swap[last]
    return w


@dataclass
class Spoken:
    """One word as said, with its time and what it belongs to."""

    text: str
    start: float
    end: float
    kind: str
    """"read" or "commentary"."""
    passage: str | None = None
    token: int | None = None


def hear(spoken: list[Spoken], noise: Noise, rng: random.Random) -> list[Word]:
    """What an ASR model makes of the spoken words."""
    out: list[Word] = []
    i = 0
    while i < len(spoken):
        s = spoken[i]
        f = noise.commentary_factor if s.kind == "commentary" else 1.0
        if rng.random() < noise.drop_run * f:
            i += rng.randint(3, 30)
            continue
        if rng.random() < noise.delete * f:
            i += 1
            continue
        prob = 0.97
        if rng.random() < noise.substitute * f:
            text, prob = rng.choice(HEARD_WORDS), 0.35
        else:
            text = _misspell(s.text, rng, noise, f)
            if text != s.text:
                prob = 0.6
        start, end = s.start, s.end
        nxt = spoken[i + 1] if i + 1 < len(spoken) else None
        if (
            nxt is not None
            and nxt.start - s.end < 0.15
            and len(s.text) + len(nxt.text) <= 9
            and rng.random() < noise.merge * f
        ):
            text = text + finalize(_misspell(nxt.text, rng, noise, f)).translate(_FROM_FINAL)
            text = finalize(text.translate(_FROM_FINAL))
            end = nxt.end
            prob = 0.5
            i += 1
        if len(text) >= 5 and rng.random() < noise.split * f:
            cut = 1 if text[0] in "והבלשמ" and rng.random() < 0.5 else rng.randrange(2, len(text) - 1)
            mid = start + (end - start) * cut / len(text)
            out.append(Word(start, mid, finalize(text[:cut]), 0.5))
            out.append(Word(mid, end, finalize(text[cut:]), 0.5))
        elif rng.random() < noise.loop:
            k = rng.randint(2, 4)
            step = (end - start) / k
            out.extend(Word(start + m * step, start + (m + 1) * step, text, 0.2) for m in range(k))
        else:
            out.append(Word(start, end, text, prob))
        if noise.babble and nxt is not None and nxt.start - end >= 0.3 and rng.random() < noise.babble:
            k = rng.randint(1, 3)
            step = (nxt.start - end - 0.1) / k
            for m in range(k):
                t0 = end + 0.05 + m * step
                out.append(Word(t0, t0 + min(step * 0.8, 0.4), rng.choice(ROOM_WORDS), 0.3))
        elif rng.random() < noise.insert * f:
            gap_end = nxt.start if nxt is not None else end + 0.3
            t0 = end + 0.01
            t1 = min(gap_end - 0.01, t0 + 0.2)
            if t1 - t0 > 0.04:
                out.append(Word(t0, t1, rng.choice(FILLERS), 0.3))
        i += 1
    # Word timestamps of an ASR model are approximate
    prev_end = 0.0
    for w in out:
        if noise.jitter:
            w.start = w.start + rng.gauss(0.0, noise.jitter)
            w.end = w.end + rng.gauss(0.0, noise.jitter)
        w.start = max(w.start, prev_end)
        w.end = max(w.end, w.start + 0.04)
        w.start, w.end = round(w.start, 3), round(w.end, 3)
        prev_end = w.end
    return out


def _word_error_rate(spoken: list[Spoken], heard: list[Word]) -> float:
    """Share of spoken words not heard exactly as said (a WER-like figure, cheap and time-based)."""
    if not spoken:
        return 0.0
    starts = sorted((w.start, w.text.rstrip(".,")) for w in heard)

    keys = [s for s, _ in starts]
    bad = 0
    for s in spoken:
        i = bisect.bisect_left(keys, s.start - 0.5)
        ok = False
        while i < len(keys) and keys[i] <= s.end + 0.5:
            if starts[i][1] == s.text:
                ok = True
                break
            i += 1
        bad += not ok
    return bad / len(spoken)


def segment_words(words: list[Word], rng: random.Random) -> list[Segment]:
    """Group words into Whisper-like segments: cut at pauses, at most ~20 s each."""
    segs: list[Segment] = []
    cur: list[Word] = []

    def close() -> None:
        if not cur:
            return
        if rng.random() < 0.5 and cur[-1].text[-1:].isalpha():
            cur[-1].text += rng.choice(".,")
        segs.append(
            Segment(
                start=cur[0].start,
                end=cur[-1].end,
                text=" " + " ".join(w.text for w in cur),
                words=list(cur),
                avg_logprob=round(-0.3 - 0.9 * (1 - sum(w.probability for w in cur) / len(cur)), 3),
                no_speech_prob=0.02,
            )
        )
        cur.clear()

    for w in words:
        if cur:
            gap = w.start - cur[-1].end
            dur = cur[-1].end - cur[0].start
            if gap >= 0.8 or (gap >= 0.3 and dur >= 8.0) or dur >= 20.0:
                close()
        cur.append(w)
    close()
    return segs


# --------------------------------------------------------------------------------------------
# Look-alike passages

# The maamar's verse, which the text and the lecturer quote again and again.
VERSE = "שיר המעלות ממעמקים קראתיך הוי'"
# A refrain closing several paragraphs: one passage repeated word for word.
REFRAIN = f"וזהו מה שאמר דוד בשם כל ישראל {VERSE}."
# A blessing and the curse that mirrors it word for word but one word.
MIRROR = (
    "ואם ימשיך מבחי' מעמקים יתברך בכל טוב בגשמיות וברוחניות בבני חיי ומזוני רויחי כל הימים",
    "ואם לא ימשיך מבחי' מעמקים לא יתברך בכל טוב בגשמיות וברוחניות בבני חיי ומזוני רויחי כל הימים",
)


def add_lookalikes(text: str, seed: int) -> str:
    """The text with look-alikes, as real texts have them: a refrain closing four paragraphs,
    a blessing and its mirrored curse in two paragraphs far apart, and the maamar's verse
    opening a passage in two more. Paragraph count and order stay; passages are added."""
    rng = random.Random(seed * 7919)
    blocks = text.split("\n\n")
    body = [k for k, b in enumerate(blocks) if len(b.split()) > 40]
    if len(body) < 6:
        return text
    picks = sorted(rng.sample(body[1:], 4))
    for k in picks:
        blocks[k] = blocks[k].rstrip() + " " + REFRAIN
    a, b = body[1], body[-2]
    blocks[a] = blocks[a].rstrip() + " " + MIRROR[0] + "."
    blocks[b] = blocks[b].rstrip() + " " + MIRROR[1] + "."
    for k in rng.sample([k for k in body[2:-1] if k not in picks], 2):
        # After the paragraph's own number ("ז)"), if it has one.
        head, sep, rest = blocks[k].lstrip().partition(" ")
        numbered = head.endswith(")") and len(head) <= 3
        blocks[k] = f"{head} {VERSE}, {rest}" if numbered and sep else f"{VERSE}, " + blocks[k].lstrip()
    return "\n\n".join(blocks)


def case_text(text: str, cfg: SimConfig) -> str:
    """The text a simulated class reads: the given one, or it with look-alikes."""
    return add_lookalikes(text, cfg.seed) if cfg.lookalikes else text


def verse_words() -> list[str]:
    return [w for tok in VERSE.split() for w in (spoken_alternatives(tok)[:1] or [[]])[0]]


# --------------------------------------------------------------------------------------------
# The shiur plan


@dataclass
class SimConfig:
    seed: int = 1
    noise: str = "harsh"
    length: float = 1.0
    """Multiple of the 1x class (the text read once, ~40 % of the time commentary)."""
    minutes: float | None = None
    """Target duration; overrides ``length``. Shorter than the reading: the class stops part way."""
    reading: bool = False
    """A straight reading: no introduction, commentary, re-reads, skips or reordering."""
    commentary_share: float = 0.4
    comment_prob: float = 0.55
    """Chance of an explanation after a group of passages (always at a paragraph's end)."""
    reread_prob: float = 0.15
    skip_paragraphs: int = 1
    skip_passages: int = 3
    swap_paragraphs: int = 1
    swap_passages: int = 1
    quote_prob: float = 0.3
    """Chance per commentary sentence of quoting the explained passage..."""
    foreign_quote_share: float = 0.2
    """...and the share of those quotes taken from another passage."""
    text_vocab_share: float = 0.25
    """Share of explanation words taken from the text's own vocabulary (outside quotes)."""
    words_per_second: float = 2.6
    lookalikes: bool = False
    """Give the text look-alike passages (see :func:`add_lookalikes`) and quote the maamar's
    verse in the explanations again and again."""
    verse_quote_prob: float = 0.0
    """Chance per commentary sentence of quoting the maamar's verse (the title line); 0.35 with
    ``lookalikes`` unless set."""
    fragment_prob: float = 0.0
    """Chance per explanation word of a run of 1-3 fragments there instead: one word, or two
    consecutive words, of the explained passage or (``fragment_foreign_share``) of one of the
    three passages before it; fragments next to each other are never consecutive in the text
    (as ../shared/corpus gen2-dense)."""
    fragment_foreign_share: float = 0.3
    name: str = ""


@dataclass
class Action:
    kind: str
    """"intro" | "read" | "comment"."""
    passage: str | None = None
    seconds: float = 0.0
    reread: bool = False


# Mean seconds per spoken word of `n` letters, before the tempo factor (see _render_read).
def _word_seconds(nletters: int, wps: float) -> float:
    return (0.09 + 0.05 * nletters) * 2.6 / wps


_PAUSE = {"": (0.03, 0.09), "comma": (0.2, 0.45), "stop": (0.45, 0.8)}


def _expected_read_seconds(p: Passage, wps: float) -> float:
    t = 0.0
    for tok in p.tokens:
        alts = spoken_alternatives(tok)
        for w in alts[0] if alts else []:
            t += _word_seconds(len(w), wps) + 0.06
        lo, hi = _PAUSE[pause_after(tok)]
        t += (lo + hi) / 2
    return t


def plan(discourse: Discourse, cfg: SimConfig, rng: random.Random) -> tuple[list[Action], dict[str, Any]]:
    """Decide what is read and explained, in what order, for how long."""
    paras = discourse.paragraphs
    expected = {p.id: _expected_read_seconds(p, cfg.words_per_second) for p in discourse.passages()}
    info: dict[str, Any] = {"swapped_paragraphs": [], "swapped_passages": [], "not_reached": []}

    skip_paras: set[str] = set()
    skip_passages: set[str] = set()
    para_order = [pa.id for pa in paras]
    inner_order = {pa.id: [p.id for p in pa.passages] for pa in paras}
    if not cfg.reading:
        # A lecturer drops a short paragraph more readily than a long one
        middle = sorted(paras[1:-1], key=lambda pa: len(pa.passages))
        middle_ids = [pa.id for pa in middle[: max(2, (len(middle) + 1) // 2)]]
        skip_paras = set(rng.sample(middle_ids, min(cfg.skip_paragraphs, max(0, len(middle_ids) - 1))))
        for _ in range(cfg.swap_paragraphs):
            cands = [
                i for i in range(1, len(para_order) - 1)
                if para_order[i] not in skip_paras and para_order[i + 1] not in skip_paras
                and para_order[i] not in info["swapped_paragraphs"]
                and para_order[i + 1] not in info["swapped_paragraphs"]
            ]
            if cands:
                i = rng.choice(cands)
                info["swapped_paragraphs"] += [para_order[i], para_order[i + 1]]
                para_order[i], para_order[i + 1] = para_order[i + 1], para_order[i]
        long_paras = [pa for pa in paras if pa.id not in skip_paras and len(pa.passages) >= 4]
        for _ in range(cfg.swap_passages):
            if long_paras:
                pa = rng.choice(long_paras)
                order = inner_order[pa.id]
                i = rng.randrange(1, len(order) - 2)
                info["swapped_passages"] += [order[i], order[i + 1]]
                order[i], order[i + 1] = order[i + 1], order[i]
        swapped = set(info["swapped_passages"])
        cands = [
            p.id for pa in long_paras for p in pa.passages[1:-1] if p.id not in swapped
        ]
        skip_passages = set(rng.sample(cands, min(cfg.skip_passages, len(cands))))
    sequence = [pid for para in para_order if para not in skip_paras for pid in inner_order[para]]
    sequence = [pid for pid in sequence if pid not in skip_passages]

    read_seconds = sum(expected[pid] for pid in sequence) + 0.8 * len(sequence)
    base_total = read_seconds / (1 - cfg.commentary_share) if not cfg.reading else read_seconds
    target = cfg.minutes * 60 if cfg.minutes else base_total * cfg.length
    scale = target / base_total
    if not cfg.reading and target * (1 - cfg.commentary_share) < read_seconds:
        # The class ends part way through the text: what is not reached is not read
        budget, kept = target * (1 - cfg.commentary_share), []
        for pid in sequence:
            budget -= expected[pid] + 0.8
            if budget < 0 and kept:
                break
            kept.append(pid)
        info["not_reached"] = sequence[len(kept):]
        sequence = kept
        read_seconds = sum(expected[pid] for pid in sequence) + 0.8 * len(sequence)
        scale = 1.0

    actions: list[Action] = []
    if cfg.reading:
        actions = [Action("read", pid) for pid in sequence]
        return actions, info

    reread_prob = min(0.6, cfg.reread_prob * max(1.0, scale))
    actions.append(Action("intro"))
    read_so_far: list[str] = []
    i = 0
    while i < len(sequence):
        group = sequence[i : i + rng.randint(1, 3)]
        # A group does not run over a paragraph's end: the explanation comes there
        para = group[0].split(".")[0]
        group = [g for g in group if g.split(".")[0] == para] or group[:1]
        i += len(group)
        for pid in group:
            actions.append(Action("read", pid))
            read_so_far.append(pid)
        para_ends = i >= len(sequence) or sequence[i].split(".")[0] != para
        if para_ends or rng.random() < cfg.comment_prob:
            actions.append(Action("comment", group[-1]))
            if len(read_so_far) > 2 and rng.random() < reread_prob:
                # Going back: "let us look again at what it said before"
                back = rng.choice(read_so_far[max(0, len(read_so_far) - 12) : -1])
                actions.append(Action("read", back, reread=True))
                read_seconds += expected[back] + 0.8
                if rng.random() < 0.6:
                    actions.append(Action("comment", back))

    comment_budget = max(30.0, target - read_seconds)
    slots = [a for a in actions if a.kind in ("intro", "comment")]
    weights = [rng.lognormvariate(0, 0.6) * (0.5 if a.kind == "intro" else 1.0) for a in slots]
    total_w = sum(weights)
    for a, w in zip(slots, weights, strict=True):
        a.seconds = max(5.0, comment_budget * w / total_w)
    return actions, info


# --------------------------------------------------------------------------------------------
# Rendering the plan into spoken words and truth


@dataclass
class SimCase:
    name: str
    transcript: Transcript
    truth: dict[str, Any]
    spoken: list[Spoken] = field(default_factory=list)


def _choose(alts: list[list[str]], rng: random.Random) -> list[str]:
    if not alts:
        return []
    if len(alts) == 1 or rng.random() < 0.8:
        return alts[0]
    return rng.choice(alts[1:])


def generate(discourse: Discourse, cfg: SimConfig) -> SimCase:
    """Simulate one class on ``discourse``: plan, speak, hear, and write down the truth."""
    rng = random.Random(cfg.seed)
    actions, info = plan(discourse, cfg, rng)
    noise = NOISE[cfg.noise]
    by_id = {p.id: p for p in discourse.passages()}
    vocab = text_vocabulary(discourse)
    wps = cfg.words_per_second

    spoken: list[Spoken] = []
    segments: list[dict[str, Any]] = []
    words_truth: list[dict[str, Any]] = []
    quotes: list[dict[str, Any]] = []
    fragments: list[dict[str, Any]] = []
    t = round(rng.uniform(0.4, 1.5), 3)
    last_kind = ""
    para_offset = {}
    for pa in discourse.paragraphs:
        n = 0
        for p in pa.passages:
            para_offset[p.id] = n
            n += len(p.tokens)

    def say(text: str, tempo: float, kind: str, passage: str | None = None, token: int | None = None,
            pause: float = 0.0) -> Spoken:  # fmt: skip
        nonlocal t
        dur = _word_seconds(len(text), wps) * tempo * rng.uniform(0.85, 1.15)
        s = Spoken(text, round(t, 3), round(t + dur, 3), kind, passage, token)
        spoken.append(s)
        t += dur + rng.uniform(0.03, 0.09) * tempo + pause
        return s

    for a in actions:
        gap = (0.5, 1.5) if "comment" in (a.kind, last_kind) or a.kind == "intro" else (0.4, 1.2)
        if last_kind:
            t += rng.uniform(*gap)
        if a.kind == "read":
            assert a.passage is not None
            p = by_id[a.passage]
            tempo = rng.uniform(0.9, 1.1)
            first = len(spoken)
            for j, tok in enumerate(p.tokens):
                ws = _choose(spoken_alternatives(tok), rng)
                if not ws:
                    continue
                said = [say(w, tempo, "read", p.id, j) for w in ws]
                words_truth.append(
                    {
                        "start": said[0].start,
                        "end": said[-1].end,
                        "paragraph": p.paragraph,
                        "index": para_offset[p.id] + j + 1,
                        "word": tok,
                        "passage": p.id,
                        "token": j,
                        "spoken": " ".join(ws),
                    }
                )
                lo, hi = _PAUSE[pause_after(tok)]
                if j < len(p.tokens) - 1:
                    t += rng.uniform(lo, hi) * tempo
            seg = {
                "start": spoken[first].start,
                "end": spoken[-1].end,
                "kind": "read",
                "paragraph": p.paragraph,
                "passage": p.id,
            }
            if a.reread:
                seg["reread"] = True
            segments.append(seg)
        else:
            about = by_id[a.passage] if a.passage else None
            first = len(spoken)
            end_at = t + a.seconds
            tempo = rng.uniform(0.8, 0.95)
            # The title as said aloud, without the "בס"ד" that opens it
            title = [
                w
                for tok in (discourse.front_matter[0].split()[1:] if discourse.front_matter else [])
                for w in (spoken_alternatives(tok)[:1] or [[]])[0]
            ]
            verse_prob = cfg.verse_quote_prob or (0.35 if cfg.lookalikes else 0.0)
            while t < end_at:
                n = rng.randint(5, 14)
                q_at = rng.randrange(n) if rng.random() < cfg.quote_prob else -1
                # (no draw when off: the plain simulated classes stay what they were)
                v_at = rng.randrange(n) if verse_prob and about is not None and rng.random() < verse_prob else -1
                for k in range(n):
                    if k == q_at:
                        _quote(about, discourse, rng, cfg, tempo, say, quotes, title)
                    if k == v_at:
                        said = [say(w, tempo, "commentary") for w in verse_words()]
                        quotes.append({"start": said[0].start, "end": said[-1].end, "passage": None,
                                       "about": about.paragraph, "foreign": False, "verse": True,
                                       "words": " ".join(x.text for x in said)})  # fmt: skip
                    if about is not None and cfg.fragment_prob and rng.random() < cfg.fragment_prob:
                        _fragments(about, discourse, rng, cfg, tempo, say, fragments)
                        continue
                    r = rng.random()
                    if about is not None and r < cfg.text_vocab_share:
                        w = rng.choice(vocab)
                    else:
                        w = rng.choice(INTRO_WORDS if about is None else EXPLAIN_WORDS)
                    say(w, tempo, "commentary")
                t += rng.uniform(0.3, 0.9)
            segments.append(
                {
                    "start": spoken[first].start,
                    "end": spoken[-1].end,
                    "kind": "commentary",
                    "about": about.paragraph if about else None,
                    "about_passage": about.id if about else None,
                }
            )
        last_kind = a.kind

    duration = round(spoken[-1].end + rng.uniform(0.5, 1.5), 3)
    tiled: list[dict[str, Any]] = []
    cursor = 0.0
    for s in segments:
        if s["start"] > cursor:
            tiled.append({"start": round(cursor, 3), "end": s["start"], "kind": "silence"})
        tiled.append(s)
        cursor = s["end"]
    tiled.append({"start": cursor, "end": duration, "kind": "silence"})

    read_pids = {s["passage"] for s in segments if s["kind"] == "read"}
    read_paras = {s["paragraph"] for s in segments if s["kind"] == "read"}
    skipped = [pa.number for pa in discourse.paragraphs if pa.number not in read_paras]
    skipped_passages = [p.id for p in discourse.passages() if p.id not in read_pids]

    heard = hear(spoken, noise, rng)
    tr = Transcript(
        duration=duration,
        language="he",
        segments=segment_words(heard, rng),
        model=f"simulated ({cfg.noise})",
        options={"simulation": asdict(cfg)},
    )
    size = f"-{cfg.minutes:g}min" if cfg.minutes else (f"-{cfg.length:g}x" if cfg.length != 1 else "")
    kind = "reading" if cfg.reading else "lookalike" if cfg.lookalikes else "shiur"
    kind = "fragments" if cfg.fragment_prob and not cfg.reading else kind
    name = cfg.name or f"sim-{kind}-s{cfg.seed}-{cfg.noise}{size}"
    read_t = sum(s["end"] - s["start"] for s in segments if s["kind"] == "read")
    comm_t = sum(s["end"] - s["start"] for s in segments if s["kind"] == "commentary")
    n_read_words = sum(1 for s in spoken if s.kind == "read")
    stats = {
        "spoken_words": len(spoken),
        "transcript_words": len(heard),
        "read_seconds": round(read_t, 1),
        "commentary_seconds": round(comm_t, 1),
        "read_words_per_second": round(n_read_words / read_t, 2) if read_t else None,
        "quotes": len(quotes),
        "fragments": len(fragments),
        "foreign_quotes": sum(1 for q in quotes if q["foreign"]),
        "rereads": sum(1 for s in segments if s.get("reread")),
        "word_error_rate": round(_word_error_rate(spoken, heard), 3),
    }
    truth = {
        "case": name,
        "audio": None,
        "text": "text.txt",
        "duration": duration,
        "paragraphs": len(discourse.paragraphs),
        "segments": tiled,
        "words": words_truth,
        "skipped": skipped,
        "skipped_passages": skipped_passages,
        "quotes": quotes,
        "fragments": fragments,
        "simulation": {**asdict(cfg), **info, "stats": stats},
        "provenance": f"bench/simulate.py seed={cfg.seed} noise={cfg.noise} (simulated transcript, no audio)",
    }
    return SimCase(name, tr, truth, spoken)


def _quote(
    about: Passage | None,
    discourse: Discourse,
    rng: random.Random,
    cfg: SimConfig,
    tempo: float,
    say: Callable[..., Spoken],
    quotes: list[dict[str, Any]],
    title: list[str],
) -> None:
    """A few words of a passage said inside an explanation (or the title inside an intro)."""
    if about is None:
        if not title or rng.random() < 0.5:
            return
        src_words, src = title[: rng.randint(1, len(title))], None
    else:
        foreign = rng.random() < cfg.foreign_quote_share
        pool = [p for p in discourse.passages() if p.id != about.id] if foreign else [about]
        src = rng.choice(pool)
        toks = src.tokens
        n = rng.randint(2, 6)
        k = rng.randrange(max(1, len(toks) - n + 1))
        src_words = [w for tok in toks[k : k + n] for w in _choose(spoken_alternatives(tok), rng)]
    said = [say(_NON_LETTER.sub("", w).replace("'", "").replace('"', "") or w, tempo, "commentary") for w in src_words]
    if said:
        quotes.append(
            {
                "start": said[0].start,
                "end": said[-1].end,
                "passage": src.id if src else None,
                "about": about.paragraph if about else None,
                "foreign": bool(src is not None and about is not None and src.id != about.id),
                "words": " ".join(s.text for s in said),
            }
        )


def _fragments(
    about: Passage,
    discourse: Discourse,
    rng: random.Random,
    cfg: SimConfig,
    tempo: float,
    say: Callable[..., Spoken],
    fragments: list[dict[str, Any]],
) -> None:
    """A run of 1-3 fragments (one or two consecutive words of a passage) inside an explanation."""
    passages = discourse.passages()
    at = next(k for k, p in enumerate(passages) if p.id == about.id)
    before = passages[max(0, at - 3) : at]
    last: tuple[str, int] | None = None
    for _ in range(rng.randint(1, 3)):
        src = rng.choice(before) if before and rng.random() < cfg.fragment_foreign_share else about
        toks = [k for k, tok in enumerate(src.tokens) if spoken_alternatives(tok)]
        if not toks:
            continue
        n = rng.choice((1, 2))
        k = rng.choice(toks[: max(1, len(toks) - n + 1)])
        if last is not None and last[0] == src.id and abs(k - last[1]) <= 1:
            continue  # never consecutive with the fragment before: that would read the text on
        ws = [w for tok in src.tokens[k : k + n] for w in _choose(spoken_alternatives(tok), rng)]
        clean = [_NON_LETTER.sub("", w).replace("'", "").replace('"', "") or w for w in ws]
        # 0.15-0.4 s after each fragment, as the corpus's fragments are cut and spaced
        said = [say(w, tempo, "commentary", pause=rng.uniform(0.15, 0.4) if m == len(clean) - 1 else 0.0)
                for m, w in enumerate(clean)]  # fmt: skip
        if said:
            fragments.append({"start": said[0].start, "end": said[-1].end, "passage": src.id, "about": about.paragraph,
                              "foreign": src.id != about.id, "words": " ".join(x.text for x in said)})  # fmt: skip
        last = (src.id, k + n - 1)


# --------------------------------------------------------------------------------------------
# I/O


def write_case(case: SimCase, outdir: Path, text: str) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "text.txt").write_text(text, encoding="utf-8")
    (outdir / "truth.json").write_text(json.dumps(case.truth, ensure_ascii=False, indent=1), encoding="utf-8")
    case.transcript.save(outdir / "transcript.json")
    return outdir


DENSE = {"text_vocab_share": 0.5, "quote_prob": 0.5}
"""Dense text vocabulary inside the explanations: half their words from the text, and quotes
twice as often."""
FRAGMENTS = {"fragment_prob": 0.2, "quote_prob": 0.45}
"""Explanations full of fragments of the text, as ../shared/corpus gen2-dense: a run of 1-3
fragments at about one explanation word in five (their words then fill some 40 % of the talk)."""


def config_from_args(a: argparse.Namespace) -> SimConfig:
    cfg = SimConfig(
        seed=a.seed, noise=a.noise, length=a.length, minutes=a.minutes, reading=a.reading, lookalikes=a.lookalikes
    )
    if a.dense:
        cfg = replace(cfg, **DENSE)
    if a.fragments:
        cfg = replace(cfg, **FRAGMENTS)
    if a.name:
        cfg = replace(cfg, name=a.name)
    return cfg


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", choices=sorted(NOISE), default="harsh")
    ap.add_argument("--length", type=float, default=1.0, help="multiple of the 1x class (default 1)")
    ap.add_argument("--minutes", type=float, default=None, help="target duration (overrides --length)")
    ap.add_argument("--reading", action="store_true", help="a straight reading, no commentary")
    ap.add_argument("--lookalikes", action="store_true", help="look-alike passages in the text, the verse quoted")
    ap.add_argument("--dense", action="store_true", help="explanations dense with the text's vocabulary")
    ap.add_argument("--fragments", action="store_true", help="explanations full of 1-2 word fragments of the text")
    ap.add_argument("--text", type=Path, default=SAMPLE_TEXT, help="discourse text (default: the sample)")
    ap.add_argument("--name", default="", help="case name (default from the settings)")


def summary_line(case: SimCase) -> str:
    s = case.truth["simulation"]["stats"]
    return (
        f"{case.name}: {case.truth['duration'] / 60:.1f} min, {s['transcript_words']} transcript words "
        f"(WER {s['word_error_rate']:.2f}), read {s['read_seconds']:.0f} s at {s['read_words_per_second']} w/s, "
        f"commentary {s['commentary_seconds']:.0f} s, {s['quotes']} quotes ({s['foreign_quotes']} foreign), "
        f"{s['rereads']} re-reads, skipped paragraphs {case.truth['skipped']}, "
        f"skipped passages {len(case.truth['skipped_passages'])}"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="case folder to write")
    add_args(ap)
    a = ap.parse_args(argv)
    cfg = config_from_args(a)
    text = case_text(a.text.read_text(encoding="utf-8"), cfg)
    case = generate(parse_discourse(text), cfg)
    write_case(case, a.out, text)
    print(summary_line(case))
    print(f"wrote {a.out}/text.txt, truth.json, transcript.json")


if __name__ == "__main__":
    main()
