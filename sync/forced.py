"""Forced alignment with the Whisper model: where in a short stretch of audio a known text is read.

Used by the aligner for passage boundaries the transcript leaves in doubt (a verse's first word
heard as the previous verse's last). The model is loaded only on the first boundary that needs
it, so re-aligning a cached transcript that needs no forcing loads no model.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .errors import ModelError
from .onsets import SAMPLE_RATE

# Whisper's encoder takes at most 30 s of 10 ms mel frames; its cross-attention (the DTW path)
# works on pairs of them.
_ENCODER_FRAMES = 3000
_SECONDS_PER_STEP = 0.02


class WhisperForcer:
    """Callable ``(t0, t1, before, after) -> (start, end) | None``: where, in the recording, the
    first word of ``after`` is read when ``before`` then ``after`` are read in [t0, t1).

    The start is where the path leaves the word before, so after a pause it is that word's end:
    only the end is precise."""

    def __init__(self, audio: np.ndarray, model: str | None = None, language: str = "he") -> None:
        self.audio = audio
        self.model_name = model
        self.language = language
        self._wm: Any = None
        self._tok: Any = None
        self.calls = 0
        self.seconds = 0.0
        """Wall time spent forcing (model loading included), for benches."""
        self.unavailable = False

    def _load(self) -> None:
        from faster_whisper.tokenizer import Tokenizer

        from .transcribe import load_model

        self._wm, _ = load_model(self.model_name)
        self._tok = Tokenizer(
            self._wm.hf_tokenizer, self._wm.model.is_multilingual, task="transcribe", language=self.language
        )

    @property
    def loaded(self) -> bool:
        return self._wm is not None

    def __call__(self, t0: float, t1: float, before: list[str], after: list[str]) -> tuple[float, float] | None:
        if not after or t1 <= t0:
            return None
        if self.unavailable:
            return None
        started = time.perf_counter()
        try:
            return self._force(t0, t1, before, after)
        finally:
            self.seconds += time.perf_counter() - started

    def likelihood(self, t0: float, t1: float, words: list[str]) -> float | None:
        """How well ``words``, forced through the audio of [t0, t1), fit it: the mean
        probability the model gives their text tokens there (0-1). A reading of them scores
        high; talk that only shares some of their words scores low."""
        if not words or t1 <= t0 or self.unavailable:
            return None
        started = time.perf_counter()
        try:
            aligned = self._align(t0, t1, words)
            if aligned is None:
                return None
            probs = aligned[0].text_token_probs
            return float(np.mean(probs)) if len(probs) else None
        finally:
            self.seconds += time.perf_counter() - started

    def _align(self, t0: float, t1: float, words: list[str]) -> tuple[Any, list[int], float] | None:
        """(the model's alignment result, token bounds of each word, window offset in s)."""
        if self._wm is None:
            try:
                self._load()
            except ModelError:
                # Forcing only refines what the aligner already has: without the model
                # (a hub model offline, a broken install) the alignment goes on without it.
                self.unavailable = True
                return None
        self.calls += 1
        lo = max(0, int(t0 * SAMPLE_RATE))
        hi = min(len(self.audio), int(t1 * SAMPLE_RATE))
        if hi - lo < SAMPLE_RATE // 10:
            return None
        # Not padded to the encoder's 30 s: CTranslate2 takes a shorter input, the encoder's cost
        # is about linear in it (a 11-s window: 0.25 s instead of 1.3 s on 2 cores), and the
        # forced starts measured the same on gen1-reading-p (30 boundaries, padded or not).
        feats = self._wm.feature_extractor(self.audio[lo:hi])[:, :_ENCODER_FRAMES]
        n_frames = int(feats.shape[-1])
        encoded = self._wm.encode(np.ascontiguousarray(feats))
        tokens: list[int] = []
        bounds = []
        for w in words:
            bounds.append(len(tokens))
            tokens += self._tok.encode(" " + w)
        bounds.append(len(tokens))
        result = self._wm.model.align(encoded, self._tok.sot_sequence, [tokens], n_frames)[0]
        return result, bounds, lo / SAMPLE_RATE

    def _force(self, t0: float, t1: float, before: list[str], after: list[str]) -> tuple[float, float] | None:
        aligned = self._align(t0, t1, [*before, *after])
        if aligned is None:
            return None
        result, bounds, offset = aligned
        first, after_first = bounds[len(before)], bounds[len(before) + 1]
        text_idx = np.array([p[0] for p in result.alignments])
        time_idx = np.array([p[1] for p in result.alignments])
        if not len(text_idx):
            return None
        # The DTW path's first step onto each token is where that token starts (and the one
        # before ends); the step after the text's last token is the end of speech.
        steps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
        starts = time_idx[steps] * _SECONDS_PER_STEP
        if after_first >= len(starts):
            return None
        return offset + float(starts[first]), offset + float(starts[after_first])
