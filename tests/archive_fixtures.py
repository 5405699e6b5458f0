"""Shared helpers for the archivist tests: a sample discourse and a hand-built alignment.

The alignment is built directly (not by the aligner) so export/import tests check the file
formats, not recognition quality.
"""

from __future__ import annotations

from pathlib import Path

from sync.alignment import EXPLAINED, READ, Alignment, Cue, WordTiming
from sync.discourse import Discourse, load_discourse, parse_discourse
from sync.transcript import Segment, Transcript, Word
from sync.writers import SyncResult

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TEXT = ROOT / "media" / "mimaamakim-5725.txt"


def sample_discourse() -> Discourse:
    return load_discourse(SAMPLE_TEXT)


def sample_alignment(discourse: Discourse, n: int = 12, explained: bool = True) -> Alignment:
    """``n`` passages (two per paragraph, so chapters change) read in order, 2.5 s each with odd
    milliseconds; the third is then explained and the fifth read again."""
    passages = [p for para in discourse.paragraphs for p in para.passages[:2]][:n]
    cues: list[Cue] = []
    t = 0.137
    for k, p in enumerate(passages):
        end = t + 2.5 + k * 0.011
        words = [
            WordTiming(i, round(t + i * 0.2, 3), round(t + i * 0.2 + 0.18, 3)) for i in range(min(3, len(p.tokens)))
        ]
        cues.append(Cue(p.id, round(t, 3), round(end, 3), READ, confidence=0.5 + k / (2 * n), words=words))
        t = end + 0.05
        if explained and k == 2:
            cues.append(Cue(p.id, round(t, 3), round(t + 4.0, 3), EXPLAINED, confidence=0.6))
            t += 4.05
        if explained and k == 4:
            cues.append(Cue(p.id, round(t, 3), round(t + 1.5, 3), READ, confidence=0.7))
            t += 1.55
    used = {p.id for p in passages}
    skipped = [p.id for p in discourse.passages() if p.id not in used]
    return Alignment(cues=cues, skipped=skipped, duration=round(t + 1.0, 3), meta={"model": "test", "options": {}})


def sample_transcript(alignment: Alignment) -> Transcript:
    segs = [
        Segment(c.start, c.end, f" segment {i}", words=[Word(c.start, c.end, f" segment{i}", 0.9)])
        for i, c in enumerate(alignment.cues)
    ]
    return Transcript(duration=alignment.duration, language="he", segments=segs, model="test-model")


def sample_result(n: int = 12, explained: bool = True) -> SyncResult:
    d = sample_discourse()
    a = sample_alignment(d, n, explained)
    return SyncResult(d, a, sample_transcript(a), {"model": "test-model", "options": {"beam_size": 1}})


ENGLISH_TEXT = """The quick brown fox jumps over the lazy dog near the river bank.

A second paragraph tells of a small bird that sings every morning in the garden.
"""


def english_discourse() -> Discourse:
    return parse_discourse(ENGLISH_TEXT)
