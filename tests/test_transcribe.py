"""Transcription with the bundled model: lazy segments, word times, caching, vocabulary hints."""

from __future__ import annotations

import types

import pytest
from speechgen import espeak, write_wav

from sync import cache, pipeline, transcribe
from sync.audio import load_audio
from sync.discourse import parse_discourse
from sync.pipeline import options_for, transcribe_file
from sync.transcribe import TranscribeOptions, language_option, load_model, vocabulary_hints
from sync.transcript import Transcript

SENTENCE = "The quick brown fox jumps over the lazy dog. Then the dog sleeps in the warm sun."


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    samples, rate = espeak(SENTENCE)
    return write_wav(tmp_path_factory.mktemp("tr") / "fox.wav", samples, rate)


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIUR_CACHE", str(tmp_path / "cache"))
    # The bundled model lives in the real user cache; keep using it instead of reassembling.
    from sync import whisper_model

    real = whisper_model.bundled_model_dir()
    monkeypatch.setattr(whisper_model, "bundled_model_dir", lambda target=None: real)
    return tmp_path / "cache"


def test_language_option():
    assert language_option("auto") is None
    assert language_option("") is None
    assert language_option(None) is None
    assert language_option("HE") == "he"


@pytest.mark.slow
def test_lazy_segments_with_word_times(clip):
    model, label = load_model(None)
    audio = load_audio(clip)
    segments, info = transcribe.transcribe(audio.samples, model, language="en")
    assert isinstance(segments, types.GeneratorType)
    assert info.language == "en"
    assert info.duration == pytest.approx(audio.duration, abs=0.05)
    segs = list(segments)
    words = [w for s in segs for w in s.words]
    heard = " ".join(w.text.lower().strip(".,") for w in words)
    assert "fox" in heard and "dog" in heard
    assert all(0 <= w.start <= w.end <= info.duration + 0.5 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


@pytest.mark.slow
def test_auto_language_detects_english(clip):
    model, _ = load_model(None)
    segments, info = transcribe.transcribe(load_audio(clip).samples, model, language="auto")
    list(segments)
    assert info.language == "en"


@pytest.mark.slow
def test_cache_hit_does_not_transcribe(clip, private_cache, monkeypatch):
    opts = options_for("en")
    first = transcribe_file(clip, None, opts)
    assert not first.cached
    assert cache.cache_path(first.cache_key).is_file()

    def no_model(*a, **k):
        raise AssertionError("model loaded on a cache hit")

    monkeypatch.setattr(pipeline, "load_model", no_model)
    messages: list[str] = []
    second = transcribe_file(clip, None, opts, say=messages.append)
    assert second.cached
    assert second.transcript.to_dict() == first.transcript.to_dict()
    assert any("cached" in m for m in messages)


def test_cache_key_depends_on_audio_model_and_options():
    base = cache.cache_key("a" * 64, "bundled-base", TranscribeOptions().to_dict())
    assert base == cache.cache_key("a" * 64, "bundled-base", TranscribeOptions().to_dict())
    assert base != cache.cache_key("b" * 64, "bundled-base", TranscribeOptions().to_dict())
    assert base != cache.cache_key("a" * 64, "large-v3", TranscribeOptions().to_dict())
    assert base != cache.cache_key("a" * 64, "bundled-base", TranscribeOptions(language="en").to_dict())


def test_damaged_cache_entry_is_a_miss(private_cache):
    key = cache.cache_key("c" * 64, "m", {})
    cache.cache_path(key).write_text("{not json")
    assert cache.load(key) is None
    t = Transcript(duration=1.0, language="he")
    cache.store(key, t)
    assert cache.load(key) == t


def test_no_cache_option_retranscribes(clip, private_cache, monkeypatch):
    calls = []

    def fake_transcribe(samples, model, language=None, options=None, **_k):
        from sync.transcribe import TranscribeInfo
        from sync.transcript import Segment

        calls.append(language)
        return iter([Segment(0.0, 1.0, "hello")]), TranscribeInfo(duration=2.0, language="en")

    monkeypatch.setattr(pipeline, "load_model", lambda name=None: (object(), "bundled-base"))
    monkeypatch.setattr("sync.transcribe.transcribe", fake_transcribe)
    opts = options_for("en")
    transcribe_file(clip, None, opts)
    assert transcribe_file(clip, None, opts).cached
    assert not transcribe_file(clip, None, opts, use_cache=False).cached
    assert len(calls) == 2


def test_vocabulary_hints_strip_marks():
    d = parse_discourse("בְּרֵאשִׁ֖ית בָּרָ֣א אֱלֹהִ֑ים אֵ֥ת הַשָּׁמַ֖יִם וְאֵ֥ת הָאָֽרֶץ׃\n\nוַיֹּ֥אמֶר אֱלֹהִ֖ים יְהִ֣י א֑וֹר וַֽיְהִי־אֽוֹר׃\n")
    prompt, hotwords = vocabulary_hints(d)
    assert prompt.startswith("בראשית ברא אלהים")
    assert "ויהי אור" in prompt  # the maqaf separates words as speech does
    assert "אלהים" in hotwords.split()
    assert not any("\u0591" <= ch <= "\u05c7" for ch in prompt + hotwords)


def test_options_for_bias():
    d = parse_discourse("אחד שנים שלשה ארבעה חמשה ששה שבעה.\n")
    assert options_for("he", "none", d).initial_prompt is None
    o = options_for("he", "both", d)
    assert o.initial_prompt and o.hotwords
    assert options_for("he", "hotwords", d).initial_prompt is None
    with pytest.raises(ValueError):
        options_for("he", "loud", d)


def test_quiet_cuts_split_long_audio_at_silence():
    import numpy as np

    rate = 16_000
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(rate * 100) * 0.3).astype(np.float32)
    audio[rate * 38 : rate * 39] = 0.0  # the only quiet second near the first boundary
    audio[rate * 71 : rate * 72] = 0.0
    cuts = transcribe.quiet_cuts(audio, block_seconds=35, search_seconds=5)
    assert cuts[0] == 0 and cuts[-1] == len(audio)
    assert rate * 38 <= cuts[1] <= rate * 39
    assert rate * 71 <= cuts[2] <= rate * 72
    assert transcribe.quiet_cuts(audio[: rate * 30], block_seconds=35) == [0, rate * 30]


@pytest.mark.slow
def test_blocks_give_the_same_words_as_one_pass(clip):
    import numpy as np

    model, _ = load_model(None)
    audio = load_audio(clip).samples
    pause = np.zeros(16_000 * 2, dtype=np.float32)
    twice = np.concatenate([audio, pause, audio])
    opts = TranscribeOptions(language="en", block_seconds=len(audio) / 16_000 + 1)
    assert len(transcribe.quiet_cuts(twice, opts.block_seconds, search_seconds=1.5)) == 3
    segments, info = transcribe.transcribe(twice, model, "en", options=opts)
    words = [w for s in segments for w in s.words]
    second = [w for w in words if w.start > len(audio) / 16_000 + 1]
    assert "fox" in " ".join(w.text.lower() for w in second)
    assert info.duration == pytest.approx(len(twice) / 16_000)


def _looping_fakes(monkeypatch, redecoded):
    """A batched pipeline whose second chunk loops, and a model whose sequential decodes return
    ``redecoded(call_number)``'s texts; the sequential calls are recorded."""
    import faster_whisper

    def fw_segment(start, end, text):
        word = types.SimpleNamespace(start=start, end=end, word=text.split()[0], probability=0.9)
        return types.SimpleNamespace(
            start=start, end=end, text=text, words=[word], avg_logprob=-0.3, no_speech_prob=0.0
        )

    fw_info = types.SimpleNamespace(language="he", language_probability=1.0, duration=60.0, duration_after_vad=60.0)
    calls = []

    class FakePipeline:
        def __init__(self, model):
            pass

        def transcribe(self, audio, language=None, batch_size=8, temperature=0.0, word_timestamps=False):
            segs = [fw_segment(0.0, 20.0, "בראשית ברא אלהים"), fw_segment(20.0, 50.0, "והיו לאותות" + "ו" * 200)]
            return iter(segs), fw_info

    class FakeModel:
        model = None

        def transcribe(self, audio, language=None, temperature=(0.0,), word_timestamps=False, repetition_penalty=1.0):
            calls.append((len(audio) / 16_000, temperature, repetition_penalty))
            return iter([fw_segment(s, e, t) for s, e, t in redecoded(len(calls))]), fw_info

    monkeypatch.setattr(faster_whisper, "BatchedInferencePipeline", FakePipeline)
    return FakeModel(), calls


def test_looping_chunk_is_decoded_again_with_a_repetition_penalty(monkeypatch):
    """A batched chunk that degenerates into a repetition loop is re-decoded sequentially, once,
    greedily with a repetition penalty (not with the costly temperature ladder)."""
    import numpy as np

    model, calls = _looping_fakes(monkeypatch, lambda n: [(1.0, 5.0, "והיו למאורת"), (6.0, 9.0, "ויעש אלהים")])
    audio = np.zeros(16_000 * 60, dtype=np.float32)
    segments, info = transcribe.transcribe(audio, model, "he")
    out = [(s.start, s.text) for s in segments]
    assert len(calls) == 1
    assert calls[0][0] == pytest.approx(30.4, abs=0.01)  # the chunk plus 0.2 s either side
    assert list(calls[0][1]) == [0.0] and calls[0][2] == TranscribeOptions().loop_repetition_penalty > 1.0
    assert out == [(0.0, "בראשית ברא אלהים"), (20.8, "והיו למאורת"), (25.8, "ויעש אלהים")]
    assert transcribe.compression_ratio("ו" * 200) > transcribe.LOOP_COMPRESSION_RATIO
    assert info.stats.redecoded("loop")[:2] == (1, pytest.approx(30.0))


def test_a_chunk_that_loops_again_gets_the_temperature_ladder(monkeypatch):
    import numpy as np

    def redecoded(n):
        return [(1.0, 5.0, "והיו " + "ו" * 200)] if n == 1 else [(1.0, 5.0, "והיו למאורת")]

    model, calls = _looping_fakes(monkeypatch, redecoded)
    audio = np.zeros(16_000 * 60, dtype=np.float32)
    segments, _ = transcribe.transcribe(audio, model, "he")
    out = [(s.start, s.text) for s in segments]
    assert len(calls) == 2
    assert len(calls[1][1]) > 1 and calls[1][2] == 1.0  # the fallback, without the penalty
    assert out == [(0.0, "בראשית ברא אלהים"), (20.8, "והיו למאורת")]
