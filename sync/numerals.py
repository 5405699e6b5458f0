"""Hebrew-letter numerals (gematria notation) and how a reader says them.

A number written in letters (ס"ג, רמ"ח, ד', ה'תשכ"ה) is said either as the letters read as a word
("sag", "ramach", "tashka") or as the number in words ("שישים ושלוש"). This module turns letters
into values and values into spoken Hebrew words; choosing between readings is for ``sync.spoken``.
"""

from __future__ import annotations

_FINALS = str.maketrans("ךםןףץ", "כמנפצ")

LETTER_VALUES: dict[str, int] = {
    "א": 1, "ב": 2, "ג": 3, "ד": 4, "ה": 5, "ו": 6, "ז": 7, "ח": 8, "ט": 9,
    "י": 10, "כ": 20, "ל": 30, "מ": 40, "נ": 50, "ס": 60, "ע": 70, "פ": 80, "צ": 90,
    "ק": 100, "ר": 200, "ש": 300, "ת": 400,
}  # fmt: skip

# Letter names as Whisper tends to write them when a reader spells a section letter ("סעיף גימל").
LETTER_NAMES: dict[str, str] = {
    "א": "אלף", "ב": "בית", "ג": "גימל", "ד": "דלת", "ה": "הא", "ו": "וו", "ז": "זין", "ח": "חית",
    "ט": "טית", "י": "יוד", "כ": "כף", "ל": "למד", "מ": "מם", "נ": "נון", "ס": "סמך", "ע": "עין",
    "פ": "פא", "צ": "צדי", "ק": "קוף", "ר": "ריש", "ש": "שין", "ת": "תו",
}  # fmt: skip

_UNITS_F = ["", "אחת", "שתיים", "שלוש", "ארבע", "חמש", "שש", "שבע", "שמונה", "תשע"]
_UNITS_M = ["", "אחד", "שניים", "שלושה", "ארבעה", "חמישה", "שישה", "שבעה", "שמונה", "תשעה"]
# Construct forms before a noun: "שני מקומות", "ארבעת העולמות", "שתי בחינות", "ארבע בחינות".
_CONSTRUCT_M = ["", "אחד", "שני", "שלושת", "ארבעת", "חמשת", "ששת", "שבעת", "שמונת", "תשעת", "עשרת"]
_CONSTRUCT_F = ["", "אחת", "שתי", "שלוש", "ארבע", "חמש", "שש", "שבע", "שמונה", "תשע", "עשר"]
_ORDINAL_M = ["", "ראשון", "שני", "שלישי", "רביעי", "חמישי", "שישי", "שביעי", "שמיני", "תשיעי", "עשירי"]
_TEENS_F = ["עשר", "אחת עשרה", "שתים עשרה", "שלוש עשרה", "ארבע עשרה", "חמש עשרה", "שש עשרה",
            "שבע עשרה", "שמונה עשרה", "תשע עשרה"]  # fmt: skip
_TEENS_M = ["עשרה", "אחד עשר", "שנים עשר", "שלושה עשר", "ארבעה עשר", "חמישה עשר", "שישה עשר",
            "שבעה עשר", "שמונה עשר", "תשעה עשר"]  # fmt: skip
_TENS = ["", "עשר", "עשרים", "שלושים", "ארבעים", "חמישים", "שישים", "שבעים", "שמונים", "תשעים"]
_HUNDREDS = ["", "מאה", "מאתיים", "שלוש מאות", "ארבע מאות", "חמש מאות", "שש מאות", "שבע מאות",
             "שמונה מאות", "תשע מאות"]  # fmt: skip
_THOUSANDS = ["", "אלף", "אלפיים", "שלושת אלפים", "ארבעת אלפים", "חמשת אלפים", "ששת אלפים",
              "שבעת אלפים", "שמונת אלפים", "תשעת אלפים"]  # fmt: skip


def letters_only(text: str) -> str:
    return "".join(ch for ch in text.translate(_FINALS) if ch in LETTER_VALUES)


def gematria(letters: str) -> int | None:
    """The value of a letter numeral, or None when the letters are not written as a number.

    Numerals are written largest value first (רמ"ח = 200+40+8), with ת repeated for 800+ and the
    15/16 spellings טו/טז; anything else (מ"ש, ע"פ) is an abbreviation, not a number.
    """
    letters = letters.translate(_FINALS)
    if not letters or any(ch not in LETTER_VALUES for ch in letters):
        return None
    values = [LETTER_VALUES[ch] for ch in letters]
    core = values
    if letters.endswith(("טו", "טז")):
        core = values[:-2]
    for a, b in zip(core, core[1:], strict=False):
        if b > a or (b == a and a != 400):
            return None
    if core and letters.endswith(("טו", "טז")) and core[-1] < 10:
        return None
    return sum(values)


def number_words(n: int, feminine: bool = True) -> str:
    """Cardinal number in Hebrew words, e.g. 248 -> "מאתיים ארבעים ושמונה"; 0 < n < 10000."""
    if not 0 < n < 10000:
        raise ValueError(f"number out of range: {n}")
    parts: list[str] = []
    thousands, rest = divmod(n, 1000)
    hundreds, rest = divmod(rest, 100)
    tens, units = divmod(rest, 10)
    if thousands:
        parts.append(_THOUSANDS[thousands])
    if hundreds:
        parts.append(_HUNDREDS[hundreds])
    if tens == 1:
        parts.append((_TEENS_F if feminine else _TEENS_M)[units])
    else:
        if tens:
            parts.append(_TENS[tens])
        if units:
            parts.append((_UNITS_F if feminine else _UNITS_M)[units])
    if len(parts) > 1 and " " not in parts[-1]:
        # The last term takes the conjunction: "שישים ושלוש", "מאה ועשרים".
        parts[-1] = "ו" + parts[-1]
    return " ".join(parts)


def spoken_numbers(n: int) -> list[str]:
    """The usual ways to say the number n aloud: feminine, masculine, and for small numbers the
    construct and ordinal forms a reader uses before a noun ("בד' שמות" -> "בארבעה שמות")."""
    forms = [number_words(n, True), number_words(n, False)]
    if n <= 10:
        forms += [_CONSTRUCT_M[n], _CONSTRUCT_F[n], _ORDINAL_M[n]]
    out: list[str] = []
    for f in forms:
        if f and f not in out:
            out.append(f)
    return out


def year_value(letters: str) -> int | None:
    """Value of a Hebrew year written with or without the thousands letter: "התשכה" -> 5725,
    "תשכה" -> 5725 (the fifth millennium is implied)."""
    letters = letters.translate(_FINALS)
    if len(letters) >= 4 and letters[0] in "הו" and letters[1] == "ת":
        rest = gematria(letters[1:])
        return None if rest is None else LETTER_VALUES[letters[0]] * 1000 + rest
    if letters.startswith("ת"):
        rest = gematria(letters)
        return None if rest is None else 5000 + rest
    return None
