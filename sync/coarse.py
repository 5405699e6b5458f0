"""Coarse pass: decide which stretches of the transcript read which stretches of the text.

A shiur is not one monotonic reading, so this pass does not run one big DP. It works like
seed-and-chain in sequence search:

1. *Anchors*: transcript words whose key (or spelling-insensitive skeleton) equals a word of a
   text token's spoken alternatives. Very common words are not used as seeds.
2. *Chains*: anchors that follow each other in both transcript and text, with small gaps, form a
   chain: a stretch of reading. Chaining looks back only a few words, so its cost is linear in the
   number of anchors.
3. *Selection*: a DP over chains in transcript order picks a non-overlapping set. Continuing in
   the text is free; jumping (back for a re-read, ahead for a skip) costs a penalty, and only a
   chain with enough evidence may be reached by a jump, so a few words quoted in an explanation
   never become a reading.

Everything is near-linear in transcript length; the text only enters through dict look-ups.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process as rf_process
from rapidfuzz.distance import Indel

from . import hebrew
from .params import DEFAULT, AlignParams
from .textseq import TextSeq

# Fuzzy similarities are computed as whole percents in a uint8 matrix, in blocks of at most this
# many cells (a few MB, whatever the length of the class): units and memory, not tuning.
PERCENT = 100
MATRIX_CELLS = 2_000_000


@dataclass(frozen=True)
class Anchor:
    i: int
    """Transcript word index."""
    j: int
    """Text token index."""
    pos: float
    """Fractional text position: token plus the word's place inside a multi-word alternative."""
    weight: float
    sim: float = 1.0


@dataclass
class Chain:
    anchors: list[Anchor]
    score: float
    jumpable: bool = True
    """Enough evidence to be a reading on its own (reached by a jump, or opening the class)."""
    resumes: bool = True
    """Enough evidence to go on reading in the text after talk (less is asked than of a jump:
    the next passage is what a lecturer reads next)."""
    rereads: bool = True
    """Enough evidence to be a passage read again (reached by a jump back): the whole passage
    read. A quote in the talk can be most of a short verse, never all of it."""
    whole: int = -1
    """Which chain a piece was cut from (:func:`split_at_passages`)."""

    @property
    def i0(self) -> int:
        return self.anchors[0].i

    @property
    def i1(self) -> int:
        return self.anchors[-1].i

    @property
    def j0(self) -> int:
        return self.anchors[0].j

    @property
    def j1(self) -> int:
        return self.anchors[-1].j


@dataclass
class TextIndex:
    exact: dict[str, list[tuple[int, float]]]
    skeleton: dict[str, list[tuple[int, float]]]
    freq: dict[str, int]


def build_index(seq: TextSeq, blocked: set[int] | None = None) -> TextIndex:
    exact: dict[str, set[tuple[int, float]]] = defaultdict(set)
    skel: dict[str, set[tuple[int, float]]] = defaultdict(set)
    for j, alts in enumerate(seq.alts):
        if blocked and j in blocked:
            continue
        for alt in alts:
            n = len(alt)
            for k, w in enumerate(alt):
                pos = j + k / max(n, 1)
                exact[w].add((j, pos))
                skel[hebrew.skeleton(w)].add((j, pos))
    freq = {w: len({j for j, _ in v}) for w, v in exact.items()}
    return TextIndex(
        exact={w: sorted(v) for w, v in exact.items()},
        skeleton={w: sorted(v) for w, v in skel.items()},
        freq=freq,
    )


def _idf(freq: int, prm: AlignParams) -> float:
    return min(1.0, prm.idf_scale / math.log2(1 + max(freq, 1)))


def _seed_hits(w: str, index: TextIndex, prm: AlignParams) -> tuple[list[tuple[int, float]], float] | None:
    """Text positions a transcript word may anchor to (one per token), and the anchor weight."""
    hits = index.exact.get(w)
    sim = 1.0
    if not hits:
        hits = index.skeleton.get(hebrew.skeleton(w))
        sim = prm.skeleton_sim
    if not hits:
        return None
    per_token: dict[int, float] = {}
    for j, pos in hits:
        per_token.setdefault(j, pos)
    if len(per_token) > prm.max_seed_freq:
        return None
    # Short words ("את", "כי") match by chance; they may extend a chain but weigh little.
    weight = sim * _idf(len(per_token), prm) * (prm.short_word_weight if len(w) <= prm.short_word_len else 1.0)
    return list(per_token.items()), weight


def _fuzzy_hits(
    unknown: list[str], index: TextIndex, prm: AlignParams
) -> dict[str, tuple[list[tuple[int, float]], float, float]]:
    """Heard words that match no text word exactly, nor by skeleton, but resemble one closely
    (Whisper's "לרקייה" for "לרקיע"): their best look-alike's positions, weight and similarity.

    One batched similarity matrix over the distinct unknown words and the text's vocabulary, so
    the cost stays small next to transcription even for a long class.
    """
    if prm.fuzzy_anchor_sim >= 1.0 or not unknown:
        return {}
    vocab = [w for w in index.exact if len(w) >= prm.fuzzy_min_len and index.freq[w] <= prm.max_seed_freq]
    queries = [w for w in unknown if len(w) >= prm.fuzzy_min_len]
    if not vocab or not queries:
        return {}
    cutoff = int(prm.fuzzy_anchor_sim * PERCENT)
    vocab_len = np.array([len(w) for w in vocab])
    out: dict[str, tuple[list[tuple[int, float]], float, float]] = {}
    step = max(1, MATRIX_CELLS // len(vocab))
    for k in range(0, len(queries), step):
        block = queries[k : k + step]
        m = rf_process.cdist(block, vocab, scorer=Indel.normalized_similarity, dtype=np.uint8, score_cutoff=0,
                             processor=None, workers=1, score_multiplier=PERCENT)  # fmt: skip
        for q, row in zip(block, m, strict=True):
            # A heard word far longer (or shorter) than its look-alike is words run together
            # (or one cut in two): the word DP matches a merge to all its tokens, while an
            # anchor to one of them pulls the neighbouring token onto another heard word.
            r = prm.fuzzy_max_len_ratio
            row = np.where((len(q) <= r * vocab_len) & (vocab_len <= r * len(q)), row, 0)
            score = int(row.max())
            if score < cutoff:
                continue
            # Every text word about as close as the best is a candidate: the chain decides.
            close = np.flatnonzero(row >= max(cutoff, score - prm.fuzzy_margin * PERCENT))
            per_token: dict[int, float] = {}
            for b in close:
                for j, pos in index.exact[vocab[int(b)]]:
                    per_token.setdefault(j, pos)
            if len(per_token) > prm.max_seed_freq:
                continue
            sim = score / PERCENT
            out[q] = (sorted(per_token.items()), sim * prm.fuzzy_weight * _idf(len(per_token), prm), sim)
    return out


def find_anchors(keys: list[str], index: TextIndex, prm: AlignParams = DEFAULT) -> list[Anchor]:
    anchors: list[Anchor] = []
    memo: dict[str, tuple[list[tuple[int, float]], float] | None] = {}
    for w in keys:
        if w and w not in memo:
            memo[w] = _seed_hits(w, index, prm)
    fuzzy = _fuzzy_hits([w for w, f in memo.items() if f is None], index, prm)
    for i, w in enumerate(keys):
        if not w:
            continue
        found = memo[w]
        if found is None:
            if w in fuzzy:
                hits, weight, sim = fuzzy[w]
                anchors.extend(Anchor(i, j, pos, weight, sim) for j, pos in hits)
            continue
        hits, weight = found
        sim = 1.0 if w in index.exact else prm.skeleton_sim
        anchors.extend(Anchor(i, j, pos, weight, sim) for j, pos in hits)
    return anchors


def chain_anchors(anchors: list[Anchor], times: list[float] | None = None, prm: AlignParams = DEFAULT) -> list[Chain]:
    """Link anchors into chains; each anchor keeps its best predecessor (local, lookback-bounded).

    ``times`` (word start times) stop a chain from bridging a long silence or a stretch the
    recogniser dropped: what comes after it is a new reading, chained on its own.
    """
    # Per transcript word, its anchors' text positions in ascending order, for range look-ups.
    by_i: dict[int, tuple[list[float], list[int]]] = {}
    best = [0.0] * len(anchors)
    pred = [-1] * len(anchors)
    order = sorted(range(len(anchors)), key=lambda q: (anchors[q].i, anchors[q].pos))
    for q in order:
        a = anchors[q]
        score = a.weight
        back = -1
        for ip in range(a.i - 1, a.i - prm.chain_lookback - 1, -1):
            entry = by_i.get(ip)
            if entry is None:
                continue
            if times is not None and times[a.i] - times[ip] > prm.max_link_seconds:
                break
            poss, idxs = entry
            lo = bisect.bisect_left(poss, a.pos - prm.chain_lookback)
            hi = bisect.bisect_left(poss, a.pos)
            di = a.i - ip
            for t in range(lo, hi):
                p = idxs[t]
                dpos = a.pos - poss[t]
                skew = abs(di - dpos)
                if skew > prm.chain_max_skew:
                    continue
                cand = best[p] + a.weight - prm.chain_skew_cost * skew - prm.chain_gap_cost * (max(di, dpos) - 1)
                if cand > score:
                    score, back = cand, p
        best[q] = score
        pred[q] = back
        entry = by_i.setdefault(a.i, ([], []))
        entry[0].append(a.pos)
        entry[1].append(q)

    used = [False] * len(anchors)
    chains: list[Chain] = []
    for q in sorted(range(len(anchors)), key=lambda x: -best[x]):
        if used[q] or best[q] < prm.min_chain_score:
            continue
        path = []
        x = q
        while x >= 0 and not used[x]:
            path.append(x)
            x = pred[x]
        score = best[q] - (best[x] if x >= 0 else 0.0)
        if score < prm.min_chain_score:
            continue
        for y in path:
            used[y] = True
        # Several text positions may be hit by one transcript word; keep one per word.
        path.reverse()
        picked: list[Anchor] = []
        for y in path:
            if picked and picked[-1].i == anchors[y].i:
                continue
            picked.append(anchors[y])
        chains.append(Chain(picked, score))
    return chains


def is_continuation(prev: Chain, nxt: Chain, prm: AlignParams = DEFAULT, seq: TextSeq | None = None) -> bool:
    """Does ``nxt`` go on reading where ``prev`` stopped?

    Either it picks up right there (a few tokens of slack either way), or, with ``seq``, it
    opens the next passage after ``prev`` closed its own (a few tokens unheard at either
    edge), or the tokens in between could have been read, garbled, by the words in between:
    their numbers fit. It must read on past where ``prev`` ended: the same few words said
    again (a verse quoted over and over) are no continuation, or each saying would add to the
    reading's score.
    """
    if prm.continuation_must_advance and nxt.j1 <= prev.j1:
        return False
    dj = nxt.j0 - prev.j1 - 1
    if -prm.continue_slack <= dj <= prm.continue_slack:
        return True
    if seq is not None and seq.passage_of[nxt.j0] == seq.passage_of[prev.j1] + 1:
        pp, pn = seq.passage_of[prev.j1], seq.passage_of[nxt.j0]
        tail = seq.passage_first[pp] + seq.passage_len[pp] - 1 - prev.j1
        head = nxt.j0 - seq.passage_first[pn]
        if tail <= prm.continue_slack and head <= prm.continue_slack:
            return True
    di = nxt.i0 - prev.i1 - 1
    return 0 < dj <= prm.max_gap_tokens and plausible_counts(di, dj, prm)


def plausible_counts(n_words: int, n_tokens: int, prm: AlignParams) -> bool:
    """Could ``n_words`` heard words be a garbled reading of ``n_tokens`` tokens? Their numbers
    agree within a factor, plus some slack."""
    k, slack = prm.gap_words_factor, prm.gap_words_slack
    return n_words <= k * n_tokens + slack and n_tokens <= k * n_words + slack


def straight_on(prev: Chain, nxt: Chain, seq: TextSeq, prm: AlignParams = DEFAULT) -> bool:
    """Does ``nxt`` follow ``prev`` without talk in between: the reader went straight on?

    Talk is words heard that the text between does not explain: at most the tokens between
    (read garbled) plus ``prm.straight_extra_words`` may lie between them. A stretch the
    recogniser lost, with no words, is no talk."""
    di = nxt.i0 - prev.i1 - 1
    dj = max(0, nxt.j0 - prev.j1 - 1)
    return di <= dj + prm.straight_extra_words


def _straight(prev: Chain, nxt: Chain, seq: TextSeq | None, prm: AlignParams) -> bool:
    """Going straight on (:func:`straight_on`) with more than a stray short word: a piece
    without a reading's evidence of its own continues a reading only so."""
    return seq is not None and nxt.score >= prm.continue_min_score and straight_on(prev, nxt, seq, prm)


def select_chains(chains: list[Chain], seq: TextSeq | None = None, prm: AlignParams = DEFAULT,
                  evidence_given: bool = False) -> list[Chain]:
    """Pick the best non-overlapping sequence of chains (weighted interval scheduling with jumps).

    With ``evidence_given`` (the pieces' ``resumes`` were measured), going on in the text after
    talk (not :func:`_straight`) starts a new reading: only a piece with ``resumes`` may."""
    if not chains:
        return []
    order = sorted(range(len(chains)), key=lambda c: (chains[c].i1, chains[c].i0))
    ends: list[int] = []  # i1 of processed chains, ascending
    prefix_best: list[tuple[float, int]] = []  # running max of best over processed chains
    by_j1: dict[int, list[int]] = defaultdict(list)
    # The same per passage the chain ends in: a jump's cost grows with its distance, so the
    # best source is not always the best chain so far but may be one near the target.
    near = seq is not None and prm.jump_cost_per_passage > 0
    ends_in: dict[int, list[int]] = defaultdict(list)
    best_in: dict[int, list[tuple[float, int]]] = defaultdict(list)
    best = [0.0] * len(chains)
    pred = [-1] * len(chains)
    for c in order:
        ch = chains[c]
        score = -math.inf
        back = -1
        # Start of the reading (nothing selected before): needs real evidence.
        if ch.jumpable:
            score = ch.score
        # A jump from the best earlier selection.
        k = bisect.bisect_left(ends, ch.i0)
        if k > 0 and ch.jumpable:
            sources = [prefix_best[k - 1]]
            if near:
                assert seq is not None
                target = seq.passage_of[ch.j0]
                for q in range(target - prm.jump_distance_cap, target + prm.jump_distance_cap + 1):
                    kq = bisect.bisect_left(ends_in.get(q, ()), ch.i0)
                    if kq > 0:
                        sources.append(best_in[q][kq - 1])
            for pb, pc in sources:
                if evidence_given and not ch.rereads and ch.j0 <= chains[pc].j1:
                    continue
                cand = pb + ch.score - _jump_cost(chains[pc], ch, seq, prm)
                if cand > score:
                    score, back = cand, pc
        # A continuation in the text.
        for j1 in range(ch.j0 - 1 - prm.max_gap_tokens - prm.continue_slack, ch.j0 + prm.continue_slack):
            for p in by_j1.get(j1, ()):
                if chains[p].i1 >= ch.i0 or not is_continuation(chains[p], ch, prm, seq):
                    continue
                if evidence_given and not ch.resumes and not _straight(chains[p], ch, seq, prm):
                    continue
                if best[p] + ch.score > score:
                    score, back = best[p] + ch.score, p
        best[c] = score
        pred[c] = back
        if score > -math.inf:
            by_j1[ch.j1].append(c)
            ends.append(ch.i1)
            prev = prefix_best[-1] if prefix_best else (-math.inf, -1)
            prefix_best.append(max(prev, (score, c)))
            if near:
                assert seq is not None
                q = seq.passage_of[ch.j1]
                prev_q = best_in[q][-1] if best_in[q] else (-math.inf, -1)
                ends_in[q].append(ch.i1)
                best_in[q].append(max(prev_q, (score, c)))
    last = max(range(len(chains)), key=lambda c: best[c])
    if best[last] == -math.inf:
        return []
    picked = []
    while last >= 0:
        picked.append(chains[last])
        last = pred[last]
    picked.reverse()
    return _drop_false_starts(_trim_overlaps(picked, prm))


def _jump_cost(prev: Chain, nxt: Chain, seq: TextSeq | None, prm: AlignParams) -> float:
    """A skip ahead costs less than a re-read, and both more the further they go in the text."""
    cost = prm.forward_jump_cost if nxt.j0 > prev.j1 else prm.backward_jump_cost
    if seq is not None and prm.jump_cost_per_passage:
        dist = abs(seq.passage_of[nxt.j0] - seq.passage_of[prev.j1]) - prm.jump_free_passages
        cost += prm.jump_cost_per_passage * min(max(dist, 0), prm.jump_distance_cap)
    return cost


def _trim_overlaps(picked: list[Chain], prm: AlignParams) -> list[Chain]:
    """When a reading resumes at text the previous chain already claimed, the claim was a
    look-alike in the talk before it (the resumed reading is the stronger evidence)."""
    out: list[Chain] = []
    for k, ch in enumerate(picked):
        nxt = picked[k + 1] if k + 1 < len(picked) else None
        if nxt is not None and ch.j1 - prm.continue_slack <= nxt.j0 <= ch.j1:
            kept = [a for a in ch.anchors if a.j < nxt.j0]
            if not kept:
                continue
            ch = Chain(kept, ch.score * len(kept) / len(ch.anchors), ch.jumpable)
        out.append(ch)
    return out


def _drop_false_starts(picked: list[Chain]) -> list[Chain]:
    """A short chain whose text is read again right after was a quote or a false start."""
    out: list[Chain] = []
    for k, ch in enumerate(picked):
        nxt = picked[k + 1] if k + 1 < len(picked) else None
        if not ch.jumpable and nxt is not None and nxt.j0 <= ch.j0 + 1 and nxt.j1 >= ch.j1:
            continue
        out.append(ch)
    return out


def coarse_align(
    keys: list[str],
    seq: TextSeq,
    blocked: set[int] | None = None,
    times: list[float] | None = None,
    reads_passage: Callable[[Chain], tuple[bool, bool, bool]] | None = None,
    evidence: Callable[[Chain], int] | None = None,
    forced: Sequence[tuple[int, int]] = (),
    prm: AlignParams = DEFAULT,
) -> list[Chain]:
    """Chains of reading, selected. ``reads_passage`` says whether a piece is a reading of its
    passage on its own (:mod:`sync.evidence`), as (strong enough to open the class or be jumped
    to, strong enough to go on in the text after talk, spanning enough of it to be read again).
    Without
    it, a piece's exact anchors decide."""
    index = build_index(seq, blocked)
    anchors = find_anchors(keys, index, prm)
    if forced:
        # The lecturer's pins: (word, token) pairs that must be read there. A heavy anchor makes
        # the chain through it win, and the words around it are matched again around it.
        pinned = {i for i, _ in forced}
        anchors = [a for a in anchors if a.i not in pinned] + [
            Anchor(i, j, float(j), prm.pin_weight) for i, j in forced
        ]
        anchors.sort(key=lambda a: (a.i, a.pos))
    whole = chain_anchors(anchors, times, prm)
    pieces = split_at_passages(whole, seq)
    for ch in pieces:
        if any(a.weight >= prm.pin_weight for a in ch.anchors):
            ch.jumpable = ch.resumes = ch.rereads = True
        else:
            # Many exact anchors, densely, in order, are a reading on their own.
            anchored = ch.score >= prm.jump_min_score and _reads_enough(ch, seq, prm)
            if reads_passage is None:
                ch.jumpable = anchored
            else:
                strong, resumes, whole = reads_passage(ch)
                ch.jumpable = strong or (anchored and prm.jump_by_anchors)
                ch.resumes = resumes or (anchored and prm.jump_by_anchors)
                ch.rereads = whole and ch.jumpable
    picked = select_chains(pieces, seq, prm, evidence_given=reads_passage is not None)
    picked = _prefer_next(picked, pieces, seq, prm)
    if prm.drop_leapt_quotes:
        picked = _drop_leapt_quotes(picked, prm)
    return _drop_dangling(picked, seq, evidence, prm)


def _drop_leapt_quotes(picked: list[Chain], prm: AlignParams) -> list[Chain]:
    """A piece taken as going on past text the words in between might have read garbled, when
    the reading then goes back into that very text, was a look-alike quoted in the talk (the
    maamar's verse opening a later passage): the text in between is read after it, not
    before. Kept when it has the evidence a jump needs (a passage read out of order)."""
    out: list[Chain] = []
    for k, ch in enumerate(picked):
        prev = out[-1] if out else None
        nxt = picked[k + 1] if k + 1 < len(picked) else None
        if prev is not None and nxt is not None:
            leapt = ch.j0 - prev.j1 - 1 > prm.continue_slack and is_continuation(prev, ch, prm)
            back_into_gap = prev.j1 < nxt.j0 < ch.j0
            if leapt and back_into_gap and not ch.jumpable:
                continue
        out.append(ch)
    return out


def _prefer_next(picked: list[Chain], pieces: list[Chain], seq: TextSeq, prm: AlignParams) -> list[Chain]:
    """Between near-equal readings of the same few words, take the passage that comes next.

    Formulaic passages ("ויהי ערב ויהי בקר יום ...") differ by a word or two, and the words alone
    cannot tell them apart; the passage right after the last one read is the likely one.
    """
    by_span: dict[tuple[int, int], list[Chain]] = defaultdict(list)
    for ch in pieces:
        by_span[(ch.i0, ch.i1)].append(ch)
    out: list[Chain] = []
    for ch in picked:
        if out and len(ch.anchors) <= prm.ambiguous_anchors:
            want = seq.passage_of[out[-1].j1] + 1
            if seq.passage_of[ch.j0] != want:
                span = by_span.get((ch.i0, ch.i1), ())
                rivals = [r for r in span if seq.passage_of[r.j0] == want and r.score >= prm.rival_share * ch.score]
                if rivals:
                    best = max(rivals, key=lambda r: r.score)
                    ch = Chain(best.anchors, best.score, ch.jumpable)
        out.append(ch)
    return out


def _drop_dangling(
    picked: list[Chain], seq: TextSeq, evidence: Callable[[Chain], int] | None, prm: AlignParams
) -> list[Chain]:
    """A reading that ends with the first few words of a passage never read further was the
    next passage's look-alike words in the talk that followed, not a reading of it."""
    out: list[Chain] = []
    for k, ch in enumerate(picked):
        p = seq.passage_of[ch.j0]
        nxt = picked[k + 1] if k + 1 < len(picked) else None
        ends_reading = nxt is None or not is_continuation(ch, nxt, prm)
        starts_passage = ch.j0 - seq.passage_first[p] <= prm.continue_slack
        prev_continues = k > 0 and is_continuation(picked[k - 1], ch, prm) and seq.passage_of[picked[k - 1].j1] != p
        matched = evidence(ch) if evidence is not None else len({a.j for a in ch.anchors})
        covered = matched / max(seq.passage_len[p], 1)
        later = any(seq.passage_of[o.j0] == p for o in picked[k + 1 :])
        if ends_reading and starts_passage and prev_continues and covered < prm.dangling_share and not later:
            continue
        out.append(ch)
    return out


def split_at_passages(chains: list[Chain], seq: TextSeq) -> list[Chain]:
    """Cut chains into one piece per passage.

    Selection then stitches pieces that continue each other back together at no cost, but can
    also drop one wrongly linked piece (the next passage's look-alike words heard in what follows)
    without losing the rest of the chain.
    """
    out: list[Chain] = []
    for n, ch in enumerate(chains):
        total = sum(a.weight for a in ch.anchors) or 1.0
        k = 0
        while k < len(ch.anchors):
            p = seq.passage_of[ch.anchors[k].j]
            e = k
            while e < len(ch.anchors) and seq.passage_of[ch.anchors[e].j] == p:
                e += 1
            part = ch.anchors[k:e]
            out.append(Chain(part, ch.score * sum(a.weight for a in part) / total, ch.jumpable and k == 0, whole=n))
            k = e
    return out


def _reads_enough(ch: Chain, seq: TextSeq, prm: AlignParams) -> bool:
    """Evidence of reading, not quoting: many of the passage's words, densely, in order."""
    matched = len({a.j for a in ch.anchors})
    span = ch.j1 - ch.j0 + 1
    p0, p1 = seq.passage_of[ch.j0], seq.passage_of[ch.j1]
    need = prm.jump_min_tokens if p1 > p0 else min(prm.jump_min_tokens, prm.jump_min_share * seq.passage_len[p0])
    return matched >= need and matched >= prm.jump_min_density * span
