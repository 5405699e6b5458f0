"""Recover speech the recogniser skipped.

Whisper sometimes stops a 30 s window early and never writes what follows (the batched pipeline
decodes each voice-activity chunk once), so a verse can be spoken, loud and clear, and leave no
word in the transcript. Any stretch between two recognised words that the signal says is speech
is decoded again on its own, and its words are put back in time order. This works on the
stream of segments, so transcription stays lazy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from . import onsets
from .transcript import Segment, Word

MIN_HOLE = 1.5
"""Seconds between two recognised words before the stretch is examined."""
MIN_SPEECH = 1.0
"""Seconds of speech inside it that make it a hole worth decoding again."""
MARGIN = 0.25

Redecode = Callable[[float, float], list[Segment]]


def speech_seconds(env: onsets.Envelope, t0: float, t1: float) -> float:
    a, b = max(0, int(t0 / onsets.FRAME)), max(0, int(t1 / onsets.FRAME))
    if b <= a:
        return 0.0
    return float(np.count_nonzero(env.speech()[a:b])) * onsets.FRAME


def max_word_seconds(text: str) -> float:
    """A generous upper bound on how long one spoken word lasts."""
    return 1.0 + 0.15 * len(text)


def _heard(w: Word) -> bool:
    return any(ch.isalnum() for ch in w.text)


def _segment_of(words: list[Word], like: Segment) -> Segment:
    return Segment(
        start=words[0].start,
        end=words[-1].end,
        text=" ".join(w.text for w in words),
        words=words,
        avg_logprob=like.avg_logprob,
        no_speech_prob=like.no_speech_prob,
    )


def fill_holes(
    segments: Iterator[Segment],
    audio: np.ndarray,
    redecode: Redecode,
    env: onsets.Envelope | None = None,
) -> Iterator[Segment]:
    """Pass ``segments`` through, inserting ``redecode(t0, t1)``'s segments for skipped speech."""
    env = env or onsets.envelope(audio)
    duration = len(audio) / onsets.SAMPLE_RATE
    last_end = 0.0

    def holes_between(t0: float, t1: float) -> Iterator[Segment]:
        if t1 - t0 < MIN_HOLE or speech_seconds(env, t0, t1) < MIN_SPEECH:
            return
        for seg in redecode(max(0.0, t0 - MARGIN), min(duration, t1 + MARGIN)):
            words = [w for w in seg.words if w.start >= t0 - MARGIN and w.end <= t1 + MARGIN]
            if words:
                yield _segment_of(words, seg)

    for seg in segments:
        if not seg.words:
            yield seg
            continue
        run: list[Word] = []
        for w in seg.words:
            if not _heard(w):
                # "-", "...": what the decoder writes when it lost the speech. Not a word, and
                # left out so the words put back in its place keep the time order.
                continue
            # A word "lasting" many seconds is the decoder giving up on the rest of a chunk:
            # the word itself is short, and what follows it is a hole.
            w.end = min(w.end, w.start + max_word_seconds(w.text))
            if w.start - last_end >= MIN_HOLE:
                found = list(holes_between(last_end, w.start))
                if found:
                    if run:
                        yield _segment_of(run, seg)
                        run = []
                    yield from found
            run.append(w)
            last_end = max(last_end, w.end)
        if run:
            yield _segment_of(run, seg) if len(run) != len(seg.words) else seg
    yield from holes_between(last_end, duration)
