"""Speed of the whole pipeline on the corpus audio, stage by stage.

usage: python bench/rtf.py [AUDIO or CASE ...] [--model M] [--batch-size N] [--set FIELD=VALUE ...]
                           [--threads N] [--language he]

For each recording, as ``shiur sync`` runs it (the bundled model, int8, the default options):
transcription without the cache, then the aligner with the audio (onset refinement) and the
Whisper forcer for doubtful word-by-word boundaries. RTF = seconds / audio seconds. Wall time is
what a user waits; CPU time (all threads of this process) depends less on what else runs on a
shared machine.

The stage table (wall seconds):

* ``prep``: voice-activity detection and log-mel features, before the first window is decoded;
* ``encode`` / ``gen`` / ``words``: the first pass's encoder, decoder and cross-attention word
  timing (``gen`` is the pass minus the other two);
* ``holes`` / ``loops``: stretches decoded again (``sync/holes.py``: speech left without words;
  windows that decoded into a repetition loop), as count / audio seconds / wall seconds;
* ``align``: the aligner, forcing excluded; ``force``: forced boundaries (count / seconds).

``total`` is transcription + alignment + forcing; audio decoding (ffmpeg) is printed apart. It
always transcribes (no cache); it prints and never fails on timings.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))

from sync.align import align  # noqa: E402
from sync.audio import load_audio  # noqa: E402
from sync.cpu_batching import model_layout  # noqa: E402
from sync.discourse import load_discourse  # noqa: E402
from sync.forced import WhisperForcer  # noqa: E402
from sync.transcribe import TranscribeOptions, load_model, transcribe  # noqa: E402
from sync.transcript import Transcript  # noqa: E402


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def inputs(names: list[str]) -> list[tuple[str, Path, Path | None]]:
    if not names:
        if not (CORPUS / "cases").is_dir():
            sys.exit(f"corpus not found at {CORPUS}; pass audio files instead")
        names = sorted(p.name for p in (CORPUS / "cases").iterdir() if p.is_dir())
    out = []
    for n in names:
        case = CORPUS / "cases" / n
        if case.is_dir():
            out.append((n, case / "audio.ogg", case / "text.txt"))
        else:
            out.append((Path(n).name, Path(n), None))
    return out


def options_from(args: argparse.Namespace) -> TranscribeOptions:
    opts = TranscribeOptions(language=args.language)
    if args.batch_size is not None:
        opts = dataclasses.replace(opts, batch_size=args.batch_size)
    fields = {f.name: f for f in dataclasses.fields(opts)}
    for s in args.set:
        name, _, value = s.partition("=")
        if name not in fields:
            sys.exit(f"rtf: TranscribeOptions has no field {name!r}")
        current = getattr(opts, name)
        if isinstance(current, bool):
            v: Any = value.lower() in ("1", "true", "yes")
        elif isinstance(current, tuple):
            v = tuple(float(x) for x in value.split(","))
        else:
            v = type(current)(value) if current is not None else float(value)
        opts = dataclasses.replace(opts, **{name: v})
    return opts


HEAD = (
    f"{'case':16s} {'audio':>7s} {'prep':>5s} {'encode':>6s} {'gen':>6s} {'words':>5s} "
    f"{'holes n/aud/s':>15s} {'loops n/aud/s':>15s} {'transcr':>7s} {'align':>5s} {'force n/s':>9s} "
    f"{'total':>7s} {'RTF':>6s} {'CPU RTF':>7s} {'ffmpeg':>6s}"
)


def redo(stats: Any, reason: str) -> str:
    n, aud, secs = stats.redecoded(reason)
    return f"{n:d}/{aud:5.1f}/{secs:5.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="*", help="corpus case names or audio files (default: every corpus case)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--language", default="he")
    ap.add_argument("--batch-size", type=int, default=None, help="0 = sequential decoding")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a TranscribeOptions field, e.g. word_timing_batch=4")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    args = ap.parse_args()

    t0, c0 = time.perf_counter(), cpu_seconds()
    model, label = load_model(args.model, cpu_threads=args.threads)
    workers, threads = model_layout(args.threads or os.cpu_count() or 1)
    print(f"model {label}: loaded in {time.perf_counter() - t0:.1f} s (CPU {cpu_seconds() - c0:.1f} s); "
          f"{workers} worker(s) x {threads} thread(s)")  # fmt: skip
    opts = options_from(args)
    print(HEAD)
    print("-" * len(HEAD))
    total = dict.fromkeys(("audio", "wall", "cpu", "transcribe", "align", "force", "decode"), 0.0)
    for name, audio_path, text_path in inputs(args.inputs):
        t0 = time.perf_counter()
        audio = load_audio(audio_path)
        decode_wall = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), cpu_seconds()
        segments, info = transcribe(audio.samples, model, opts.language or "auto", options=opts)
        segs = list(segments)
        tr_wall = time.perf_counter() - t0
        transcript = Transcript(duration=info.duration, language=info.language, segments=segs, model=label)
        align_wall = force_wall = 0.0
        forced = 0
        if text_path is not None:
            discourse = load_discourse(text_path)
            forcer = WhisperForcer(audio.samples, args.model, info.language or "he")
            t1 = time.perf_counter()
            align(discourse, transcript, audio=audio.samples, forcer=forcer)
            force_wall, forced = forcer.seconds, forcer.calls
            align_wall = time.perf_counter() - t1 - force_wall
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        st = info.stats
        d = audio.duration
        print(
            f"{name[:16]:16s} {d:7.1f} {st.prepare_seconds:5.1f} {st.encode_seconds:6.1f} {st.generate_seconds:6.1f} "
            f"{st.word_timing_seconds:5.1f} {redo(st, 'hole'):>15s} {redo(st, 'loop'):>15s} {tr_wall:7.1f} "
            f"{align_wall:5.2f} {forced:3d}/{force_wall:5.2f} {wall:7.1f} {wall / d:6.3f} {cpu / d:7.3f} "
            f"{decode_wall:6.2f}",
            flush=True,
        )
        for k, v in (("audio", d), ("wall", wall), ("cpu", cpu), ("transcribe", tr_wall), ("align", align_wall),
                     ("force", force_wall), ("decode", decode_wall)):  # fmt: skip
            total[k] += v
    if total["audio"]:
        a = total["audio"]
        settings = ", ".join(
            f"{k}={getattr(opts, k)}" for k in ("batch_size", "encoder_batch", "word_timing_batch", "beam_size",
                                                "loop_repetition_penalty", "word_timestamps", "vad_filter")
        )
        print(f"total: {a:.1f} s audio; RTF {total['wall'] / a:.3f} wall, {total['cpu'] / a:.3f} CPU "
              f"(transcription {total['transcribe'] / a:.3f}, alignment {total['align'] / a:.4f}, "
              f"forcing {total['force'] / a:.4f}; audio decoding {total['decode'] / a:.4f} more)")  # fmt: skip
        print(f"settings: {settings}; int8, {workers} worker(s) x {threads} thread(s)")


if __name__ == "__main__":
    main()
