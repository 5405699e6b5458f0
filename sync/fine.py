"""Word-level matching inside the stretches the coarse pass decided are read.

Between two consecutive anchors of a reading, a small DP aligns the transcript words to the text
tokens in between, with fuzzy similarity (plain and spelling-insensitive) against every spoken
alternative of a token, so a token may take one word or several ("משא"כ" read "מה שאין כן").
Regions are small, so the total cost stays linear.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import Indel

from . import hebrew
from .coarse import Chain, plausible_counts, straight_on
from .params import DEFAULT, AlignParams
from .textseq import TextSeq


@dataclass
class WordMatch:
    i: int
    j: int
    sim: float
    anchor: bool = False


def word_sim(a: str, b: str, prm: AlignParams = DEFAULT) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    plain = Indel.normalized_similarity(a, b)
    sa, sb = hebrew.skeleton(a), hebrew.skeleton(b)
    skel = prm.skeleton_equal_sim if sa == sb else Indel.normalized_similarity(sa, sb) * prm.skeleton_sim_factor
    return max(plain, skel)


def _merge_sim(word: str, merged: str, prm: AlignParams) -> float:
    """Similarity of one heard word to several written words run together, if lengths fit."""
    r = prm.merge_len_ratio
    if len(word) < r * len(merged) or len(merged) < r * len(word):
        return 0.0
    return word_sim(word, merged, prm)


def token_sim(words: list[str], alt: tuple[str, ...], prm: AlignParams = DEFAULT) -> float:
    if len(words) != len(alt):
        return 0.0
    return sum(word_sim(w, a, prm) for w, a in zip(words, alt, strict=True)) / len(alt)


def align_region(
    keys: list[str],
    i0: int,
    i1: int,
    seq: TextSeq,
    j0: int,
    j1: int,
    free_lead: bool = False,
    free_trail: bool = False,
    prm: AlignParams = DEFAULT,
) -> list[WordMatch]:
    """Align transcript words [i0, i1) to text tokens [j0, j1); return the matches found.

    ``free_lead``/``free_trail`` make leading/trailing transcript words free to skip, for
    extending a reading outwards into speech that may be commentary.
    """
    n, m = i1 - i0, j1 - j0
    if n <= 0 or m <= 0 or n * m > prm.max_cells:
        return []
    neg = -1e9
    score = [[neg] * (m + 1) for _ in range(n + 1)]
    # back[x][y] = (previous x, previous y, words used, similarity); words used 0 = a skip.
    back: list[list[tuple[int, int, int, float] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    score[0][0] = 0.0
    bias, bonus = prm.match_bias, prm.match_bonus
    if free_lead:
        for x in range(1, n + 1):
            score[x][0] = 0.0
            back[x][0] = (x - 1, 0, 0, 0.0)

    def relax(x: int, y: int, cand: float, step: tuple[int, int, int, float]) -> None:
        if cand > score[x][y]:
            score[x][y] = cand
            back[x][y] = step

    for x in range(n + 1):
        row = score[x]
        for y in range(m + 1):
            s = row[y]
            if s == neg:
                continue
            if x < n and not (free_lead and y == 0):
                relax(x + 1, y, s + prm.skip_word, (x, y, 0, 0.0))
            if y >= m:
                continue
            relax(x, y + 1, s + prm.skip_token, (x, y, 0, 0.0))
            for alt in seq.alts[j0 + y]:
                ln = len(alt)
                if x + ln <= n:
                    sim = token_sim(keys[i0 + x : i0 + x + ln], alt, prm)
                    if sim >= prm.min_sim:
                        relax(x + ln, y + 1, s + (sim - bias) * ln + bonus, (x, y, ln, sim))
                if ln > 1 and x < n:
                    # A maqaf pair heard as one word ("ויהי־כן" -> "ויהיכן").
                    sim = _merge_sim(keys[i0 + x], "".join(alt), prm)
                    if sim >= prm.merge_min_sim:
                        relax(x + 1, y + 1, s + (sim - bias) * ln + bonus, (x, y, 1, sim))
            # Two short tokens written as one word ("כי טוב" -> "כתוב"), inside one passage.
            if x < n and y + 1 < m and seq.passage_of[j0 + y] == seq.passage_of[j0 + y + 1]:
                merged = "".join(seq.alts[j0 + y][0]) + "".join(seq.alts[j0 + y + 1][0])
                sim = _merge_sim(keys[i0 + x], merged, prm)
                if sim >= prm.merge_min_sim:
                    relax(x + 1, y + 2, s + (sim - bias) * 2 + 2 * bonus, (x, y, 1, sim))
    out: list[WordMatch] = []
    x, y = n, m
    if free_trail:
        x = max(range(n + 1), key=lambda xx: score[xx][m])
    while (x, y) != (0, 0):
        b = back[x][y]
        if b is None:
            break
        px, py, used, sim = b
        if used:
            for tok in range(py, y):
                for k in range(used):
                    out.append(WordMatch(i0 + px + k, j0 + tok, sim))
        x, y = px, py
    out.reverse()
    return out


def _plausible_reading(n_words: int, n_tokens: int, prm: AlignParams) -> bool:
    """Could ``n_words`` transcript words be a (garbled) reading of ``n_tokens`` text tokens?

    Far more words than tokens is commentary between two readings; a long stretch of text is
    a skip. Either way matching word by word would only find look-alikes.
    """
    if n_words <= 0 or n_tokens <= 0:
        return False
    return n_tokens <= prm.max_gap_tokens and plausible_counts(n_words, n_tokens, prm)


def refine_chains(
    keys: list[str],
    seq: TextSeq,
    chains: list[Chain],
    prm: AlignParams = DEFAULT,
) -> list[WordMatch]:
    """Expand chains into word matches: anchors plus DP matches between consecutive anchors.

    Consecutive chains that go straight on in the text (:func:`sync.coarse.straight_on`: no
    talk between) are treated as one reading, so the words between them are matched too; a
    jump, or going on after talk, starts afresh.
    """
    matches: list[WordMatch] = []
    prev: tuple[int, int] | None = None
    for k, ch in enumerate(chains):
        if k > 0 and not straight_on(chains[k - 1], ch, seq, prm):
            prev = None
        for a in ch.anchors:
            if prev is not None and _plausible_reading(a.i - prev[0] - 1, a.j - prev[1] - 1, prm):
                matches.extend(align_region(keys, prev[0] + 1, a.i, seq, prev[1] + 1, a.j, prm=prm))
            matches.append(WordMatch(a.i, a.j, a.sim, anchor=True))
            prev = (a.i, a.j)
    # Transcript order; one word may stand for two tokens (a merge), but each pair only once.
    seen: set[tuple[int, int]] = set()
    uniq = []
    for mt in sorted(matches, key=lambda w: (w.i, w.j)):
        if (mt.i, mt.j) in seen:
            continue
        seen.add((mt.i, mt.j))
        uniq.append(mt)
    return uniq


def passage_evidence(keys: list[str], seq: TextSeq, ch: Chain, prm: AlignParams = DEFAULT) -> int:
    """How many tokens of a piece's passage the words around it read, fuzzily and in order.

    A greedy in-order match: each token of the passage, in turn, looks a few words ahead of the
    last match for a look-alike. Cheap enough to ask of every candidate piece.
    """
    p = seq.passage_of[ch.j0]
    first, n = seq.passage_first[p], seq.passage_len[p]
    margin = prm.evidence_margin
    lo = max(0, ch.i0 - margin - (ch.j0 - first))
    hi = min(len(keys), ch.i1 + 1 + margin + (first + n - 1 - ch.j1))
    anchored = {a.j: a.i for a in ch.anchors}
    good = 0
    x = lo
    for j in range(first, first + n):
        if j in anchored:
            good += 1
            x = anchored[j] + 1
            continue
        heads = {alt[0] for alt in seq.alts[j] if alt}
        for y in range(x, min(hi, x + prm.lookahead)):
            if any(word_sim(keys[y], h, prm) >= prm.good_sim for h in heads):
                good += 1
                x = y + 1
                break
    return good
