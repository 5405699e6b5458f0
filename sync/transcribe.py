"""Speech -> Transcript with faster-whisper: word timestamps, voice-activity detection, lazy segments.

The default decoding settings were chosen by measuring on ../shared/corpus (bench/rtf.py,
bench/corpus.py). faster-whisper's batched pipeline with greedy decoding (``beam_size=1``) runs
at about 0.05x real time on two CPU cores, against 0.15-0.23x for sequential beam search, and
it keeps every stretch of speech: the sequential loop, after a window whose text ended early,
seeks past the rest of it (beam 5 dropped verses 3-5 of gen1-reading, greedy sequential
verses 9-10 of gen1-shiur).

On a CPU the pipeline's three model calls want different batches (:mod:`sync.cpu_batching`), and a
window that decodes into a repetition loop is decoded again first with a repetition penalty,
which costs one pass instead of the temperature ladder's five (issue 19).
"""

from __future__ import annotations

import inspect
import os
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .errors import ModelError
from .hebrew import normalize, strip_marks
from .holes import fill_holes
from .transcript import Segment, Transcript, Word

SAMPLE_RATE = 16_000

AUTO = "auto"


@dataclass(frozen=True)
class TranscribeOptions:
    language: str | None = "he"
    """ISO code, or None to let Whisper detect it."""
    beam_size: int = 1
    condition_on_previous_text: bool = False
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    vad_filter: bool = True
    vad_parameters: dict[str, Any] | None = None
    """Silero VAD settings; None keeps faster-whisper's defaults for the decoding mode, which
    measured best (a shorter minimum silence in sequential mode lost words)."""
    word_timestamps: bool = True
    batch_size: int = 8
    """>0: faster-whisper's batched pipeline (VAD chunks of up to 30 s decoded whole, this many at a
    time); 0: the classic sequential loop. Batched measured ~2x faster on 2 cores and, since a
    chunk is never skipped past, it does not drop speech the way the sequential seek can. The
    decoder's greedy steps cost 8 ms a token in pairs, 4.7 in batches of 7-8 and 4.3 in batches
    of 14 (gen1-shiur, two cores); 8 keeps most of that gain and the progress bar moving every
    4 minutes of audio."""
    encoder_batch: int = 1
    """Windows encoded per call (:mod:`sync.cpu_batching`): the encoder is compute-bound."""
    word_timing_batch: int = 2
    """Windows whose words are timed per call (cross-attention alignment,
    :mod:`sync.cpu_batching`): a bigger call pads every window's tokens to the longest."""
    loop_repetition_penalty: float = 1.3
    """A window that decoded into a repetition loop is decoded again, greedily, with this
    repetition penalty; only if it loops again does it get the temperature ladder. On
    gen1-phone's two looping windows: 2.9 s and 0.8 s, against 25 s and 16 s for the ladder,
    whose high temperatures also wrote nonsense (English and Cyrillic words) into the verse.
    1.0 = straight to the ladder."""
    block_seconds: float = 1200.0
    """Batched mode decodes long audio in blocks of about this length, cut at a quiet moment,
    so the pipeline's copies of audio and features stay small for 3-hour classes."""
    initial_prompt: str | None = None
    hotwords: str | None = None
    fill_holes: bool = True
    """Decode again, on its own, any stretch of speech left without words (see sync.holes)."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["temperature"] = list(self.temperature)
        return d

    def kwargs(self, target: Callable[..., Any]) -> dict[str, Any]:
        """The options ``target`` (a faster-whisper ``transcribe``) accepts, None-valued VAD left out."""
        accepted = inspect.signature(target).parameters
        d = self.to_dict()
        if d["vad_parameters"] is None:
            del d["vad_parameters"]
        return {k: v for k, v in d.items() if k in accepted and k not in ("batch_size", "fill_holes")}


@dataclass
class Redecode:
    """A stretch decoded a second time, and why ("hole": speech left without words; "loop": a
    window that decoded into a repetition loop)."""

    reason: str
    start: float
    end: float
    seconds: float
    """Wall time it took."""


@dataclass
class TranscribeStats:
    """Where the transcription time goes (wall seconds), filled in as the segments are decoded."""

    prepare_seconds: float = 0.0
    """Voice activity detection and features, before the first window is decoded."""
    decode_seconds: float = 0.0
    """The first pass over all windows, encoder and word timing included."""
    calls: Any = None
    """:class:`sync.cpu_batching.CallTimes` of the first pass: encoder and word-timing seconds."""
    redecodes: list[Redecode] = field(default_factory=list)

    @property
    def encode_seconds(self) -> float:
        return self.calls.encode if self.calls else 0.0

    @property
    def word_timing_seconds(self) -> float:
        return self.calls.word_timing if self.calls else 0.0

    @property
    def windows(self) -> int:
        return self.calls.windows if self.calls else 0

    @property
    def generate_seconds(self) -> float:
        """The decoder's own share of the first pass (with the pipeline's own Python work)."""
        return max(0.0, self.decode_seconds - self.encode_seconds - self.word_timing_seconds)

    def redecoded(self, reason: str) -> tuple[int, float, float]:
        """(count, audio seconds, wall seconds) of the stretches decoded again for ``reason``."""
        rs = [r for r in self.redecodes if r.reason == reason]
        return len(rs), sum(r.end - r.start for r in rs), sum(r.seconds for r in rs)


@dataclass
class TranscribeInfo:
    duration: float
    language: str
    language_probability: float = 1.0
    duration_after_vad: float | None = None
    stats: TranscribeStats = field(default_factory=TranscribeStats)


def language_option(value: str | None) -> str | None:
    """CLI value -> faster-whisper ``language``: "auto" (or empty) means detect."""
    if value is None or value.strip().lower() in ("", AUTO):
        return None
    return value.strip().lower()


_MODELS: dict[tuple[str, int], Any] = {}


def load_model(name: str | None = None, cpu_threads: int | None = None) -> tuple[Any, str]:
    """Load (once per process) a faster-whisper model: returns (WhisperModel, label).

    ``name`` follows :func:`sync.whisper_model.resolve_model`: None for the bundled base, a local
    CTranslate2 folder, or a faster-whisper name / hub id.
    """
    from .cpu_batching import model_layout
    from .whisper_model import resolve_model

    path, label = resolve_model(name)
    cores = cpu_threads or os.cpu_count() or 1
    key = (path, cores)
    if key not in _MODELS:
        from faster_whisper import WhisperModel

        workers, threads = model_layout(cores)
        try:
            _MODELS[key] = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads,
                                        num_workers=workers)
        except Exception as e:  # huggingface_hub / ctranslate2 raise many kinds; the user needs one line
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            hint = " (a hub model needs a network the first time)" if label == path else ""
            raise ModelError(f"{name or label}: cannot load the Whisper model{hint}: {msg[:200]}") from None
    return _MODELS[key], label


def _to_segment(s: Any) -> Segment:
    words = [
        Word(start=round(w.start, 3), end=round(w.end, 3), text=w.word.strip(), probability=round(w.probability, 4))
        for w in (s.words or [])
    ]
    return Segment(
        start=round(s.start, 3),
        end=round(s.end, 3),
        text=s.text.strip(),
        words=words,
        avg_logprob=round(s.avg_logprob, 4),
        no_speech_prob=round(s.no_speech_prob, 4),
    )


def transcribe(
    audio: np.ndarray,
    model: Any,
    language: str | None = "he",
    initial_prompt: str | None = None,
    hotwords: str | None = None,
    options: TranscribeOptions | None = None,
) -> tuple[Iterator[Segment], TranscribeInfo]:
    """Start transcribing 16 kHz mono float32 ``audio``; segments are decoded as you iterate.

    ``language`` "auto" or None detects the language. ``initial_prompt`` / ``hotwords`` bias
    the decoder toward the discourse's vocabulary (see :func:`vocabulary_hints`).
    """
    opts = replace(
        options or TranscribeOptions(),
        language=language_option(language),
        initial_prompt=initial_prompt if initial_prompt is not None else (options.initial_prompt if options else None),
        hotwords=hotwords if hotwords is not None else (options.hotwords if options else None),
    )
    if opts.batch_size <= 0:
        raw, fw_info = model.transcribe(audio, **opts.kwargs(model.transcribe))
        segments: Iterator[Segment] = (_to_segment(s) for s in raw)
        info = _info(fw_info, len(audio))
    else:
        segments, info = _transcribe_batched(audio, model, opts)
    if not opts.fill_holes:
        return segments, info
    holes_opts = replace(opts, batch_size=0, vad_filter=False, language=info.language, initial_prompt=None)

    def redecode(t0: float, t1: float) -> list[Segment]:
        started = time.perf_counter()
        a, b = int(t0 * SAMPLE_RATE), int(t1 * SAMPLE_RATE)
        found, _ = model.transcribe(audio[a:b], **holes_opts.kwargs(model.transcribe))
        out = [shift_segment(_to_segment(s), a / SAMPLE_RATE) for s in found]
        info.stats.redecodes.append(Redecode("hole", t0, t1, time.perf_counter() - started))
        return out

    return fill_holes(segments, audio, redecode), info


def _info(info: Any, n_samples: int) -> TranscribeInfo:
    return TranscribeInfo(
        duration=n_samples / SAMPLE_RATE,
        language=info.language,
        language_probability=float(info.language_probability),
        duration_after_vad=float(getattr(info, "duration_after_vad", info.duration)),
    )


def quiet_cuts(audio: np.ndarray, block_seconds: float, search_seconds: float = 15.0) -> list[int]:
    """Sample indices splitting ``audio`` into blocks of about ``block_seconds``, each cut at the
    quietest 0.2 s within ``search_seconds`` of the nominal boundary (so no word is cut)."""
    n = len(audio)
    block = int(block_seconds * SAMPLE_RATE)
    if n <= block * 1.25:
        return [0, n]
    frame = SAMPLE_RATE // 50
    cuts = [0]
    nominal = block
    while n - nominal > block * 0.25:
        lo = max(cuts[-1] + frame, nominal - int(search_seconds * SAMPLE_RATE))
        hi = min(n - frame, nominal + int(search_seconds * SAMPLE_RATE))
        window = audio[lo:hi]
        frames = len(window) // frame
        energy = np.square(window[: frames * frame].reshape(frames, frame), dtype=np.float32).mean(axis=1)
        smooth = np.convolve(energy, np.ones(10, dtype=np.float32), mode="same")
        cut = lo + int(np.argmin(smooth)) * frame + frame // 2
        cuts.append(cut)
        nominal = cut + block
    cuts.append(n)
    return cuts


def _transcribe_batched(
    audio: np.ndarray, model: Any, opts: TranscribeOptions
) -> tuple[Iterator[Segment], TranscribeInfo]:
    from faster_whisper import BatchedInferencePipeline

    from .cpu_batching import CallTimes, CpuBatching

    times = CallTimes()
    stats = TranscribeStats(calls=times)
    pipe = BatchedInferencePipeline(CpuBatching(model, opts.encoder_batch, opts.word_timing_batch, times))
    cuts = quiet_cuts(audio, opts.block_seconds)
    started = time.perf_counter()
    first_segments, first_info = pipe.transcribe(
        audio[cuts[0] : cuts[1]], batch_size=opts.batch_size, **opts.kwargs(pipe.transcribe)
    )
    stats.prepare_seconds += time.perf_counter() - started
    info = _info(first_info, len(audio))
    info.stats = stats
    # Later blocks use the language found in the first, so "auto" cannot flip mid-class.
    rest = replace(opts, language=first_info.language)

    def generate() -> Iterator[Segment]:
        for i in range(len(cuts) - 1):
            if i == 0:
                segments = first_segments
            else:
                started = time.perf_counter()
                segments, _ = pipe.transcribe(
                    audio[cuts[i] : cuts[i + 1]], batch_size=opts.batch_size, **rest.kwargs(pipe.transcribe)
                )
                stats.prepare_seconds += time.perf_counter() - started
            offset = cuts[i] / SAMPLE_RATE
            while True:
                started = time.perf_counter()
                s = next(segments, None)
                stats.decode_seconds += time.perf_counter() - started
                if s is None:
                    break
                seg = shift_segment(_to_segment(s), offset)
                if _looping(seg.text):
                    started = time.perf_counter()
                    again = list(_redecode(audio, model, rest, seg))
                    stats.redecodes.append(Redecode("loop", seg.start, seg.end, time.perf_counter() - started))
                    yield from again
                else:
                    yield seg

    return generate(), info


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


LOOP_COMPRESSION_RATIO = 3.0
"""Whisper's own fallback threshold is 2.4, but a whole 30 s chunk of repetitive text (Genesis 2:1-3)
reaches 2.43; a real loop is far above (14 on gen1-reading)."""


def _looping(text: str) -> bool:
    """A chunk decoded into a repetition loop ("ווווווו..."): the batched pipeline has no
    temperature fallback, so such a chunk would lose its speech (gen1-reading verses 15-16)."""
    return len(text) > 40 and compression_ratio(text) > LOOP_COMPRESSION_RATIO


def _redecode(audio: np.ndarray, model: Any, opts: TranscribeOptions, seg: Segment) -> Iterator[Segment]:
    """Decode one failed chunk again with the sequential loop: greedily with a repetition
    penalty, and if that loops too, with the temperature fallback."""
    a = max(0, int(seg.start * SAMPLE_RATE) - SAMPLE_RATE // 5)
    b = min(len(audio), int(seg.end * SAMPLE_RATE) + SAMPLE_RATE // 5)
    seq = replace(opts, batch_size=0)
    found: list[Segment] = []
    if opts.loop_repetition_penalty > 1.0:
        kw = replace(seq, temperature=(0.0,)).kwargs(model.transcribe)
        kw["repetition_penalty"] = opts.loop_repetition_penalty
        raw, _ = model.transcribe(audio[a:b], **kw)
        found = [_to_segment(s) for s in raw]
    if not found or _looping(" ".join(s.text for s in found)):
        raw, _ = model.transcribe(audio[a:b], **seq.kwargs(model.transcribe))
        found = [_to_segment(s) for s in raw]
    for s in found:
        yield shift_segment(s, a / SAMPLE_RATE)


def shift_segment(seg: Segment, offset: float) -> Segment:
    """``seg`` moved ``offset`` seconds later (a window decoded on its own starts at 0)."""
    if offset:
        seg.start = round(seg.start + offset, 3)
        seg.end = round(seg.end + offset, 3)
        for w in seg.words:
            w.start = round(w.start + offset, 3)
            w.end = round(w.end + offset, 3)
    return seg


def transcribe_all(
    audio: np.ndarray,
    model: Any,
    model_label: str,
    options: TranscribeOptions,
    on_progress: Callable[[float, float], None] | None = None,
    audio_sha256: str = "",
) -> Transcript:
    """Run :func:`transcribe` to the end and collect a :class:`Transcript`.

    ``on_progress(done_seconds, total_seconds)`` is called after every segment.
    """
    segments, info = transcribe(audio, model, options.language or AUTO, options=options)
    if on_progress:
        on_progress(0.0, info.duration)
    out: list[Segment] = []
    for seg in segments:
        out.append(seg)
        if on_progress:
            on_progress(seg.end, info.duration)
    if on_progress:
        on_progress(info.duration, info.duration)
    return Transcript(
        duration=round(info.duration, 3),
        language=info.language,
        segments=out,
        model=model_label,
        options=options.to_dict(),
        audio_sha256=audio_sha256,
    )


_WORD = re.compile(r"[\u05be\u05c3\u05c0|/]+")


def vocabulary_hints(discourse: Any, max_prompt_words: int = 40, max_hotwords: int = 30) -> tuple[str, str]:
    """(initial prompt, hotwords) from a discourse, without niqqud or cantillation.

    The prompt is the opening of the text (Whisper only sees it for the first window); the
    hotwords are the text's most frequent longer words, offered to every window.
    """
    tokens = [t for p in discourse.passages() for t in _WORD.sub(" ", strip_marks(p.text)).split() if normalize(t)]
    prompt = " ".join(tokens[:max_prompt_words])
    counts = Counter(normalize(t) for t in tokens if len(normalize(t)) >= 3)
    shown: dict[str, str] = {}
    for t in tokens:
        k = normalize(t)
        if k in counts and k not in shown:
            shown[k] = t.strip(".,:;!?()[]\"'")
    top = [shown[k] for k, _ in counts.most_common(max_hotwords)]
    return prompt, " ".join(top)
