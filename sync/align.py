"""Align a transcript to a discourse: which passage is read or explained at every moment.

The work is split in passes, each in its own module:

- :mod:`sync.textseq`: the text as a flat sequence of tokens with spoken alternatives (lattice);
- :mod:`sync.coarse`: robust seed-and-chain matching that decides what is read where, allowing
  commentary, re-reads, skips and out-of-order reading;
- :mod:`sync.fine`: word-level DP inside the read stretches;
- :mod:`sync.onsets`: passage starts snapped to the speech onset in the audio, when given.

This module turns word matches into *readings* (runs of continuous reading), fills text the
recogniser dropped, classifies the time between readings (explaining the last passage, or
off-text before the first reading), applies the lecturer's pins, and scores confidence.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from . import __version__, hebrew, onsets
from .alignment import EXPLAINED, READ, Alignment, Cue, Decision, Pin, Span, WordTiming
from .coarse import Chain, coarse_align
from .discourse import Discourse
from .evidence import Evidence, evidence_of, piece_evidence
from .fine import WordMatch, align_region, passage_evidence, refine_chains
from .params import DEFAULT, AlignParams
from .pins import apply_start_pins
from .textseq import TextSeq, build_textseq
from .transcript import Transcript, Word


@dataclass
class AlignOptions:
    refine: bool = True
    """Snap passage starts to speech onsets when the audio is given."""
    lattice: bool = True
    """Use the spoken-form lattice (abbreviations expanded) when matching."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Reading:
    """A run of continuous reading: transcript words matched to text tokens, in order."""

    matches: list[WordMatch] = field(default_factory=list)

    @property
    def j0(self) -> int:
        return self.matches[0].j

    @property
    def j1(self) -> int:
        return self.matches[-1].j


def _speech_rate(words: list[Word], matches: list[WordMatch], seq: TextSeq, prm: AlignParams) -> float:
    """Seconds per letter of read text, measured on the matched reading."""
    total_t = 0.0
    total_c = 0
    for a, b in zip(matches, matches[1:], strict=False):
        if b.j == a.j + 1 and b.i == a.i + 1:
            dt = words[b.i].start - words[a.i].start
            if 0 < dt < prm.rate_max_step:
                total_t += dt
                total_c += seq.chars[a.j]
    return total_t / total_c if total_c > prm.rate_min_chars else prm.default_sec_per_char


def _drop_weak(matches: list[WordMatch], seq: TextSeq, prm: AlignParams) -> list[WordMatch]:
    """Forget passages matched only by the word DP, sparsely or poorly: commentary words that
    happened to resemble the text, not a reading of it."""
    out: list[WordMatch] = []
    k = 0
    while k < len(matches):
        p = seq.passage_of[matches[k].j]
        e = k
        while e < len(matches) and seq.passage_of[matches[e].j] == p:
            e += 1
        group = matches[k:e]
        coverage = len({m.j for m in group}) / max(seq.passage_len[p], 1)
        quality = sum(m.sim for m in group) / len(group)
        if any(m.anchor for m in group) or (coverage >= prm.weak_min_coverage and quality >= prm.weak_min_quality):
            out.extend(group)
        k = e
    return out


def _split_readings(
    words: list[Word], matches: list[WordMatch], seq: TextSeq, sec_per_char: float, prm: AlignParams
) -> list[Reading]:
    """Cut the matches into continuous readings at jumps and at stretches of unmatched speech."""
    readings: list[Reading] = []
    cur = Reading()
    for m in matches:
        if cur.matches:
            p = cur.matches[-1]
            dj = m.j - p.j
            unmatched = m.i - p.i - 1
            expected = sum(seq.chars[p.j + 1 : m.j]) * sec_per_char if dj > 1 else 0.0
            extra_t = (words[m.i].start - words[p.i].end) - expected
            if (
                dj < 0
                or dj > prm.break_max_tokens
                or unmatched >= prm.break_extra_words
                or extra_t > prm.break_extra_seconds
            ):
                readings.append(cur)
                cur = Reading()
        cur.matches.append(m)
    if cur.matches:
        readings.append(cur)
    return readings


def _extend_readings(keys: list[str], seq: TextSeq, readings: list[Reading], n_words: int, prm: AlignParams) -> None:
    """Match the rest of the first and last passage of each reading in the neighbouring words."""
    per, slack = prm.extend_words_per_token, prm.extend_slack_words
    for k, r in enumerate(readings):
        first = r.matches[0]
        pstart = seq.passage_first[seq.passage_of[first.j]]
        if first.j > pstart:
            lo_limit = readings[k - 1].matches[-1].i + 1 if k > 0 else 0
            lo = max(lo_limit, first.i - per * (first.j - pstart) - slack)
            ext = align_region(keys, lo, first.i, seq, pstart, first.j, free_lead=True, prm=prm)
            r.matches[:0] = ext
        last = r.matches[-1]
        p = seq.passage_of[last.j]
        pend = seq.passage_first[p] + seq.passage_len[p]
        if last.j + 1 < pend:
            hi_limit = readings[k + 1].matches[0].i if k + 1 < len(readings) else n_words
            hi = min(hi_limit, last.i + 1 + per * (pend - last.j - 1) + slack)
            r.matches.extend(align_region(keys, last.i + 1, hi, seq, last.j + 1, pend, free_trail=True, prm=prm))


@dataclass
class _PassageTime:
    passage: int
    start: float
    end: float
    words: dict[int, tuple[float, float]]
    sims: list[float]
    filled: bool = False
    prev_end: float | None = None
    """End of the previous passage's last word, when it was recognised, in the same reading."""
    after: float | None = None
    """End of the last word recognised before this passage in the same reading."""
    heard_before: float | None = None
    """For a passage that opens a reading: end of the last word heard (talk included) before
    the reading's first matched word."""
    first_heard: float = 0.0
    """Start of the first word matched in this passage."""
    prev_start: float | None = None
    """Start of the word ``prev_end`` ends."""


def _reading_times(
    words: list[Word], seq: TextSeq, r: Reading, sec_per_char: float, prm: AlignParams
) -> list[_PassageTime]:
    """Per passage touched by a reading: start/end times and word timings."""
    token_time: dict[int, tuple[float, float]] = {}
    token_sim: dict[int, float] = {}
    for m in r.matches:
        w = words[m.i]
        if m.j in token_time:
            s, _ = token_time[m.j]
            token_time[m.j] = (s, w.end)
        else:
            token_time[m.j] = (w.start, w.end)
            token_sim[m.j] = m.sim
    js = sorted(token_time)
    out: list[_PassageTime] = []
    for p in sorted({seq.passage_of[j] for j in js}):
        first = seq.passage_first[p]
        last = first + seq.passage_len[p] - 1
        pj = [j for j in js if first <= j <= last]
        j_a = pj[0]
        start = token_time[j_a][0]
        k = bisect.bisect_left(js, j_a) - 1
        prev_end = token_time[js[k]][1] if k >= 0 else None
        prev_start = token_time[js[k]][0] if k >= 0 else None
        # Trust "speech after the previous word opens this passage" only when that word closes
        # the previous passage; else unrecognised words of the previous passage may follow it.
        closes_previous = k >= 0 and js[k] == first - 1
        # A passage opening the reading: the last word heard before it (talk) bounds it.
        i0 = r.matches[0].i
        heard_before = (words[i0 - 1].end if i0 > 0 else 0.0) if k < 0 else None
        first_heard = start
        if j_a > first:
            # The opening words were not recognised: back off by their reading time, but not
            # before the previous matched word ended.
            floor = prev_end if prev_end is not None else max(0.0, start - prm.backoff_max_seconds)
            start = max(floor, start - sum(seq.chars[first:j_a]) * sec_per_char)
        end = token_time[pj[-1]][1]
        if pj[-1] < last:
            q = bisect.bisect_right(js, pj[-1])
            ceil = token_time[js[q]][0] if q < len(js) else end + prm.backoff_max_seconds
            end = min(ceil, end + sum(seq.chars[pj[-1] + 1 : last + 1]) * sec_per_char)
        wt = {seq.token_in_passage[j]: token_time[j] for j in pj}
        sims = [token_sim[j] for j in pj]
        closing = prev_end if closes_previous else None
        out.append(
            _PassageTime(p, start, end, wt, sims, prev_end=closing, after=prev_end, heard_before=heard_before,
                         first_heard=first_heard, prev_start=prev_start if closes_previous else None)
        )  # fmt: skip
    return out


def _fill_gap(seq: TextSeq, p_from: int, p_to: int, t0: float, t1: float, sec_per_char: float) -> list[_PassageTime]:
    """Passages p_from..p_to-1 were probably read in [t0, t1) but not recognised: spread them."""
    chars = [_passage_chars(seq, p) for p in range(p_from, p_to)]
    total = sum(chars)
    if total == 0:
        return []
    out = []
    t = t0
    for p, c in zip(range(p_from, p_to), chars, strict=True):
        d = (t1 - t0) * c / total
        out.append(_PassageTime(p, t, t + d, {}, [], filled=True))
        t += d
    return out


def _snap_passage_start(
    pt: _PassageTime,
    seq: TextSeq,
    on: np.ndarray,
    pauses: np.ndarray,
    floor: float,
    sec_per_char: float,
    prm: AlignParams,
    slow: bool = False,
) -> float:
    """Put a passage start on the speech onset that opens it.

    Whisper often stretches the first word of a segment back over the preceding pause, so its
    start is unreliable while its end is not: the onset is searched between a little before the
    word and the word's end. Filled passages (never recognised) look wider for the clearest pause.
    """
    if pt.after is not None:
        floor = max(floor, pt.after - prm.after_margin)
    if pt.filled:
        lo, hi = max(floor, pt.start - prm.filled_window), pt.start + prm.filled_window
        return onsets.snap_start(pt.start, on, pauses, lo, hi, pause_weight=prm.filled_pause_weight, prm=prm)
    first_word = pt.words.get(seq.token_in_passage[seq.passage_first[pt.passage]])
    if first_word is not None and slow:
        # In a word-by-word reading every word follows a pause as long as a verse's, so the
        # length of a pause tells nothing: the opening onset is the one nearest to where the
        # first word's sound starts. Whisper stretches a word back over part of the pause
        # before it, so that is a little after the word's start.
        ref = first_word[0] + prm.slow_start_offset
        lo, hi = max(floor, ref - prm.slow_snap_reach), ref + prm.slow_snap_reach
        return onsets.snap_start(ref, on, pauses, lo, hi, pause_weight=0.0, prm=prm)
    if pt.prev_end is not None:
        # In a continuous reading, speech that starts after the last recognised word of the
        # previous passage belongs to this one: take the first clear onset after that word.
        hi = first_word[1] - prm.first_word_margin if first_word else pt.start + prm.snap_window
        lo = max(floor, pt.prev_end - prm.prev_end_margin)
        if pt.prev_start is not None and not slow:
            # A pause as long as a verse's inside the previous passage's last word: that word
            # was this passage's, heard as the other's look-alike (gen1-reading verse 16,
            # "ויעש" heard "ויעה" and matched to verse 15's "ויהי"). Not word by word, where
            # every word follows such a pause.
            a, b = np.searchsorted(on, pt.prev_start, side="right"), np.searchsorted(on, pt.prev_end, side="left")
            inside = [x for x, g in zip(on[a:b], pauses[a:b], strict=True) if g >= prm.stretched_word_pause]
            if inside and inside[-1] < hi:
                return float(inside[-1])
        t = onsets.first_onset(on, pauses, lo, hi, min_pause=prm.continuing_min_pause)
        if t is not None:
            return t
    first = seq.token_in_passage[seq.passage_first[pt.passage]]
    if pt.heard_before is not None and pt.first_heard - pt.heard_before <= prm.opening_lookback:
        # A reading opens after talk (or silence): the voice starts after the last word heard
        # before. Whisper may lose a verse's first words, or put its first word seconds late,
        # so look back to that word, and take the onset after the longest pause.
        hi = first_word[1] - prm.first_word_margin if first_word else pt.first_heard + prm.ref_min_window
        lo = max(floor, pt.heard_before - prm.prev_end_margin)
        t = onsets.longest_pause_onset(on, pauses, lo, hi, prm.continuing_min_pause)
        if t is not None:
            return t
    if first in pt.words:
        w_start, w_end = pt.words[first]
        ref = max(w_start, w_end - seq.chars[seq.passage_first[pt.passage]] * sec_per_char * prm.first_word_rate_factor)
        lo = max(floor, min(ref, w_start) - prm.snap_start_before)
        hi = max(w_end - prm.first_word_margin, ref + prm.ref_min_window)
        return onsets.snap_start(ref, on, pauses, lo, hi, prm=prm)
    lo, hi = max(floor, pt.start - prm.snap_start_before), pt.start + prm.snap_window
    return onsets.snap_start(pt.start, on, pauses, lo, hi, prm=prm)


Forcer = Callable[[float, float, list[str], list[str]], "tuple[float, float] | None"]
"""``(t0, t1, before, after)``: (start, end) of the first word of ``after`` when ``before`` then
``after`` are read in the audio's [t0, t1) (:class:`sync.forced.WhisperForcer`)."""
Likelihood = Callable[[float, float, list[str]], "float | None"]
"""``(t0, t1, words) -> how well the words, forced through the audio's [t0, t1), fit it (0-1)``."""

_SPOKEN_SPLIT = re.compile(r"[\s\u05be]+")


def _spoken_words(text: str) -> list[str]:
    return [w for w in (hebrew.token_core(t) for t in _SPOKEN_SPLIT.split(text)) if w]


def _doubtful_opening(pt: _PassageTime, seq: TextSeq, prm: AlignParams) -> bool:
    """The passage's first word was not heard as itself (missing, or only a look-alike)."""
    if pt.filled or prm.forced_doubt_sim <= 0:
        return False
    first = seq.token_in_passage[seq.passage_first[pt.passage]]
    if first not in pt.words or min(pt.words) != first or not pt.sims:
        return True
    return pt.sims[0] < prm.forced_doubt_sim


def _forced_start(
    pt: _PassageTime,
    seq: TextSeq,
    estimate: float,
    on: np.ndarray,
    pauses: np.ndarray,
    floor: float,
    forcer: Forcer,
    prm: AlignParams,
) -> float:
    """Where a doubtful boundary of a word-by-word reading is, by forcing the end of the
    previous passage and the start of this one through the recogniser."""
    if not _doubtful_opening(pt, seq, prm):
        return estimate
    n = prm.forced_context_words
    before = _spoken_words(seq.passages[pt.passage - 1].text)[-n:]
    after = _spoken_words(seq.passages[pt.passage].text)[:n]
    found = forcer(max(0.0, estimate - prm.forced_window), estimate + prm.forced_window_after, before, after)
    if found is None:
        return estimate
    # The forced path enters a word after a pause where the word before ended: only the first
    # word's end is sharp. Its voice starts at the last onset after a pause before that end.
    w_start, w_end = found
    lo, hi = max(floor, w_start - prm.prev_end_margin), w_end - prm.first_word_margin
    a, b = np.searchsorted(on, lo, side="left"), np.searchsorted(on, hi, side="right")
    cand = [x for x, g in zip(on[a:b], pauses[a:b], strict=True) if g >= prm.continuing_min_pause]
    return float(cand[-1]) if cand else estimate


def _word_by_word(
    group: list[_PassageTime], seq: TextSeq, on: np.ndarray, pauses: np.ndarray, prm: AlignParams
) -> bool:
    """Is this reading slow, word by word: (nearly) every word after a clear pause?

    Counted on the signal: onsets after a pause of ``slow_pause`` seconds, per token of the
    passages read. A reading at speech pace pauses at verse ends and a few commas only.
    """
    if not group:
        return False
    t0, t1 = group[0].start, group[-1].end
    a, b = np.searchsorted(on, t0, side="left"), np.searchsorted(on, t1, side="right")
    n_onsets = int(np.count_nonzero(pauses[a:b] >= prm.slow_pause))
    n_tokens = sum(seq.passage_len[pt.passage] for pt in group)
    return n_tokens > 0 and n_onsets >= prm.slow_onsets_per_token * n_tokens


def _passage_chars(seq: TextSeq, p: int) -> int:
    first = seq.passage_first[p]
    return sum(seq.chars[first : first + seq.passage_len[p]])


def _fill_missing(
    group: list[_PassageTime],
    following: _PassageTime | None,
    seq: TextSeq,
    keys: list[str],
    starts: list[float],
    ends: list[float],
    matched_at: set[int],
    not_read: set[str],
    sec_per_char: float,
    prm: AlignParams,
    likelihood: Likelihood | None = None,
) -> list[_PassageTime]:
    """Passages between two recognised ones, with time to have been read, were read.

    Inside a reading the time between two matched passages is enough evidence. Between two
    readings (``following`` opens the next one) the gap must also be quiet of unmatched words,
    or its words must read the passages, garbled (:func:`_gap_reads`), or, with a
    ``likelihood`` (the Whisper model forcing the passages' text through the gap's audio,
    :meth:`sync.forced.WhisperForcer.likelihood`), the audio must fit their text: other speech
    the recogniser transcribed is commentary, and the passages were skipped. A gap far too
    short for the text means the reader skipped it.
    """
    if not group:
        return group
    out: list[_PassageTime] = [group[0]]
    nexts: list[_PassageTime | None] = [*group[1:], following]
    for k, b in enumerate(nexts):
        a = group[k]
        between_readings = k == len(group) - 1
        if b is None:
            break
        missing = list(range(a.passage + 1, b.passage))
        if missing and not any(seq.passages[p].id in not_read for p in missing):
            t0, t1 = a.end, b.start
            expected = sec_per_char * sum(_passage_chars(seq, p) for p in missing)
            gap = t1 - t0
            # Only silence from the recogniser counts: words it did write that match nothing
            # are commentary, and the passages were skipped.
            lo_i, hi_i = bisect.bisect_left(starts, t0), bisect.bisect_left(starts, t1)
            heard = sum(1 for i in range(lo_i, hi_i) if i not in matched_at)
            n_tokens = sum(seq.passage_len[p] for p in missing)
            fits = prm.fill_min_ratio * expected <= gap <= prm.fill_max_ratio * expected + prm.fill_slack_seconds
            quiet = heard <= prm.fill_max_heard_share * n_tokens
            read_in_gap = [] if quiet or not fits else _gap_reads(keys, lo_i, hi_i, seq, missing, prm)
            sounds_read = (
                fits and not quiet and not read_in_gap and likelihood is not None
                and t1 - t0 <= prm.fill_forced_max_seconds
                and (likelihood(max(0.0, t0 - prm.fill_forced_margin), t1 + prm.fill_forced_margin,
                                [w for p in missing for w in _spoken_words(seq.passages[p].text)]) or 0.0)
                >= prm.fill_forced_likelihood
            )  # fmt: skip
            if fits and expected > 0 and (quiet or read_in_gap or sounds_read):
                lead, tail = _unheard_opening_chars(b, seq), _unheard_closing_chars(a, seq)
                if prm.fill_spreads_unheard_opening and (lead or tail) and a.words and b.words:
                    # The end of the passage before and the opening of the one after were not
                    # heard either: both are estimates by the class's mean rate. The whole
                    # unheard stretch, from the last word heard to the next, is measured:
                    # spread it by letters over all that was not heard in it.
                    c = sum(_passage_chars(seq, p) for p in missing)
                    s0 = max(e for _, e in a.words.values())
                    s1 = b.first_heard
                    if s0 < s1:
                        per = (s1 - s0) / (tail + c + lead)
                        a.end = t0 = s0 + tail * per
                        b.start = t1 = s0 + (tail + c) * per
                m = prm.fill_margin
                filled = _fill_gap(seq, missing[0], missing[-1] + 1, t0 + m, t1 - m, sec_per_char)
                out.extend(_heard_in_gap(filled, read_in_gap, seq, starts, ends))
        if not between_readings:
            out.append(b)
    return out


def _read_beside(
    times: list[list[_PassageTime]],
    seq: TextSeq,
    keys: list[str],
    starts: list[float],
    ends: list[float],
    not_read: set[str],
    sec_per_char: float,
    prm: AlignParams,
    likelihood: Likelihood | None,
) -> list[list[_PassageTime]]:
    """Passages found nowhere that were read out of order, right beside a neighbour.

    A lecturer who reads verse 14 and then goes back for verse 13 reads it in the pause after
    14; when the recogniser garbled it past seeding ("ויהי ערב ויהי בקר יום שלישי" heard
    "והיהערב והייבוק הריון שלישית", gen1-phone), the words right after 14 (or right before a
    neighbour) are matched to it word by word (:func:`_gap_reads`) or its text is forced
    through that audio (``prm.fill_forced_likelihood``), as a gap between two found passages
    is. Each found one is a reading of its own."""
    found = {pt.passage for g in times for pt in g}
    placed = sorted((pt.start, pt.end) for g in times for pt in g)
    out: list[list[_PassageTime]] = []
    for p in range(len(seq.passages)):
        if p in found or seq.passages[p].id in not_read or seq.passage_len[p] == 0:
            continue
        need = sec_per_char * _passage_chars(seq, p)
        reach = prm.fill_max_ratio * need + prm.fill_slack_seconds
        for q in (pt for g in times for pt in g if abs(pt.passage - p) == 1 and not pt.filled):
            after = [s for s, _ in placed if s > q.end]
            before = [e for _, e in placed if e < q.start]
            windows = [(q.end, min(q.end + reach, after[0] if after else q.end + reach)),
                       (max(q.start - reach, before[-1] if before else q.start - reach), q.start)]  # fmt: skip
            hit = None
            for t0, t1 in windows:
                if t1 - t0 < prm.fill_min_ratio * need:
                    continue
                lo, hi = bisect.bisect_left(starts, t0), bisect.bisect_left(starts, t1)
                matches = _gap_reads(keys, lo, hi, seq, [p], prm)
                if matches:
                    filled = _fill_gap(seq, p, p + 1, t0, t0 + need, sec_per_char)
                    hit = _heard_in_gap(filled, matches, seq, starts, ends)
                elif likelihood is not None and t1 - t0 <= prm.fill_forced_max_seconds:
                    score = likelihood(max(0.0, t0 - prm.fill_forced_margin), t1 + prm.fill_forced_margin,
                                       _spoken_words(seq.passages[p].text))  # fmt: skip
                    if (score or 0.0) >= prm.fill_forced_likelihood:
                        hit = _fill_gap(seq, p, p + 1, t0 + prm.fill_margin, t0 + need, sec_per_char)
                if hit:
                    break
            if hit:
                out.append(hit)
                found.add(p)
                break
    return out


def _gap_reads(
    keys: list[str], lo: int, hi: int, seq: TextSeq, missing: list[int], prm: AlignParams
) -> list[WordMatch]:
    """Do the words heard in ``[lo, hi)`` read each of the ``missing`` passages, in order?

    Whisper base garbles some verses so far that no word is left exact to seed a match (gen-
    class-quotes verse 43, "וזהב הארץ ההוא טוב" heard "הוא זהב הערץ ההיטוב"); matched fuzzily
    and in order, word by word, they still carry a reading's evidence (the resuming level,
    :meth:`sync.evidence.Evidence.reads`), which talk with the text's words in it lacks."""
    j0, j1 = seq.passage_first[missing[0]], seq.passage_first[missing[-1]] + seq.passage_len[missing[-1]]
    matches = align_region(keys, lo, hi, seq, j0, j1, free_lead=True, free_trail=True, prm=prm)
    ok = bool(matches) and all(evidence_of(matches, seq, p).reads(prm, resuming=True) for p in missing)
    return matches if ok else []


def _heard_in_gap(
    filled: list[_PassageTime], matches: list[WordMatch], seq: TextSeq, starts: list[float], ends: list[float]
) -> list[_PassageTime]:
    """Filled passages whose words the gap did read (:func:`_gap_reads`) take those words'
    times, as a recognised passage does."""
    out = []
    for pt in filled:
        own = [m for m in matches if seq.passage_of[m.j] == pt.passage]
        if own:
            words = {seq.token_in_passage[m.j]: (starts[m.i], ends[m.i]) for m in own}
            t0, t1 = starts[own[0].i], ends[own[-1].i]
            pt = _PassageTime(pt.passage, t0, t1, words, [m.sim for m in own], first_heard=t0)
        out.append(pt)
    return out


def _unheard_opening_chars(pt: _PassageTime, seq: TextSeq) -> int:
    """Letters of the passage's tokens before its first recognised one."""
    if pt.filled or not pt.words:
        return 0
    first, heard = seq.passage_first[pt.passage], min(pt.words)
    span = range(first, first + seq.passage_len[pt.passage])
    return sum(seq.chars[j] for j in span if seq.token_in_passage[j] < heard)


def _unheard_closing_chars(pt: _PassageTime, seq: TextSeq) -> int:
    """Letters of the passage's tokens after its last recognised one."""
    if pt.filled or not pt.words:
        return 0
    first, heard = seq.passage_first[pt.passage], max(pt.words)
    span = range(first, first + seq.passage_len[pt.passage])
    return sum(seq.chars[j] for j in span if seq.token_in_passage[j] > heard)


def _confidence(pt: _PassageTime, seq: TextSeq, prm: AlignParams) -> float:
    if pt.filled:
        return prm.filled_confidence
    n = max(seq.passage_len[pt.passage], 1)
    coverage = min(1.0, len(pt.words) / n)
    quality = float(np.mean([min(s, 1.0) for s in pt.sims])) if pt.sims else 0.0
    c = prm.confidence_base + prm.confidence_coverage * coverage + prm.confidence_quality * quality
    return round(max(0.0, min(1.0, c)), 3)


def align(
    discourse: Discourse,
    transcript: Transcript,
    pins: Sequence[Pin] = (),
    audio: np.ndarray | None = None,
    options: AlignOptions | None = None,
    params: AlignParams | None = None,
    forcer: Forcer | None = None,
) -> Alignment:
    """Align ``transcript`` to ``discourse``.

    ``audio`` is the 16 kHz mono float32 signal; with it, passage starts are snapped to speech
    onsets. No Whisper model is needed: re-aligning a cached transcript loads none.
    ``pins`` are the lecturer's corrections, honoured exactly; the rest is re-aligned around them.
    ``params`` are the tuning constants (:class:`sync.params.AlignParams`), for benches.
    ``forcer`` (e.g. :class:`sync.forced.WhisperForcer`) places doubtful boundaries of a
    word-by-word reading by forced alignment; it is called only there, so it should load its
    model lazily.
    """
    options = options or AlignOptions()
    prm = params or DEFAULT
    seq = build_textseq(discourse, lattice=options.lattice)
    words = [w for w in transcript.words() if hebrew.normalize(w.text)]
    keys = [hebrew.normalize(w.text) for w in words]
    duration = round(transcript.duration or (words[-1].end if words else 0.0), 3)
    passages = seq.passages

    not_read = {p.passage_id for p in pins if p.start is None}
    blocked = {j for j in range(len(seq)) if passages[seq.passage_of[j]].id in not_read}

    starts = [w.start for w in words]
    ends = [w.end for w in words]
    nearest: dict[int, float] = {}
    """Per passage, the strength of its best candidate reading anywhere (for skip confidence)."""

    def reads_passage(ch: Chain) -> tuple[bool, bool, bool]:
        ev = piece_evidence(keys, seq, [(a.i, a.j, a.sim) for a in ch.anchors], prm, starts=starts, ends=ends)
        nearest[ev.passage] = max(nearest.get(ev.passage, 0.0), ev.strength(prm))
        return _reads(ev, prm)

    chains = coarse_align(
        keys,
        seq,
        blocked,
        [w.start for w in words],
        reads_passage=reads_passage,
        evidence=lambda ch: passage_evidence(keys, seq, ch, prm),
        forced=_pin_anchors(pins, seq, words, prm),
        prm=prm,
    )
    env = onsets.envelope(audio, prm=prm) if audio is not None and options.refine and len(audio) else None
    on, pauses = onsets.onsets(env, prm) if env is not None else (np.zeros(0), np.zeros(0))
    off = onsets.offsets(env, prm) if env is not None else np.zeros(0)
    matches = refine_chains(keys, seq, chains, prm)
    matches = _drop_weak([m for m in matches if m.j not in blocked], seq, prm)
    sec_per_char = _speech_rate(words, matches, seq, prm)
    readings = _split_readings(words, matches, seq, sec_per_char, prm)
    _extend_readings(keys, seq, readings, len(words), prm)

    times: list[list[_PassageTime]] = [_reading_times(words, seq, r, sec_per_char, prm) for r in readings]

    matched_at = {m.i for r in readings for m in r.matches}
    starts = [w.start for w in words]
    for k, group in enumerate(times):
        following = times[k + 1][0] if k + 1 < len(times) and times[k + 1] else None
        times[k] = _fill_missing(
            group, following, seq, keys, starts, ends, matched_at, not_read, sec_per_char, prm,
            likelihood=getattr(forcer, "likelihood", None),
        )
    likelihood = getattr(forcer, "likelihood", None)
    times += _read_beside(times, seq, keys, starts, ends, not_read, sec_per_char, prm, likelihood)

    cues: list[Cue] = []
    for group in times:
        slow = env is not None and _word_by_word(group, seq, on, pauses, prm)
        for k, pt in enumerate(group):
            start = pt.start
            if env is not None:
                floor = group[k - 1].start + prm.passage_min_gap if k > 0 else 0.0
                start = _snap_passage_start(pt, seq, on, pauses, floor, sec_per_char, prm, slow)
                if slow and forcer is not None and k > 0 and group[k - 1].passage == pt.passage - 1:
                    start = _forced_start(pt, seq, start, on, pauses, floor, forcer, prm)
            wt = [WordTiming(i, round(s, 3), round(e, 3)) for i, (s, e) in sorted(pt.words.items())]
            start = min(max(start, 0.0), duration)
            end = min(max(pt.end, start), duration)
            conf = _confidence(pt, seq, prm)
            cues.append(Cue(passages[pt.passage].id, round(start, 3), round(end, 3), READ, conf, wt))
    cues = apply_start_pins(cues, pins, duration)
    cues.sort(key=lambda c: c.start)

    # Close read cues: a passage lasts until the next one starts, unless the lecturer then
    # talks about it for a while, which becomes an explanation cue.
    starts = [w.start for w in words]
    vocabulary = _vocabulary(seq)

    def is_digression(t0: float, t1: float) -> bool:
        lo, hi = bisect.bisect_left(starts, t0), bisect.bisect_left(starts, t1)
        return t1 - t0 >= prm.digression_min_seconds and _off_topic([keys[i] for i in range(lo, hi)], vocabulary, prm)

    out: list[Cue] = []
    off_text: list[Span] = []
    if cues and cues[0].start > prm.off_text_min_lead:
        off_text.append(Span(0.0, round(cues[0].start, 3)))
    for k, c in enumerate(cues):
        nxt = cues[k + 1].start if k + 1 < len(cues) else duration
        end = max(c.end, c.start + prm.min_read_cue)
        if env is not None:
            end = onsets.snap(end, off, end - prm.end_snap_before, min(end + prm.snap_window, nxt), prm)
        if nxt - end >= prm.explain_min_gap:
            c.end = round(end, 3)
            out.append(c)
            if is_digression(end, nxt):
                off_text.append(Span(c.end, round(nxt, 3)))
            else:
                conf = round(c.confidence * prm.explained_confidence, 3)
                out.append(Cue(c.passage_id, c.end, round(nxt, 3), EXPLAINED, conf))
        else:
            c.end = round(max(nxt, c.start + 0.05), 3)
            out.append(c)
    read_ids = {c.passage_id for c in out if c.kind == READ}
    skipped = [p.id for p in passages if p.id not in read_ids]
    # A read passage is as sure as its least sure reading (a doubtful re-read is an error to
    # look at as much as a doubtful first reading). A skipped one is less sure the nearer its
    # best candidate came to a reading's evidence, by a quarter of it at most, so never
    # doubtful on that alone: the quotes and fragments of an explanation come near, and the
    # skip decisions of every corpus case were right where they did (issue 18).
    least_read: dict[str, float] = {}
    for c in out:
        if c.kind == READ:
            least_read[c.passage_id] = min(least_read.get(c.passage_id, 1.0), 1.0 if c.pinned else c.confidence)
    decisions = [
        Decision(p.id, True, round(least_read[p.id], 3))
        if p.id in least_read
        else Decision(p.id, False, 1.0 if p.id in not_read else round(1.0 - 0.25 * nearest.get(k, 0.0), 3))
        for k, p in enumerate(passages)
    ]
    return Alignment(
        decisions=decisions,
        cues=out,
        skipped=skipped,
        off_text=off_text,
        duration=duration,
        meta={
            "software": f"shiur-sync {__version__}",
            "aligner": "seed-chain coarse pass + word DP" + (" + onset snap" if env is not None else ""),
            "options": options.to_dict(),
            "model": transcript.model,
            "transcript_options": transcript.options,
            "pins": [asdict(p) for p in pins],
            "seconds_per_letter": round(sec_per_char, 4),
        },
    )


def _reads(ev: Evidence, prm: AlignParams) -> tuple[bool, bool, bool]:
    """(a reading on its own, a reading going on after talk, spanning enough to be read again)."""
    whole = ev.span_share >= prm.reread_span_share or ev.matched > prm.quote_max_tokens
    return ev.reads(prm), ev.reads(prm, resuming=True), whole


def _vocabulary(seq: TextSeq) -> set[str]:
    out: set[str] = set()
    for alts in seq.alts:
        for alt in alts:
            for w in alt:
                out.add(w)
                out.add(hebrew.skeleton(w))
    return out


def _off_topic(keys: list[str], vocabulary: set[str], prm: AlignParams) -> bool:
    """Talk that shares (almost) no words with the discourse is a digression, not explanation.

    Explaining a text reuses its words (a third to two thirds of the longer words, measured on
    simulated and real classes); an announcement or an unrelated story shares a few percent.
    """
    content = [k for k in keys if len(k) >= prm.digression_min_letters]
    if len(content) < prm.digression_min_words:
        return False
    shared = sum(1 for k in content if k in vocabulary or hebrew.skeleton(k) in vocabulary)
    return shared / len(content) < prm.digression_max_share


def _pin_anchors(pins: Sequence[Pin], seq: TextSeq, words: list[Word], prm: AlignParams) -> list[tuple[int, int]]:
    """(word, token) pairs for start pins: the first word heard at the pinned time reads the
    passage's first token."""
    starts = [w.start for w in words]
    first_token = {seq.passages[p].id: seq.passage_first[p] for p in range(len(seq.passages))}
    out = []
    for pin in pins:
        j = first_token.get(pin.passage_id, -1)
        if pin.start is None or j < 0:
            continue
        i = bisect.bisect_left(starts, pin.start - prm.pin_word_before)
        if i < len(words) and words[i].start < pin.start + prm.pin_word_after:
            out.append((i, j))
    return out
