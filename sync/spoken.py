"""How a lecturer reads a written token aloud: a lattice of spoken alternatives per token.

Whisper writes what it hears, so a token like שבר"ה is matched against "שבראש השנה", בחי' against
"בחינת", רמ"ח against "רמח". Each written token gets a list of alternatives, each a tuple of
normalised words (``sync.hebrew.normalize`` keys); the first alternative is always the written form
itself. The Name (יהוה) is read Adonai/Hashem, or Elohim where so pointed. Abbreviations, by
source, in order of trust:

1. the curated table (``sync.abbreviations``), the token as written;
2. prefix letters (ו ב ד ה ל מ ש כ, up to four) before a table entry, by rule: the prefix joins
   the first spoken word (שבר"ה -> "שבראש השנה"), and after ב/ל/כ the article ה may elide;
3. a Hebrew year (ה'תשכ"ה), a section reference (ס"ד -> "סעיף ד"), truncated Aramaic forms
   ending in י' (למימרי' -> "למימריה"), letter numerals (ד', ל"ב) said as numbers;
4. otherwise the token is an unknown abbreviation: only its written form, and it is reported.
"""

from __future__ import annotations

import collections
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import TYPE_CHECKING

from .abbreviations import AbbreviationTable, default_table
from .hebrew import is_abbreviation, normalize, token_core, words
from .numerals import LETTER_NAMES, LETTER_VALUES, gematria, number_words, spoken_numbers, year_value

if TYPE_CHECKING:
    from .discourse import Discourse, Passage

PREFIX_LETTERS = "ובדהלמשכ"
MAX_PREFIX = 4  # "וכשבמ\"ת": ו+כ+ש+ב before an abbreviation still occurs
MAX_ALTERNATIVES = 12
_MAQAF = re.compile(r"[\s\u05be\-/]+")  # as sync.hebrew.words splits: maqaf, hyphen, slash
_FINALS = str.maketrans("ךםןףץ", "כמנפצ")
_LETTER = re.compile(r"[\u05d0-\u05ea]")

# Sources that mean "we know how this is read".
KNOWN_SOURCES = frozenset({"table", "prefix", "year", "section", "aramaic", "numeral", "name"})
# The Tetragrammaton is never said as written: a reader says Adonai (or "Hashem" in class), and
# Elohim where it is pointed with Elohim's vowels (אֲדֹנָי יֱהֹוִה).
_NAME_LETTERS = frozenset({"יהוה", "יי", "ייי"})  # the Name, and the yods prayer books print for it
_HIRIQ = "\u05b4"


@dataclass(frozen=True)
class Reading:
    """How one word (a token core without maqaf) is read."""

    core: str
    source: str
    """plain | name | table | prefix | year | section | aramaic | numeral | unknown | empty"""
    alternatives: tuple[tuple[str, ...], ...]
    prefix: str = ""
    said_as_written: bool = False
    """The written letters are themselves one of the usual readings (רמ"ח said "ramach")."""

    @property
    def is_abbreviation(self) -> bool:
        return self.source not in ("plain", "empty", "name")

    @property
    def known(self) -> bool:
        return self.source in KNOWN_SOURCES


def _letters(core: str) -> str:
    return "".join(ch for ch in core if "\u05d0" <= ch <= "\u05ea").translate(_FINALS)


def _phrase(form: str) -> tuple[str, ...]:
    return tuple(words(form))


def _with_prefix(prefix: str, phrase: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Attach prefix letters to the first spoken word; after ב/ל/כ the article ה elides in speech
    ("בהקב"ה" -> "בקדוש ברוך הוא") but careful readers keep it, so both."""
    if not prefix or not phrase:
        return [phrase]
    first, rest = phrase[0], phrase[1:]
    out = [(prefix + first, *rest)]
    if prefix[-1] in "בלכ" and first.startswith("ה") and len(first) > 2:
        out.append((prefix + first[1:], *rest))
    return out


def _dedupe(alts: list[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    seen: set[tuple[str, ...]] = set()
    out: list[tuple[str, ...]] = []
    for a in alts:
        if a and a not in seen:
            seen.add(a)
            out.append(a)
    return tuple(out)


def _table_forms(table: AbbreviationTable, core: str) -> list[tuple[str, ...]] | None:
    entry = table.get(core)
    if entry is None:
        return None
    out = []
    for f in entry.forms:
        phrase = _phrase(f)
        out.append(phrase)
        if any(len(w) == 1 and w in LETTER_NAMES for w in phrase):
            # "פרק א" is said "perek alef": Whisper writes the letter's name.
            out.append(tuple(LETTER_NAMES[w] if len(w) == 1 and w in LETTER_NAMES else w for w in phrase))
    value = gematria(_letters(core)) if '"' in core else None
    if value is not None and 11 <= value <= 30:
        # כ"ה, י"ט are days of the month as often as abbreviations ("כ"ה אלול").
        out += _number_phrases(value)[:2]
    return out


def _prefix_splits(letters: str) -> list[tuple[str, str]]:
    """(prefix, rest) splits, shortest prefix first, rest keeping at least two letters."""
    out = []
    for n in range(1, MAX_PREFIX + 1):
        if len(letters) - n < 1:
            break
        if all(ch in PREFIX_LETTERS for ch in letters[:n]):
            out.append((letters[:n], letters[n:]))
        else:
            break
    return out


def _rebuild(rest_letters: str, core: str) -> str:
    """The written core of ``rest_letters`` (the tail of core's letters) with its marks."""
    # Count letters from the end of core so the gershayim/geresh stay where they were written.
    need = len(rest_letters)
    i = len(core)
    seen = 0
    while i > 0 and seen < need:
        i -= 1
        if "\u05d0" <= core[i] <= "\u05ea":
            seen += 1
    return core[i:]


def _number_phrases(n: int) -> list[tuple[str, ...]]:
    return [_phrase(f) for f in spoken_numbers(n)]


def _read_year(core: str, letters: str) -> Reading | None:
    for prefix, rest in [("", letters), *_prefix_splits(letters)]:
        value = year_value(rest)
        if value is None or len(rest) < 3:
            continue
        short = rest[1:] if rest[0] in "הו" and rest[1] == "ת" else rest
        alts = [(prefix + rest,), (prefix + short,)]
        alts += _with_prefix(prefix, _phrase(number_words(value)))
        alts += _with_prefix(prefix, _phrase(number_words(value % 1000)))
        return Reading(core, "year", _dedupe(alts), prefix)
    return None


def _read_numeral(core: str, letters: str, written: tuple[str, ...], gershayim: bool) -> Reading | None:
    """A letter numeral said as a number: ל"ב, ד', or after prefix letters (בד' -> בארבעה).

    A geresh marks a one-letter number (ד' = 4); longer numbers take gershayim (ל"ב = 32). So for
    a geresh the number is the last letter, for gershayim the whole word or its tail after prefixes.
    """
    alts: list[tuple[str, ...]] = [written]
    prefix_used = ""
    if gershayim:
        value = gematria(letters)
        if value is not None:
            alts += _number_phrases(value)
        for prefix, rest in _prefix_splits(letters):
            v = gematria(rest)
            if v is not None and len(rest) >= 2:
                for phrase in _number_phrases(v)[:2]:
                    alts += _with_prefix(prefix, phrase)
                prefix_used = prefix
                break
    elif len(letters) == 1:
        alts += _number_phrases(LETTER_VALUES[letters])
        alts.append((LETTER_NAMES[letters],))
    elif all(ch in PREFIX_LETTERS for ch in letters[:-1]) and len(letters) <= MAX_PREFIX + 1:
        prefix_used = letters[:-1]
        for phrase in _number_phrases(LETTER_VALUES[letters[-1]]):
            alts += _with_prefix(prefix_used, phrase)
    if len(alts) == 1:
        return None
    return Reading(core, "numeral", _dedupe(alts), prefix_used)


def read_word(core: str, table: AbbreviationTable | None = None) -> Reading:
    """How one word core (``sync.hebrew.token_core``, no maqaf) is read."""
    return _read_word(core, table or default_table())


@lru_cache(maxsize=100_000)  # tables hash by identity, so a cached reading never crosses tables
def _read_word(core: str, table: AbbreviationTable) -> Reading:
    key = normalize(core)
    if not key:
        return Reading(core, "empty", ((),))
    written = (key,)
    if not is_abbreviation(core):
        return Reading(core, "plain", (written,))
    letters = _letters(core)
    gershayim = '"' in core.strip('"')

    forms = _table_forms(table, core)
    if forms is not None:
        return Reading(core, "table", _dedupe([written, *forms]), said_as_written=written in forms)

    for prefix, rest in _prefix_splits(letters):
        if len(rest) < 2 and not core.endswith("'"):
            continue
        forms = _table_forms(table, _rebuild(rest, core))
        if forms is not None:
            alts = [written]
            for f in forms:
                alts += _with_prefix(prefix, f)
            said = any(written in _with_prefix(prefix, f) for f in forms)
            return Reading(core, "prefix", _dedupe(alts), prefix, said_as_written=said)

    year = _read_year(core, letters)
    if year is not None:
        return Reading(core, year.source, _dedupe([written, *year.alternatives]), year.prefix, said_as_written=True)

    if gershayim and len(letters) == 2 and letters[0] == "ס":
        # "(כנ"ל ס"ד)": a cross-reference to section ד of the same discourse.
        alts = [written, ("סעיף", letters[1]), ("סעיף", LETTER_NAMES[letters[1]])]
        value = gematria(letters)
        if value is not None:
            alts += _number_phrases(value)[:2]
        return Reading(core, "section", _dedupe(alts))

    if not gershayim and core.endswith("י'") and len(letters) >= 3:
        # Truncated Aramaic/rabbinic ending: the geresh stands for a final ה (מיני' = מיניה).
        return Reading(core, "aramaic", _dedupe([written, (key + "ה",)]))

    numeral = _read_numeral(core, letters, written, gershayim)
    if numeral is not None:
        return numeral

    return Reading(core, "unknown", (written,))


def _read_name(core: str, raw: str) -> Reading | None:
    """The Name (יהוה, with prefix letters: וַיהוָה, לַיהוָה) as a reader says it."""
    if is_abbreviation(core):
        return None
    letters = _letters(core)
    for prefix, rest in [("", letters), *_prefix_splits(letters)[:2]]:
        if rest in _NAME_LETTERS:
            said = ["אדני", "אדוני", "השם"]
            if _HIRIQ in unicodedata.normalize("NFD", raw):
                said = ["אלהים", "אלוהים", *said]
            alts = [(normalize(core),)]
            for w in said:
                alts += _with_prefix(prefix, (normalize(w),))
            return Reading(core, "name", _dedupe(alts), prefix)
    return None


def read_token(token: str, table: AbbreviationTable | None = None) -> list[Reading]:
    """The readings of a written token, one per maqaf-separated part."""
    core = token_core(token)
    parts = [c for c in (token_core(p) for p in _MAQAF.split(core)) if c]
    raw_parts = [p for p in _MAQAF.split(token) if _LETTER.search(p)]
    if len(raw_parts) != len(parts):
        raw_parts = [token] * len(parts)
    out = []
    for part, raw in zip(parts, raw_parts, strict=True):
        name = _read_name(part, raw) if "\u05d9" in part else None
        out.append(name or read_word(part, table))
    return out


def token_alternatives(token: str, table: AbbreviationTable | None = None) -> list[tuple[str, ...]]:
    """Spoken alternatives of one written token (as in Passage.tokens: may carry punctuation, geresh,
    gershayim, prefixes, niqqud). Each alternative is a tuple of normalised words
    (``sync.hebrew.normalize`` keys). The first alternative is the written form itself, normalised
    (split on maqaf). A token with no letters gives [()]. Unknown abbreviations still give their
    written form (and are reported by ``unknown_abbreviations``)."""
    readings = [r for r in read_token(token, table) if r.source != "empty"]
    if not readings:
        return [()]
    written = tuple(w for r in readings for w in r.alternatives[0])
    if not written:
        return [()]
    out = [written]
    seen = {written}
    for combo in product(*(r.alternatives for r in readings)):
        alt = tuple(w for part in combo for w in part)
        if alt not in seen:
            seen.add(alt)
            out.append(alt)
            if len(out) >= MAX_ALTERNATIVES:
                break
    return out


def passage_lattice(passage: Passage, table: AbbreviationTable | None = None) -> list[list[tuple[str, ...]]]:
    """``token_alternatives`` for every token of a passage, index for index."""
    return [token_alternatives(t, table) for t in passage.tokens]


def discourse_tokens(discourse: Discourse) -> list[str]:
    """Every written token a lecturer may read: front matter, passages, back matter."""
    tokens: list[str] = []
    for block in discourse.front_matter:
        tokens += block.split()
    for p in discourse.passages():
        tokens += p.tokens
    for block in discourse.back_matter:
        tokens += block.split()
    return tokens


def unknown_abbreviations(
    discourse: Discourse, table: AbbreviationTable | None = None
) -> collections.Counter[str]:
    """Abbreviation-like words (token cores) that neither the table nor a rule can read, with counts."""
    counts: collections.Counter[str] = collections.Counter()
    for tok in discourse_tokens(discourse):
        for r in read_token(tok, table):
            if r.source == "unknown":
                counts[r.core] += 1
    return counts


def abbreviation_sources(
    discourse: Discourse, table: AbbreviationTable | None = None
) -> collections.Counter[str]:
    """How many abbreviation tokens each source resolved (table, prefix, ..., unknown)."""
    counts: collections.Counter[str] = collections.Counter()
    for tok in discourse_tokens(discourse):
        for r in read_token(tok, table):
            if r.is_abbreviation:
                counts[r.source] += 1
    return counts
