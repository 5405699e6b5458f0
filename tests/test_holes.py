"""Speech the recogniser skipped is decoded again and put back in time order."""

from __future__ import annotations

import numpy as np

from sync.holes import fill_holes
from sync.onsets import envelope, offsets, onsets
from sync.transcript import Segment, Word

SR = 16_000


def signal(spans: list[tuple[float, float]], duration: float) -> np.ndarray:
    audio = np.full(int(duration * SR), 1e-4, dtype=np.float32)
    rng = np.random.default_rng(1)
    for a, b in spans:
        audio[int(a * SR) : int(b * SR)] = rng.normal(0, 0.1, int(b * SR) - int(a * SR))
    return audio


def seg(words: list[tuple[str, float, float]]) -> Segment:
    ws = [Word(s, e, t) for t, s, e in words]
    return Segment(ws[0].start, ws[-1].end, " ".join(w.text for w in ws), ws)


def test_skipped_speech_is_decoded_again_in_order() -> None:
    audio = signal([(0.5, 2.0), (3.0, 6.0), (7.0, 8.0)], 9.0)
    calls: list[tuple[float, float]] = []

    def redecode(t0: float, t1: float) -> list[Segment]:
        calls.append((t0, t1))
        return [seg([("נמצא", 3.1, 4.0), ("שוב", 4.1, 5.9)])]

    stream = [seg([("א", 0.5, 1.0), ("ב", 1.1, 2.0)]), seg([("ג", 7.0, 8.0)])]
    out = list(fill_holes(iter(stream), audio, redecode))
    words = [w.text for s in out for w in s.words]
    assert words == ["א", "ב", "נמצא", "שוב", "ג"]
    assert len(calls) == 1 and calls[0][0] < 3.0 and calls[0][1] > 6.0


def test_silence_between_words_is_left_alone() -> None:
    audio = signal([(0.5, 2.0), (7.0, 8.0)], 9.0)

    def redecode(t0: float, t1: float) -> list[Segment]:
        raise AssertionError("a silent gap must not be decoded again")

    stream = [seg([("א", 0.5, 2.0)]), seg([("ג", 7.0, 8.0)])]
    out = list(fill_holes(iter(stream), audio, redecode))
    assert [w.text for s in out for w in s.words] == ["א", "ג"]


def test_a_hole_inside_one_segment_splits_it() -> None:
    audio = signal([(0.5, 1.0), (2.5, 5.0), (6.0, 6.5)], 7.0)
    stream = [seg([("א", 0.5, 1.0), ("ג", 6.0, 6.5)])]
    out = list(fill_holes(iter(stream), audio, lambda a, b: [seg([("ב", 2.6, 4.9)])]))
    assert [s.text for s in out] == ["א", "ב", "ג"]
    assert all(s.start <= s.end for s in out)


def test_onsets_and_offsets_follow_the_signal() -> None:
    env = envelope(signal([(1.0, 2.0), (3.0, 4.0)], 5.0))
    times, pauses = onsets(env)
    assert np.allclose(times, [1.0, 3.0], atol=0.02)
    assert pauses[1] >= 0.95
    assert np.allclose(offsets(env), [2.0, 4.0], atol=0.02)


def test_dashes_written_for_lost_speech_do_not_hide_the_hole() -> None:
    audio = signal([(0.5, 1.0), (2.0, 6.0), (7.0, 7.5)], 8.0)
    stream = [seg([("א", 0.5, 1.0), ("-", 2.0, 2.1), ("-", 4.0, 4.1), ("ג", 7.0, 7.5)])]
    out = list(fill_holes(iter(stream), audio, lambda a, b: [seg([("ב", 2.1, 5.9)])]))
    assert [w.text for s in out for w in s.words] == ["א", "ב", "ג"]


def test_a_word_stretched_over_lost_speech_is_cut_and_the_rest_decoded() -> None:
    audio = signal([(0.5, 1.5), (2.0, 9.0), (9.5, 10.0)], 11.0)
    stream = [seg([("א", 0.5, 1.0), ("בלילה", 1.0, 9.4)]), seg([("ג", 9.5, 10.0)])]
    out = list(fill_holes(iter(stream), audio, lambda a, b: [seg([("ב", 3.0, 8.0)])]))
    words = [w for s in out for w in s.words]
    assert [w.text for w in words] == ["א", "בלילה", "ב", "ג"]
    assert words[1].end < 3.0
