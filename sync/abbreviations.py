"""The curated abbreviation table (``sync/data/abbreviations.tsv``): written form -> spoken forms.

File format, UTF-8, one entry a line, ``#`` starts a comment::

    abbr<TAB>spoken form|spoken form|...<TAB>domain

An abbreviation is written with ASCII " for gershayim and ' for geresh (Hebrew ״ ׳ are accepted
too). The spoken forms are what a lecturer says: the expansion(s), and the acronym said as a word
where that is usual (רמ"ח -> רמח). The same abbreviation on several lines (different domains) has
the union of their forms. Prefix letters (ו ב ד ה ל מ ש כ) are NOT listed: ``sync.spoken``
handles them by rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .errors import TextError
from .hebrew import canonical_quotes

_FINALS = str.maketrans("ךםןףץ", "כמנפצ")


def abbreviation_key(core: str) -> str | None:
    """Lookup key of a written abbreviation: its letters (final letters folded) followed by the
    kind of mark, '"' for gershayim (anywhere) or "'" for a final geresh. None if it is neither."""
    core = canonical_quotes(core)
    letters = "".join(ch for ch in core if "\u05d0" <= ch <= "\u05ea").translate(_FINALS)
    if not letters:
        return None
    if '"' in core.strip('"'):
        return letters + '"'
    if core.endswith("'"):
        return letters + "'"
    return None


@dataclass(frozen=True)
class Entry:
    abbr: str
    forms: tuple[str, ...]
    domains: tuple[str, ...]
    line: int


class AbbreviationTable:
    """Entries by ``abbreviation_key``."""

    def __init__(self, entries: dict[str, Entry], source: str = "table") -> None:
        self._entries = entries
        self.source = source

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, core: object) -> bool:
        return isinstance(core, str) and self.get(core) is not None

    def get(self, core: str) -> Entry | None:
        key = abbreviation_key(core)
        return None if key is None else self._entries.get(key)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    @classmethod
    def from_text(cls, text: str, source: str = "table") -> AbbreviationTable:
        entries: dict[str, Entry] = {}
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
                raise TextError(f"{source}:{lineno}: expected 'abbr<TAB>spoken|forms<TAB>domain', got {raw!r}")
            abbr = cols[0].strip()
            key = abbreviation_key(abbr)
            if key is None:
                raise TextError(f"{source}:{lineno}: {abbr!r} has no gershayim or final geresh")
            forms = tuple(f.strip() for f in cols[1].split("|") if f.strip())
            domain = cols[2].strip() if len(cols) > 2 and cols[2].strip() else "general"
            old = entries.get(key)
            if old is not None:
                merged = old.forms + tuple(f for f in forms if f not in old.forms)
                domains = old.domains + ((domain,) if domain not in old.domains else ())
                entries[key] = Entry(old.abbr, merged, domains, old.line)
            else:
                entries[key] = Entry(abbr, forms, (domain,), lineno)
        return cls(entries, source)

    @classmethod
    def load(cls, path: str | Path) -> AbbreviationTable:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TextError(f"{p}: abbreviation table not found") from None
        except UnicodeDecodeError:
            raise TextError(f"{p}: abbreviation table is not UTF-8") from None
        return cls.from_text(text, str(p))


@lru_cache(maxsize=1)
def default_table() -> AbbreviationTable:
    """The table bundled with the package."""
    text = resources.files("sync").joinpath("data/abbreviations.tsv").read_text(encoding="utf-8")
    return AbbreviationTable.from_text(text, "abbreviations.tsv")
