"""The discourse as one flat sequence of speakable tokens, each with its spoken alternatives.

The aligner works on this sequence: token ``j`` belongs to passage ``passage_of[j]`` at position
``token_in_passage[j]`` of that passage's ``tokens``. Each token carries alternatives (tuples of
normalised words): the written form, and, with the lattice, how a reader says it ("משא"כ" ->
("מה", "שאין", "כן")). Tokens with no letters (a paseq, a lone dash) are not spoken and are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import hebrew
from .discourse import Discourse, Passage

Alternatives = list[tuple[str, ...]]


def _written_only(token: str) -> Alternatives:
    return [tuple(hebrew.words(token))]


def default_alternatives() -> Callable[[str], Alternatives]:
    """The lattice from :mod:`sync.spoken` when available, else the written form only."""
    try:
        from .spoken import token_alternatives
    except ImportError:
        return _written_only
    return token_alternatives


@dataclass
class TextSeq:
    passages: list[Passage]
    alts: list[Alternatives] = field(default_factory=list)
    passage_of: list[int] = field(default_factory=list)
    token_in_passage: list[int] = field(default_factory=list)
    passage_first: list[int] = field(default_factory=list)
    """Index of each passage's first speakable token in the sequence (-1 if it has none)."""
    passage_len: list[int] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)
    """Spoken length of each token in letters, for estimating durations."""

    def __len__(self) -> int:
        return len(self.alts)

    def primary(self, j: int) -> tuple[str, ...]:
        return self.alts[j][0]


def build_textseq(discourse: Discourse, lattice: bool = True) -> TextSeq:
    reader = default_alternatives() if lattice else _written_only
    memo: dict[str, Alternatives] = {}

    def alternatives(token: str) -> Alternatives:
        # A long text repeats its tokens; the lattice look-up is the costly part.
        if token not in memo:
            memo[token] = reader(token)
        return memo[token]

    passages = discourse.passages()
    seq = TextSeq(passages=passages)
    for p_idx, passage in enumerate(passages):
        first = -1
        count = 0
        for t_idx, token in enumerate(passage.tokens):
            alts = [a for a in alternatives(token) if a]  # a fresh list: it is edited below
            if not alts:
                continue
            written = tuple(hebrew.words(token))
            if written and written not in alts:
                alts.insert(0, written)
            if first < 0:
                first = len(seq.alts)
            seq.alts.append(alts)
            seq.passage_of.append(p_idx)
            seq.token_in_passage.append(t_idx)
            # Read aloud, an abbreviation takes as long as its (longest) expansion.
            seq.chars.append(max(sum(len(w) for w in a) for a in alts))
            count += 1
        seq.passage_first.append(first)
        seq.passage_len.append(count)
    return seq
