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


def strip_marks(text: str) -> str:
    """Remove niqqud and cantillation, keeping letters and punctuation."""
    text = unicodedata.normalize("NFD", text)
    text = re.sub(r"[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]", "", text)
    return unicodedata.normalize("NFC", text)


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
