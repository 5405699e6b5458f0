#!/usr/bin/env python3
"""Simulate a shiur of the sample discourse, align it, write the VTT, score it with score.py.

For each seed: generate (bench/simulate.py) -> ``sync.align.align`` -> ``sync.writers`` ->
``python ../shared/corpus/score.py CASE passages.vtt --json``; prints score.py's summary line per
case and the means. ``--baseline perfect`` scores cues copied from the simulation's own truth
(a check of the truth and the scoring path: it must give 1.00), ``--baseline uniform`` lays the
passages end to end over the recording.

usage: python bench/sim_score.py [--seeds 1 2 3] [--noise harsh] [--length 1] [--baseline perfect]
                                 [--no-lattice] [--lookalikes] [--dense]
Target for the aligner (issue 4): overall >= 0.95.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simulate import ROOT, SimCase, add_args, case_text, config_from_args, generate, write_case  # noqa: E402

from sync.alignment import EXPLAINED, READ, Alignment, Cue  # noqa: E402
from sync.discourse import Discourse, parse_discourse  # noqa: E402

SHARED = Path(os.environ.get("SHIUR_SHARED", ROOT.parent / "shared"))
SCORE_PY = SHARED / "corpus" / "score.py"
OUT = ROOT / "bench" / "out" / "sim"
ABBREV = re.compile(r"['\"\u05f3\u05f4]")


def perfect_alignment(case: SimCase) -> Alignment:
    """Cues copied from the truth: one per read segment, an explained cue per commentary."""
    cues = []
    for s in case.truth["segments"]:
        if s["kind"] == "read":
            cues.append(Cue(s["passage"], s["start"], s["end"], READ, 1.0))
        elif s["kind"] == "commentary" and s.get("about_passage"):
            cues.append(Cue(s["about_passage"], s["start"], s["end"], EXPLAINED, 1.0))
    return Alignment(cues=cues, skipped=case.truth["skipped_passages"], duration=case.truth["duration"])


def uniform_alignment(discourse: Discourse, duration: float) -> Alignment:
    """The passages end to end over the whole recording, in proportion to their letters."""
    passages = discourse.passages()
    sizes = [max(1, sum(len(t) for t in p.tokens)) for p in passages]
    total, t, cues = sum(sizes), 0.0, []
    for p, n in zip(passages, sizes, strict=True):
        d = duration * n / total
        cues.append(Cue(p.id, t, t + d, READ, 0.0))
        t += d
    return Alignment(cues=cues, duration=duration)


def write_vtt(discourse: Discourse, alignment: Alignment, transcript: Any, outdir: Path) -> Path:
    from sync.writers import SyncResult, write_outputs

    names = ["passages.vtt", "paragraphs.vtt", "alignment.json"]
    write_outputs(SyncResult(discourse, alignment, transcript), outdir, names)
    return outdir / "passages.vtt"


def score(case_dir: Path, vtt: Path) -> dict[str, Any]:
    if not SCORE_PY.is_file():
        sys.exit(f"sim_score: {SCORE_PY} not found (set SHIUR_SHARED to the shared folder)")
    r = subprocess.run(
        [sys.executable, str(SCORE_PY), str(case_dir), str(vtt), "--json"], capture_output=True, text=True, check=False
    )
    if r.returncode != 0:
        sys.exit(f"sim_score: score.py failed on {case_dir}: {r.stderr.strip() or r.stdout.strip()}")
    return json.loads(r.stdout)


def run_case(
    discourse: Discourse, case: SimCase, case_dir: Path, baseline: str | None, lattice: bool = True, tag: str = "out"
) -> tuple[dict[str, Any], float]:
    """Align (or build a baseline), write the VTT under ``case_dir/<tag>``, score it; (score, align seconds)."""
    seconds = 0.0
    if baseline == "perfect":
        alignment = perfect_alignment(case)
    elif baseline == "uniform":
        alignment = uniform_alignment(discourse, case.truth["duration"])
    else:
        from sync.align import AlignOptions, align

        t0 = time.perf_counter()
        alignment = align(discourse, case.transcript, options=AlignOptions(lattice=lattice))
        seconds = time.perf_counter() - t0
    vtt = write_vtt(discourse, alignment, case.transcript, case_dir / tag)
    res = score(case_dir, vtt)
    res.update(passage_metrics(case.truth, alignment))
    return res, seconds


def passage_metrics(truth: dict[str, Any], alignment: Alignment) -> dict[str, float | None]:
    """score.py's rules at passage level: highlight accuracy over read time, start errors."""
    cues = sorted(((c.start, i, c.end, c.passage_id) for i, c in enumerate(alignment.cues)), key=lambda x: x[:2])
    starts = [c[0] for c in cues]
    reads = [s for s in truth["segments"] if s["kind"] == "read"]
    ok = n = 0
    for s in reads:
        t = s["start"] + 0.05
        while t < s["end"]:
            i = bisect.bisect_right(starts, t) - 1
            hit = None
            while i >= 0:
                if cues[i][2] > t:
                    hit = cues[i][3]
                    break
                i -= 1
            n += 1
            ok += hit == s["passage"]
            t += 0.1
    by_passage: dict[str, list[float]] = {}
    for c in alignment.cues:
        by_passage.setdefault(c.passage_id, []).append(c.start)
    errs = [min(abs(x - s["start"]) for x in by_passage[s["passage"]]) for s in reads if s["passage"] in by_passage]
    # Word timings: each spoken token of the truth against the nearest timing of that token
    word_starts: dict[tuple[str, int], list[float]] = {}
    for c in alignment.cues:
        for w in c.words:
            word_starts.setdefault((c.passage_id, w.index), []).append(w.start)
    near = {"all": [0, 0], "abbrev": [0, 0]}
    for w in truth.get("words", []):
        got = word_starts.get((w["passage"], w["token"]))
        hit = bool(got) and min(abs(x - w["start"]) for x in got) <= 0.3
        for k in ("all", "abbrev") if ABBREV.search(w["word"][1:]) else ("all",):
            near[k][0] += hit
            near[k][1] += 1
    return {
        "word_within_0_3s": near["all"][0] / near["all"][1] if near["all"][1] else None,
        "abbrev_word_within_0_3s": near["abbrev"][0] / near["abbrev"][1] if near["abbrev"][1] else None,
        "passage_accuracy": ok / n if n else None,
        "passage_start_median": statistics.median(errs) if errs else None,
        "passage_within_0_5s": sum(e <= 0.5 for e in errs) / len(reads) if reads else None,
        "passage_within_1s": sum(e <= 1.0 for e in errs) / len(reads) if reads else None,
    }


def mean(rs: list[dict[str, Any]], key: str) -> str:
    xs = [r[key] for r in rs if r.get(key) is not None]
    return f"{statistics.fmean(xs):.3f}" if xs else "n/a"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Simulated shiur -> align -> VTT -> score.py")
    add_args(ap)
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="several seeds (default: --seed)")
    ap.add_argument("--baseline", choices=["perfect", "uniform"], default=None)
    ap.add_argument("--no-lattice", action="store_true", help="align with AlignOptions(lattice=False)")
    a = ap.parse_args(argv)
    results = []
    for seed in a.seeds or [a.seed]:
        cfg = replace(config_from_args(a), seed=seed)
        text = case_text(a.text.read_text(encoding="utf-8"), cfg)
        discourse = parse_discourse(text)
        case = generate(discourse, cfg)
        case_dir = write_case(case, OUT / case.name, text)
        try:
            res, secs = run_case(discourse, case, case_dir, a.baseline, lattice=not a.no_lattice)
        except NotImplementedError as e:
            sys.exit(f"sim_score: the aligner is not there yet ({e}); try --baseline perfect")
        results.append(res)
        st = case.truth["simulation"]["stats"]
        print(
            f"{case.name:28s} {case.truth['duration'] / 60:5.1f} min  WER {st['word_error_rate']:.2f}  "
            f"align {secs:5.2f} s  {res['summary']} passage_acc={res['passage_accuracy']:.3f}",
            flush=True,
        )
    if len(results) > 1:
        print(
            f"{'mean':28s} read_acc={mean(results, 'read_accuracy')} comm_acc={mean(results, 'commentary_accuracy')} "
            f"overall={mean(results, 'overall_accuracy')} start_med={mean(results, 'start_error_median')}s "
            f"within1s={mean(results, 'start_within_1s')} skipped_f1={mean(results, 'skipped_f1')} "
            f"passage_acc={mean(results, 'passage_accuracy')}"
        )


if __name__ == "__main__":
    main()
