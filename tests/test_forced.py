"""Forced alignment with the bundled Whisper model (sync.forced): lazy, and where a text is read."""

from __future__ import annotations

import numpy as np
import pytest
from speechgen import espeak, first_sound, write_wav

from sync import transcribe
from sync.audio import load_audio
from sync.errors import ModelError
from sync.forced import WhisperForcer


def test_forcer_loads_its_model_only_when_called_and_goes_on_without_it(monkeypatch):
    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise ModelError("no model here")

    monkeypatch.setattr(transcribe, "load_model", broken)
    forcer = WhisperForcer(np.zeros(16000 * 5, dtype=np.float32))
    assert not calls and not forcer.loaded
    assert forcer(0.0, 4.0, ["one"], ["two"]) is None
    assert forcer(0.0, 4.0, ["one"], ["two"]) is None
    assert calls == [1], "a missing model is tried once, not on every boundary"


@pytest.mark.slow
def test_forced_start_of_the_second_phrase_is_where_it_is_said(tmp_path):
    """Two phrases with a pause between: forcing "<end of the first> <start of the second>"
    finds the second's first word: it ends just after its sound starts, and its start (the end
    of the word before, across the pause) is before that."""
    a, rate = espeak("the cat sat on the mat")
    b, _ = espeak("then the dog ran home")
    gap = np.zeros(int(1.2 * rate), dtype=a.dtype)
    joined = np.concatenate([a, gap, b])
    audio = load_audio(write_wav(tmp_path / "two.wav", joined, rate))
    truth = (len(a) + len(gap) + first_sound(b)) / rate
    forcer = WhisperForcer(audio.samples, language="en")
    t = forcer(0.0, audio.duration, ["on", "the", "mat"], ["then", "the", "dog"])
    assert forcer.loaded and forcer.calls == 1
    assert t is not None, "nothing forced"
    start, end = t
    assert start <= truth + 0.1 and truth < end < truth + 0.6, (t, truth)
