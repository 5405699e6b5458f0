"""Speech onsets from the signal's energy, to put cue starts where the voice actually starts.

Whisper's word times come from cross-attention and are often a few hundred milliseconds off at
the start of a phrase. A reader nearly always pauses before a new passage, so the passage start
is snapped to the nearest silence-to-speech transition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import DEFAULT, AlignParams

SAMPLE_RATE = 16_000
FRAME = 0.01


@dataclass
class Envelope:
    db: np.ndarray
    threshold: float

    def speech(self) -> np.ndarray:
        return self.db > self.threshold


def envelope(audio: np.ndarray, sr: int = SAMPLE_RATE, prm: AlignParams = DEFAULT) -> Envelope:
    hop = int(sr * FRAME)
    n = len(audio) // hop
    if n == 0:
        return Envelope(np.zeros(0), 0.0)
    frames = audio[: n * hop].astype(np.float32).reshape(n, hop)
    rms = np.sqrt(np.mean(frames * frames, axis=1) + 1e-12)
    db = 20 * np.log10(rms + 1e-9)
    floor = float(np.percentile(db, prm.floor_percentile))
    level = float(np.percentile(db, prm.level_percentile))
    # Part of the way (in dB) from this recording's noise floor to its speech level: fits a
    # quiet room as well as a phone in a noisy one. With no dynamic range there is no silence.
    if level - floor > prm.min_dynamic_db:
        threshold = floor + prm.threshold_share * (level - floor)
    else:
        threshold = level + 1
    return Envelope(db, threshold)


def _clean_speech(mask: np.ndarray, min_run: int) -> np.ndarray:
    """Drop speech bursts shorter than ``min_run`` frames (clicks, breaths)."""
    out = mask.copy()
    n = len(mask)
    k = 0
    while k < n:
        if mask[k]:
            e = k
            while e < n and mask[e]:
                e += 1
            if e - k < min_run:
                out[k:e] = False
            k = e
        else:
            k += 1
    return out


def _runs(env: Envelope, min_run: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Frame indices where (cleaned) speech starts and where it stops, and the frame count."""
    speech = _clean_speech(env.speech(), min_run)
    rises = np.flatnonzero(speech[1:] & ~speech[:-1]) + 1
    falls = np.flatnonzero(~speech[1:] & speech[:-1]) + 1
    if speech[0]:
        rises = np.concatenate([[0], rises])
    if speech[-1]:
        falls = np.concatenate([falls, [len(speech)]])
    return rises, falls, len(speech)


def onsets(env: Envelope, prm: AlignParams = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) where speech starts after at least ``prm.min_silence`` seconds of silence, and
    the length (s) of the silence before each."""
    if len(env.db) == 0:
        return np.zeros(0), np.zeros(0)
    min_silence = prm.min_silence
    rises, falls, _ = _runs(env, prm.min_burst_frames)
    prev_fall = np.searchsorted(falls, rises, side="right") - 1
    silence = np.where(prev_fall >= 0, rises - falls[np.maximum(prev_fall, 0)], 10_000)
    keep = silence >= int(min_silence / FRAME)
    return rises[keep] * FRAME, np.minimum(silence[keep], 10_000) * FRAME


def offsets(env: Envelope, prm: AlignParams = DEFAULT) -> np.ndarray:
    """Times (s) where speech stops for at least ``prm.min_silence`` seconds."""
    if len(env.db) == 0:
        return np.zeros(0)
    min_silence = prm.min_silence
    rises, falls, n = _runs(env, prm.min_burst_frames)
    next_rise = np.searchsorted(rises, falls, side="left")
    silence = np.where(next_rise < len(rises), rises[np.minimum(next_rise, len(rises) - 1)] - falls, n - falls)
    return falls[(silence >= int(min_silence / FRAME)) & (falls < n)] * FRAME


def snap_start(
    t: float,
    points: np.ndarray,
    pauses: np.ndarray,
    lo: float,
    hi: float,
    pause_weight: float = 1.0,
    prm: AlignParams = DEFAULT,
) -> float:
    """The onset in [lo, hi] that best opens a passage: a long pause before it, close to ``t``."""
    if len(points) == 0:
        return t
    a = np.searchsorted(points, lo, side="left")
    b = np.searchsorted(points, hi, side="right")
    if a >= b:
        return t
    cand = points[a:b]
    score = pause_weight * np.minimum(pauses[a:b], prm.pause_cap) - prm.onset_distance_cost * np.abs(cand - t)
    return float(cand[np.argmax(score)])


def first_onset(points: np.ndarray, pauses: np.ndarray, lo: float, hi: float, min_pause: float) -> float | None:
    """The first onset in [lo, hi) after a pause of at least ``min_pause`` seconds."""
    a = np.searchsorted(points, lo, side="left")
    b = np.searchsorted(points, hi, side="left")
    for k in range(a, b):
        if pauses[k] >= min_pause:
            return float(points[k])
    return None


def longest_pause_onset(points: np.ndarray, pauses: np.ndarray, lo: float, hi: float, min_pause: float) -> float | None:
    """The onset in [lo, hi) after the longest pause (at least ``min_pause`` s); the earliest of
    equals."""
    a = np.searchsorted(points, lo, side="left")
    b = np.searchsorted(points, hi, side="left")
    if a >= b:
        return None
    k = int(np.argmax(pauses[a:b]))
    return float(points[a + k]) if pauses[a + k] >= min_pause else None


def snap(t: float, points: np.ndarray, lo: float, hi: float, prm: AlignParams = DEFAULT) -> float:
    """The point nearest to ``t`` inside [lo, hi], or ``t`` if there is none."""
    return snap_start(t, points, np.zeros(len(points)), lo, hi, pause_weight=0.0, prm=prm)
