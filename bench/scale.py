#!/usr/bin/env python3
"""Time and memory of ``align`` on long simulated classes against a ~15k-word text (issue 4).

The text: the sample discourse followed by perturbed copies of it (paragraphs shuffled, sentences
reordered, a third of the words replaced by other words) until about 15k words, so that it is
long without being trivially repetitive. The classes: simulated shiurim (bench/simulate.py) of
0.5, 1, 2 and 3 hours; a short class stops part way through the text, as a real one would.

Each length runs ``align`` in a fresh subprocess, so peak RSS (``ru_maxrss``) is that run's own;
the time is that of ``align`` alone (loading and simulation excluded), the fastest of ``--repeat``
fresh runs, peak RSS the largest. ``--tracemalloc`` adds a
second, slower run per length for the peak of Python-level allocations.

usage: python bench/scale.py [--hours 0.5 1 2 3] [--text-words 15000] [--noise harsh] [--tracemalloc]
Target (issue 4): <= 2 s and <= 500 MB at 3 h / 15k words; near-linear growth in recording length.
Timings on a shared machine are noisy; this prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simulate import ROOT, SAMPLE_TEXT, SimConfig, finalize, generate, write_case  # noqa: E402

from sync.discourse import load_discourse, parse_discourse  # noqa: E402

OUT = ROOT / "bench" / "out" / "scale"
# Letter frequencies of Hebrew prose, roughly, for made-up replacement words
_LETTERS = "אבגדהוזחטיכלמנסעפצקרשת"
_WEIGHTS = [6, 5, 1, 3, 9, 10, 1, 3, 1, 11, 4, 7, 6, 4, 1, 3, 2, 1, 2, 6, 5, 5]
_SENTENCE = re.compile(r"(?<=[.:;])\s+")


def _made_up_word(rng: random.Random) -> str:
    n = rng.choice((3, 3, 4, 4, 4, 5, 5, 6))
    return finalize("".join(rng.choices(_LETTERS, _WEIGHTS, k=n)))


def long_text(target_words: int, seed: int = 11) -> str:
    """The sample discourse, then perturbed copies, to about ``target_words`` words."""
    source = SAMPLE_TEXT.read_text(encoding="utf-8")
    d = parse_discourse(source)
    rng = random.Random(seed)
    vocab = [t for p in d.passages() for t in p.tokens]
    front = "\n\n".join(d.front_matter)
    paras = [pa.text for pa in d.paragraphs]
    out = list(paras)
    words = sum(len(p.split()) for p in out)
    while words < target_words:
        for text in rng.sample(paras, len(paras)):
            sentences = _SENTENCE.split(text)
            rng.shuffle(sentences)
            toks = " ".join(sentences).split()
            new = []
            for tok in toks:
                r = rng.random()
                if r < 0.2:
                    new.append(_made_up_word(rng))
                elif r < 0.33:
                    new.append(rng.choice(vocab))
                elif r < 0.36:
                    continue
                else:
                    new.append(tok)
            out.append(" ".join(new))
            words += len(new)
            if words >= target_words:
                break
    return front + "\n\n" + "\n\n".join(out) + "\n"


def child(case_dir: Path, use_tracemalloc: bool) -> None:
    """Run align once on a prepared case; print one JSON line of figures."""
    from sim_score import score, write_vtt

    from sync.align import align
    from sync.transcript import Transcript

    discourse = load_discourse(case_dir / "text.txt")
    transcript = Transcript.load(case_dir / "transcript.json")
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if use_tracemalloc:
        import tracemalloc

        tracemalloc.start()
    t0 = time.perf_counter()
    alignment = align(discourse, transcript)
    seconds = time.perf_counter() - t0
    peak_py = None
    if use_tracemalloc:
        import tracemalloc

        peak_py = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    max_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = score(case_dir, write_vtt(discourse, alignment, transcript, case_dir / "out"))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "maxrss_mb": max_kb / 1024,
                "before_mb": base_kb / 1024,
                "tracemalloc_peak_mb": peak_py,
                "overall": res["overall_accuracy"],
                "summary": res["summary"],
            }
        )
    )


def run_child(case_dir: Path, use_tracemalloc: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(case_dir)] + (["--tracemalloc"] if use_tracemalloc else [])
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.exit(f"scale: align failed on {case_dir}:\n{r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="align time and memory at several recording lengths")
    ap.add_argument("--hours", type=float, nargs="+", default=[0.5, 1, 2, 3])
    ap.add_argument("--text-words", type=int, default=15000)
    ap.add_argument("--noise", default="harsh")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--wps", type=float, default=3.7, help="speaking-rate setting of the simulation")
    ap.add_argument("--repeat", type=int, default=3, help="fresh runs per length; the fastest is shown")
    ap.add_argument("--tracemalloc", action="store_true", help="also measure Python peak allocations (slower)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.child, a.tracemalloc)
        return

    text = long_text(a.text_words)
    discourse = parse_discourse(text)
    print(
        f"text: {discourse.word_count()} words, {len(discourse.paragraphs)} paragraphs, "
        f"{len(discourse.passages())} passages"
    )
    header = f"{'hours':>5} {'tr.words':>8} {'align s':>8} {'s/1k w':>7} {'maxRSS MB':>9} {'+align MB':>9}"
    header += f" {'py peak MB':>10}" if a.tracemalloc else ""
    print(header + "  score")
    rows = []
    for hours in a.hours:
        # A brisk lecturer: about 10k transcript words an hour, the "3 h = 30k words"
        cfg = SimConfig(
            seed=a.seed, noise=a.noise, minutes=hours * 60, words_per_second=a.wps, name=f"scale-{hours:g}h"
        )
        case = generate(discourse, cfg)
        case_dir = write_case(case, OUT / case.name, text)
        nwords = len(case.transcript.words())
        # The fastest of a few fresh runs: the machine is shared, and contention only adds time
        runs = [run_child(case_dir, False) for _ in range(a.repeat)]
        r = min(runs, key=lambda x: x["seconds"])
        r["maxrss_mb"] = max(x["maxrss_mb"] for x in runs)
        if a.tracemalloc:
            r["tracemalloc_peak_mb"] = run_child(case_dir, True)["tracemalloc_peak_mb"]
        rows.append((hours, nwords, r))
        line = (
            f"{hours:5g} {nwords:8d} {r['seconds']:8.2f} {1000 * r['seconds'] / nwords:7.3f} "
            f"{r['maxrss_mb']:9.0f} {r['maxrss_mb'] - r['before_mb']:9.0f}"
        )
        if a.tracemalloc:
            line += f" {r['tracemalloc_peak_mb']:10.1f}"
        print(line + "  " + r["summary"], flush=True)
    if len(rows) > 1:
        (h0, w0, r0), (h1, w1, r1) = rows[0], rows[-1]
        print(
            f"growth {h0:g} h -> {h1:g} h: transcript words x{w1 / w0:.2f}, "
            f"align time x{r1['seconds'] / r0['seconds']:.2f} "
            f"(time ratio / length ratio = {(r1['seconds'] / r0['seconds']) / (w1 / w0):.2f}; 1.00 is linear), "
            f"peak RSS x{r1['maxrss_mb'] / r0['maxrss_mb']:.2f}"
        )


if __name__ == "__main__":
    main()
