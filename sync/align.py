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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from . import __version__, hebrew, onsets
from .alignment import EXPLAINED, READ, Alignment, Cue, Pin, Span, WordTiming
from .coarse import coarse_align
from .discourse import Discourse
from .fine import WordMatch, align_region, passage_evidence, reads_passage, refine_chains
from .pins import apply_start_pins
from .textseq import TextSeq, build_textseq
from .transcript import Transcript, Word

# A pause longer than this between a reading and the next thing said makes the rest explanation.
EXPLAIN_MIN_GAP = 2.0
# Unmatched speech inside a reading, beyond what the skipped text explains, that breaks it.
BREAK_EXTRA_WORDS = 6
BREAK_EXTRA_SECONDS = 5.0
SNAP_WINDOW = 0.6
SNAP_START_BEFORE = 1.2
DIGRESSION_MIN_SECONDS = 15.0
DIGRESSION_MIN_WORDS = 12
DIGRESSION_MAX_SHARE = 0.2


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


def _speech_rate(words: list[Word], matches: list[WordMatch], seq: TextSeq) -> float:
    """Seconds per letter of read text, measured on the matched reading."""
    total_t = 0.0
    total_c = 0
    for a, b in zip(matches, matches[1:], strict=False):
        if b.j == a.j + 1 and b.i == a.i + 1:
            dt = words[b.i].start - words[a.i].start
            if 0 < dt < 3:
                total_t += dt
                total_c += seq.chars[a.j]
    return total_t / total_c if total_c > 20 else 0.075


def _drop_weak(matches: list[WordMatch], seq: TextSeq) -> list[WordMatch]:
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
        if any(m.anchor for m in group) or (coverage >= 0.5 and quality >= 0.65):
            out.extend(group)
        k = e
    return out


def _split_readings(words: list[Word], matches: list[WordMatch], seq: TextSeq, sec_per_char: float) -> list[Reading]:
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
            if dj < 0 or dj > 60 or unmatched >= BREAK_EXTRA_WORDS or extra_t > BREAK_EXTRA_SECONDS:
                readings.append(cur)
                cur = Reading()
        cur.matches.append(m)
    if cur.matches:
        readings.append(cur)
    return readings


def _extend_readings(keys: list[str], seq: TextSeq, readings: list[Reading], n_words: int) -> None:
    """Match the rest of the first and last passage of each reading in the neighbouring words."""
    for k, r in enumerate(readings):
        first = r.matches[0]
        pstart = seq.passage_first[seq.passage_of[first.j]]
        if first.j > pstart:
            lo_limit = readings[k - 1].matches[-1].i + 1 if k > 0 else 0
            lo = max(lo_limit, first.i - 3 * (first.j - pstart) - 2)
            ext = align_region(keys, lo, first.i, seq, pstart, first.j, free_lead=True)
            r.matches[:0] = ext
        last = r.matches[-1]
        p = seq.passage_of[last.j]
        pend = seq.passage_first[p] + seq.passage_len[p]
        if last.j + 1 < pend:
            hi_limit = readings[k + 1].matches[0].i if k + 1 < len(readings) else n_words
            hi = min(hi_limit, last.i + 1 + 3 * (pend - last.j - 1) + 2)
            r.matches.extend(align_region(keys, last.i + 1, hi, seq, last.j + 1, pend, free_trail=True))


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


def _reading_times(words: list[Word], seq: TextSeq, r: Reading, sec_per_char: float) -> list[_PassageTime]:
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
        # Trust "speech after the previous word opens this passage" only when that word closes
        # the previous passage; else unrecognised words of the previous passage may follow it.
        closes_previous = k >= 0 and js[k] == first - 1
        if j_a > first:
            # The opening words were not recognised: back off by their reading time, but not
            # before the previous matched word ended.
            floor = prev_end if prev_end is not None else max(0.0, start - 30)
            start = max(floor, start - sum(seq.chars[first:j_a]) * sec_per_char)
        end = token_time[pj[-1]][1]
        if pj[-1] < last:
            k = bisect.bisect_right(js, pj[-1])
            ceil = token_time[js[k]][0] if k < len(js) else end + 30
            end = min(ceil, end + sum(seq.chars[pj[-1] + 1 : last + 1]) * sec_per_char)
        wt = {seq.token_in_passage[j]: token_time[j] for j in pj}
        sims = [token_sim[j] for j in pj]
        closing = prev_end if closes_previous else None
        out.append(_PassageTime(p, start, end, wt, sims, prev_end=closing, after=prev_end))
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
    pt: _PassageTime, seq: TextSeq, on: np.ndarray, pauses: np.ndarray, floor: float, sec_per_char: float
) -> float:
    """Put a passage start on the speech onset that opens it.

    Whisper often stretches the first word of a segment back over the preceding pause, so its
    start is unreliable while its end is not: the onset is searched between a little before the
    word and the word's end. Filled passages (never recognised) look wider for the clearest pause.
    """
    if pt.after is not None:
        floor = max(floor, pt.after - 0.15)
    if pt.filled:
        lo, hi = max(floor, pt.start - 3.0), pt.start + 3.0
        return onsets.snap_start(pt.start, on, pauses, lo, hi, pause_weight=3.0)
    if pt.prev_end is not None:
        # In a continuous reading, speech that starts after the last recognised word of the
        # previous passage belongs to this one: take the first clear onset after that word.
        first_word = pt.words.get(seq.token_in_passage[seq.passage_first[pt.passage]])
        hi = first_word[1] - 0.05 if first_word else pt.start + SNAP_WINDOW
        t = onsets.first_onset(on, pauses, max(floor, pt.prev_end - 0.1), hi, min_pause=0.25)
        if t is not None:
            return t
    first = seq.token_in_passage[seq.passage_first[pt.passage]]
    if first in pt.words:
        w_start, w_end = pt.words[first]
        ref = max(w_start, w_end - seq.chars[seq.passage_first[pt.passage]] * sec_per_char * 1.5)
        lo, hi = max(floor, min(ref, w_start) - SNAP_START_BEFORE), max(w_end - 0.05, ref + 0.1)
        return onsets.snap_start(ref, on, pauses, lo, hi)
    return onsets.snap_start(pt.start, on, pauses, max(floor, pt.start - SNAP_START_BEFORE), pt.start + SNAP_WINDOW)


def _passage_chars(seq: TextSeq, p: int) -> int:
    first = seq.passage_first[p]
    return sum(seq.chars[first : first + seq.passage_len[p]])


def _fill_missing(
    group: list[_PassageTime],
    following: _PassageTime | None,
    seq: TextSeq,
    starts: list[float],
    matched_at: set[int],
    not_read: set[str],
    sec_per_char: float,
) -> list[_PassageTime]:
    """Passages between two recognised ones, with time to have been read, were read.

    Inside a reading the time between two matched passages is enough evidence. Between two
    readings (``following`` opens the next one) the gap must also be quiet of unmatched words:
    speech the recogniser transcribed but that matches nothing is commentary, and the passages
    were skipped. A gap far too short for the text means the reader skipped it.
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
            ok = 0.5 * expected <= gap <= 2.5 * expected + 3 and heard <= 0.3 * n_tokens
            if ok and expected > 0:
                out.extend(_fill_gap(seq, missing[0], missing[-1] + 1, t0 + 0.05, t1 - 0.05, sec_per_char))
        if not between_readings:
            out.append(b)
    return out


def _confidence(pt: _PassageTime, seq: TextSeq) -> float:
    if pt.filled:
        return 0.25
    n = max(seq.passage_len[pt.passage], 1)
    coverage = min(1.0, len(pt.words) / n)
    quality = float(np.mean([min(s, 1.0) for s in pt.sims])) if pt.sims else 0.0
    return round(max(0.0, min(1.0, 0.15 + 0.55 * coverage + 0.3 * quality)), 3)


def align(
    discourse: Discourse,
    transcript: Transcript,
    pins: Sequence[Pin] = (),
    audio: np.ndarray | None = None,
    model: object | None = None,
    options: AlignOptions | None = None,
) -> Alignment:
    """Align ``transcript`` to ``discourse``.

    ``audio`` is the 16 kHz mono float32 signal; with it, passage starts are snapped to speech
    onsets. ``model`` (a loaded WhisperModel) is not used yet: it is part of the signature for a
    forced-alignment pass, which measured unnecessary on the corpus once starts snap to onsets.
    ``pins`` are the lecturer's corrections, honoured exactly; the rest is re-aligned around them.
    """
    options = options or AlignOptions()
    seq = build_textseq(discourse, lattice=options.lattice)
    words = [w for w in transcript.words() if hebrew.normalize(w.text)]
    keys = [hebrew.normalize(w.text) for w in words]
    duration = round(transcript.duration or (words[-1].end if words else 0.0), 3)
    passages = seq.passages

    not_read = {p.passage_id for p in pins if p.start is None}
    blocked = {j for j in range(len(seq)) if passages[seq.passage_of[j]].id in not_read}

    chains = coarse_align(
        keys,
        seq,
        blocked,
        [w.start for w in words],
        reads_passage=lambda ch: reads_passage(keys, seq, ch),
        evidence=lambda ch: passage_evidence(keys, seq, ch),
        forced=_pin_anchors(pins, seq, words),
    )
    matches = refine_chains(keys, seq, chains)
    matches = _drop_weak([m for m in matches if m.j not in blocked], seq)
    sec_per_char = _speech_rate(words, matches, seq)
    readings = _split_readings(words, matches, seq, sec_per_char)
    _extend_readings(keys, seq, readings, len(words))

    times: list[list[_PassageTime]] = [_reading_times(words, seq, r, sec_per_char) for r in readings]

    matched_at = {m.i for r in readings for m in r.matches}
    starts = [w.start for w in words]
    for k, group in enumerate(times):
        following = times[k + 1][0] if k + 1 < len(times) and times[k + 1] else None
        times[k] = _fill_missing(group, following, seq, starts, matched_at, not_read, sec_per_char)

    env = onsets.envelope(audio) if audio is not None and options.refine and len(audio) else None
    on, pauses = onsets.onsets(env) if env is not None else (np.zeros(0), np.zeros(0))
    off = onsets.offsets(env) if env is not None else np.zeros(0)

    cues: list[Cue] = []
    for group in times:
        for k, pt in enumerate(group):
            start = pt.start
            if env is not None:
                floor = group[k - 1].start + 0.2 if k > 0 else 0.0
                start = _snap_passage_start(pt, seq, on, pauses, floor, sec_per_char)
            wt = [WordTiming(i, round(s, 3), round(e, 3)) for i, (s, e) in sorted(pt.words.items())]
            start = min(max(start, 0.0), duration)
            end = min(max(pt.end, start), duration)
            cues.append(Cue(passages[pt.passage].id, round(start, 3), round(end, 3), READ, _confidence(pt, seq), wt))
    cues = apply_start_pins(cues, pins, duration)
    cues.sort(key=lambda c: c.start)

    # Close read cues: a passage lasts until the next one starts, unless the lecturer then
    # talks about it for a while, which becomes an explanation cue.
    starts = [w.start for w in words]
    vocabulary = _vocabulary(seq)

    def is_digression(t0: float, t1: float) -> bool:
        lo, hi = bisect.bisect_left(starts, t0), bisect.bisect_left(starts, t1)
        return t1 - t0 >= DIGRESSION_MIN_SECONDS and _off_topic([keys[i] for i in range(lo, hi)], vocabulary)

    out: list[Cue] = []
    off_text: list[Span] = []
    if cues and cues[0].start > 1.0:
        off_text.append(Span(0.0, round(cues[0].start, 3)))
    for k, c in enumerate(cues):
        nxt = cues[k + 1].start if k + 1 < len(cues) else duration
        end = max(c.end, c.start + 0.2)
        if env is not None:
            end = onsets.snap(end, off, end - 0.3, min(end + SNAP_WINDOW, nxt))
        if nxt - end >= EXPLAIN_MIN_GAP:
            c.end = round(end, 3)
            out.append(c)
            if is_digression(end, nxt):
                off_text.append(Span(c.end, round(nxt, 3)))
            else:
                out.append(Cue(c.passage_id, c.end, round(nxt, 3), EXPLAINED, round(c.confidence * 0.8, 3)))
        else:
            c.end = round(max(nxt, c.start + 0.05), 3)
            out.append(c)
    read_ids = {c.passage_id for c in out if c.kind == READ}
    skipped = [p.id for p in passages if p.id not in read_ids]
    return Alignment(
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


def _vocabulary(seq: TextSeq) -> set[str]:
    out: set[str] = set()
    for alts in seq.alts:
        for alt in alts:
            for w in alt:
                out.add(w)
                out.add(hebrew.skeleton(w))
    return out


def _off_topic(keys: list[str], vocabulary: set[str]) -> bool:
    """Talk that shares (almost) no words with the discourse is a digression, not explanation.

    Explaining a text reuses its words (a third to two thirds of the longer words, measured on
    simulated and real classes); an announcement or an unrelated story shares a few percent.
    """
    content = [k for k in keys if len(k) >= 3]
    if len(content) < DIGRESSION_MIN_WORDS:
        return False
    shared = sum(1 for k in content if k in vocabulary or hebrew.skeleton(k) in vocabulary)
    return shared / len(content) < DIGRESSION_MAX_SHARE


def _pin_anchors(pins: Sequence[Pin], seq: TextSeq, words: list[Word]) -> list[tuple[int, int]]:
    """(word, token) pairs for start pins: the first word heard at the pinned time reads the
    passage's first token."""
    starts = [w.start for w in words]
    first_token = {seq.passages[p].id: seq.passage_first[p] for p in range(len(seq.passages))}
    out = []
    for pin in pins:
        j = first_token.get(pin.passage_id, -1)
        if pin.start is None or j < 0:
            continue
        i = bisect.bisect_left(starts, pin.start - 0.25)
        if i < len(words) and words[i].start < pin.start + 5.0:
            out.append((i, j))
    return out
