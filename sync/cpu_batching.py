"""faster-whisper's batched pipeline, arranged for a CPU of a few cores.

The pipeline hands each batch of 30-s windows to three model calls in turn: the encoder, the
decoder's greedy search and the cross-attention word alignment. On a CPU none of them gains
much from one big call (measured on two cores, gen1-shiur, 14 windows):

* the encoder is compute-bound: a window costs 0.31-0.37 s alone, 0.42-0.45 s in fours,
  0.49-0.54 s in eights;
* word alignment pads every window's tokens to the longest: 1.2-1.8 s in pairs, 3.4-5.1 s in
  sevens or fourteens;
* two threads on one call scale badly (encoder: 0.54 s a window on one thread, 0.37 on two),
  while two CTranslate2 workers of one thread each, called at once, use both cores: 14 windows
  encoded in 3.9 s instead of 5.2 s and decoded in 3.6 s instead of 6.9 s.

So the model is loaded with a worker per core (:func:`model_layout`), and :class:`CpuBatching`
wraps it for one transcription: the decoder's batch is cut in one part per worker, the encoder
and the alignment take a few windows a call, and the parts run on the workers at once. Results
are put back in order; every window is computed exactly as it would be alone in its batch.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_WORKERS = 2
"""CTranslate2 workers a model gets at most (measured on two cores; with more cores each worker
gets more threads)."""


def model_layout(cores: int) -> tuple[int, int]:
    """(workers, threads per worker) for a model that may use ``cores`` cores."""
    workers = max(1, min(MAX_WORKERS, cores))
    return workers, max(1, cores // workers)


@dataclass
class CallTimes:
    """Wall seconds spent in the split calls, for ``bench/rtf.py``'s stage table."""

    encode: float = 0.0
    word_timing: float = 0.0
    windows: int = 0


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whisper")
    return _POOLS[workers]


def _storage(array: np.ndarray) -> Any:
    import ctranslate2

    return ctranslate2.StorageView.from_array(np.ascontiguousarray(array))


def _pieces(n: int, size: int) -> list[slice]:
    return [slice(i, min(n, i + size)) for i in range(0, n, max(1, size))]


class SplitModel:
    """The CTranslate2 Whisper model, its batched calls cut into pieces run on its workers."""

    def __init__(self, model: Any, encoder_batch: int, word_batch: int, times: CallTimes) -> None:
        self._model = model
        self._encoder_batch = max(1, encoder_batch)
        self._word_batch = max(1, word_batch)
        self._workers = max(1, int(getattr(model, "num_workers", 1) or 1))
        self._times = times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def _run(self, parts: Sequence[slice], call: Callable[[slice], Any]) -> list[Any]:
        if len(parts) <= 1 or self._workers <= 1:
            return [call(p) for p in parts]
        return list(_pool(self._workers).map(call, parts))

    def encode(self, features: Any, to_cpu: bool = False) -> Any:
        started = time.perf_counter()
        x = np.asarray(features)
        if len(x) <= self._encoder_batch:
            out = self._model.encode(features, to_cpu=to_cpu)
        else:
            parts = self._run(_pieces(len(x), self._encoder_batch),
                              lambda s: np.asarray(self._model.encode(_storage(x[s]), to_cpu=to_cpu)))
            out = _storage(np.concatenate(parts))
        self._times.encode += time.perf_counter() - started
        self._times.windows += len(x)
        return out

    def generate(self, features: Any, prompts: list[Any], **kw: Any) -> list[Any]:
        n = len(prompts)
        if n <= 1 or self._workers <= 1:
            return self._model.generate(features, prompts, **kw)
        x = np.asarray(features)
        size = -(-n // self._workers)
        parts = self._run(_pieces(n, size), lambda s: self._model.generate(_storage(x[s]), prompts[s], **kw))
        return [r for part in parts for r in part]

    def align(self, features: Any, start_sequence: list[int], text_tokens: list[list[int]], num_frames: Any,
              **kw: Any) -> list[Any]:
        started = time.perf_counter()
        n = len(text_tokens)
        if n <= self._word_batch:
            out = self._model.align(features, start_sequence, text_tokens, num_frames, **kw)
        else:
            x = np.asarray(features)
            frames = list(num_frames) if isinstance(num_frames, Sequence) else [num_frames] * n
            parts = self._run(_pieces(n, self._word_batch), lambda s: self._model.align(
                _storage(x[s]), start_sequence, text_tokens[s], frames[s], **kw))
            out = [r for part in parts for r in part]
        self._times.word_timing += time.perf_counter() - started
        return out


class CpuBatching:
    """A WhisperModel for ``BatchedInferencePipeline`` whose calls go through :class:`SplitModel`.

    faster-whisper's own ``encode``, ``find_alignment`` and ``add_word_timestamps`` run with this
    object as ``self``, so that their ``self.model`` is the split model; everything else is the
    wrapped WhisperModel's.
    """

    def __init__(self, whisper_model: Any, encoder_batch: int, word_batch: int, times: CallTimes) -> None:
        from faster_whisper import WhisperModel

        self._wm = whisper_model
        self.model = SplitModel(whisper_model.model, encoder_batch, word_batch, times)
        for name in ("encode", "find_alignment", "add_word_timestamps"):
            setattr(self, name, types.MethodType(getattr(WhisperModel, name), self))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wm, name)
