"""Readable names for URLs, folders and batch keys: the one ``slugify``.

Hebrew stays Hebrew (``2024-10-06-שבת-שובה``): a browser shows it as typed and sends it
percent-encoded, Flask decodes it, and Linux and macOS folder names hold it as UTF-8. Niqqud
and cantillation marks are dropped (they would otherwise split words into letters), and so are
the geresh and gershayim of abbreviations (תשפ״ה -> תשפה), so a slug is what one would type.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SLUG_CHARS = 60
"""Long titles are cut here (at a word boundary when there is one): a URL stays shareable."""

_QUOTES = "\"'\u05f3\u05f4\u2018\u2019\u201c\u201d`"
"""Inside a word these mark an abbreviation or a numeral, not a word break: dropped."""


def _is_hebrew_letter(ch: str) -> bool:
    return "\u05d0" <= ch <= "\u05ea"


def slugify(text: str, fallback: str = "item", *, max_chars: int | None = MAX_SLUG_CHARS, keep: str = "",
            lower: bool = True) -> str:
    """Letters and digits (ASCII and Hebrew) joined by ``-``; anything else is a word break.

    ``keep`` names extra characters kept as they are (batch keys keep ``.`` and ``_``);
    ``lower=False`` keeps the case of Latin letters. Returns ``fallback`` for a text with no
    letters or digits at all.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    out: list[str] = []
    for ch in decomposed:
        if unicodedata.category(ch) == "Mn" or ch in _QUOTES:
            continue  # niqqud, cantillation, accents of Latin letters; geresh and gershayim
        if (ch.isascii() and ch.isalnum()) or _is_hebrew_letter(ch) or ch in keep:
            out.append(ch.lower() if lower else ch)
        else:
            out.append("-")
    slug = re.sub(r"-+", "-", "".join(out)).strip("-" + keep)
    if max_chars and len(slug) > max_chars:
        cut = slug[:max_chars]
        slug = (cut.rsplit("-", 1)[0] if "-" in cut[max_chars // 2 :] else cut).strip("-")
    return slug or fallback
