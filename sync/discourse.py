"""Discourse -> Paragraph -> Passage: the text a lecturer reads, parsed from plain UTF-8.

Paragraphs are separated by blank lines. Body paragraphs get ids ``p1``..``pN`` in order; their
passages (sentence or clause units of about 5-40 words) get ``p<N>.<M>``. Front matter (a "בס"ד"
line, a date line, "(הנחה בלתי מוגה)") and separator lines ("______") stay out of that numbering so
ids do not shift when a publisher adds or drops a heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TextError
from .hebrew import strip_bidi_controls

MIN_PASSAGE_WORDS = 5
TARGET_PASSAGE_WORDS = 22
MAX_PASSAGE_WORDS = 40

_SENTENCE_END = re.compile(r"[.!?:;׃]['\")\]]*$")
_CLAUSE_END = re.compile(r"[,)\]]['\"]*$")
_SECTION = re.compile(r"^([א-ת]{1,2})\)\s+")
# A footnote number glued to the end of a word: letter or geresh/gershayim, then digits, then
# optional trailing punctuation. Hebrew text has no other reason for Arabic digits inside a word.
_FOOTNOTE = re.compile(r"^(.*[\u05d0-\u05ea'\"\u05f3\u05f4])(\d{1,3})([.,;:!?)\]]*)$")
_SEPARATOR = re.compile(r"^[\s_\-*=~.·•l|]+$")
_HEBREW_YEAR = re.compile(r"ה?['\u05f3]?תש[א-ת]?[\"\u05f4][א-ת]")
_FRONT_START = re.compile(r"^(בס\"ד|ב\"ה|בעזהי\"ת|בס״ד|ב״ה)")


@dataclass
class Footnote:
    number: int
    passage_id: str
    token_index: int


@dataclass
class Passage:
    id: str
    paragraph: int
    index: int
    text: str
    """The passage as written, footnote digits removed."""
    tokens: list[str] = field(default_factory=list)
    """Whitespace tokens of ``text``; word timings refer to positions in this list."""
    footnotes: list[Footnote] = field(default_factory=list)


@dataclass
class Paragraph:
    id: str
    number: int
    passages: list[Passage] = field(default_factory=list)
    section: str | None = None
    """A section letter that opens the paragraph, e.g. "ב" for "ב)"."""

    @property
    def text(self) -> str:
        return " ".join(p.text for p in self.passages)


@dataclass
class Discourse:
    paragraphs: list[Paragraph] = field(default_factory=list)
    front_matter: list[str] = field(default_factory=list)
    back_matter: list[str] = field(default_factory=list)
    title: str | None = None

    def passages(self) -> list[Passage]:
        return [p for para in self.paragraphs for p in para.passages]

    def passage(self, passage_id: str) -> Passage:
        for p in self.passages():
            if p.id == passage_id:
                return p
        raise KeyError(passage_id)

    def paragraph(self, paragraph_id: str) -> Paragraph:
        for para in self.paragraphs:
            if para.id == paragraph_id:
                return para
        raise KeyError(paragraph_id)

    def footnotes(self) -> list[Footnote]:
        return [f for p in self.passages() for f in p.footnotes]

    def word_count(self) -> int:
        return sum(len(p.tokens) for p in self.passages())

    @property
    def direction(self) -> str:
        """"rtl" for a Hebrew, Aramaic or Yiddish text; "ltr" for, say, an English one."""
        sample = " ".join(p.text for p in self.passages()[:20])
        hebrew = sum(1 for ch in sample if "\u0590" <= ch <= "\u05ff")
        latin = sum(1 for ch in sample if ch.isascii() and ch.isalpha())
        return "rtl" if hebrew >= latin else "ltr"


def _is_separator(block: str) -> bool:
    return bool(_SEPARATOR.match(block)) and "_" in block or block.strip() in {"***", "* * *", "---"}


def _is_front_matter(block: str) -> bool:
    line = block.strip()
    if "\n" in line or len(line.split()) > 15:
        return False
    if line.startswith("(") and line.endswith(")"):
        return True
    return bool(_FRONT_START.match(line) or _HEBREW_YEAR.search(line))


def _strip_footnotes(tokens: list[str]) -> tuple[list[str], list[tuple[int, int]]]:
    out: list[str] = []
    notes: list[tuple[int, int]] = []
    for i, tok in enumerate(tokens):
        m = _FOOTNOTE.match(tok)
        if m:
            out.append(m.group(1) + m.group(3))
            notes.append((i, int(m.group(2))))
        else:
            out.append(tok)
    return out, notes


def _chunk_sentence(tokens: list[str]) -> list[list[str]]:
    """Split one sentence into clause chunks of at most MAX words, preferring cuts at commas."""
    if len(tokens) <= MAX_PASSAGE_WORDS:
        return [tokens]
    chunks: list[list[str]] = []
    cur: list[str] = []
    for i, tok in enumerate(tokens):
        # A "(" opening a parenthetical is a clause boundary too: cut before it.
        if tok.startswith("(") and len(cur) >= TARGET_PASSAGE_WORDS:
            chunks.append(cur)
            cur = []
        cur.append(tok)
        remaining = len(tokens) - i - 1
        at_clause = bool(_CLAUSE_END.search(tok))
        if (at_clause and len(cur) >= TARGET_PASSAGE_WORDS and remaining >= MIN_PASSAGE_WORDS) or len(
            cur
        ) >= MAX_PASSAGE_WORDS:
            chunks.append(cur)
            cur = []
    if cur:
        chunks.append(cur)
    return chunks


def _merge_short(chunks: list[list[str]]) -> list[list[str]]:
    out: list[list[str]] = []
    for ch in chunks:
        if out and (len(ch) < MIN_PASSAGE_WORDS or len(out[-1]) < MIN_PASSAGE_WORDS) and (
            len(out[-1]) + len(ch) <= MAX_PASSAGE_WORDS
        ):
            out[-1] = out[-1] + ch
        else:
            out.append(ch)
    return out


def split_passages(tokens: list[str]) -> list[list[str]]:
    """Split a paragraph's tokens into passages: sentences, long ones cut at clauses."""
    sentences: list[list[str]] = []
    cur: list[str] = []
    for tok in tokens:
        cur.append(tok)
        if _SENTENCE_END.search(tok):
            sentences.append(cur)
            cur = []
    if cur:
        sentences.append(cur)
    chunks = [c for s in sentences for c in _chunk_sentence(s)]
    return _merge_short(chunks)


def parse_discourse(text: str) -> Discourse:
    """Parse discourse text (already decoded) into paragraphs and passages; bidi control
    characters are dropped first."""
    text = strip_bidi_controls(text).replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    d = Discourse()
    body_started = False
    after_final_separator: list[str] = []
    seen_separator_after_body = False
    for block in blocks:
        if _is_separator(block):
            if body_started:
                seen_separator_after_body = True
            continue
        if not body_started and _is_front_matter(block):
            d.front_matter.append(block)
            continue
        if seen_separator_after_body and re.match(r"^\d", block):
            # Footnote texts printed after the closing separator are notes, not discourse.
            after_final_separator.append(block)
            continue
        body_started = True
        seen_separator_after_body = False
        number = len(d.paragraphs) + 1
        para = Paragraph(id=f"p{number}", number=number)
        flat = " ".join(block.split())
        m = _SECTION.match(flat)
        if m:
            para.section = m.group(1)
        tokens, notes = _strip_footnotes(flat.split(" "))
        note_at = dict(notes)
        start = 0
        for m_idx, chunk in enumerate(split_passages(tokens), start=1):
            pid = f"{para.id}.{m_idx}"
            passage = Passage(id=pid, paragraph=number, index=m_idx, text=" ".join(chunk), tokens=chunk)
            for j in range(len(chunk)):
                if start + j in note_at:
                    passage.footnotes.append(Footnote(note_at[start + j], pid, j))
            para.passages.append(passage)
            start += len(chunk)
        d.paragraphs.append(para)
    d.back_matter = after_final_separator
    if d.front_matter:
        d.title = d.front_matter[0]
    return d


MAX_TEXT_BYTES = 5 * 1024 * 1024


UTF16_ZERO_SHARE = 0.3
"""In UTF-16 text without a byte-order mark, the high byte of Latin letters, digits and spaces is
0 and that of Hebrew letters is 0x05: over this share of the even (big-endian) or odd
(little-endian) bytes being one of those tells UTF-16 from binary junk."""


def _utf16_without_bom(data: bytes) -> str | None:
    """A hint when ``data`` looks like UTF-16 saved without its byte-order mark, else None."""
    sample = data[:4096]
    if len(sample) < 8:
        return None
    for order, high in (("LE", sample[1::2]), ("BE", sample[0::2])):
        share = sum(1 for b in high if b in (0x00, 0x05)) / len(high)
        if share >= 1 - UTF16_ZERO_SHARE and high.count(0) + high.count(5) > 0:
            other = sample[0::2] if order == "LE" else sample[1::2]
            if other.count(0) < len(other) * UTF16_ZERO_SHARE:
                return (f"It looks like UTF-16 ({order}) saved without a byte-order mark; "
                        "save it as UTF-8 (in Notepad: Save as, Encoding: UTF-8).")
    return None


def decode_text(data: bytes, name: str = "text") -> str:
    """Decode discourse bytes as UTF-8, with a clear message for the usual wrong encodings."""
    if len(data) > MAX_TEXT_BYTES:
        raise TextError(f"{name}: {len(data) / 1e6:.1f} MB is far too large for a discourse text (max 5 MB)")
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    utf16 = _utf16_without_bom(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        hint = ""
        if utf16:
            hint = f" {utf16}"
        else:
            try:
                data.decode("cp1255")
                hint = " It looks like Windows-1255 (Hebrew Windows); save it as UTF-8."
            except UnicodeDecodeError:
                pass
        raise TextError(f"{name}: not UTF-8 text (bad byte at offset {e.start}).{hint}") from None
    if "\x00" in text:
        if utf16:
            raise TextError(f"{name}: not UTF-8 text. {utf16}")
        raise TextError(f"{name}: looks like a binary file, not a plain-text discourse")
    if not re.search(r"[\u0590-\u05ff\w]", text):
        raise TextError(f"{name}: the text is empty")
    return text


def load_discourse(path: str | Path) -> Discourse:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise TextError(f"{p}: text file not found") from None
    except IsADirectoryError:
        raise TextError(f"{p}: is a folder, not a text file") from None
    d = parse_discourse(decode_text(data, str(p)))
    if not d.paragraphs:
        raise TextError(f"{p}: no paragraphs found (paragraphs are separated by blank lines)")
    return d
