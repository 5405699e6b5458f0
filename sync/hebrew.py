"""Hebrew text normalisation for matching what Whisper wrote against what the text says.

Whisper writes modern full spelling without niqqud; the texts are unvocalised (or fully pointed
Bible text), in defective spelling, with geresh/gershayim abbreviations. Matching therefore works
on keys: ``normalize`` (letters only, final letters folded) and ``skeleton`` (also without the
vowel letters ו/י inside a word), compared with a fuzzy similarity.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

_FINALS = str.maketrans("ךםןףץ", "כמנפצ")
# Niqqud, cantillation and other combining marks in the Hebrew block, plus the Hebrew punctuation
# marks that are not letters (maqaf, paseq, sof pasuq, geresh, gershayim, ...).
_MARKS = re.compile(r"[\u0591-\u05c7\u05f3\u05f4]")
_NON_WORD = re.compile(r"[^\w]", re.UNICODE)
_SPLIT = re.compile(r"[\s\u05be\-/]+")


# Directional formatting characters (LRM/RLM, ALM, embeddings/overrides U+202A-E, isolates
# U+2066-9). Whisper sometimes emits them around Hebrew; they are invisible, break search and copy,
# and reorder text in whatever shows the file.
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def strip_bidi_controls(text: str) -> str:
    """Remove invisible bidi control characters, keeping everything else as it is."""
    return _BIDI_CONTROLS.sub("", text)


def strip_marks(text: str) -> str:
    """Remove niqqud and cantillation, keeping letters and punctuation."""
    text = unicodedata.normalize("NFD", text)
    text = re.sub(r"[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]", "", text)
    return unicodedata.normalize("NFC", text)


# Geresh and gershayim as typed: Hebrew marks, ASCII quotes, and the typographic quotes word
# processors substitute for them.
_GERESH_FORMS = str.maketrans({"\u05f3": "'", "\u2019": "'", "\u2018": "'", "\u00b4": "'", "`": "'",
                               "\u05f4": '"', "\u201d": '"', "\u201c": '"', "\u201e": '"'})
_LEADING = re.compile(r"^[^\w]+")
_TRAILING = re.compile(r"[^\w']+$")
_HEBREW_LETTER = re.compile(r"[\u05d0-\u05ea]")
_DOUBLE_GERESH = re.compile(r"(?<=[\u05d0-\u05ea])''(?=[\u05d0-\u05ea])")
_FOOTNOTE_DIGITS = re.compile(r"(?<=[\u05d0-\u05ea'\"])\d{1,3}$")


def canonical_quotes(text: str) -> str:
    """Niqqud and cantillation removed; geresh as ASCII ', gershayim as ASCII "."""
    text = strip_marks(text).translate(_GERESH_FORMS)
    # Some typists write gershayim as two apostrophes between letters (משא''כ).
    return _DOUBLE_GERESH.sub('"', text)


def token_core(token: str) -> str:
    """The word inside a written token: marks canonical, surrounding punctuation and quotation
    marks removed, a final geresh kept (it belongs to the abbreviation: בחי', כו')."""
    core = _TRAILING.sub("", _LEADING.sub("", canonical_quotes(token)))
    # A footnote number glued to a word (raw text; Passage.tokens already lost it) is not spoken.
    core = _FOOTNOTE_DIGITS.sub("", core)
    # A closing single quote after a geresh ("כו''") is punctuation, not a second geresh.
    return core[:-1] if core.endswith("''") else core


def is_abbreviation(core: str) -> bool:
    """Whether a token core (see ``token_core``) is written as an abbreviation or letter numeral:
    gershayim between letters (משא"כ) or a geresh after a letter (בחי', ד', ה'תשכ"ה)."""
    if not _HEBREW_LETTER.search(core):
        return False
    inner = core.rstrip("'")
    return '"' in inner.strip('"') or "'" in core


def normalize(word: str) -> str:
    """A matching key: letters and digits only, lower case, final letters folded."""
    word = unicodedata.normalize("NFD", word)
    word = _MARKS.sub("", word)
    word = _NON_WORD.sub("", word).replace("_", "")
    return word.lower().translate(_FINALS)


def words(text: str) -> list[str]:
    """Split text into words the way speech is heard: maqaf and slashes separate words."""
    return [w for w in (normalize(t) for t in _SPLIT.split(text)) if w]


def skeleton(key: str) -> str:
    """Spelling-insensitive key: drop ו and י inside the word (full vs. defective spelling).

    The first letter is kept, since a leading ו/י is a prefix or a root letter, not a vowel.
    Doubled וו/יי are dropped as well.
    """
    if len(key) <= 2:
        return key
    return key[0] + key[1:].replace("ו", "").replace("י", "").replace("א", "")


@lru_cache(maxsize=200_000)
def spelling_similarity(a: str, b: str) -> float:
    """Similarity of the spelling-insensitive keys only (full vs. defective spelling)."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    sa, sb = skeleton(a), skeleton(b)
    if sa == sb:
        return 1.0
    return SequenceMatcher(None, sa, sb, autojunk=False).ratio()


@lru_cache(maxsize=200_000)
def similarity(a: str, b: str) -> float:
    """Fuzzy similarity in [0, 1] of two normalised keys, the better of plain and skeleton."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    plain = SequenceMatcher(None, a, b, autojunk=False).ratio()
    sa, sb = skeleton(a), skeleton(b)
    if sa == sb:
        return max(plain, 0.9)
    skel = SequenceMatcher(None, sa, sb, autojunk=False).ratio() * 0.95
    return max(plain, skel)
