"""The batched pipeline arranged for a CPU (sync/cpu_batching.py): calls split across workers,
results in order, the same words as faster-whisper's own arrangement, and a progress bar that
keeps moving through a recording longer than one batch."""

from __future__ import annotations

import threading
import time
import types

import numpy as np
import pytest
from speechgen import espeak, write_wav

from sync.cpu_batching import CallTimes, SplitModel, model_layout


class FakeCt2:
    """Records every call: which rows it got, from which thread, how many at once."""

    num_workers = 2

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[float], str]] = []
        self.active = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def _enter(self, name: str, rows: np.ndarray) -> None:
        with self.lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
            self.calls.append((name, [float(r.flat[0]) for r in rows], threading.current_thread().name))
        time.sleep(0.05)  # long enough for a second call to start meanwhile
        with self.lock:
            self.active -= 1

    def encode(self, features, to_cpu=False):
        x = np.asarray(features)
        self._enter("encode", x)
        return x * 10

    def generate(self, features, prompts, **kw):
        x = np.asarray(features)
        self._enter("generate", x)
        return [types.SimpleNamespace(row=float(r.flat[0]), prompt=p) for r, p in zip(x, prompts, strict=True)]

    def align(self, features, start_sequence, text_tokens, num_frames, **kw):
        x = np.asarray(features)
        self._enter("align", x)
        return [(float(r.flat[0]), t, f) for r, t, f in zip(x, text_tokens, num_frames, strict=True)]


def rows(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32).reshape(n, 1, 1) * np.ones((1, 2, 3), dtype=np.float32)


def test_calls_are_split_run_on_both_workers_at_once_and_put_back_in_order():
    fake, times = FakeCt2(), CallTimes()
    model = SplitModel(fake, encoder_batch=1, word_batch=2, times=times)

    encoded = np.asarray(model.encode(rows(5)))
    assert encoded[:, 0, 0].tolist() == [0, 10, 20, 30, 40]
    assert sorted(len(c[1]) for c in fake.calls if c[0] == "encode") == [1] * 5
    assert times.windows == 5 and times.encode > 0

    out = model.generate(rows(5), ["a", "b", "c", "d", "e"], beam_size=1)
    assert [(r.row, r.prompt) for r in out] == [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e")]
    # one part per worker: 3 + 2 windows
    assert sorted(len(c[1]) for c in fake.calls if c[0] == "generate") == [2, 3]

    aligned = model.align(rows(5), [1], [[1], [2], [3], [4], [5]], [10, 20, 30, 40, 50])
    assert aligned == [(0, [1], 10), (1, [2], 20), (2, [3], 30), (3, [4], 40), (4, [5], 50)]
    assert sorted(len(c[1]) for c in fake.calls if c[0] == "align") == [1, 2, 2]
    assert times.word_timing > 0

    assert fake.most_at_once == 2
    assert len({c[2] for c in fake.calls}) == 2


def test_one_window_is_passed_through_whole():
    fake = FakeCt2()
    model = SplitModel(fake, encoder_batch=1, word_batch=2, times=CallTimes())
    model.generate(rows(1), ["a"])
    model.align(rows(2), [1], [[1], [2]], [10, 20])
    assert [(c[0], len(c[1])) for c in fake.calls] == [("generate", 1), ("align", 2)]
    assert model.num_workers == 2  # anything else is the model's own


def test_model_layout():
    assert model_layout(1) == (1, 1)
    assert model_layout(2) == (2, 1)
    assert model_layout(16) == (2, 8)


SENTENCES = [
    "The morning train left the station on time.",
    "Many people were reading quietly by the window.",
    "Outside, the fields were green and wide.",
    "A farmer waved at the children from his tractor.",
    "Later the sky turned grey and it began to rain.",
    "The conductor walked slowly through every carriage.",
    "An old man told his grandson about the war.",
    "Two students argued about a difficult question in physics.",
    "Somebody opened a bag of oranges and shared them.",
    "The river below the bridge was brown and fast.",
    "At noon the train stopped in a small mountain town.",
    "A dog barked at the pigeons on the platform.",
    "Fresh bread was sold from a cart near the door.",
    "The journey continued north through a long tunnel.",
    "Snow covered the hills beyond the last village.",
    "Everyone was tired when the city lights appeared.",
]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """About 4.5 minutes of English sentences with pauses: more windows than one batch. (Not
    one sentence repeated: a transcript that repetitive reads as a decoding loop.)"""
    pieces = []
    rate = 22_050
    for k in range(5):
        for sentence in SENTENCES:
            clip, rate = espeak(sentence, speed=130 + 10 * k)
            pieces += [clip, np.zeros(int(rate * 1.1), dtype=np.int16)]
    samples = np.concatenate(pieces)
    return write_wav(tmp_path_factory.mktemp("long") / "long.wav", samples, rate)


@pytest.mark.slow
def test_same_words_as_faster_whispers_own_batches(long_clip):
    """Windows split across workers decode to the same words as faster-whisper's batches."""
    from faster_whisper import BatchedInferencePipeline

    from sync.audio import load_audio
    from sync.transcribe import TranscribeOptions, load_model, transcribe

    model, _ = load_model(None)
    audio = load_audio(long_clip).samples[: 16_000 * 100]
    assert len(audio) == 16_000 * 100
    opts = TranscribeOptions(language="en", fill_holes=False)
    ours, info = transcribe(audio, model, "en", options=opts)
    ours_words = [(w.text, w.start) for s in ours for w in s.words]
    assert info.stats.windows >= 3 and info.stats.encode_seconds > 0 and info.stats.word_timing_seconds > 0

    plain = BatchedInferencePipeline(model)
    segs, _ = plain.transcribe(audio, batch_size=opts.batch_size, **opts.kwargs(plain.transcribe))
    plain_words = [(w.word.strip(), round(w.start, 3)) for s in segs for w in s.words]
    assert len(ours_words) > 100
    assert ours_words == plain_words


@pytest.mark.slow
def test_progress_moves_through_a_recording_longer_than_one_batch(long_clip, tmp_path, monkeypatch):
    """The bar is fed batch by batch: it reports audio done part way, in order, up to the end,
    and its ETA at the first report is of the order of the time that was really left."""
    from sync.audio import load_audio
    from sync.pipeline import options_for, transcribe_audio
    from sync.progress import Progress

    monkeypatch.setenv("SHIUR_CACHE", str(tmp_path / "cache"))
    audio = load_audio(long_clip)
    reports: list[tuple[float, float, float | None]] = []
    bar = Progress(total=audio.duration, stream=open(tmp_path / "log", "w"))

    def on_progress(done: float, total: float) -> None:
        bar.update(done)
        reports.append((time.monotonic(), done, bar.eta()))

    res = transcribe_audio(audio, "d" * 64, None, options_for("en"), use_cache=False, on_progress=on_progress)
    end = time.monotonic()
    assert res.transcript.words()
    done = [d for _, d, _ in reports]
    assert done[0] == 0.0 and done[-1] == pytest.approx(audio.duration)
    assert done == sorted(done)
    # Segments come a batch at a time, several in one instant: what stands on the screen is
    # the state after the last of them.
    settled = [r for k, r in enumerate(reports) if k + 1 == len(reports) or reports[k + 1][0] - r[0] > 0.05]
    middle = [(t, d, eta) for t, d, eta in settled if 0.2 * audio.duration < d < 0.9 * audio.duration]
    assert middle, f"no report between 20 % and 90 % of the audio: {done}"
    t, _, eta = middle[0]
    left = end - t
    assert eta is not None and left / 4 <= eta <= left * 4 + 2, (eta, left)
