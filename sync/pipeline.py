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
from .transcribe import TranscribeOptions, language_option, load_model, transcribe_all, vocabulary_hints
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


def transcribe_file(
    audio_path: str | Path,
    model: str | None = None,
    options: TranscribeOptions | None = None,
    use_cache: bool = True,
    on_progress: Progress | None = None,
    say: Say = _quiet,
    keep_audio: bool = False,
) -> TranscribeResult:
    """Transcribe a recording, or reuse the cached transcript of the same bytes/model/options.

    The audio is decoded only when needed (a cache miss, or ``keep_audio`` for refinement).
    """
    from .whisper_model import resolve_model

    options = options or TranscribeOptions()
    path = Path(audio_path)
    digest = sha256_file(path)
    _, label = resolve_model(model)
    key = cache.cache_key(digest, label, options.to_dict())
    if use_cache:
        hit = cache.load(key)
        if hit is not None:
            say(f"transcript: using the cached transcription ({cache.cache_path(key)})")
            audio = load_audio(path) if keep_audio else None
            return TranscribeResult(hit, True, audio, key)
    audio = load_audio(path)
    wm, label = load_model(model)
    say(f"transcribing {path.name} ({audio.duration / 60:.1f} min) with {label}, language {options.language or 'auto'}")
    t0, c0 = time.perf_counter(), time.process_time()
    transcript = transcribe_all(audio.samples, wm, label, options, on_progress=on_progress, audio_sha256=digest)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    # Stored even with use_cache=False: "transcribe again" refreshes the cached entry.
    cache.store(key, transcript)
    return TranscribeResult(transcript, False, audio if keep_audio else None, key, secs, cpu)


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
    forcer = WhisperForcer(samples, model, transcript.language or "he") if samples is not None else None
    return align(discourse, transcript, pins=pins, audio=samples, forcer=forcer)


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
) -> PipelineResult:
    """Recording + discourse -> passages.vtt, paragraphs.vtt, alignment.json, transcript.json in ``outdir``.

    The text is parsed first so a bad text fails before minutes of transcription.
    """
    discourse = load_discourse(text_path)
    _warn_unknown_abbreviations(discourse, say)
    options = options_for(language, bias, discourse)
    tr = transcribe_file(
        audio_path, model, options, use_cache=use_cache, on_progress=on_progress, say=say, keep_audio=refine
    )
    timings = {"transcribe": tr.seconds, "transcribe_cpu": tr.cpu_seconds} if not tr.cached else {}
    t0 = time.perf_counter()
    alignment = align_transcript(discourse, tr.transcript, pins, tr.audio, model)
    timings["align"] = time.perf_counter() - t0
    result = SyncResult(
        discourse, alignment, tr.transcript, _meta(tr.transcript, Path(text_path), Path(audio_path), timings)
    )
    result.meta["transcript_cached"] = tr.cached
    files = write_outputs(result, outdir, outputs)
    return PipelineResult(Path(outdir), result, files, tr.cached, timings)
