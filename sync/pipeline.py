"""The sync pipeline: recording + discourse text -> transcript -> alignment -> output files.

The steps in between are pure (``sync.transcribe``, ``sync.align``, ``sync.writers``); file
reading, caching and writing happen here, at the edges.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import __version__, cache
from .align import align
from .alignment import Alignment, Pin
from .audio import Audio, load_audio, sha256_file
from .discourse import Discourse, load_discourse
from .forced import WhisperForcer
from .transcribe import TranscribeOptions, language_option, shift_segment, vocabulary_hints
from .transcript import Transcript
from .writers import DEFAULT_OUTPUTS, SyncResult, write_outputs

Progress = Callable[[float, float], None]
Say = Callable[[str], None]

DEFAULT_BIAS = "none"
"""Vocabulary bias by default: "none", "prompt", "hotwords" or "both".

Measured with bench/corpus.py on the three corpus cases (mean over cases, paragraphs.vtt):
none and hotwords both read_acc 0.998, within1s 0.978, commentary 1.00; prompt 0.986 / 0.956 /
0.87 and both 0.982 / 0.954 / 0.87 (the batched decoder sees the prompt in every window and
writes text words into the commentary). Hotwords do not help and cost decoder time, so the
default is none; the flag stays for other recordings and models."""
BIAS_CHOICES = ("none", "prompt", "hotwords", "both")


def _quiet(_: str) -> None:
    pass


@dataclass
class TranscribeResult:
    transcript: Transcript
    cached: bool
    audio: Audio | None
    cache_key: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    checkpoint: Path | None = None
    """The checkpoint the caller chose (cleared by it once its outputs are written)."""
    resumed_from: float = 0.0
    """Seconds of audio taken from a checkpoint instead of decoded again."""


@dataclass
class PipelineResult:
    outdir: Path
    result: SyncResult
    files: list[Path]
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)


def options_for(
    language: str | None = "he", bias: str = DEFAULT_BIAS, discourse: Discourse | None = None, **overrides: Any
) -> TranscribeOptions:
    """Transcription options: defaults, the language, and the vocabulary bias from ``discourse``."""
    if bias not in BIAS_CHOICES:
        raise ValueError(f"bias must be one of {BIAS_CHOICES}")
    prompt = hotwords = None
    if discourse is not None and bias != "none":
        p, h = vocabulary_hints(discourse)
        prompt = p if bias in ("prompt", "both") else None
        hotwords = h if bias in ("hotwords", "both") else None
    return replace(
        TranscribeOptions(), language=language_option(language), initial_prompt=prompt, hotwords=hotwords, **overrides
    )


def load_model(name: str | None = None, cpu_threads: int | None = None) -> tuple[Any, str]:
    """:func:`sync.transcribe.load_model` (once per process), looked up when called."""
    from . import transcribe as tr

    return tr.load_model(name) if cpu_threads is None else tr.load_model(name, cpu_threads=cpu_threads)


CHECKPOINT_INTERVAL_S = 5.0
"""Seconds of wall time between transcription checkpoints: an interrupted run loses at most
this much decoding, and a three-hour class is not rewritten to disk after every segment."""
RESUME_MIN_SECONDS = 0.5
"""A tail of audio shorter than this after the checkpoint is not decoded again (nothing to hear)."""


def transcribe_file(
    audio_path: str | Path,
    model: str | None = None,
    options: TranscribeOptions | None = None,
    use_cache: bool = True,
    on_progress: Progress | None = None,
    say: Say = _quiet,
    keep_audio: bool = False,
    checkpoint: Path | None = None,
) -> TranscribeResult:
    """Transcribe a recording, or reuse the cached transcript of the same bytes/model/options.

    The audio is decoded only when needed (a cache miss, or ``keep_audio`` for refinement).
    """
    options = options or TranscribeOptions()
    path = Path(audio_path)
    digest = sha256_file(path)
    key, hit = _cached(digest, model, options, use_cache, say)
    if hit is not None:
        return TranscribeResult(hit, True, load_audio(path) if keep_audio else None, key)
    audio = load_audio(path)
    res = transcribe_audio(audio, digest, model, options, use_cache=False, on_progress=on_progress, say=say,
                           checkpoint=checkpoint)
    if not keep_audio:
        res.audio = None
    return res


def transcribe_audio(
    audio: Audio,
    digest: str,
    model: str | None = None,
    options: TranscribeOptions | None = None,
    *,
    use_cache: bool = True,
    on_progress: Progress | None = None,
    say: Say = _quiet,
    checkpoint: Path | None = None,
    cpu_threads: int | None = None,
) -> TranscribeResult:
    """Transcribe decoded audio, resumably: the one transcription step of `sync`, `batch` and the web job.

    ``on_progress(done_seconds, total_seconds)`` is called after every segment. The segments so
    far are checkpointed to ``checkpoint`` (default: beside the cache entry) every
    :data:`CHECKPOINT_INTERVAL_S`; a run that finds a checkpoint of the same key decodes only
    the audio after it (Whisper restarts cleanly at a segment boundary), in the language the
    first run found. The finished transcript is stored in the cache and kept in the checkpoint
    (marked complete) until the caller, its outputs written, calls ``cache.clear_checkpoint``;
    so a job killed between transcribing and writing does not transcribe again.
    """
    from . import transcribe as tr
    from .audio import SAMPLE_RATE
    options = options or TranscribeOptions()
    key, hit = _cached(digest, model, options, use_cache, say)
    if hit is not None:
        return TranscribeResult(hit, True, audio, key, checkpoint=checkpoint)
    cp_path = checkpoint or cache.checkpoint_path(key)
    cp = cache.load_checkpoint(cp_path, key)
    duration = audio.duration
    if cp is not None and cp.complete and cp.transcript is not None:
        say("transcript: the transcription finished before the interruption; using it")
        cache.store(key, cp.transcript)
        if on_progress:
            on_progress(duration, duration)
        return TranscribeResult(cp.transcript, True, audio, key, checkpoint=cp_path, resumed_from=duration)
    cp = cp or cache.Checkpoint(key)
    wm, label = load_model(model, cpu_threads=cpu_threads) if cpu_threads else load_model(model)
    if cp.offset > 0:
        say(f"transcript: resuming from the checkpoint at {cp.offset / 60:.1f} min")
    else:
        say(f"transcribing {audio.path.name} ({duration / 60:.1f} min) with {label}, "
            f"language {options.language or 'auto'}")
    t0, c0 = time.perf_counter(), time.process_time()
    resumed_from = cp.offset
    if on_progress:
        on_progress(cp.offset, duration)
    tail = audio.samples[int(cp.offset * SAMPLE_RATE) :]
    if len(tail) > RESUME_MIN_SECONDS * SAMPLE_RATE:
        language = cp.language or options.language or tr.AUTO
        segments, info = tr.transcribe(tail, wm, language, options=options)
        cp.language = cp.language or info.language
        saved = time.monotonic()
        for seg in segments:
            cp.segments.append(shift_segment(seg, resumed_from))
            cp.offset = max(cp.offset, cp.segments[-1].end)
            if time.monotonic() - saved >= CHECKPOINT_INTERVAL_S:
                cache.save_checkpoint(cp_path, cp)
                saved = time.monotonic()
            if on_progress:
                on_progress(min(cp.offset, duration), duration)
    if on_progress and cp.offset < duration:
        on_progress(duration, duration)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    transcript = Transcript(
        duration=round(duration, 3),
        language=cp.language or (options.language or ""),
        segments=cp.segments,
        model=label,
        options=options.to_dict(),
        audio_sha256=digest,
    )
    # Stored even with use_cache=False: "transcribe again" refreshes the cached entry.
    cache.store(key, transcript)
    cache.save_checkpoint(cp_path, cache.Checkpoint(key, duration, transcript.language, [], True, transcript))
    if checkpoint is None:
        # The cache entry is this run's checkpoint now.
        cache.clear_checkpoint(cp_path)
    return TranscribeResult(transcript, False, audio, key, secs, cpu, checkpoint=checkpoint,
                            resumed_from=resumed_from)


def _cached(digest: str, model: str | None, options: TranscribeOptions, use_cache: bool,
            say: Say) -> tuple[str, Transcript | None]:
    """The cache key of this audio/model/options, and the cached transcript if there is one."""
    from .whisper_model import resolve_model

    _, label = resolve_model(model)
    key = cache.cache_key(digest, label, options.to_dict())
    hit = cache.load(key) if use_cache else None
    if hit is not None:
        say(f"transcript: using the cached transcription ({cache.cache_path(key)})")
    return key, hit


def align_transcript(
    discourse: Discourse,
    transcript: Transcript,
    pins: tuple[Pin, ...] = (),
    audio: Audio | None = None,
    model: str | None = None,
) -> Alignment:
    """Run the aligner. ``model`` is loaded only if a word-by-word reading has a doubtful
    boundary to force (:mod:`sync.forced`); a plain re-alignment loads none."""
    samples = audio.samples if audio is not None else None
    forcer = (WhisperForcer(samples, model or _model_arg(transcript), transcript.language or "he")
              if samples is not None else None)
    return align(discourse, transcript, pins=pins, audio=samples, forcer=forcer)


def _model_arg(transcript: Transcript) -> str | None:
    label = transcript.model
    if not label or label.startswith("bundled") or label.startswith("local:"):
        return None
    return label


def _meta(
    transcript: Transcript, text_path: Path, audio_path: Path | None, timings: dict[str, float]
) -> dict[str, Any]:
    return {
        "software": f"shiur-sync {__version__}",
        "model": transcript.model,
        "options": transcript.options,
        "language": transcript.language,
        "audio": audio_path.name if audio_path else None,
        "audio_sha256": transcript.audio_sha256,
        "text": text_path.name,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def align_files(
    transcript_path: str | Path,
    text_path: str | Path,
    outdir: str | Path,
    audio_path: str | Path | None = None,
    model: str | None = None,
    pins: tuple[Pin, ...] = (),
    say: Say = _quiet,
) -> PipelineResult:
    """Align an existing transcript to a text and write the outputs. Never transcribes."""
    transcript = Transcript.load(Path(transcript_path))
    discourse = load_discourse(text_path)
    _check_pins(discourse, pins, Path(text_path).name)
    audio = load_audio(audio_path) if audio_path else None
    t0 = time.perf_counter()
    alignment = align_transcript(discourse, transcript, pins, audio, model)
    timings = {"align": time.perf_counter() - t0}
    result = SyncResult(
        discourse,
        alignment,
        transcript,
        _meta(transcript, Path(text_path), Path(audio_path) if audio_path else None, timings),
    )
    files = write_outputs(result, outdir)
    return PipelineResult(Path(outdir), result, files, cached=True, timings=timings)


def _check_pins(discourse: Discourse, pins: tuple[Pin, ...], text_name: str) -> None:
    from .errors import ShiurError

    known = {p.id for p in discourse.passages()}
    for pin in pins:
        if pin.passage_id not in known:
            raise ShiurError(f"pin {pin.passage_id}: {text_name} has no such passage (`shiur text` lists them)")


def _warn_unknown_abbreviations(discourse: Discourse, say: Say) -> None:
    from .spoken import unknown_abbreviations

    unknown = unknown_abbreviations(discourse)
    if unknown:
        shown = ", ".join(w for w, _ in unknown.most_common(5))
        say(
            f"text: {sum(unknown.values())} abbreviation(s) not in the table ({shown}); they are matched as "
            "written. `shiur text TEXT --unknown` lists them."
        )


def sync_recording(
    audio_path: str | Path,
    text_path: str | Path,
    outdir: str | Path,
    model: str | None = None,
    language: str | None = "he",
    use_cache: bool = True,
    bias: str = DEFAULT_BIAS,
    pins: tuple[Pin, ...] = (),
    refine: bool = True,
    on_progress: Progress | None = None,
    say: Say = _quiet,
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS,
    checkpoint: Path | None = None,
) -> PipelineResult:
    """Recording + discourse -> passages.vtt, paragraphs.vtt, alignment.json, transcript.json in ``outdir``.

    The text is parsed first so a bad text fails before minutes of transcription. An interrupted
    run resumes its transcription from the checkpoint (see :func:`transcribe_audio`).
    """
    discourse = load_discourse(text_path)
    _warn_unknown_abbreviations(discourse, say)
    options = options_for(language, bias, discourse)
    tr = transcribe_file(
        audio_path, model, options, use_cache=use_cache, on_progress=on_progress, say=say, keep_audio=refine,
        checkpoint=checkpoint,
    )
    timings = {"transcribe": tr.seconds, "transcribe_cpu": tr.cpu_seconds} if not tr.cached else {}
    t0 = time.perf_counter()
    alignment = align_transcript(discourse, tr.transcript, pins, tr.audio, model)
    timings["align"] = time.perf_counter() - t0
    result = SyncResult(
        discourse, alignment, tr.transcript, _meta(tr.transcript, Path(text_path), Path(audio_path), timings)
    )
    result.meta["transcript_cached"] = tr.cached
    result.meta["transcript_resumed_from"] = round(tr.resumed_from, 3)
    files = write_outputs(result, outdir, outputs)
    cache.clear_checkpoint(checkpoint)
    return PipelineResult(Path(outdir), result, files, tr.cached, timings)
