#!/usr/bin/env python3
"""The gain from the spoken-form lattice (issue 3): align with and without it, side by side.

A simulated reading of the sample discourse (bench/simulate.py --reading): abbreviations said the
way a lecturer says them (משא"כ -> "מה שאין כן"), ASR-like spelling noise. Each case is aligned
with ``AlignOptions(lattice=False)`` and with the default (lattice on), and scored by score.py
(paragraphs) and by the passage-level figures of bench/sim_score.py (passages are where the
abbreviations bite: a paragraph is long enough to be found anyway). ``--shiur`` adds simulated
classes (commentary, re-reads, skips) to the straight readings.

usage: python bench/lattice_gain.py [--seeds 1 2] [--noise clean harsh] [--shiur]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim_score import OUT, run_case  # noqa: E402
from simulate import SAMPLE_TEXT, SimConfig, generate, write_case  # noqa: E402

from sync.discourse import load_discourse  # noqa: E402

METRICS = [
    ("read_accuracy", "read_acc", "{:.3f}"),
    ("overall_accuracy", "overall", "{:.3f}"),
    ("start_error_median", "start_med s", "{:.2f}"),
    ("start_within_0_5s", "start<=0.5s", "{:.2f}"),
    ("start_within_1s", "start<=1s", "{:.2f}"),
    ("passage_accuracy", "passage_acc", "{:.3f}"),
    ("passage_start_median", "p.start_med s", "{:.2f}"),
    ("passage_within_0_5s", "p.start<=0.5s", "{:.2f}"),
    ("word_within_0_3s", "word<=0.3s", "{:.3f}"),
    ("abbrev_word_within_0_3s", "abbr.word<=0.3s", "{:.3f}"),
]


def fmt(spec: str, x: float | None) -> str:
    return "n/a" if x is None else spec.format(x)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="alignment with and without the spoken-form lattice")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--noise", nargs="+", default=["clean", "harsh"])
    ap.add_argument("--shiur", action="store_true", help="also simulated classes, not only readings")
    a = ap.parse_args(argv)
    discourse = load_discourse(SAMPLE_TEXT)
    text = SAMPLE_TEXT.read_text(encoding="utf-8")
    kinds = [True, False] if a.shiur else [True]
    totals: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    for reading in kinds:
        for noise in a.noise:
            for seed in a.seeds:
                cfg = SimConfig(seed=seed, noise=noise, reading=reading)
                cfg.name = f"lattice-{'reading' if reading else 'shiur'}-s{seed}-{noise}"
                case = generate(discourse, cfg)
                case_dir = write_case(case, OUT / cfg.name, text)
                res = {lat: run_case(discourse, case, case_dir, None, lattice=lat, tag=f"lattice-{lat}")[0]
                       for lat in (False, True)}
                st = case.truth["simulation"]["stats"]
                print(f"\n{cfg.name}: {case.truth['duration'] / 60:.1f} min, WER {st['word_error_rate']:.2f}")
                print(f"  {'':16s} {'no lattice':>10s} {'lattice':>10s}")
                for key, label, spec in METRICS:
                    print(f"  {label:16s} {fmt(spec, res[False][key]):>10s} {fmt(spec, res[True][key]):>10s}")
                    for lat in (False, True):
                        if res[lat][key] is not None:
                            totals[lat].setdefault(key, []).append(res[lat][key])
    print(f"\nmean over {len(totals[True].get('read_accuracy', []))} cases")
    print(f"  {'':16s} {'no lattice':>10s} {'lattice':>10s}")
    for key, label, spec in METRICS:
        vals = [statistics.fmean(totals[lat][key]) if totals[lat].get(key) else None for lat in (False, True)]
        print(f"  {label:16s} {fmt(spec, vals[0]):>10s} {fmt(spec, vals[1]):>10s}")


if __name__ == "__main__":
    main()
