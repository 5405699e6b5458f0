"""Transcription speed of the bundled model on the corpus audio, and alignment time.

usage: python bench/rtf.py [AUDIO or CASE ...] [--model M] [--batch-size N] [--language he]

For each recording: the real-time factor (RTF = processing seconds / audio seconds) by the
wall clock and by CPU time. The wall figure is what a user waits; the CPU figure (all threads
of this process) does not depend on what else runs on a shared machine. Then the aligner's
time on that transcript. It always transcribes (no cache); it prints and never fails on timings.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))

from sync.align import align  # noqa: E402
from sync.audio import load_audio  # noqa: E402
from sync.discourse import load_discourse  # noqa: E402
from sync.forced import WhisperForcer  # noqa: E402
from sync.transcribe import TranscribeOptions, load_model, transcribe_all  # noqa: E402


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="*", help="corpus case names or audio files (default: every corpus case)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--language", default="he")
    ap.add_argument("--batch-size", type=int, default=None, help="0 = sequential decoding")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    args = ap.parse_args()

    t0, c0 = time.perf_counter(), cpu_seconds()
    model, label = load_model(args.model, cpu_threads=args.threads)
    print(f"model {label}: loaded in {time.perf_counter() - t0:.1f} s (CPU {cpu_seconds() - c0:.1f} s); "
          f"{args.threads or os.cpu_count()} threads")  # fmt: skip
    opts = TranscribeOptions(language=args.language)
    if args.batch_size is not None:
        opts = replace(opts, batch_size=args.batch_size)
    total_audio = total_wall = total_cpu = 0.0
    for name, audio_path, text_path in inputs(args.inputs):
        t0, c0 = time.perf_counter(), cpu_seconds()
        audio = load_audio(audio_path)
        load_wall = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), cpu_seconds()
        transcript = transcribe_all(audio.samples, model, label, opts)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        total_audio += audio.duration
        total_wall += wall
        total_cpu += cpu
        line = (
            f"{name}: {audio.duration:.1f} s audio (decoded in {load_wall:.2f} s); transcribe {wall:.1f} s wall, "
            f"{cpu:.1f} s CPU: RTF {wall / audio.duration:.3f} wall, {cpu / audio.duration:.3f} CPU; "
            f"{len(transcript.words())} words"
        )
        if text_path is not None:
            discourse = load_discourse(text_path)
            t0 = time.perf_counter()
            alignment = align(discourse, transcript)
            line += f"; align {time.perf_counter() - t0:.2f} s ({len(alignment.cues)} cues)"
            t0 = time.perf_counter()
            align(discourse, transcript, audio=audio.samples)
            line += f", with audio refinement {time.perf_counter() - t0:.2f} s"
            # As the pipeline runs it: doubtful word-by-word boundaries forced through the model.
            forcer = WhisperForcer(audio.samples, args.model)
            t0 = time.perf_counter()
            align(discourse, transcript, audio=audio.samples, forcer=forcer)
            line += f", with forced boundaries {time.perf_counter() - t0:.2f} s ({forcer.calls} forced)"
        print(line, flush=True)
    if total_audio:
        settings = f"batch_size={opts.batch_size}, beam_size={opts.beam_size}"
        print(f"total: {total_audio:.1f} s audio; RTF {total_wall / total_audio:.3f} wall, "
              f"{total_cpu / total_audio:.3f} CPU ({settings})")  # fmt: skip


if __name__ == "__main__":
    main()
