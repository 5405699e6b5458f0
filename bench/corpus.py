"""Run the whole pipeline on every case of ../shared/corpus and score it.

usage: python bench/corpus.py [CASE ...] [--bias none|prompt|hotwords|both] [--batch-size N]
                              [--no-cache] [--model M] [--json]

Outputs go to bench/out/<case>/ (git-ignored). Transcripts come from the user cache when the
same audio/model/options were transcribed before, so re-running after an aligner change costs
seconds. Each case is scored with ../shared/corpus/score.py against paragraphs.vtt (the file
the issue asks for) and passages.vtt; the script prints each case's summary lines and the means.
It prints measurements and never fails on them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

from sync import pipeline  # noqa: E402
from sync.pipeline import BIAS_CHOICES  # noqa: E402

METRICS = ("read_accuracy", "commentary_accuracy", "overall_accuracy", "start_error_median", "start_within_1s",
           "skipped_f1")  # fmt: skip


def score(case_dir: Path, vtt: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(CORPUS / "score.py"), str(case_dir), str(vtt), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def run_case(case_dir: Path, args: argparse.Namespace) -> dict:
    outdir = OUT / (case_dir.name + (f"-{args.tag}" if args.tag else ""))
    overrides = {} if args.batch_size is None else {"batch_size": args.batch_size}
    original = pipeline.options_for

    def options_for(*a, **k):
        return replace(original(*a, **k), **overrides)

    pipeline.options_for = options_for
    try:
        t0 = time.perf_counter()
        res = pipeline.sync_recording(
            case_dir / "audio.ogg", case_dir / "text.txt", outdir, model=args.model, language="he",
            use_cache=not args.no_cache, bias=args.bias,
        )  # fmt: skip
        wall = time.perf_counter() - t0
    finally:
        pipeline.options_for = original
    duration = res.result.transcript.duration if res.result.transcript else 0.0
    row = {
        "case": case_dir.name,
        "duration": duration,
        "cached": res.cached,
        "wall": wall,
        "timings": res.timings,
        "paragraphs.vtt": score(case_dir, outdir / "paragraphs.vtt"),
        "passages.vtt": score(case_dir, outdir / "passages.vtt"),
    }
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    ap.add_argument("--bias", choices=BIAS_CHOICES, default=pipeline.DEFAULT_BIAS)
    ap.add_argument("--batch-size", type=int, default=None, help="override (0 = sequential decoding)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--no-cache", action="store_true", help="transcribe again")
    ap.add_argument("--tag", default="", help="suffix for the output folders")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not (CORPUS / "cases").is_dir():
        sys.exit(f"corpus not found at {CORPUS} (../shared next to the checkout)")
    names = args.cases or sorted(p.name for p in (CORPUS / "cases").iterdir() if p.is_dir())
    rows = []
    for name in names:
        row = run_case(CORPUS / "cases" / name, args)
        rows.append(row)
        t = row["timings"]
        how = "cached transcript" if row["cached"] else (
            f"transcribe {t.get('transcribe', 0):.1f} s (RTF {t.get('transcribe', 0) / row['duration']:.3f}, "
            f"CPU {t.get('transcribe_cpu', 0) / row['duration']:.3f})"
        )  # fmt: skip
        print(f"== {name}  {row['duration']:.1f} s audio  {how}  align {t.get('align', 0):.2f} s", flush=True)
        for vtt in ("paragraphs.vtt", "passages.vtt"):
            print(f"   {vtt:15s} {row[vtt]['summary']}", flush=True)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    print(f"== mean over {len(rows)} cases (bias={args.bias})")
    for vtt in ("paragraphs.vtt", "passages.vtt"):
        parts = []
        for m in METRICS:
            vals = [r[vtt][m] for r in rows if r[vtt][m] is not None]
            parts.append(f"{m}={sum(vals) / len(vals):.3f}" if vals else f"{m}=n/a")
        print(f"   {vtt:15s} " + " ".join(parts))


if __name__ == "__main__":
    main()
