"""Is this stretch of the transcript a reading of the passage, or talk about it?

A reading is the passage's words in order, at the reader's pace, from (nearly) its first word to
its last, with few other words among them. A lecturer explaining a passage says its words too,
one or two at a time or as a short quote, between words of his own. Whisper base garbles many
words either way, so exact matches alone cannot tell the two apart.

:func:`passage_evidence` aligns the whole passage, word by word and fuzzily
(:func:`sync.fine.align_region`), to the heard words around a candidate and measures what a
reading has and talk lacks: how much of the passage the matches span, how many of its tokens
they match, and how few unmatched words lie among them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from .fine import WordMatch, align_region
from .params import DEFAULT, AlignParams
from .textseq import TextSeq


@dataclass(frozen=True)
class Evidence:
    passage: int
    tokens: int
    """Speakable tokens of the passage."""
    matched: int
    """Tokens matched (fuzzily, in order)."""
    first: int
    """Index (in the passage) of the first and last matched token; -1 when none matched."""
    last: int
    heard: int
    """Heard words from the first matched word to the last."""
    matched_words: int
    quality: float
    """Mean similarity of the matches."""
    i0: int = -1
    i1: int = -1
    """Transcript words of the first and last match."""

    @property
    def span_share(self) -> float:
        """Share of the passage from the first matched token to the last."""
        return (self.last - self.first + 1) / self.tokens if self.matched and self.tokens else 0.0

    @property
    def coverage(self) -> float:
        return self.matched / self.tokens if self.tokens else 0.0

    @property
    def purity(self) -> float:
        """Share of the heard words among the matches that are matched: a reading has few
        words that are not the text's; talk with the text's words in it has many."""
        return self.matched_words / self.heard if self.heard else 0.0

    def strength(self, prm: AlignParams = DEFAULT) -> float:
        """How close this comes to a reading on its own: the least of its four measures as a
        share of what a reading needs (``prm.reading_*``), at most 1."""
        if not self.matched:
            return 0.0
        need = (prm.reading_span_share, prm.reading_coverage, prm.reading_purity, prm.reading_quality)
        have = (self.span_share, self.coverage, self.purity, self.quality)
        return min(1.0, *(h / n for h, n in zip(have, need, strict=True) if n > 0))

    def reads(self, prm: AlignParams = DEFAULT, resuming: bool = False) -> bool:
        """Enough to be a reading of the passage on its own; ``resuming``: enough to go on
        reading the next passage after talk, which asks for less (``prm.resume_*``)."""
        if resuming:
            need = (prm.resume_span_share, prm.resume_coverage, prm.resume_purity, prm.resume_quality)
        else:
            need = (prm.reading_span_share, prm.reading_coverage, prm.reading_purity, prm.reading_quality)
        span, coverage, purity, quality = need
        return (
            self.matched > 0
            and self.span_share >= span
            and self.coverage >= coverage
            and self.purity >= purity
            and self.quality >= quality
        )


NONE = Evidence(-1, 0, 0, -1, -1, 0, 0, 0.0)


def evidence_of(matches: list[WordMatch], seq: TextSeq, p: int) -> Evidence:
    """The evidence in ``matches`` (word matches, in transcript order) for passage ``p``."""
    first_j = seq.passage_first[p]
    own = [m for m in matches if seq.passage_of[m.j] == p]
    n = seq.passage_len[p]
    if not own:
        return Evidence(p, n, 0, -1, -1, 0, 0, 0.0)
    tokens = {m.j for m in own}
    words = {m.i for m in own}
    i0, i1 = min(words), max(words)
    return Evidence(
        passage=p,
        tokens=n,
        matched=len(tokens),
        first=min(tokens) - first_j,
        last=max(tokens) - first_j,
        heard=i1 - i0 + 1,
        matched_words=len(words),
        quality=sum(m.sim for m in own) / len(own),
        i0=i0,
        i1=i1,
    )


def piece_evidence(keys: list[str], seq: TextSeq, anchors: list[tuple[int, int, float]], prm: AlignParams = DEFAULT,
                   lo_limit: int = 0, hi_limit: int | None = None, starts: list[float] | None = None,
                   ends: list[float] | None = None) -> Evidence:
    """The reading of one passage that a candidate's anchors ``(word, token, similarity)`` (one
    passage's, in order) stand for, and its evidence.

    The words between anchors, and the passage's tokens before the first and after the last
    anchor, are matched as the word DP matches a reading (:func:`sync.fine.align_region`): the
    tokens before the first anchor in the words before it, at most
    ``prm.evidence_words_per_token`` words per token (plus ``prm.evidence_margin``), and likewise
    after the last, within ``[lo_limit, hi_limit)``; with the words' ``starts`` and ``ends``, no
    further than those tokens take to read at a slow pace (``prm.evidence_sec_per_char`` a
    letter, plus ``prm.evidence_slack_seconds``). So the evidence is this candidate's own,
    not that of another reading of the passage nearby.
    """
    if not anchors:
        return NONE
    p = seq.passage_of[anchors[0][1]]
    n, first = seq.passage_len[p], seq.passage_first[p]
    hi_limit = len(keys) if hi_limit is None else hi_limit
    per, margin = prm.evidence_words_per_token, prm.evidence_margin
    matches: list[WordMatch] = []
    i_a, j_a, _ = anchors[0]
    if j_a > first:
        lo = max(lo_limit, i_a - per * (j_a - first) - margin)
        if starts is not None:
            reach = sum(seq.chars[first:j_a]) * prm.evidence_sec_per_char + prm.evidence_slack_seconds
            lo = max(lo, bisect.bisect_left(starts, starts[i_a] - reach))
        matches += align_region(keys, lo, i_a, seq, first, j_a, free_lead=True, prm=prm)
    prev: tuple[int, int] | None = None
    for i, j, sim in anchors:
        if prev is not None and i - prev[0] > 1 and j - prev[1] > 1:
            matches += align_region(keys, prev[0] + 1, i, seq, prev[1] + 1, j, prm=prm)
        matches.append(WordMatch(i, j, sim, anchor=True))
        prev = (i, j)
    i_z, j_z, _ = anchors[-1]
    if j_z + 1 < first + n:
        hi = min(hi_limit, i_z + 1 + per * (first + n - 1 - j_z) + margin)
        if starts is not None and ends is not None:
            reach = sum(seq.chars[j_z + 1 : first + n]) * prm.evidence_sec_per_char + prm.evidence_slack_seconds
            hi = min(hi, bisect.bisect_right(starts, ends[i_z] + reach))
        matches += align_region(keys, i_z + 1, hi, seq, j_z + 1, first + n, free_trail=True, prm=prm)
    return evidence_of(matches, seq, p)
