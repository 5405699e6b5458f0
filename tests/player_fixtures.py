"""Builders for player tests: a small synced recording whose cue times are known exactly.

The alignment is built by hand (not by the aligner) and written with ``sync.writers``, the same
code a real ``shiur sync`` run uses, so the player is tested against real output files. The audio
is a quiet tone of the right length: the browser only needs something that plays in real time.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sync.alignment import EXPLAINED, READ, Alignment, Cue, WordTiming
from sync.discourse import Discourse, parse_discourse
from sync.writers import SyncResult, write_outputs

# Lines inside a paragraph are joined by the parser, as in any discourse file.
TEXT = """בס"ד. ש"פ וילך, ה'תשכ"ה

שיר המעלות ממעמקים קראתיך הוי'1, ואיתא בזהר פרשת בשלח על הפסוק ראו כי הוי' נתן לכם את השבת.
ר' חזקי' פתח שיר המעלות ממעמקים קראתיך הוי', שיר המעלות סתם, ולא פריש מאן אומרו.

ב) ולהבין זה צריך להקדים תחילה ההפרש בין ראש השנה למתן תורה, דבראש השנה כתיב אתם נצבים היום כולכם.
וביום זה אתם נצבים כולכם, שכל ניצוצי נשמות נצבים ומתעלים במקורם הראשון.

ג) ויש להוסיף בביאור ענין העדר ההתחלקות בתורה שהיא בדוגמת הדם שממשיך חיות באברים.
ואין זה כמו פשיטות האורות, דעם היות שהאורות מצד עצמם הם פשוטים.
"""

# (passage id, kind, start, end): read in order, one explanation, one re-reading, a gap.
PLAN: list[tuple[str, str, float, float]] = [
    ("p1.1", READ, 0.5, 3.0),
    ("p1.2", READ, 3.0, 5.5),
    ("p1.2", EXPLAINED, 5.5, 8.0),
    ("p2.1", READ, 8.0, 10.5),
    ("p2.2", READ, 10.5, 13.0),
    ("p3.1", READ, 13.5, 16.0),
    ("p3.2", READ, 16.0, 18.5),
    ("p1.1", READ, 18.5, 20.0),
]
DURATION = 21.0


@dataclass
class Synced:
    outdir: Path
    audio: Path
    text: Path
    discourse: Discourse
    alignment: Alignment


def tone_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    """A quiet 220 Hz tone: plays in real time in any browser, a few hundred KB."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.05 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def build_alignment(d: Discourse, plan: list[tuple[str, str, float, float]] = PLAN,
                    duration: float = DURATION) -> Alignment:
    cues = []
    for pid, kind, start, end in plan:
        n = len(d.passage(pid).tokens)
        words = []
        if kind == READ:
            step = (end - start) / n
            words = [WordTiming(i, round(start + i * step, 3), round(start + (i + 1) * step, 3)) for i in range(n)]
        cues.append(Cue(pid, start, end, kind, confidence=0.9, words=words))
    used = {p for p, *_ in plan}
    skipped = [p.id for p in d.passages() if p.id not in used]
    return Alignment(cues=cues, skipped=skipped, duration=duration, meta={"model": "test"})


def make_synced(folder: Path, text: str = TEXT, plan: list[tuple[str, str, float, float]] = PLAN,
                duration: float = DURATION) -> Synced:
    folder.mkdir(parents=True, exist_ok=True)
    text_path = folder / "maamar.txt"
    text_path.write_text(text, encoding="utf-8")
    d = parse_discourse(text)
    a = build_alignment(d, plan, duration)
    out = folder / "out"
    write_outputs(SyncResult(d, a, None, {}), out, ("passages.vtt", "paragraphs.vtt", "alignment.json"))
    audio = tone_wav(folder / "class.wav", duration)
    return Synced(out, audio, text_path, d, a)
