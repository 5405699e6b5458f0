#!/usr/bin/env python3
"""Held-out-style audio cases remixed from the corpus (issue 4: "built the same way").

Verse recordings are cut out of ``../shared/corpus/cases/gen1-reading`` and ``gen2-reading`` at
their truth ``read`` segments, commentary pieces out of ``gen1-shiur`` at its ``commentary``
segments, and assembled into new, longer classes: an introduction, more commentary (pieces
reused with a 0.93-1.07 speed change, as the corpus does), re-reads, skipped verses and verses read
out of order. Pauses (0.4-1.2 s between verses, 0.5-1.5 s next to commentary) are a faint
-62 dBFS noise bed. ``read``/``commentary`` spans are re-measured with the corpus rule: 10 ms
frames above -40 dBFS, bursts shorter than 30 ms ignored. Output, per case, in the corpus format::

    bench/out/remix/<case>/audio.ogg   mono 16 kHz Ogg Opus 32 kb/s (git-ignored: never committed)
    bench/out/remix/<case>/text.txt    the source case's text
    bench/out/remix/<case>/truth.json  segments, words (Genesis 1), skipped, provenance

usage: python bench/remix.py [--cases remix-gen1-long remix-gen2-long remix-gen1-heavy] [--seed 1]
Then e.g. ``python ../shared/corpus/score.py bench/out/remix/remix-gen1-long OUT/passages.vtt``.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("SHIUR_SHARED", ROOT.parent / "shared"))
CASES = SHARED / "corpus" / "cases"
OUT = ROOT / "bench" / "out" / "remix"
SR = 16000
FRAME = SR // 100  # 10 ms
THRESHOLD_DBFS = -40.0
MIN_BURST_FRAMES = 3  # 30 ms
BED_DBFS = -62.0


@dataclass(frozen=True)
class Recipe:
    """How one remixed class is built."""

    source: str
    """The reading case whose verses are read (its text.txt is the case's text)."""
    commentary_share: float
    """Target share of speech time that is commentary."""
    skips: int
    swaps: int
    """Adjacent verse pairs read in swapped order."""
    rereads: int
    group: tuple[int, int]
    """Verses read between two commentary pieces (min, max)."""
    block_swap: bool = False
    """Also read a block of 2-3 verses before the block that precedes it."""


RECIPES = {
    "remix-gen1-long": Recipe("gen1-reading", 0.35, skips=2, swaps=2, rereads=2, group=(2, 4)),
    "remix-gen2-long": Recipe("gen2-reading", 0.35, skips=2, swaps=1, rereads=2, group=(2, 4)),
    "remix-gen1-heavy": Recipe("gen1-reading", 0.45, skips=3, swaps=1, rereads=3, group=(1, 3), block_swap=True),
}


# --------------------------------------------------------------------------------------------
# Audio I/O (pydub with the imageio-ffmpeg binary)


def _pydub() -> Any:
    from sync.audio import configure_pydub

    configure_pydub()  # the imageio-ffmpeg binary; no system ffmpeg/ffprobe needed
    from pydub import AudioSegment

    return AudioSegment


def load_audio(path: Path) -> np.ndarray:
    """Mono 16 kHz float32 in [-1, 1] (decoded by sync.audio with the bundled ffmpeg)."""
    from sync.audio import load_audio as decode

    return decode(path).samples.astype(np.float32)


def save_ogg(signal: np.ndarray, path: Path) -> None:
    pcm = (np.clip(signal, -1.0, 1.0) * 32767.0).astype(np.int16)
    seg = _pydub()(pcm.tobytes(), frame_rate=SR, sample_width=2, channels=1)
    tmp = path.with_suffix(".tmp.ogg")
    # bitexact: no random Ogg serial number, so the same case gives the same bytes and the
    # transcript cache (keyed by the audio's hash) saves re-transcribing it
    seg.export(
        str(tmp), format="ogg", codec="libopus", bitrate="32k",
        parameters=["-fflags", "+bitexact", "-flags:a", "+bitexact"],
    )
    if path.is_file() and path.read_bytes() == tmp.read_bytes():
        tmp.unlink()
    else:
        tmp.replace(path)


# --------------------------------------------------------------------------------------------
# Measuring speech the corpus way


def voiced_span(signal: np.ndarray) -> tuple[float, float] | None:
    """First and last non-silent moment (s): 10 ms frames above -40 dBFS, bursts < 30 ms ignored."""
    n = len(signal) // FRAME
    if n == 0:
        return None
    frames = signal[: n * FRAME].reshape(n, FRAME).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = 20 * np.log10(np.maximum(rms, 1e-10)) > THRESHOLD_DBFS
    runs, i = [], 0
    while i < n:
        if loud[i]:
            j = i
            while j < n and loud[j]:
                j += 1
            if j - i >= MIN_BURST_FRAMES:
                runs.append((i, j))
            i = j
        else:
            i += 1
    if not runs:
        return None
    return runs[0][0] * FRAME / SR, runs[-1][1] * FRAME / SR


def noise_bed(n: int, rng: np.random.Generator) -> np.ndarray:
    rms = 10 ** (BED_DBFS / 20)
    return (rng.standard_normal(n) * rms).astype(np.float32)


def change_speed(clip: np.ndarray, factor: float) -> np.ndarray:
    """Play ``clip`` ``factor`` times faster (linear resampling; pitch moves a little, as in the corpus)."""
    n = max(1, int(round(len(clip) / factor)))
    x = np.linspace(0, len(clip) - 1, n)
    return np.interp(x, np.arange(len(clip)), clip).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Building a case


@dataclass
class Clip:
    kind: str
    """"read" | "commentary"."""
    audio: np.ndarray
    paragraph: int | None = None
    about: int | None = None
    src: str = ""
    words: list[dict[str, Any]] | None = None
    """Source word truth, times relative to the clip's start."""


def _truth(case: str) -> dict[str, Any]:
    return json.loads((CASES / case / "truth.json").read_text(encoding="utf-8"))


def verse_clips(case: str) -> dict[int, Clip]:
    truth, audio = _truth(case), load_audio(CASES / case / "audio.ogg")
    out = {}
    for s in truth["segments"]:
        if s["kind"] != "read" or s["paragraph"] in out:
            continue
        a, b = int(s["start"] * SR), int(s["end"] * SR)
        words = [
            {**w, "start": w["start"] - s["start"], "end": w["end"] - s["start"]}
            for w in truth.get("words", [])
            if w["paragraph"] == s["paragraph"] and s["start"] <= w["start"] < s["end"]
        ]
        out[s["paragraph"]] = Clip(
            "read", audio[a:b].copy(), paragraph=s["paragraph"], src=f"{case} {s['start']:.3f}-{s['end']:.3f}s",
            words=words or None,
        )
    return out


def commentary_clips() -> list[Clip]:
    truth, audio = _truth("gen1-shiur"), load_audio(CASES / "gen1-shiur" / "audio.ogg")
    return [
        Clip("commentary", audio[int(s["start"] * SR) : int(s["end"] * SR)].copy(),
             src=f"gen1-shiur {s['start']:.3f}-{s['end']:.3f}s")
        for s in truth["segments"]
        if s["kind"] == "commentary"
    ]


def plan(recipe: Recipe, verses: dict[int, Clip], rng: random.Random) -> tuple[list[tuple[str, int | None]], dict]:
    """The order of events: ("read", verse) and ("comment", about-verse | None)."""
    numbers = sorted(verses)
    skipped = set(rng.sample(numbers[2:-2], recipe.skips))
    order = [v for v in numbers if v not in skipped]
    info: dict[str, Any] = {"swapped": [], "block_swap": None}
    if recipe.block_swap:
        i = rng.randrange(4, len(order) - 8)
        k = rng.choice((2, 3))
        info["block_swap"] = [order[i : i + k], order[i + k : i + 2 * k]]
        order[i : i + 2 * k] = order[i + k : i + 2 * k] + order[i : i + k]
    for _ in range(recipe.swaps):
        for _try in range(50):
            i = rng.randrange(1, len(order) - 2)
            pair = {order[i], order[i + 1]}
            if abs(order[i] - order[i + 1]) == 1 and not pair & set(info["swapped"]):
                info["swapped"] += [order[i + 1], order[i]]
                order[i], order[i + 1] = order[i + 1], order[i]
                break
    events: list[tuple[str, int | None]] = [("comment", None)]
    reread_at = set(rng.sample(range(1, 12), recipe.rereads))
    done: list[int] = []
    i = n_groups = 0
    while i < len(order):
        g = rng.randint(*recipe.group)
        for v in order[i : i + g]:
            events.append(("read", v))
            done.append(v)
        i += g
        n_groups += 1
        if i < len(order) or rng.random() < 0.5:
            events.append(("comment", done[-1]))
        if n_groups in reread_at and len(done) > 3:
            back = rng.choice(done[-6:-1])
            events.append(("read", back))
            events.append(("comment", back))
    info["skipped"] = sorted(skipped)
    return events, info


def build(name: str, recipe: Recipe, seed: int) -> dict[str, Any]:
    rng = random.Random(f"{name}-{seed}")
    nrng = np.random.default_rng(rng.randrange(2**32))
    verses = verse_clips(recipe.source)
    comments = commentary_clips()
    events, info = plan(recipe, verses, rng)

    read_s = sum(len(verses[v].audio) for k, v in events if k == "read" and v is not None) / SR
    n_comments = sum(1 for k, _ in events if k == "comment")
    want = read_s * recipe.commentary_share / (1 - recipe.commentary_share)
    # Commentary pieces in a shuffled cycle; each use slightly faster or slower, never identical
    pool: list[Clip] = []
    pieces: list[list[Clip]] = []
    per = want / n_comments
    for _ in range(n_comments):
        chunk, secs, goal = [], 0.0, per * rng.uniform(0.5, 1.5)
        # Stop before a piece that would overshoot the goal by more than it falls short without it
        while not chunk or secs + (len(pool[-1].audio) if pool else 8 * SR) / SR / 2 < goal:
            if not pool:
                pool = rng.sample(comments, len(comments))
            c = pool.pop()
            chunk.append(Clip("commentary", change_speed(c.audio, rng.uniform(0.93, 1.07)), src=c.src))
            secs += len(chunk[-1].audio) / SR
        pieces.append(chunk)

    parts: list[np.ndarray] = []
    segments: list[dict[str, Any]] = []
    words: list[dict[str, Any]] = []
    t = 0
    last = ""

    def place(clip: Clip, about: int | None) -> None:
        nonlocal t
        span = voiced_span(clip.audio)
        parts.append(clip.audio)
        if span is not None:
            start, end = round(t / SR + span[0], 3), round(t / SR + span[1], 3)
            seg: dict[str, Any] = {"start": start, "end": end, "kind": clip.kind}
            if clip.kind == "read":
                seg["paragraph"] = clip.paragraph
            else:
                seg["about"] = about
            seg["src"] = clip.src
            if segments and segments[-1]["kind"] == seg["kind"] == "commentary" and start - segments[-1]["end"] < 1.6:
                # Pieces said one after another are one stretch of talk
                segments[-1]["end"] = end
                segments[-1]["src"] += " + " + clip.src
            else:
                segments.append(seg)
            for w in clip.words or []:
                words.append(
                    {**w, "start": round(max(start, min(end, t / SR + w["start"])), 3),
                     "end": round(max(start, min(end, t / SR + w["end"])), 3)}
                )
        t += len(clip.audio)

    def pause(lo: float, hi: float) -> None:
        nonlocal t
        n = int(rng.uniform(lo, hi) * SR)
        parts.append(np.zeros(n, dtype=np.float32))
        t += n

    pause(0.5, 1.0)
    comment_i = 0
    for kind, v in events:
        if last:
            pause(*((0.5, 1.5) if "comment" in (kind, last) else (0.4, 1.2)))
        if kind == "read":
            assert v is not None
            place(verses[v], None)
        else:
            for j, c in enumerate(pieces[comment_i]):
                if j:
                    pause(0.3, 0.8)
                place(c, v)
            comment_i += 1
        last = kind
    pause(0.5, 1.0)

    signal = np.concatenate(parts)
    signal = signal + noise_bed(len(signal), nrng)
    duration = round(len(signal) / SR, 3)
    tiled, cursor = [], 0.0
    for s in segments:
        if s["start"] > cursor:
            tiled.append({"start": round(cursor, 3), "end": s["start"], "kind": "silence"})
        tiled.append(s)
        cursor = s["end"]
    if cursor < duration:
        tiled.append({"start": cursor, "end": duration, "kind": "silence"})

    src_truth = _truth(recipe.source)
    read_paras = {s["paragraph"] for s in segments if s["kind"] == "read"}
    truth: dict[str, Any] = {
        "case": name,
        "audio": "audio.ogg",
        "text": "text.txt",
        "duration": duration,
        "paragraphs": src_truth["paragraphs"],
        "segments": tiled,
    }
    if words:
        truth["words"] = words
    truth["skipped"] = [n for n in range(1, src_truth["paragraphs"] + 1) if n not in read_paras]
    truth["provenance"] = (
        f"Remixed by bench/remix.py (seed {seed}) from the corpus: verses of {recipe.source} cut at its read "
        f"segments, commentary pieces of gen1-shiur cut at its commentary segments (speed 0.93-1.07 per use), "
        f"-62 dBFS noise bed in the pauses. Out of order: {info['swapped']} swapped pairs"
        + (f", block swap {info['block_swap']}" if info["block_swap"] else "")
        + ". Sources and licences: see the corpus README. " + src_truth["provenance"]
    )
    outdir = OUT / name
    outdir.mkdir(parents=True, exist_ok=True)
    save_ogg(signal, outdir / "audio.ogg")
    (outdir / "text.txt").write_bytes((CASES / recipe.source / "text.txt").read_bytes())
    (outdir / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


def describe(truth: dict[str, Any]) -> str:
    segs = truth["segments"]
    read = [s for s in segs if s["kind"] == "read"]
    comm = sum(s["end"] - s["start"] for s in segs if s["kind"] == "commentary")
    reads = sum(s["end"] - s["start"] for s in read)
    seen: set[int] = set()
    rereads = 0
    for s in read:
        rereads += s["paragraph"] in seen
        seen.add(s["paragraph"])
    out_of_order = sum(1 for a, b in zip(read, read[1:], strict=False) if b["paragraph"] < a["paragraph"]) - rereads
    return (
        f"{truth['case']}: {truth['duration'] / 60:.1f} min, read {reads:.0f} s, commentary {comm:.0f} s "
        f"({comm / (comm + reads):.0%}), {len(read)} read segments, {rereads} re-reads, "
        f"{max(0, out_of_order)} backward steps besides re-reads, skipped {truth['skipped']}"
    )


def perfect_check(case_dir: Path) -> str:
    """score.py's summary for cues copied from the truth: 1.00 everywhere if the truth is sound."""
    import subprocess

    truth = json.loads((case_dir / "truth.json").read_text(encoding="utf-8"))

    def ts(x: float) -> str:
        return f"{int(x // 3600):02d}:{int(x % 3600 // 60):02d}:{x % 60:06.3f}"

    lines, n = ["WEBVTT", ""], 0
    for s in truth["segments"]:
        para = s.get("paragraph") if s["kind"] == "read" else s.get("about")
        if para is not None and s["kind"] in ("read", "commentary"):
            n += 1
            lines += [f"p{para}.{n}", f"{ts(s['start'])} --> {ts(s['end'])}", s["kind"], ""]
    vtt = case_dir / "perfect.vtt"
    vtt.write_text("\n".join(lines), encoding="utf-8")
    r = subprocess.run(
        [sys.executable, str(SHARED / "corpus" / "score.py"), str(case_dir), str(vtt)],
        capture_output=True, text=True, check=False,
    )
    return (r.stdout.strip().splitlines() or [r.stderr.strip()])[-1]


def score_pipeline(case_dir: Path) -> dict[str, Any]:
    """The whole pipeline (transcription cached in the user cache) on a remixed case, scored."""
    import subprocess
    import time

    from sync import pipeline

    outdir = case_dir / "out"
    t0 = time.perf_counter()
    res = pipeline.sync_recording(case_dir / "audio.ogg", case_dir / "text.txt", outdir, language="he")
    wall = time.perf_counter() - t0
    scores = {}
    for vtt in ("paragraphs.vtt", "passages.vtt"):
        r = subprocess.run(
            [sys.executable, str(SHARED / "corpus" / "score.py"), str(case_dir), str(outdir / vtt), "--json"],
            capture_output=True, text=True, check=True,
        )
        scores[vtt] = json.loads(r.stdout)
    truth = json.loads((case_dir / "truth.json").read_text(encoding="utf-8"))
    lost = unheard_reads(truth, res.result.transcript.words() if res.result.transcript else [])
    return {"cached": res.cached, "wall": wall, "timings": res.timings, "unheard": lost, **scores}


def unheard_reads(truth: dict[str, Any], words: list[Any]) -> list[int]:
    """Read segments (their paragraphs) in which the transcript has at most 2 words: lost by
    the recogniser, so no aligner can place them; tells transcription losses from alignment ones."""
    starts = sorted(w.start for w in words)
    out = []
    for s in truth["segments"]:
        if s["kind"] == "read":
            n = bisect.bisect_left(starts, s["end"]) - bisect.bisect_left(starts, s["start"] - 0.3)
            if n <= 2:
                out.append(s["paragraph"])
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="remix held-out-style audio cases from the corpus")
    ap.add_argument("--cases", nargs="+", choices=sorted(RECIPES), default=list(RECIPES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--score", action="store_true",
        help="also run the whole pipeline on each case (transcribes: minutes of CPU the first time) and score it",
    )
    a = ap.parse_args(argv)
    if not CASES.is_dir():
        sys.exit(f"remix: corpus not found at {CASES} (set SHIUR_SHARED to the shared folder)")
    for name in a.cases:
        truth = build(name, RECIPES[name], a.seed)
        print(describe(truth), flush=True)
        print(f"  perfect cues from the truth: {perfect_check(OUT / name)}", flush=True)
        if a.score:
            row = score_pipeline(OUT / name)
            t = row["timings"]
            how = "cached transcript" if row["cached"] else f"transcribe {t.get('transcribe', 0):.0f} s"
            print(f"  pipeline: {how}, align {t.get('align', 0):.2f} s; read segments the transcript "
                  f"missed (<= 2 words): {row['unheard'] or 'none'}", flush=True)
            for vtt in ("paragraphs.vtt", "passages.vtt"):
                print(f"  {vtt:15s} {row[vtt]['summary']}", flush=True)
    print(f"wrote {OUT}/<case>/audio.ogg, text.txt, truth.json")


if __name__ == "__main__":
    main()
