"""Forced alignment with the Whisper model: where in a short stretch of audio a known text is read.

Used by the aligner for passage boundaries the transcript leaves in doubt (a verse's first word
heard as the previous verse's last). The model is loaded only on the first boundary that needs
it, so re-aligning a cached transcript that needs no forcing loads no model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .onsets import SAMPLE_RATE

# Whisper's encoder takes 30 s of 10 ms mel frames; its cross-attention works on pairs of them.
_ENCODER_FRAMES = 3000
_FRAMES_PER_TOKEN_STEP = 2
_SECONDS_PER_STEP = 0.02


class WhisperForcer:
    """Callable ``(t0, t1, before, after) -> seconds | None``: the time, in the recording, where
    the first word of ``after`` starts when ``before`` then ``after`` are read in [t0, t1)."""

    def __init__(self, audio: np.ndarray, model: str | None = None, language: str = "he") -> None:
        self.audio = audio
        self.model_name = model
        self.language = language
        self._wm: Any = None
        self._tok: Any = None
        self.calls = 0

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

    def __call__(self, t0: float, t1: float, before: list[str], after: list[str]) -> float | None:
        if not after or t1 <= t0:
            return None
        if self._wm is None:
            self._load()
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
        first_of_after = 0
        for k, w in enumerate([*before, *after]):
            if k == len(before):
                first_of_after = len(tokens)
            tokens += self._tok.encode(" " + w)
        result = self._wm.model.align(encoded, self._tok.sot_sequence, [tokens], n_frames // _FRAMES_PER_TOKEN_STEP)[0]
        text_idx = np.array([p[0] for p in result.alignments])
        time_idx = np.array([p[1] for p in result.alignments])
        if not len(text_idx):
            return None
        # The DTW path's first step onto each token is where that token starts.
        steps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
        starts = time_idx[steps] * _SECONDS_PER_STEP
        if first_of_after >= len(starts):
            return None
        return lo / SAMPLE_RATE + float(starts[first_of_after])
